"""Metrics for 2-D toy GANs (pure numpy).

* :func:`mode_metrics` -- the VEEGAN / PacGAN mode-coverage protocol for
  Gaussian-mixture targets (modes recovered, % high-quality samples, reverse KL).
* :func:`density_metrics` -- Jensen-Shannon divergence between a sample
  histogram and an image density on the unit square (plus sliced Wasserstein
  distance when real samples are given).
* :func:`sliced_wasserstein` -- sliced 1-Wasserstein distance between two point sets.

Inputs are validated; problems raise ``ValueError`` with a one-line message.
Image orientation follows :mod:`paddle_gan.data.toy2d`: unit square, ``x``
right, ``y`` up, image row 0 at the top.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["mode_metrics", "density_metrics", "sliced_wasserstein", "js_divergence", "rebin_image"]

#: A sample is "high quality" when it lies within this many sigmas of its nearest centre.
HQ_SIGMAS = 3.0
# Rows per block when computing sample-to-centre distances (bounds memory for large sample sets).
_DIST_BLOCK = 65536
# Projections processed together in sliced_wasserstein (bounds memory to ~N * this).
_PROJ_BLOCK = 16


def _points(x: np.ndarray, name: str, dim: int | None = 2) -> np.ndarray:
    """``x`` as a finite float64 ``[N, d]`` array with ``N >= 1`` (and ``d == dim`` if given)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or (dim is not None and arr.shape[1] != dim):
        want = f"[N, {dim}]" if dim is not None else "[N, d]"
        raise ValueError(f"{name} must have shape {want} with N >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or infinite values")
    return arr


def _nearest_centers(samples: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and Euclidean distance to, each sample's nearest centre (blockwise)."""
    nearest = np.empty(samples.shape[0], dtype=np.int64)
    dist = np.empty(samples.shape[0], dtype=np.float64)
    for start in range(0, samples.shape[0], _DIST_BLOCK):
        block = samples[start:start + _DIST_BLOCK]
        d2 = ((block[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
        idx = np.argmin(d2, axis=1)
        nearest[start:start + len(block)] = idx
        dist[start:start + len(block)] = np.sqrt(d2[np.arange(len(block)), idx])
    return nearest, dist


def _kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) in nats for the histogram ``counts``; empty bins contribute 0 (0 log 0 = 0)."""
    total = counts.sum()
    if total == 0:
        return math.nan
    p = counts[counts > 0] / total
    return float(max(0.0, np.sum(p * np.log(p * counts.size))))


def mode_metrics(samples: np.ndarray, centers: np.ndarray, sigma: float) -> dict:
    """Mode coverage of ``samples`` for a Gaussian mixture with ``centers`` and common ``sigma``.

    Protocol (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): a
    sample is *high quality* (HQ) if its Euclidean distance to the nearest
    centre is <= 3 sigma; a mode is *recovered* if it is the nearest centre of
    at least one HQ sample.

    Args:
        samples: ``[N, 2]`` generated points, N >= 1.
        centers: ``[M, 2]`` mixture centres.
        sigma: mixture standard deviation (> 0).

    Returns:
        ``{"modes": int, "hq_percent": float, "reverse_kl": float}`` where
        ``modes`` is the number of recovered modes (0..M), ``hq_percent`` the
        percentage of HQ samples (0..100) and ``reverse_kl`` is
        KL(q || uniform) in nats, ``q`` being the histogram of HQ samples over
        their nearest modes.  Empty bins contribute 0 (``0 log 0 = 0``), so it
        ranges from 0 (perfectly balanced) to ``log M`` (all HQ samples in one
        mode); it is ``nan`` when there is no HQ sample.

    Raises:
        ValueError: wrong shapes, non-finite values, or ``sigma <= 0``.
    """
    pts = _points(samples, "samples")
    ctr = _points(centers, "centers")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    nearest, dist = _nearest_centers(pts, ctr)
    hq = dist <= HQ_SIGMAS * sigma
    counts = np.bincount(nearest[hq], minlength=ctr.shape[0])
    return {
        "modes": int(np.count_nonzero(counts)),
        "hq_percent": float(100.0 * hq.mean()),
        "reverse_kl": _kl_to_uniform(counts),
    }


def _rebin_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` matrix of the overlap of input cell ``j`` with output cell ``i``, as a fraction of cell ``j``."""
    edges_in = np.arange(n_in + 1) / n_in
    edges_out = np.arange(n_out + 1) / n_out
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    return np.clip(hi - lo, 0.0, None) * n_in


def rebin_image(image: np.ndarray, bins: int) -> np.ndarray:
    """Downsample (or upsample) ``image`` to ``[bins, bins]`` by exact area summation.

    Each pixel's value is treated as uniform density over the pixel; an output
    cell receives every input pixel's value times the fraction of that pixel it
    covers, so the total is preserved for any input size.
    """
    img = np.asarray(image, dtype=np.float64)
    return _rebin_matrix(img.shape[0], bins) @ img @ _rebin_matrix(img.shape[1], bins).T


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats, in [0, ln 2]) between two non-negative histograms of equal shape.

    Both are normalised to sum 1 first; terms with zero mass contribute 0.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0 or np.any(p < 0) or np.any(q < 0):
        raise ValueError("js_divergence needs two non-negative histograms of equal size with positive mass")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def _kl_to_m(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / m[nz])))

    return float(np.clip(0.5 * _kl_to_m(p) + 0.5 * _kl_to_m(q), 0.0, math.log(2.0)))


def _sample_histogram(points: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    """``[bins, bins]`` counts in image layout (row 0 = top, ``y`` near 1) and the number of points outside the unit square."""
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
    cols = np.minimum((x[inside] * bins).astype(np.int64), bins - 1)
    rows = np.minimum(((1.0 - y[inside]) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(rows * bins + cols, minlength=bins * bins).reshape(bins, bins)
    return counts.astype(np.float64), int(np.count_nonzero(~inside))


def density_metrics(
    samples: np.ndarray,
    density_image: np.ndarray,
    real_samples: np.ndarray | None = None,
    bins: int = 64,
) -> dict:
    """Compare generated points with an image density on the unit square.

    Args:
        samples: ``[N, 2]`` generated points.
        density_image: ``[H, W]`` non-negative density (row 0 = top, i.e. ``y`` near 1).
        real_samples: optional ``[K, 2]`` points from the target; adds ``"swd"``.
        bins: histogram resolution per axis.

    Returns:
        ``{"js": float, "outside_percent": float}`` plus ``"swd"`` when
        ``real_samples`` is given.  ``js`` is the Jensen-Shannon divergence
        (nats, in [0, ln 2]) between the ``bins x bins`` histogram of
        ``samples`` and the image summed over the same cells; samples outside
        the unit square count in an extra cell where the target has no mass
        (so they raise ``js``); ``outside_percent`` is their share.

    Raises:
        ValueError: bad shapes, non-finite values, a negative or all-zero
            image, or ``bins < 1``.
    """
    pts = _points(samples, "samples")
    img = np.asarray(density_image, dtype=np.float64)
    if img.ndim != 2 or img.size == 0:
        raise ValueError(f"density_image must be a non-empty 2-D array, got shape {img.shape}")
    if not np.all(np.isfinite(img)) or np.any(img < 0) or not np.any(img > 0):
        raise ValueError("density_image must be finite, non-negative and not all zero")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    hist, outside = _sample_histogram(pts, int(bins))
    target = rebin_image(img, int(bins))
    result = {
        "js": js_divergence(np.append(hist.ravel(), outside), np.append(target.ravel(), 0.0)),
        "outside_percent": 100.0 * outside / pts.shape[0],
    }
    if real_samples is not None:
        result["swd"] = sliced_wasserstein(pts, _points(real_samples, "real_samples"))
    return result


def _w1_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact 1-D W1 between empirical distributions, per column of the column-sorted ``a [Na, P]`` and ``b [Nb, P]``.

    W1 = integral over t in (0, 1) of |F_a^-1(t) - F_b^-1(t)|; both quantile
    functions are step functions, so the integral is a finite sum over the
    merged breakpoints ``{i / Na} U {j / Nb}`` (handles unequal sizes).
    """
    na, nb = a.shape[0], b.shape[0]
    if na == nb:
        return np.abs(a - b).mean(axis=0)
    t = np.union1d(np.arange(na + 1) / na, np.arange(nb + 1) / nb)
    mid, width = 0.5 * (t[:-1] + t[1:]), np.diff(t)
    ia = np.minimum((mid * na).astype(np.int64), na - 1)
    ib = np.minimum((mid * nb).astype(np.int64), nb - 1)
    return (width[:, None] * np.abs(a[ia] - b[ib])).sum(axis=0)


def sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    num_projections: int = 128,
    seed: int | np.random.Generator = 0,
) -> float:
    """Sliced 1-Wasserstein distance between point sets ``a [Na, d]`` and ``b [Nb, d]``.

    Mean over ``num_projections`` random unit directions (uniform on the
    sphere, drawn from ``seed``) of the exact 1-D W1 distance between the
    sorted projections; unequal sizes are compared through their quantile
    functions.  For ``b = a + s`` it equals the mean of ``|theta . s|``
    (``|s|`` exactly in 1-D, ``2|s|/pi`` in expectation in 2-D).

    Raises:
        ValueError: bad shapes, different dimensions, non-finite values or
            ``num_projections < 1``.
    """
    a = _points(a, "a", dim=None)
    b = _points(b, "b", dim=None)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same dimension, got {a.shape[1]} and {b.shape[1]}")
    if isinstance(num_projections, bool) or not isinstance(num_projections, (int, np.integer)) or num_projections < 1:
        raise ValueError(f"num_projections must be an integer >= 1, got {num_projections!r}")
    dirs = np.random.default_rng(seed).standard_normal((int(num_projections), a.shape[1]))
    dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-12)
    total = 0.0
    for start in range(0, len(dirs), _PROJ_BLOCK):
        block = dirs[start:start + _PROJ_BLOCK].T
        total += _w1_sorted(np.sort(a @ block, axis=0), np.sort(b @ block, axis=0)).sum()
    return float(total / len(dirs))
