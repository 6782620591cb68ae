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
