"""Tests for the 2-D toy targets (paddle_gan.data.toy2d) and their metrics (paddle_gan.metrics.toy2d)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from paddle_gan.data.toy2d import (
    DensityFileNotFoundError,
    ImageClassTarget,
    ImageTarget,
    Mixture,
    TargetError,
    class_target,
    grid_mixture,
    load_density_image,
    make_target,
    ring_mixture,
    sample_density,
    spiral,
    text,
    two_blobs,
    zigzag,
)
from paddle_gan.errors import UserError
from paddle_gan.metrics.toy2d import (
    density_metrics,
    js_divergence,
    mode_metrics,
    rebin_image,
    sliced_wasserstein,
)

HQ_FRACTION = 1.0 - math.exp(-4.5)  # mass of a 2-D isotropic Gaussian within 3 sigma


def _pixel_of(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the image pixel containing each point (row 0 = top = y near 1)."""
    h, w = shape
    rows = np.floor((1.0 - points[:, 1].astype(np.float64)) * h).astype(int)
    cols = np.floor(points[:, 0].astype(np.float64) * w).astype(int)
    return rows, cols


# --------------------------------------------------------------------------------------
# sample_density
# --------------------------------------------------------------------------------------

def test_two_blobs_mass_ratio_and_black_pixels_never_sampled():
    img = two_blobs((3, 1))
    h, w = img.shape
    assert img[:, : w // 2].sum() / img.sum() == pytest.approx(0.75, abs=1e-12)
    assert img[:, w // 2 - 2: w // 2 + 2].max() == 0.0  # the blobs are disjoint

    pts = sample_density(img, 200_000, seed=0)
    assert pts.dtype == np.float32 and pts.shape == (200_000, 2)
    assert np.mean(pts[:, 0] < 0.5) == pytest.approx(0.75, abs=0.01)
    rows, cols = _pixel_of(pts, img.shape)
    assert np.all(img[rows, cols] > 0)


def test_sparse_image_exact_pixels():
    img = np.zeros((5, 7))
    img[1, 2], img[3, 6], img[4, 0] = 1.0, 2.0, 1.0  # masses 1/4, 1/2, 1/4
    pts = sample_density(img, 40_000, seed=1)
    rows, cols = _pixel_of(pts, img.shape)
    assert np.all(img[rows, cols] > 0)
    counts = np.bincount(rows * 7 + cols, minlength=35) / len(pts)
    assert counts[1 * 7 + 2] == pytest.approx(0.25, abs=0.01)
    assert counts[3 * 7 + 6] == pytest.approx(0.50, abs=0.01)
    assert counts[4 * 7 + 0] == pytest.approx(0.25, abs=0.01)


def test_y_points_up():
    h, w = 8, 5
    img = np.zeros((h, w))
    img[0, :] = 1.0  # top row only
    pts = sample_density(img, 10_000, seed=2)
    assert np.all(pts[:, 1] > 1 - 1 / h) and np.all(pts[:, 1] < 1)
    img = np.zeros((h, w))
    img[-1, :] = 1.0  # bottom row only
    pts = sample_density(img, 10_000, seed=2)
    assert np.all(pts[:, 1] < 1 / h) and np.all(pts[:, 1] > 0)


def test_x_points_right():
    h, w = 6, 10
    img = np.zeros((h, w))
    img[:, -1] = 1.0  # right column only
    pts = sample_density(img, 10_000, seed=3)
    assert np.all(pts[:, 0] > 1 - 1 / w) and np.all(pts[:, 0] < 1)
    img = np.zeros((h, w))
    img[:, 0] = 1.0
    pts = sample_density(img, 10_000, seed=3)
    assert np.all(pts[:, 0] < 1 / w)


def test_uniform_image_gives_uniform_points():
    pts = sample_density(np.ones((4, 4)), 100_000, seed=4)
    assert pts.mean(axis=0) == pytest.approx([0.5, 0.5], abs=0.005)
    assert pts.var(axis=0) == pytest.approx([1 / 12, 1 / 12], abs=0.002)


def test_seed_reproducible_and_generator_accepted():
    img = spiral(64)
    a = sample_density(img, 1000, seed=7)
    assert np.array_equal(a, sample_density(img, 1000, seed=7))
    assert not np.array_equal(a, sample_density(img, 1000, seed=8))
    assert np.array_equal(a, sample_density(img, 1000, np.random.default_rng(7)))


def test_million_samples_from_large_image():
    img = np.random.default_rng(0).random((1000, 1000))
    pts = sample_density(img, 1_000_000, seed=0)
    assert pts.shape == (1_000_000, 2) and pts.dtype == np.float32
    assert np.all((pts >= 0) & (pts <= 1))


@pytest.mark.parametrize(
    "image, n, match",
    [
        (np.ones(5), 10, "2-D"),
        (np.ones((2, 2, 3)), 10, "2-D"),
        (np.array([[1.0, -0.5]]), 10, "negative"),
        (np.zeros((4, 4)), 10, "all zero"),
        (np.array([[1.0, np.nan]]), 10, "NaN"),
        (np.ones((4, 4)), 0, "samples"),
        (np.ones((4, 4)), -3, "samples"),
    ],
)
def test_sample_density_errors(image, n, match):
    with pytest.raises(ValueError, match=match) as info:
        sample_density(image, n, seed=0)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, TargetError) and isinstance(info.value, UserError)


# --------------------------------------------------------------------------------------
# Images: loading and drawing
# --------------------------------------------------------------------------------------

def test_load_density_image_rgb_and_orientation(tmp_path):
    rgb = np.zeros((10, 20, 3), dtype=np.uint8)
    rgb[0, :, :] = 255  # white top row
    rgb[5, 3, :] = (255, 0, 0)  # a red pixel -> luminance ~76/255
    path = tmp_path / "top.png"
    Image.fromarray(rgb).save(path)
    img = load_density_image(str(path))
    assert img.shape == (10, 20) and img.min() >= 0 and img.max() == 1.0
    assert img[5, 3] == pytest.approx(76 / 255, abs=2 / 255)

    rgba = np.zeros((10, 20, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[0, :, :3] = 255
    Image.fromarray(rgba).save(tmp_path / "top_rgba.png")
    assert np.array_equal(load_density_image(str(tmp_path / "top_rgba.png")) > 0.5, img > 0.5)

    target = make_target(f"image:{path}")
    pts, labels = target.sample(5000, seed=0)
    assert labels is None
    rows, _ = _pixel_of(pts, img.shape)
    assert np.all((rows == 0) | (rows == 5))
    assert np.mean(rows == 0) > 0.9


def test_load_density_image_errors(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png") as info:
        load_density_image(str(missing))
    assert isinstance(info.value, DensityFileNotFoundError)
    bad = tmp_path / "garbage.png"
    bad.write_bytes(b"this is not an image\n" * 10)
    with pytest.raises(ValueError, match="garbage.png") as info:
        load_density_image(str(bad))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("draw", [two_blobs, spiral, zigzag, text])
def test_drawn_images(draw):
    img = draw()
    assert img.shape == (256, 256) and img.dtype == np.float64
    assert img.min() >= 0 and img.max() == pytest.approx(1.0)
    assert 0.02 < np.mean(img > 0.5) < 0.5  # a shape, not empty and not a full square


def test_text_fills_image_and_is_upright():
    img = text("GAN", size=128)
    cols = np.flatnonzero(img.max(axis=0) > 0.5)
    assert cols[0] < 0.12 * 128 and cols[-1] > 0.88 * 128  # wide word spans the width
    wide = text("IIIIIIII", size=128)
    assert not np.array_equal(wide, img)
    # "T" has its bar at the top: the top half holds more ink than the bottom half.
    t = text("T", size=64)
    assert t[:32].sum() > t[32:].sum()
    with pytest.raises(ValueError, match="word"):
        text("   ")


def test_a_text_target_is_bounded_in_length():
    from paddle_gan.data.toy2d import MAX_TEXT_CHARS

    assert text("W" * MAX_TEXT_CHARS, size=32).shape == (32, 32)
    with pytest.raises(TargetError, match="text target: at most 64 characters, got 65 "):
        text("W" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(TargetError, match="got 60,000 \\('WWWWWWWWWWWWWWWW'...\\)$"):
        make_target("text:" + "W" * 60_000)  # a 650-megapixel canvas, were it drawn


# --------------------------------------------------------------------------------------
# Mixtures and target registry
# --------------------------------------------------------------------------------------

def test_ring_centres_and_sigma():
    ring = ring_mixture()
    assert ring.centers.shape == (8, 2) and ring.sigma == 0.01
    assert np.allclose(np.linalg.norm(ring.centers, axis=1), 1.0)
    angles = np.mod(np.arctan2(ring.centers[:, 1], ring.centers[:, 0]), 2 * np.pi)
    assert np.allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    assert len(np.unique(np.round(ring.centers, 9), axis=0)) == 8
    pts, labels = ring.sample(80_000, seed=0)
    resid = pts - ring.centers[labels]
    assert resid.std(axis=0) == pytest.approx([0.01, 0.01], rel=0.02)
    assert np.bincount(labels, minlength=8) / len(labels) == pytest.approx(np.full(8, 1 / 8), abs=0.01)


def test_grid_centres_and_sigma():
    grid = grid_mixture()
    assert grid.centers.shape == (25, 2) and grid.sigma == 0.05
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in grid.centers.astype(int).tolist()} == expected
    assert np.array_equal(grid.centers, np.round(grid.centers))
    pts, labels = grid.sample(100_000, seed=1)
    assert pts.dtype == np.float32 and labels.dtype == np.int64
    resid = pts - grid.centers[labels]
    assert resid.std(axis=0) == pytest.approx([0.05, 0.05], rel=0.02)
    assert set(np.unique(labels)) == set(range(25))


def test_make_target_names():
    for name in ("ring", "grid"):
        target = make_target(name)
        assert isinstance(target, Mixture)
        pts, labels = target.sample(100, seed=0)
        assert pts.shape == (100, 2) and labels.shape == (100,)
    for name in ("blobs", "spiral", "zigzag", "text", "text:Hi"):
        target = make_target(name)
        assert isinstance(target, ImageTarget) and target.image.ndim == 2
        pts, labels = target.sample(100, seed=0)
        assert pts.shape == (100, 2) and pts.dtype == np.float32 and labels is None
    assert not np.array_equal(make_target("text").image, make_target("text:Hi").image)
    assert np.array_equal(make_target("text").image, make_target("text:GAN").image)


@pytest.mark.parametrize("name", ["moons", "", "ring:3", "image:", "text:"])
def test_make_target_errors(name):
    with pytest.raises(ValueError) as info:
        make_target(name)
    msg = str(info.value)
    assert "\n" not in msg
    if name in ("moons", "", "ring:3"):
        assert "ring" in msg and "grid" in msg and "image:PATH" in msg


def test_make_target_missing_image():
    with pytest.raises(FileNotFoundError, match="missing_file.png"):
        make_target("image:/nonexistent/missing_file.png")


def test_class_target_mixtures():
    ring = class_target("ring")
    assert ring.num_classes == 8
    pts, labels = ring.sample(1000, seed=0)
    assert np.all(np.linalg.norm(pts - ring.centers[labels], axis=1) < 0.1)
    assert class_target("grid").num_classes == 25
    only3 = ring.sample_class(3, 200, seed=0)
    assert np.all(np.linalg.norm(only3 - ring.centers[3], axis=1) < 0.1)


def test_class_target_blobs():
    target = class_target("blobs")
    assert isinstance(target, ImageClassTarget) and target.num_classes == 2
    pts, labels = target.sample(20_000, seed=0)
    assert np.all(pts[labels == 0, 0] < 0.5) and np.all(pts[labels == 1, 0] > 0.5)
    assert np.mean(labels == 0) == pytest.approx(0.75, abs=0.015)
    marginal = target.image / target.image.sum()
    blobs = two_blobs()
    assert np.allclose(marginal, blobs / blobs.sum())


def test_class_target_folder(tmp_path):
    top = np.zeros((16, 16), dtype=np.uint8)
    top[0, :] = 255
    right = np.zeros((16, 16), dtype=np.uint8)
    right[:, -1] = 255
    Image.fromarray(right).save(tmp_path / "b_right.png")  # sorted second
    Image.fromarray(top).save(tmp_path / "a_top.png")  # sorted first
    (tmp_path / "notes.txt").write_text("ignored")
    target = class_target(str(tmp_path))
    assert target.num_classes == 2 and target.class_names == ("a_top", "b_right")
    pts, labels = target.sample(4000, seed=0)
    assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
    assert np.mean(labels == 0) == pytest.approx(0.5, abs=0.05)
    assert np.all(pts[labels == 0, 1] > 1 - 1 / 16)
    assert np.all(pts[labels == 1, 0] > 1 - 1 / 16)
    assert np.all(target.sample_class(1, 100, seed=1)[:, 0] > 1 - 1 / 16)


def test_class_target_errors(tmp_path):
    with pytest.raises(ValueError, match="spiral") as info:
        class_target("spiral")
    assert "ring" in str(info.value) and "blobs" in str(info.value)
    with pytest.raises(ValueError, match="no .*images"):
        class_target(str(tmp_path))
    with pytest.raises(ValueError, match="label"):
        class_target("ring").sample_class(8, 10, seed=0)


# --------------------------------------------------------------------------------------
# mode_metrics
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mixture, modes", [(ring_mixture(), 8), (grid_mixture(), 25)])
def test_mode_metrics_exact_samples(mixture, modes):
    pts, _ = mixture.sample(2500, seed=0)
    m = mode_metrics(pts, mixture.centers, mixture.sigma)
    assert m["modes"] == modes
    assert m["hq_percent"] == pytest.approx(100 * HQ_FRACTION, abs=1.0)
    assert 0 <= m["reverse_kl"] < 0.02
    pts, _ = mixture.sample(200_000, seed=1)
    m = mode_metrics(pts, mixture.centers, mixture.sigma)
    assert m["hq_percent"] == pytest.approx(100 * HQ_FRACTION, abs=0.1)


def test_mode_metrics_one_mode_and_far_away():
    ring = ring_mixture()
    one = ring.sample_class(2, 1000, seed=0)
    m = mode_metrics(one, ring.centers, ring.sigma)
    assert m["modes"] == 1
    assert m["reverse_kl"] == pytest.approx(math.log(8))

    far = np.random.default_rng(0).uniform(-0.5, 0.5, size=(1000, 2)) * 0.5  # near the origin
    m = mode_metrics(far, ring.centers, ring.sigma)
    assert m["modes"] == 0 and m["hq_percent"] == 0.0 and math.isnan(m["reverse_kl"])


def test_mode_metrics_reverse_kl_values():
    grid = grid_mixture()
    balanced = np.repeat(grid.centers, 4, axis=0)
    m = mode_metrics(balanced, grid.centers, grid.sigma)
    assert m == {"modes": 25, "hq_percent": 100.0, "reverse_kl": 0.0}

    # All HQ samples in one mode: log(M) even if many non-HQ samples are elsewhere.
    samples = np.vstack([np.repeat(grid.centers[:1], 50, axis=0), np.full((50, 2), 1.0)])
    m = mode_metrics(samples, grid.centers, grid.sigma)
    assert m["modes"] == 1 and m["hq_percent"] == 50.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))

    # Two of M=4 modes, equal counts: KL = log(M / 2).
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    m = mode_metrics(np.repeat(centers[:2], 10, axis=0), centers, 0.1)
    assert m["modes"] == 2 and m["reverse_kl"] == pytest.approx(math.log(2))

    # 3 sigma boundary is inclusive: a sample exactly 3 sigma away is HQ; just beyond is not.
    m = mode_metrics(np.array([[0.3, 0.0], [0.0, 0.3001]]), centers, 0.1)
    assert m["hq_percent"] == 50.0


def test_mode_metrics_errors():
    centers = ring_mixture().centers
    with pytest.raises(ValueError, match="samples"):
        mode_metrics(np.zeros((5, 3)), centers, 0.01)
    with pytest.raises(ValueError, match="samples"):
        mode_metrics(np.zeros((0, 2)), centers, 0.01)
    with pytest.raises(ValueError, match="centers"):
        mode_metrics(np.zeros((5, 2)), centers[:, :1], 0.01)
    with pytest.raises(ValueError, match="sigma"):
        mode_metrics(np.zeros((5, 2)), centers, 0.0)


# --------------------------------------------------------------------------------------
# density_metrics and sliced_wasserstein
# --------------------------------------------------------------------------------------

def test_rebin_image_area_sum():
    img = np.random.default_rng(0).random((100, 70))
    small = rebin_image(img, 64)
    assert small.shape == (64, 64)
    assert small.sum() == pytest.approx(img.sum())
    assert np.allclose(rebin_image(img[:64, :64], 64), img[:64, :64])
    blocks = rebin_image(np.arange(16.0).reshape(4, 4), 2)
    assert np.allclose(blocks, [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


def test_js_divergence_bounds():
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(math.log(2))
    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-15)


def test_density_metrics_self_vs_other():
    img = two_blobs()
    pts = sample_density(img, 200_000, seed=0)
    assert density_metrics(pts, img)["js"] < 0.02
    other = sample_density(spiral(), 200_000, seed=0)
    assert density_metrics(other, img)["js"] > 0.3
    # Orientation: flipping the samples upside down vs a top-heavy image is penalised.
    top = np.zeros((64, 64))
    top[:16] = 1.0
    top_pts = sample_density(top, 20_000, seed=0)
    assert density_metrics(top_pts, top)["js"] < 0.02
    flipped = top_pts * np.array([1.0, -1.0], dtype=np.float32) + np.array([0.0, 1.0], dtype=np.float32)
    assert density_metrics(flipped, top)["js"] == pytest.approx(math.log(2))


def test_density_metrics_outside_and_swd():
    img = zigzag(64)
    pts = sample_density(img, 20_000, seed=0)
    real = sample_density(img, 20_000, seed=1)
    half_out = pts.copy()
    half_out[::2] += 5.0
    m = density_metrics(half_out, img, real_samples=real)
    assert m["outside_percent"] == pytest.approx(50.0)
    assert m["js"] > density_metrics(pts, img)["js"] + 0.1
    assert "swd" in m and m["swd"] > 1.0
    assert "swd" not in density_metrics(pts, img)
    assert density_metrics(pts, img, real_samples=real)["swd"] < 0.01


def test_density_metrics_errors():
    pts = np.full((10, 2), 0.5)
    with pytest.raises(ValueError, match="bins"):
        density_metrics(pts, np.ones((4, 4)), bins=0)
    with pytest.raises(ValueError, match="density_image"):
        density_metrics(pts, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="density_image"):
        density_metrics(pts, np.ones(4))
    with pytest.raises(ValueError, match="samples"):
        density_metrics(np.full((10, 3), 0.5), np.ones((4, 4)))


def test_sliced_wasserstein_identity_and_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 2))
    assert sliced_wasserstein(a, a) == 0.0
    # 1-D: the only directions are +-1, so the distance is the shift exactly.
    x = rng.standard_normal((3000, 1))
    assert sliced_wasserstein(x, x + 0.7) == pytest.approx(0.7, rel=1e-9)
    # 2-D shift s along x: each projection moves by |cos(phi)| * |s|, expectation 2|s|/pi.
    d = sliced_wasserstein(a, a + np.array([0.5, 0.0]), num_projections=512)
    assert d == pytest.approx(2 * 0.5 / math.pi, rel=0.05)
    # A 1-D-like set on the x axis shifted along x: same expectation.
    line = np.column_stack([rng.uniform(0, 1, 3000), np.zeros(3000)])
    d = sliced_wasserstein(line, line + np.array([0.3, 0.0]), num_projections=512)
    assert d == pytest.approx(2 * 0.3 / math.pi, rel=0.05)


def test_sliced_wasserstein_unequal_sizes_matches_exact_1d():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(1)
    a = rng.standard_normal((700, 1))
    b = rng.standard_normal((300, 1)) * 2 + 1
    assert sliced_wasserstein(a, b) == pytest.approx(wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-9)
    big = np.repeat(a, 3, axis=0)  # same empirical distribution as a
    assert sliced_wasserstein(a, big) == pytest.approx(0.0, abs=1e-12)


def test_sliced_wasserstein_errors():
    with pytest.raises(ValueError, match="dimension"):
        sliced_wasserstein(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="num_projections"):
        sliced_wasserstein(np.zeros((5, 2)), np.zeros((5, 2)), num_projections=0)
    with pytest.raises(ValueError, match="NaN"):
        sliced_wasserstein(np.full((5, 2), np.nan), np.zeros((5, 2)))
