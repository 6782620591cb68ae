"""Sample-quality metrics for GAN evaluation (pure numpy / scipy).

All functions take plain numpy arrays of features or class probabilities
(e.g. Inception pool3 features or softmax outputs) that were computed
elsewhere; nothing here depends on PaddlePaddle.

Implemented metrics
-------------------
* ``fid``              -- Fréchet Inception Distance (Heusel et al. 2017)
* ``kid``              -- Kernel Inception Distance (Bińkowski et al. 2018)
* ``inception_score``  -- Inception Score (Salimans et al. 2016)
* ``precision_recall`` -- improved precision / recall (Kynkäänniemi et al. 2019)
* ``class_coverage``   -- mode coverage and KL-to-uniform of predicted classes

Every public function validates its inputs and raises ``ValueError`` with a
one-line message naming the problem.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.special import xlogy

__all__ = [
    "gaussian_stats",
    "fid_from_stats",
    "fid",
    "kid",
    "inception_score",
    "precision_recall",
    "class_coverage",
]

# Largest allowed |imag| of sqrtm(sigma_a @ sigma_b), relative to its real scale.
_IMAG_REL_TOL = 1e-3
# Tolerance on "rows of probs sum to 1".
_PROB_SUM_ATOL = 1e-3


# --------------------------------------------------------------------------- #
# input validation helpers
# --------------------------------------------------------------------------- #
def _as_2d(x: np.ndarray, name: str, min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float64 [N, D] array or raise ``ValueError``."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D [N, D] array, got ndim={arr.ndim} (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature column, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {arr.shape[0]}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature dims differ: {name_a} has D={a.shape[1]}, {name_b} has D={b.shape[1]}"
        )


def _as_probs(probs: np.ndarray, min_rows: int = 1) -> np.ndarray:
    """Return ``probs`` as a float64 [N, C] array of non-negative rows summing to 1."""
    p = _as_2d(probs, "probs", min_rows=min_rows)
    if np.any(p < 0):
        raise ValueError("probs contains negative entries")
    row_sums = p.sum(axis=1)
    worst = float(np.max(np.abs(row_sums - 1.0)))
    if worst > _PROB_SUM_ATOL:
        raise ValueError(f"rows of probs must sum to 1 (max deviation {worst:.3g})")
    return p


# --------------------------------------------------------------------------- #
# FID
# --------------------------------------------------------------------------- #
def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit a Gaussian to ``feats``.

    Args:
        feats: [N, D] feature array, N >= 2.

    Returns:
        ``(mu, sigma)``: the [D] mean and the [D, D] unbiased covariance
        (``np.cov(rowvar=False)``, i.e. normalised by N - 1), both float64.
        Cache these for the real data and pass them to :func:`fid_from_stats`.
    """
    x = _as_2d(feats, "feats", min_rows=2)
    mu = x.mean(axis=0)
    # np.cov returns a 0-d array when D == 1; keep it [D, D].
    sigma = np.atleast_2d(np.cov(x, rowvar=False))
    return mu, sigma


def _check_stats(mu: np.ndarray, sigma: np.ndarray, tag: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1:
        raise ValueError(f"mu_{tag} must be 1-D [D], got shape {mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise ValueError(f"sigma_{tag} must have shape ({d}, {d}) to match mu_{tag}, got {sigma.shape}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"mu_{tag} / sigma_{tag} contain NaN or inf")
    return mu, sigma


def fid_from_stats(
    mu_a: np.ndarray,
    sigma_a: np.ndarray,
    mu_b: np.ndarray,
    sigma_b: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b).

        d² = ||mu_a - mu_b||² + Tr(sigma_a + sigma_b - 2 (sigma_a sigma_b)^{1/2})

    The matrix square root uses ``scipy.linalg.sqrtm``. If it is not finite
    (near-singular product, e.g. fewer samples than dimensions) it is retried
    with ``eps`` added to both diagonals, as pytorch-fid does. A small
    imaginary part from round-off is dropped.

    Args:
        mu_a, mu_b: [D] means.
        sigma_a, sigma_b: [D, D] covariances.
        eps: diagonal offset used only for the retry.

    Returns:
        The distance as a Python float (may be a round-off-sized negative
        number for identical statistics; it is not clamped).

    Raises:
        ValueError: on shape mismatch, non-finite input, or if the square root
            has an imaginary component larger than 1e-3 relative to its real part.
    """
    mu_a, sigma_a = _check_stats(mu_a, sigma_a, "a")
    mu_b, sigma_b = _check_stats(mu_b, sigma_b, "b")
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature dims differ: stats a have D={mu_a.shape[0]}, stats b have D={mu_b.shape[0]}")

    diff = mu_a - mu_b
    covmean = linalg.sqrtm(sigma_a @ sigma_b)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(sigma_a.shape[0]) * eps
        covmean = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
        if not np.all(np.isfinite(covmean)):
            raise ValueError(f"sqrtm(sigma_a @ sigma_b) is not finite even with eps={eps} on the diagonals")

    if np.iscomplexobj(covmean):
        # sigma_a @ sigma_b is similar to a PSD matrix, so its principal root is
        # real in exact arithmetic; imaginary parts are round-off unless large.
        imag = float(np.max(np.abs(covmean.imag)))
        scale = max(float(np.max(np.abs(covmean.real))), np.finfo(np.float64).tiny)
        if imag > _IMAG_REL_TOL * scale:
            raise ValueError(
                f"imaginary component {imag:.3g} of sqrtm(sigma_a @ sigma_b) is too large "
                f"(relative {imag / scale:.3g} > {_IMAG_REL_TOL})"
            )
        covmean = covmean.real

    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def fid(feats_a: np.ndarray, feats_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet Inception Distance between two feature sets.

    Fits a Gaussian (mean, unbiased covariance, float64) to each [N, D] array
    and returns :func:`fid_from_stats` of the two fits.

    Args:
        feats_a: [N_a, D] features, N_a >= 2.
        feats_b: [N_b, D] features, N_b >= 2.
        eps: diagonal offset for the non-finite-sqrtm retry.

    Returns:
        The FID as a Python float.
    """
    a = _as_2d(feats_a, "feats_a", min_rows=2)
    b = _as_2d(feats_b, "feats_b", min_rows=2)
    _check_same_dim(a, b, "feats_a", "feats_b")
    mu_a, sigma_a = gaussian_stats(a)
    mu_b, sigma_b = gaussian_stats(b)
    return fid_from_stats(mu_a, sigma_a, mu_b, sigma_b, eps=eps)


# --------------------------------------------------------------------------- #
# KID
# --------------------------------------------------------------------------- #
def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cubic polynomial kernel k(x, y) = (x·y / d + 1)^3 for all row pairs."""
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² estimate between samples ``x`` [m, D] and ``y`` [n, D].

        MMD²_u = sum_{i≠j} k(x_i, x_j) / (m(m-1))
               + sum_{i≠j} k(y_i, y_j) / (n(n-1))
               - 2 sum_{i,j} k(x_i, y_j) / (m n)
    """
    m, n = x.shape[0], y.shape[0]
    k_xx = _poly_kernel(x, x)
    k_yy = _poly_kernel(y, y)
    k_xy = _poly_kernel(x, y)
    # Drop the diagonals (self-similarity) for the within-set terms.
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def kid(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD² with a cubic polynomial kernel.

    For each of ``num_subsets`` rounds, ``subset_size`` rows are drawn without
    replacement from each set (``subset_size`` is clipped to the smaller set's
    size) and the unbiased MMD² with k(x, y) = (x·y/d + 1)^3 is computed.

    Args:
        feats_a: [N_a, D] features, N_a >= 2.
        feats_b: [N_b, D] features, N_b >= 2.
        num_subsets: number of random subsets (>= 1).
        subset_size: rows per subset (>= 2 before clipping).
        seed: seed for ``np.random.default_rng``; same seed -> same result.

    Returns:
        ``(mean, std)`` of the per-subset MMD² values (std is the population
        std, 0.0 for a single subset). The mean can be slightly negative.
    """
    a = _as_2d(feats_a, "feats_a", min_rows=2)
    b = _as_2d(feats_b, "feats_b", min_rows=2)
    _check_same_dim(a, b, "feats_a", "feats_b")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")

    size = min(subset_size, a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    scores = np.empty(num_subsets, dtype=np.float64)
    for i in range(num_subsets):
        idx_a = rng.choice(a.shape[0], size, replace=False)
        idx_b = rng.choice(b.shape[0], size, replace=False)
        scores[i] = _mmd2_unbiased(a[idx_a], b[idx_b])
    return float(scores.mean()), float(scores.std())


# --------------------------------------------------------------------------- #
# Inception Score
# --------------------------------------------------------------------------- #
def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x[KL(p(y|x) || p(y))]).

    The N rows are cut into ``splits`` contiguous chunks (``np.array_split``);
    for each chunk p(y) is the chunk's mean prediction and the score is
    exp(mean_x KL(p(y|x) || p(y))). Zero probabilities contribute 0 (0·log 0 = 0).

    Args:
        probs: [N, C] class probabilities, non-negative rows summing to 1.
        splits: number of chunks, 1 <= splits <= N.

    Returns:
        ``(mean, std)`` of the per-split scores (population std).
        The score ranges from 1 (all rows identical) to C (confident and
        uniformly spread predictions).
    """
    p = _as_probs(probs)
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    if splits > p.shape[0]:
        raise ValueError(f"splits ({splits}) must not exceed the number of samples ({p.shape[0]})")

    scores = []
    for part in np.array_split(p, splits, axis=0):
        p_y = part.mean(axis=0, keepdims=True)
        # KL(p || p_y) = sum p log p - p log p_y; xlogy gives 0 where p == 0,
        # and p_y > 0 wherever p > 0 since p_y averages the rows.
        kl = (xlogy(part, part) - xlogy(part, p_y)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores_arr = np.asarray(scores)
    return float(scores_arr.mean()), float(scores_arr.std())


# --------------------------------------------------------------------------- #
# Improved precision / recall
# --------------------------------------------------------------------------- #
def _sq_dists(x: np.ndarray, y: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances [len(x), len(y)], given y's squared norms."""
    d = (x * x).sum(axis=1, keepdims=True) - 2.0 * (x @ y.T)
    d += y_sq[None, :]
    np.maximum(d, 0.0, out=d)  # clip round-off negatives
    return d


def _knn_radii_sq(x: np.ndarray, k: int, batch: int) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row."""
    n = x.shape[0]
    x_sq = (x * x).sum(axis=1)
    radii = np.empty(n, dtype=np.float64)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        d = _sq_dists(x[start:stop], x, x_sq)
        # Exclude each point itself (but not exact duplicates of it).
        rows = np.arange(stop - start)
        d[rows, rows + start] = np.inf
        radii[start:stop] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_covered(query: np.ndarray, ref: np.ndarray, ref_radii_sq: np.ndarray, batch: int) -> float:
    """Fraction of ``query`` rows lying in at least one ball around ``ref`` rows."""
    ref_sq = (ref * ref).sum(axis=1)
    covered = 0
    for start in range(0, query.shape[0], batch):
        d = _sq_dists(query[start:start + batch], ref, ref_sq)
        covered += int(np.count_nonzero((d <= ref_radii_sq[None, :]).any(axis=1)))
    return covered / query.shape[0]


def precision_recall(
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    k: int = 3,
    batch: int = 1024,
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each point gets a ball whose radius is the distance to its k-th nearest
    neighbour within its own set (the point itself excluded). Then

    * precision = fraction of fake points inside at least one real ball,
    * recall    = fraction of real points inside at least one fake ball.

    Pairwise distances are computed ``batch`` query rows at a time, so peak
    temporary memory is O(batch * max(N_real, N_fake)) float64 values.

    Args:
        real_feats: [N_r, D] real features, N_r > k.
        fake_feats: [N_f, D] fake features, N_f > k.
        k: neighbourhood size (>= 1).
        batch: rows per distance block (>= 1).

    Returns:
        ``(precision, recall)``, each in [0, 1].
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    real = _as_2d(real_feats, "real_feats", min_rows=k + 1)
    fake = _as_2d(fake_feats, "fake_feats", min_rows=k + 1)
    _check_same_dim(real, fake, "real_feats", "fake_feats")

    real_radii = _knn_radii_sq(real, k, batch)
    fake_radii = _knn_radii_sq(fake, k, batch)
    precision = _fraction_covered(fake, real, real_radii, batch)
    recall = _fraction_covered(real, fake, fake_radii, batch)
    return precision, recall


# --------------------------------------------------------------------------- #
# Class coverage
# --------------------------------------------------------------------------- #
def class_coverage(
    probs: np.ndarray,
    threshold: float = 0.5,
    num_classes: int | None = None,
) -> tuple[int, float]:
    """Mode coverage of a classifier's predictions on generated samples.

    Args:
        probs: [N, C] class probabilities, non-negative rows summing to 1.
        threshold: a class is *covered* if it is the argmax of at least one
            sample whose max probability is >= ``threshold``.
        num_classes: number of classes K of the reference uniform
            distribution; defaults to C. Every argmax must be < K.

    Returns:
        ``(covered, kl)``: the number of covered classes and
        KL(histogram of argmax over all samples || uniform over K classes)
        in nats -- 0 when perfectly balanced, log K when all samples fall
        in one class.
    """
    p = _as_probs(probs)
    k_classes = p.shape[1] if num_classes is None else int(num_classes)
    if k_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")

    preds = p.argmax(axis=1)
    if preds.max() >= k_classes:
        raise ValueError(f"predicted class {int(preds.max())} is outside num_classes={k_classes}")

    confident = p.max(axis=1) >= threshold
    covered = int(np.unique(preds[confident]).size)

    hist = np.bincount(preds, minlength=k_classes) / preds.size
    # KL(h || u) = sum h log(h / (1/K)) = sum h log h + log K.
    kl = float(xlogy(hist, hist).sum() + np.log(k_classes))
    return covered, max(kl, 0.0)
