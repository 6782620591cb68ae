"""Opening a user's image file with its size bounded before any pixel is decoded.

Pillow reads only the header when it opens a file, so the declared width and height are known
before the pixels are decompressed: a small PNG or JPEG can declare gigapixels (a
"decompression bomb"). Images of more than MAX_IMAGE_PIXELS are refused in one line; Pillow's
own bomb warning and error (at 89 and 179 million pixels) are turned into the same refusal.
"""
from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, Iterator

from paddle_gan.errors import UserError

#: the largest image the suite decodes (4096 x 4096 pixels; a training image is at most 1024)
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE


class ImageTooLarge(UserError, ValueError):
    """An image file declares more pixels than MAX_IMAGE_PIXELS (a ValueError too, as Pillow's
    readers' other complaints about a file)."""


def _refuse(path: str, size: str) -> ImageTooLarge:
    return ImageTooLarge(f"image {path} is {size} pixels, more than the {MAX_IMAGE_SIDE}x"
                         f"{MAX_IMAGE_SIDE} this suite decodes; resize it first")


@contextlib.contextmanager
def open_image(path: str) -> Iterator[Any]:
    """Pillow's image of `path` with only its header read; ImageTooLarge (one line) when it
    declares more than MAX_IMAGE_PIXELS. Pillow's other errors (unreadable file) pass through."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's "Image size (N pixels)"
            raise _refuse(path, f"{int(found.group(1)):,}" if found else "too many") from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise _refuse(path, f"{width}x{height}")
        yield image


class BadPixels(UserError, ValueError):
    """An image whose pixels are not finite, or float pixels outside [0, 1] (a ValueError too,
    as the density reader's other complaints about a file)."""


#: Pillow modes of more than 8 bits per pixel, one channel each, and the value each one's
#: full scale is (None: float pixels, which must already be in [0, 1])
HIGH_DEPTH_SCALE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0,
                    "I": 65535.0, "F": None}


def high_depth_pixels(image: Any, path: str) -> Any:
    """The pixels of a 16-bit, 32-bit integer or float grayscale image as float64 [H, W] in
    [0, 1] (integers divided by 65535, the 16-bit full scale), or None for an image of 8-bit
    channels (which Pillow converts without loss). BadPixels (one line) for NaN or infinite
    pixels and for values outside the scale: Pillow's `convert` would clip them to white."""
    import numpy as np

    if image.mode not in HIGH_DEPTH_SCALE:
        return None
    pixels = np.asarray(image, dtype=np.float64)
    if not np.isfinite(pixels).all():
        raise BadPixels(f"image {path} has NaN or infinite pixels")
    scale = HIGH_DEPTH_SCALE[image.mode]
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    top = 1.0 if scale is None else scale
    if low < 0.0 or high > top:
        raise BadPixels(f"image {path} ({image.mode}) has pixels in [{low:g}, {high:g}], outside "
                        f"0..{top:g}: scale it to that range first")
    return pixels / top
