"""2-D target distributions for toy GAN experiments (pure numpy + Pillow).

Two families of targets:

* **Image densities** -- a grayscale image whose pixel brightness is the
  (unnormalised) density on the unit square ``[0, 1]^2``.  ``x`` grows to the
  right (image columns) and ``y`` grows *up*: image row 0 is the top edge, so
  its points have ``y`` close to 1.  Images can be loaded from a file
  (:func:`load_density_image`) or drawn in code (:func:`two_blobs`,
  :func:`spiral`, :func:`zigzag`, :func:`text`).
* **Gaussian mixtures** -- the VEEGAN / PacGAN benchmarks: ``ring`` (8 modes on
  the unit circle, sigma 0.01) and ``grid`` (25 modes on ``{-4,-2,0,2,4}^2``,
  sigma 0.05), see :class:`Mixture`.

Every target has ``sample(n, seed) -> (points float32 [n, 2], labels int64 [n] or None)``.
:func:`make_target` builds one from a name; :func:`class_target` builds a
labelled (conditional-GAN) target.

Errors a user can fix raise :class:`TargetError` (a ``ValueError``) or
:class:`DensityFileNotFoundError` (a ``FileNotFoundError``); both are also
:class:`paddle_gan.errors.UserError`, so the command-line tools report them as
one line.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, UnidentifiedImageError

from paddle_gan.data.image_file import ImageTooLarge, open_image
from paddle_gan.errors import UserError

__all__ = [
    "TARGET_NAMES",
    "CLASS_TARGET_NAMES",
    "TargetError",
    "DensityFileNotFoundError",
    "sample_density",
    "load_density_image",
    "two_blobs",
    "spiral",
    "zigzag",
    "text",
    "Mixture",
    "ring_mixture",
    "grid_mixture",
    "ImageTarget",
    "ImageClassTarget",
    "make_target",
    "class_target",
]

#: Target names understood by :func:`make_target` (``text:WORD`` and ``image:PATH`` take an argument).
TARGET_NAMES: tuple[str, ...] = ("ring", "grid", "blobs", "spiral", "zigzag", "text", "text:WORD", "image:PATH")
#: Names understood by :func:`class_target` besides a folder of images.
CLASS_TARGET_NAMES: tuple[str, ...] = ("ring", "grid", "blobs")
#: File extensions read as class images by :func:`class_target` (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg")

DEFAULT_SIZE = 256
# Jitter inside a pixel is drawn from [_EDGE, 1 - _EDGE) so that rounding to float32 never
# moves a point onto (or across) its pixel's edge; 1e-3 of a pixel is invisible.
_EDGE = 1e-3

# VEEGAN / PacGAN protocol constants.
RING_MODES = 8
RING_RADIUS = 1.0
RING_SIGMA = 0.01
GRID_VALUES: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID_SIGMA = 0.05

# two_blobs geometry, unit-square coordinates (y up): disjoint since 0.72 - 0.28 > 2 * 0.18.
_BLOB_CENTERS: tuple[tuple[float, float], ...] = ((0.28, 0.5), (0.72, 0.5))
_BLOB_SIGMA = 0.07
_BLOB_RADIUS = 0.18


class TargetError(UserError, ValueError):
    """Bad target name, density image or sampling argument."""


class DensityFileNotFoundError(UserError, FileNotFoundError):
    """A density image file (or class-image folder) that does not exist."""


# --------------------------------------------------------------------------------------
# Sampling an image density
# --------------------------------------------------------------------------------------

def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A Generator from an int seed, or the Generator itself."""
    return np.random.default_rng(seed)


def _check_n(n: int) -> int:
    """Validate a sample count (an integer >= 1)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise TargetError(f"number of samples must be an integer >= 1, got {n!r}")
    return int(n)


def _check_density(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as float64 after checking it is a usable density (2-D, finite, >= 0, not all 0)."""
    img = np.asarray(image)
    if img.ndim != 2:
        raise TargetError(f"density image must be 2-D (H, W), got shape {img.shape}")
    if img.size == 0:
        raise TargetError(f"density image is empty, shape {img.shape}")
    img = img.astype(np.float64, copy=False)
    if not np.all(np.isfinite(img)):
        raise TargetError("density image has NaN or infinite values")
    if np.any(img < 0):
        raise TargetError(f"density image has negative values (min {img.min():g})")
    if not np.any(img > 0):
        raise TargetError("density image is all zero: nothing to sample")
    return img


def _last_positive(mass: np.ndarray) -> np.ndarray:
    """Index of the last positive entry along the last axis (-1 where there is none)."""
    positive = mass > 0
    last = mass.shape[-1] - 1 - np.argmax(positive[..., ::-1], axis=-1)
    return np.where(positive.any(axis=-1), last, -1)


def sample_density(image: np.ndarray, n: int, seed: int | np.random.Generator) -> np.ndarray:
    """Draw ``n`` points from the density given by a grayscale image.

    A row is drawn from the marginal CDF over rows, then a column from the
    conditional CDF over columns within that row (both by ``np.searchsorted``
    on cumulative sums, no per-sample Python loop), then the point is jittered
    uniformly inside its pixel.  Points never fall in a zero-valued pixel.

    Args:
        image: 2-D array ``[H, W]`` of non-negative brightness (any scale).
            Row 0 is the top of the picture.
        n: number of points, >= 1.
        seed: int seed or a ``numpy.random.Generator`` (used as is).

    Returns:
        float32 array ``[n, 2]`` of ``(x, y)`` in the unit square; ``x`` to
        the right, ``y`` up (row 0 maps to ``1 - 1/H < y < 1``).

    Raises:
        TargetError (ValueError): image not 2-D, negative or non-finite
            values, all zero; ``n < 1``.
    """
    img = _check_density(image)
    n = _check_n(n)
    rng = _rng(seed)
    height, width = img.shape

    flat_cdf = np.cumsum(img.ravel())                       # row-major: rows are contiguous
    row_end = flat_cdf[width - 1::width]                    # cumulative mass up to the end of each row
    row_start = np.concatenate(([0.0], row_end[:-1]))
    row_mass = img.sum(axis=1)

    # Marginal over rows; clip guards the u ~ 1 rounding case onto the last non-empty row.
    u_row = rng.random(n) * row_end[-1]
    rows = np.searchsorted(row_end, u_row, side="right")
    rows = np.minimum(rows, _last_positive(row_mass))

    # Conditional over columns inside the chosen row, on the same flat CDF.
    u_col = row_start[rows] + rng.random(n) * (row_end[rows] - row_start[rows])
    flat = np.searchsorted(flat_cdf, u_col, side="right")
    last_in_row = rows * width + _last_positive(img)[rows]
    flat = np.clip(flat, rows * width, last_in_row)
    cols = flat - rows * width

    jitter = rng.uniform(_EDGE, 1.0 - _EDGE, size=(n, 2))
    points = np.empty((n, 2), dtype=np.float32)
    points[:, 0] = (cols + jitter[:, 0]) / width
    points[:, 1] = 1.0 - (rows + jitter[:, 1]) / height
    return points


# --------------------------------------------------------------------------------------
# Loading and drawing density images
# --------------------------------------------------------------------------------------

def _one_line(message: object) -> str:
    """Collapse an exception message onto one line."""
    return " ".join(str(message).split())


def load_density_image(path: str) -> np.ndarray:
    """Read a PNG/JPG file as a grayscale density in ``[0, 1]``.

    Colour images (RGB, RGBA, palette) are converted to luminance (Pillow mode
    ``L``); 16-bit grayscale is scaled by 65535.

    Args:
        path: image file path.

    Returns:
        float64 array ``[H, W]`` with values in ``[0, 1]`` (row 0 = top of the picture).

    Raises:
        DensityFileNotFoundError (FileNotFoundError): the file does not exist.
        TargetError (ValueError): the file is not a readable image, or it declares more
            pixels than `paddle_gan.data.image_file.MAX_IMAGE_PIXELS` (refused before decoding).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DensityFileNotFoundError(f"density image not found: {path}")
    try:
        with open_image(path) as im:  # refuses a decompression bomb before decoding
            im.load()
            if im.mode.startswith("I;16"):
                return np.asarray(im, dtype=np.float64) / 65535.0
            if im.mode in ("I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                if not np.isfinite(arr).all():
                    raise TargetError(f"density image {path} has NaN or infinite pixels")
                peak = arr.max() if arr.size else 0.0
                return np.clip(arr / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(arr)
            return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except ImageTooLarge as exc:
        raise TargetError(str(exc)) from None
    except TargetError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise TargetError(f"cannot read density image {path}: {_one_line(exc)}") from exc


def _check_size(size: int) -> int:
    """Validate an image side length (>= 8 pixels)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise TargetError(f"image size must be an integer >= 8, got {size!r}")
    return int(size)


def _pixel_centers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-square coordinates ``(X, Y)`` of the pixel centres of a ``size x size`` image (y up)."""
    coords = (np.arange(size) + 0.5) / size
    return np.meshgrid(coords, 1.0 - coords)  # X varies along columns, Y decreases down the rows


def _blob_images(ratio: tuple[float, float], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The two blobs of :func:`two_blobs` as separate images, masses in ``ratio``."""
    if len(ratio) != 2 or not all(np.isfinite(r) and r > 0 for r in ratio):
        raise TargetError(f"blob ratio must be two positive numbers, got {ratio!r}")
    size = _check_size(size)
    xx, yy = _pixel_centers(size)
    parts = []
    for (cx, cy), weight in zip(_BLOB_CENTERS, ratio):
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        blob = np.exp(-d2 / (2 * _BLOB_SIGMA**2)) * (d2 <= _BLOB_RADIUS**2)
        parts.append(blob * (float(weight) / blob.sum()))
    return parts[0], parts[1]


def two_blobs(ratio: tuple[float, float] = (3, 1), size: int = DEFAULT_SIZE) -> np.ndarray:
    """Two disjoint truncated-Gaussian blobs (left, right) whose total masses have ``ratio``.

    The left blob occupies ``x < 0.5``, the right one ``x > 0.5``; the image is
    scaled so its maximum is 1 (the mass ratio is exact on the pixel grid).
    """
    left, right = _blob_images(ratio, size)
    img = left + right
    return img / img.max()


def _render_polyline(points: list[tuple[float, float]], width: float, size: int, blur: float) -> np.ndarray:
    """Draw a thick polyline given in unit-square coordinates (y up) as a soft ``[0, 1]`` image."""
    size = _check_size(size)
    scale = 4  # supersampling for smooth edges
    big = size * scale
    canvas = Image.new("L", (big, big), 0)
    xy = [(x * big, (1.0 - y) * big) for x, y in points]
    ImageDraw.Draw(canvas).line(xy, fill=255, width=max(1, round(width * big)), joint="curve")
    small = canvas.resize((size, size), Image.Resampling.BOX)
    if blur > 0:
        small = small.filter(ImageFilter.GaussianBlur(blur * size))
    return np.asarray(small, dtype=np.float64) / 255.0


def spiral(size: int = DEFAULT_SIZE, turns: float = 2.5) -> np.ndarray:
    """An Archimedean spiral around the image centre, ``turns`` revolutions, as a soft line."""
    if not (np.isfinite(turns) and turns > 0):
        raise TargetError(f"spiral turns must be positive, got {turns!r}")
    theta = np.linspace(0.0, 2 * math.pi * turns, int(400 * turns) + 2)
    radius = 0.05 + 0.37 * theta / theta[-1]
    pts = list(zip(0.5 + radius * np.cos(theta), 0.5 + radius * np.sin(theta)))
    return _render_polyline(pts, width=0.025, size=size, blur=0.004)


def zigzag(size: int = DEFAULT_SIZE, teeth: int = 5) -> np.ndarray:
    """A zig-zag line of ``teeth`` straight segments across the image, as a soft line."""
    if isinstance(teeth, bool) or not isinstance(teeth, (int, np.integer)) or teeth < 1:
        raise TargetError(f"zigzag teeth must be an integer >= 1, got {teeth!r}")
    xs = np.linspace(0.1, 0.9, teeth + 1)
    ys = np.where(np.arange(teeth + 1) % 2 == 0, 0.2, 0.8)
    return _render_polyline(list(zip(xs, ys)), width=0.03, size=size, blur=0.004)


def _default_font(points: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``points`` size (the small bitmap font if FreeType is missing)."""
    try:
        return ImageFont.load_default(size=points)
    except (TypeError, OSError, ImportError):  # old Pillow / no FreeType: fixed bitmap font
        return ImageFont.load_default()


#: the longest ``text:WORD`` rendered: the word is drawn at 128 points before it is scaled down,
#: so its canvas grows with its length (60,000 characters made a 650-megapixel canvas)
MAX_TEXT_CHARS = 64


def text(word: str = "GAN", size: int = DEFAULT_SIZE, margin: float = 0.05) -> np.ndarray:
    """``word`` rendered with Pillow's default font, scaled to fill the image (aspect kept, centred).

    Args:
        word: text to draw (must contain a visible character, at most MAX_TEXT_CHARS long).
        size: output side length in pixels.
        margin: blank border as a fraction of ``size`` on each side.
    """
    size = _check_size(size)
    if isinstance(word, str) and len(word) > MAX_TEXT_CHARS:
        raise TargetError(f"text target: at most {MAX_TEXT_CHARS} characters, got "
                          f"{len(word):,} ({word[:16]!r}...)")
    if not isinstance(word, str) or not word.strip():
        raise TargetError(f"text target needs a non-empty word, got {word!r}")
    font = _default_font(128)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), word, font=font)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), word, fill=255, font=font)
    bbox = canvas.getbbox()
    if bbox is None:
        raise TargetError(f"text {word!r} renders no visible pixels with the default font")
    glyphs = canvas.crop(bbox)
    avail = max(1, round(size * (1 - 2 * margin)))
    scale = min(avail / glyphs.width, avail / glyphs.height)
    new_w, new_h = max(1, round(glyphs.width * scale)), max(1, round(glyphs.height * scale))
    glyphs = glyphs.resize((new_w, new_h), Image.Resampling.LANCZOS)
    out = Image.new("L", (size, size), 0)
    out.paste(glyphs, ((size - new_w) // 2, (size - new_h) // 2))
    return np.asarray(out, dtype=np.float64) / 255.0


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Mixture:
    """Isotropic Gaussian mixture with equal weights: ``centers [M, 2]``, common ``sigma``.

    Each mode is also a class (``num_classes == M``) for conditional GANs.
    """

    centers: np.ndarray
    sigma: float

    def __post_init__(self) -> None:
        centers = np.asarray(self.centers, dtype=np.float64)
        if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] != 2:
            raise TargetError(f"mixture centers must have shape [M, 2], got {centers.shape}")
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise TargetError(f"mixture sigma must be positive, got {self.sigma!r}")
        object.__setattr__(self, "centers", centers)
        object.__setattr__(self, "sigma", float(self.sigma))

    @property
    def num_classes(self) -> int:
        """Number of modes (= classes)."""
        return int(self.centers.shape[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)`` enclosing every centre with a margin, for plotting."""
        pad = 0.1 * float(np.ptp(self.centers)) + 5 * self.sigma
        (x0, y0), (x1, y1) = self.centers.min(axis=0), self.centers.max(axis=0)
        return (float(x0 - pad), float(x1 + pad), float(y0 - pad), float(y1 + pad))

    def sample(self, n: int, seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points with modes chosen uniformly: ``(points float32 [n, 2], labels int64 [n])``."""
        n = _check_n(n)
        rng = _rng(seed)
        labels = rng.integers(0, self.num_classes, size=n, dtype=np.int64)
        points = self.centers[labels] + self.sigma * rng.standard_normal((n, 2))
        return points.astype(np.float32), labels

    def sample_class(self, label: int, n: int, seed: int | np.random.Generator) -> np.ndarray:
        """``n`` points (float32 ``[n, 2]``) from mode ``label`` only."""
        label = _check_label(label, self.num_classes)
        n = _check_n(n)
        points = self.centers[label] + self.sigma * _rng(seed).standard_normal((n, 2))
        return points.astype(np.float32)


def ring_mixture() -> Mixture:
    """8 Gaussians at ``(cos 2*pi*k/8, sin 2*pi*k/8)``, k = 0..7, sigma 0.01."""
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    centers = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture(centers=centers, sigma=RING_SIGMA)


def grid_mixture() -> Mixture:
    """25 Gaussians on ``{-4, -2, 0, 2, 4}^2``, sigma 0.05 (label = 5 * ix + iy)."""
    values = np.asarray(GRID_VALUES)
    gx, gy = np.meshgrid(values, values, indexing="ij")
    return Mixture(centers=np.stack([gx.ravel(), gy.ravel()], axis=1), sigma=GRID_SIGMA)


@dataclass(frozen=True, eq=False)
class ImageTarget:
    """Unlabelled target whose density is ``image`` on the unit square (see :func:`sample_density`)."""

    image: np.ndarray
    name: str = "image"
    bounds: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _check_density(self.image))

    def sample(self, n: int, seed: int | np.random.Generator) -> tuple[np.ndarray, None]:
        """``(points float32 [n, 2], None)``."""
        return sample_density(self.image, n, seed), None


def _check_label(label: int, num_classes: int) -> int:
    """Validate a class label in ``[0, num_classes)``."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise TargetError(f"class label must be an integer in [0, {num_classes}), got {label!r}")
    return int(label)


@dataclass(frozen=True, eq=False)
class ImageClassTarget:
    """Labelled target: class ``k`` samples from ``images[k]``; classes drawn with ``class_probs``.

    Attributes:
        images: one density image per class.
        class_names: a name per class (file stem, or ``blob0``/``blob1``).
        class_probs: probability of each class in :meth:`sample` (sums to 1).
    """

    images: tuple[np.ndarray, ...]
    class_names: tuple[str, ...]
    class_probs: np.ndarray | None = None
    bounds: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        images = tuple(_check_density(im) for im in self.images)
        if not images or len(self.class_names) != len(images):
            raise TargetError(f"need >= 1 class image and one name per image, got "
                              f"{len(images)} images, {len(self.class_names)} names")
        probs = (np.full(len(images), 1.0 / len(images)) if self.class_probs is None
                 else np.asarray(self.class_probs, dtype=np.float64))
        if probs.shape != (len(images),) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
            raise TargetError(f"class_probs must be {len(images)} non-negative numbers summing to 1")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "class_probs", probs / probs.sum())

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.images)

    @property
    def image(self) -> np.ndarray:
        """Marginal density ``sum_k p_k * images[k] / sum(images[k])`` (all images must share a shape)."""
        shapes = {im.shape for im in self.images}
        if len(shapes) != 1:
            raise TargetError(f"class images have different shapes {sorted(shapes)}: no single marginal image")
        return sum(p * im / im.sum() for p, im in zip(self.class_probs, self.images))

    def sample(self, n: int, seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(points float32 [n, 2], labels int64 [n])``, labels drawn with ``class_probs``."""
        n = _check_n(n)
        rng = _rng(seed)
        labels = rng.choice(self.num_classes, size=n, p=self.class_probs).astype(np.int64)
        points = np.empty((n, 2), dtype=np.float32)
        for k, image in enumerate(self.images):
            idx = np.flatnonzero(labels == k)
            if idx.size:
                points[idx] = sample_density(image, idx.size, rng)
        return points, labels

    def sample_class(self, label: int, n: int, seed: int | np.random.Generator) -> np.ndarray:
        """``n`` points (float32 ``[n, 2]``) from class ``label`` only."""
        return sample_density(self.images[_check_label(label, self.num_classes)], n, seed)


def _unknown_target(name: str) -> TargetError:
    """The error for an unrecognised target name."""
    return TargetError(f"unknown target {name!r}; valid targets: {', '.join(TARGET_NAMES)}")


def make_target(name: str) -> Mixture | ImageTarget:
    """Build a target from its name.

    Names: ``ring``, ``grid`` (a :class:`Mixture`, labels = mode index);
    ``blobs``, ``spiral``, ``zigzag``, ``text`` (= ``text:GAN``),
    ``text:WORD``, ``image:PATH`` (an :class:`ImageTarget`, labels ``None``).

    Raises:
        TargetError (ValueError): unknown name (the message lists the valid ones)
            or an empty ``text:``/``image:`` argument.
        DensityFileNotFoundError: ``image:PATH`` names a missing file.
    """
    if not isinstance(name, str):
        raise _unknown_target(repr(name))
    kind, sep, arg = name.partition(":")
    if sep:
        if kind not in ("text", "image"):
            raise _unknown_target(name)
        if not arg:
            raise TargetError(f"target {name!r} needs an argument after ':' ({kind}:{'WORD' if kind == 'text' else 'PATH'})")
        image = text(arg) if kind == "text" else load_density_image(arg)
        return ImageTarget(image=image, name=name)
    builders = {"ring": ring_mixture, "grid": grid_mixture}
    images = {"blobs": two_blobs, "spiral": spiral, "zigzag": zigzag, "text": text}
    if kind in builders:
        return builders[kind]()
    if kind in images:
        return ImageTarget(image=images[kind](), name=kind)
    raise _unknown_target(name)


def _folder_class_target(folder: str) -> ImageClassTarget:
    """One class per PNG/JPG file in ``folder``, sorted by filename."""
    files = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, f)))
    if not files:
        raise TargetError(f"no {'/'.join(IMAGE_EXTENSIONS)} images in class folder {folder}")
    images = tuple(load_density_image(os.path.join(folder, f)) for f in files)
    for f, image in zip(files, images):
        if not np.any(image > 0):
            raise TargetError(f"class image {os.path.join(folder, f)} is all black: nothing to sample")
    return ImageClassTarget(images=images, class_names=tuple(os.path.splitext(f)[0] for f in files))


def class_target(name_or_folder: str) -> Mixture | ImageClassTarget:
    """A labelled target for conditional GANs (``.num_classes``, ``.sample`` returns labels).

    * ``ring`` / ``grid``: the :class:`Mixture`, each mode its own class.
    * ``blobs``: the two blobs of :func:`two_blobs` as classes 0 (left) and 1
      (right), drawn with probabilities 3/4 and 1/4 so the marginal equals the
      ``blobs`` target.
    * a folder path: one class per PNG/JPG file, sorted by filename, classes
      drawn uniformly (like ``cgan_demo.py inputs/binary``).

    Raises:
        TargetError (ValueError): unknown name, or a folder without usable images.
    """
    name = os.fspath(name_or_folder)
    if name in ("ring", "grid"):
        return make_target(name)  # type: ignore[return-value]
    if name == "blobs":
        ratio = (3, 1)
        parts = _blob_images(ratio, DEFAULT_SIZE)
        return ImageClassTarget(images=parts, class_names=("blob0", "blob1"),
                                class_probs=np.asarray(ratio, dtype=np.float64) / sum(ratio))
    if os.path.isdir(name):
        return _folder_class_target(name)
    raise TargetError(f"unknown class target {name!r}; valid: {', '.join(CLASS_TARGET_NAMES)} "
                      f"or a folder of {'/'.join(IMAGE_EXTENSIONS)} images")


# ======================================================================================
# Data-set registration: 2-D targets as training data for `--model toy`
# ======================================================================================
#
# A 2-D data set is a fixed pool of `cfg.num_points` points drawn once from the target with
# the run's seed (the held-out "test" split uses an independent stream). A pool, rather than
# fresh points every step, keeps the data a pure function of (seed, epoch, batch), so the
# trainer's shuffled EpochBatches and exact resume work unchanged, and sampling costs once;
# 100,000 points are far more than a 2-D MLP can memorise, so nothing measurable is lost.
# Points keep their natural coordinates (the ring has radius 1, the grid spans [-4, 4]).
#
# Names: ring, grid, blobs, spiral, zigzag, text, text:WORD, image:PATH and classes:FOLDER
# (one class per PNG/JPG in FOLDER, sorted by name; for `--conditional`). ring and grid
# label each point with its mode and blobs with its blob, so they also serve `--conditional`.

#: Independent sample streams per split.
_SPLIT_STREAMS = {"train": 0, "test": 1}
#: Prefix of the class-folder data set.
CLASSES_PREFIX = "classes:"


def dataset_target(name: str) -> Mixture | ImageTarget | ImageClassTarget:
    """The target behind a 2-D data-set name (see the registration notes above).

    `blobs` is the labelled two-blob target (classes left / right, masses 3:1), whose marginal
    is exactly the unlabelled `blobs` image.
    """
    if name.startswith(CLASSES_PREFIX):
        folder = name[len(CLASSES_PREFIX):]
        if not folder:
            raise TargetError(f"dataset {name!r}: give a folder of class images, "
                              f"e.g. {CLASSES_PREFIX}inputs/binary")
        if not os.path.isdir(folder):
            raise DensityFileNotFoundError(f"class-image folder not found: {folder}")
        return class_target(folder)
    if name == "blobs":
        return class_target("blobs")
    return make_target(name)


def target_density(target: Mixture | ImageTarget | ImageClassTarget) -> np.ndarray | None:
    """The density image of an image target (the class marginal for class targets), None for
    a Gaussian mixture."""
    if isinstance(target, Mixture):
        return None
    return target.image


def load_points(cfg, split: str = "train"):
    """The `cfg.dataset` target as ArrayData: `cfg.num_points` float32 points [N, 2] drawn with
    the run's seed, int64 labels where the target has classes."""
    from paddle_gan.data import ArrayData

    if split not in _SPLIT_STREAMS:
        raise TargetError(f"unknown split {split!r}; use train or test")
    target = dataset_target(cfg.dataset)
    rng = np.random.default_rng([cfg.seed, _SPLIT_STREAMS[split], 2024])
    points, labels = target.sample(cfg.num_points, rng)
    num_classes = int(getattr(target, "num_classes", 0)) if labels is not None else 0
    names = getattr(target, "class_names", None)
    if names is None and num_classes:
        names = [f"mode{k}" for k in range(num_classes)]
    note = (f"2-D target {cfg.dataset}: {len(points):,} points ({split}, seed {cfg.seed})"
            + (f", {num_classes} classes" if num_classes else ""))
    return ArrayData(points.astype(np.float32), labels, num_classes, cfg.dataset, note,
                     list(names) if names is not None else None)


def _register_datasets() -> None:
    from paddle_gan.data import register_dataset

    for name in ("ring", "grid", "blobs", "spiral", "zigzag", "text", "text:", "image:",
                 CLASSES_PREFIX):
        register_dataset(name, load_points)


_register_datasets()
