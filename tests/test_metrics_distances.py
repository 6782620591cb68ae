"""Value tests for paddle_gan.metrics.distances (pure numpy / scipy)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from paddle_gan.metrics import (
    class_coverage,
    fid,
    fid_from_stats,
    gaussian_stats,
    inception_score,
    kid,
    precision_recall,
)
from paddle_gan.metrics import distances


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- #
# references
# --------------------------------------------------------------------------- #
def _fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """FID via eigendecompositions: Tr sqrt(S1 S2) = Tr sqrt(S1^½ S2 S1^½)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = s1_half @ s2 @ s1_half
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def _mmd2_naive(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(x, y) = (x·y/d + 1)^3, written as explicit loops."""
    d = x.shape[1]

    def k(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def _pr_bruteforce(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(s):
        out = []
        for i, p in enumerate(s):
            ds = sorted(np.linalg.norm(p - q) for j, q in enumerate(s) if j != i)
            out.append(ds[k - 1])
        return out

    def frac(query, ref, ref_r):
        hits = [any(np.linalg.norm(q - r) <= rr for r, rr in zip(ref, ref_r)) for q in query]
        return sum(hits) / len(query)

    return frac(fake, real, radii(real)), frac(real, fake, radii(fake))


# --------------------------------------------------------------------------- #
# FID
# --------------------------------------------------------------------------- #
def test_fid_self_is_zero():
    a = _rng(0).normal(size=(200, 16)) * np.linspace(0.5, 3.0, 16)
    scale = np.trace(np.cov(a, rowvar=False))
    assert abs(fid(a, a)) <= 1e-6 * scale


def test_fid_matches_closed_form_for_diagonal_gaussians():
    rng = _rng(1)
    n = 20000
    mu1, mu2 = np.array([0.0, 1.0, -1.0, 2.0]), np.array([0.5, 0.0, -1.0, 3.0])
    var1, var2 = np.array([1.0, 4.0, 0.25, 1.0]), np.array([2.0, 1.0, 0.25, 9.0])
    a = mu1 + rng.normal(size=(n, 4)) * np.sqrt(var1)
    b = mu2 + rng.normal(size=(n, 4)) * np.sqrt(var2)
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert fid(a, b) == pytest.approx(expected, rel=0.03)


def test_fid_matches_eig_reference_and_is_symmetric():
    rng = _rng(2)
    a = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6)) + 0.3
    ref = _fid_reference(a, b)
    assert fid(a, b) == pytest.approx(ref, rel=1e-8, abs=1e-9)
    assert fid(b, a) == pytest.approx(fid(a, b), rel=1e-8, abs=1e-9)


def test_fid_from_cached_stats_equals_fid():
    rng = _rng(3)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(70, 5)) + 1.0
    mu_a, sigma_a = gaussian_stats(a)
    assert mu_a.shape == (5,) and sigma_a.shape == (5, 5)
    np.testing.assert_allclose(sigma_a, np.cov(a, rowvar=False))
    assert fid_from_stats(mu_a, sigma_a, *gaussian_stats(b)) == pytest.approx(fid(a, b), rel=1e-12)


def test_fid_one_dimensional():
    # D = 1: closed form (mu1-mu2)² + (s1 - s2)² with s = std.
    a = np.array([[0.0], [2.0], [4.0]])  # mean 2, var 4
    b = np.array([[1.0], [2.0], [3.0]])  # mean 2, var 1
    assert fid(a, b) == pytest.approx((2.0 - 1.0) ** 2)


def test_fid_eps_retry_when_sqrtm_not_finite(monkeypatch):
    calls = []
    real_sqrtm = distances.linalg.sqrtm

    def flaky_sqrtm(m):
        calls.append(m.copy())
        if len(calls) == 1:
            return np.full_like(m, np.nan)
        return real_sqrtm(m)

    monkeypatch.setattr(distances, "linalg", types.SimpleNamespace(sqrtm=flaky_sqrtm))
    s = np.diag([1.0, 2.0])
    mu = np.zeros(2)
    value = fid_from_stats(mu, s, mu, s, eps=0.5)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (s + 0.5 * np.eye(2)) @ (s + 0.5 * np.eye(2)))
    # Retried root is of (S + eps I)², i.e. S + eps I: trace term -2 * (tr S + 2 eps).
    assert value == pytest.approx(2 * 3.0 - 2 * (3.0 + 1.0))


def test_fid_large_imaginary_part_raises(monkeypatch):
    def complex_sqrtm(m):
        return m + 1j * np.ones_like(m)

    monkeypatch.setattr(distances, "linalg", types.SimpleNamespace(sqrtm=complex_sqrtm))
    s = np.eye(3)
    with pytest.raises(ValueError, match="imaginary component"):
        fid_from_stats(np.zeros(3), s, np.zeros(3), s)


def test_fid_tiny_imaginary_part_is_dropped(monkeypatch):
    monkeypatch.setattr(distances, "linalg", types.SimpleNamespace(sqrtm=lambda m: m + 1e-12j))
    s = np.eye(3)
    assert fid_from_stats(np.zeros(3), s, np.zeros(3), s) == pytest.approx(2 * 3 - 2 * 3)


# --------------------------------------------------------------------------- #
# KID
# --------------------------------------------------------------------------- #
def test_kid_matches_naive_mmd_with_single_full_subset():
    rng = _rng(4)
    a, b = rng.normal(size=(12, 3)), rng.normal(size=(9, 3)) + 0.5
    # subset_size >= both sizes -> clipped to 9: compare against the same rows.
    mean, std = kid(a[:9], b, num_subsets=1, subset_size=50)
    assert std == 0.0
    assert mean == pytest.approx(_mmd2_naive(a[:9], b), rel=1e-10)


def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = _rng(5)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same_mean, same_std = kid(a, b, num_subsets=10, subset_size=200)
    shifted_mean, _ = kid(a, b + 1.0, num_subsets=10, subset_size=200)
    assert abs(same_mean) < 0.05  # observed ~0.011 for this seed
    assert same_std >= 0.0
    assert shifted_mean > 1.0
    assert shifted_mean > 50 * abs(same_mean)  # observed ~8.6


def test_kid_deterministic_for_seed():
    rng = _rng(6)
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(50, 4))
    r1 = kid(a, b, num_subsets=5, subset_size=20, seed=7)
    r2 = kid(a, b, num_subsets=5, subset_size=20, seed=7)
    r3 = kid(a, b, num_subsets=5, subset_size=20, seed=8)
    assert r1 == r2
    assert r1 != r3


# --------------------------------------------------------------------------- #
# Inception Score
# --------------------------------------------------------------------------- #
def test_is_one_hot_uniform_equals_num_classes():
    c, splits = 5, 10
    labels = np.arange(100) % c  # every contiguous split of 10 has 2 of each class
    probs = np.eye(c)[labels]
    mean, std = inception_score(probs, splits=splits)
    assert mean == pytest.approx(c)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_identical_rows_equals_one():
    row = np.array([0.1, 0.0, 0.6, 0.3])  # includes a zero probability
    mean, std = inception_score(np.tile(row, (40, 1)), splits=4)
    assert mean == pytest.approx(1.0)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_matches_formula_single_split():
    rng = _rng(7)
    logits = rng.normal(size=(30, 6)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    py = p.mean(0)
    expected = np.exp(np.mean([np.sum(r * np.log(r / py)) for r in p]))
    mean, std = inception_score(p, splits=1)
    assert mean == pytest.approx(expected, rel=1e-12)
    assert std == 0.0


# --------------------------------------------------------------------------- #
# Precision / recall
# --------------------------------------------------------------------------- #
def test_pr_identical_sets_is_one_one():
    a = _rng(8).normal(size=(50, 5))
    assert precision_recall(a, a.copy(), k=3) == (1.0, 1.0)


def test_pr_far_fakes_have_zero_precision_and_recall():
    rng = _rng(9)
    real = rng.normal(size=(40, 4))
    fake = rng.normal(size=(30, 4)) + 100.0
    assert precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_pr_matches_bruteforce_with_small_batches():
    rng = _rng(10)
    real = rng.normal(size=(17, 3))
    fake = rng.normal(size=(13, 3)) * 1.5 + 0.7
    for k in (1, 2, 4):
        expected = _pr_bruteforce(real, fake, k)
        assert 0.0 < expected[0] < 1.0 or 0.0 < expected[1] < 1.0  # non-trivial case
        assert precision_recall(real, fake, k=k, batch=4) == pytest.approx(expected)
        assert precision_recall(real, fake, k=k, batch=1024) == pytest.approx(expected)


def test_pr_mode_collapse_high_precision_low_recall():
    rng = _rng(11)
    real = rng.normal(size=(200, 2))
    fake = rng.normal(size=(200, 2)) * 0.05  # all fakes near the real mode's centre
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.95
    assert recall < 0.2


# --------------------------------------------------------------------------- #
# Class coverage
# --------------------------------------------------------------------------- #
def test_class_coverage_hand_example():
    probs = np.array(
        [
            [0.90, 0.05, 0.05],  # class 0, confident
            [0.40, 0.35, 0.25],  # class 0, not confident
            [0.20, 0.70, 0.10],  # class 1, confident
            [0.30, 0.30, 0.40],  # class 2, not confident
        ]
    )
    covered, kl = class_coverage(probs, threshold=0.5)
    assert covered == 2
    hist = np.array([0.5, 0.25, 0.25])
    assert kl == pytest.approx(np.sum(hist * np.log(hist * 3)))
    assert class_coverage(probs, threshold=0.0)[0] == 3


def test_class_coverage_single_class_and_balanced():
    one_class = np.tile(np.eye(10)[3], (25, 1))
    covered, kl = class_coverage(one_class)
    assert covered == 1
    assert kl == pytest.approx(np.log(10))

    balanced = np.eye(10)[np.arange(50) % 10]
    covered, kl = class_coverage(balanced)
    assert covered == 10
    assert kl == pytest.approx(0.0, abs=1e-12)


def test_class_coverage_num_classes_larger_than_columns():
    balanced = np.eye(10)[np.arange(50) % 10]
    covered, kl = class_coverage(balanced, num_classes=20)
    assert covered == 10
    assert kl == pytest.approx(np.log(2))


# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #
_GOOD = np.zeros((8, 3)) + np.arange(8)[:, None] * np.array([1.0, 2.0, -1.0])
_PROBS = np.full((8, 4), 0.25)

_INVALID_CALLS = {
    "fid_1d": lambda: fid(np.zeros(8), _GOOD),
    "fid_3d": lambda: fid(_GOOD[None], _GOOD),
    "fid_dim_mismatch": lambda: fid(_GOOD, _GOOD[:, :2]),
    "fid_one_sample": lambda: fid(_GOOD[:1], _GOOD),
    "fid_nan": lambda: fid(np.where(_GOOD == 0, np.nan, _GOOD), _GOOD),
    "fid_stats_shape": lambda: fid_from_stats(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)),
    "fid_stats_dim_mismatch": lambda: fid_from_stats(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)),
    "gaussian_stats_one_sample": lambda: gaussian_stats(_GOOD[:1]),
    "kid_dim_mismatch": lambda: kid(_GOOD, _GOOD[:, :2]),
    "kid_one_sample": lambda: kid(_GOOD, _GOOD[:1]),
    "kid_zero_subsets": lambda: kid(_GOOD, _GOOD, num_subsets=0),
    "kid_tiny_subset": lambda: kid(_GOOD, _GOOD, subset_size=1),
    "is_1d": lambda: inception_score(np.full(4, 0.25)),
    "is_not_normalised": lambda: inception_score(_PROBS * 2, splits=2),
    "is_negative": lambda: inception_score(_PROBS - np.array([0.5, 0, 0, 0.5]), splits=2),
    "is_too_many_splits": lambda: inception_score(_PROBS, splits=9),
    "is_zero_splits": lambda: inception_score(_PROBS, splits=0),
    "pr_dim_mismatch": lambda: precision_recall(_GOOD, _GOOD[:, :2]),
    "pr_too_few_for_k": lambda: precision_recall(_GOOD, _GOOD[:3], k=3),
    "pr_bad_k": lambda: precision_recall(_GOOD, _GOOD, k=0),
    "pr_bad_batch": lambda: precision_recall(_GOOD, _GOOD, batch=0),
    "pr_1d": lambda: precision_recall(np.zeros(8), _GOOD),
    "cov_1d": lambda: class_coverage(np.full(4, 0.25)),
    "cov_not_normalised": lambda: class_coverage(_PROBS * 0.5),
    "cov_num_classes_too_small": lambda: class_coverage(np.eye(4)[[0, 3]], num_classes=2),
    "cov_bad_num_classes": lambda: class_coverage(_PROBS, num_classes=0),
    "cov_bad_threshold": lambda: class_coverage(_PROBS, threshold=1.5),
    "cov_empty": lambda: class_coverage(np.zeros((0, 4))),
}


@pytest.mark.parametrize("name", sorted(_INVALID_CALLS))
def test_invalid_inputs_raise_value_error(name):
    with pytest.raises(ValueError) as info:
        _INVALID_CALLS[name]()
    assert "\n" not in str(info.value)


def test_public_api_exported():
    import paddle_gan.metrics as m

    for fn in ("fid", "fid_from_stats", "gaussian_stats", "kid", "inception_score",
               "precision_recall", "class_coverage"):
        assert callable(getattr(m, fn))
    assert set(m.__all__) >= {"fid", "kid", "inception_score"}
