"""Two-domain (unpaired) image data for CycleGAN: folder data sets and a built-in MNIST task.

* ``--dataset unpaired --data-dir DIR``: the usual layout ``DIR/trainA DIR/trainB DIR/testA
  DIR/testB``, images of any size and format Pillow reads, converted to RGB, resized (shorter
  side) and centre-cropped to ``--image-size`` (default 128; the paper's 256 works too, memory is
  N * 3 * size^2 * 4 bytes per domain), with random horizontal flips while training.
* ``--dataset mnist_style``: the embedded MNIST subset split into two *disjoint* halves (even
  and odd indices, so every digit is in both): domain A = ordinary digits, domain B = the other
  half in another style (inverted: black digits on white). Labels are kept for evaluation and
  no flips are applied (a flipped digit is another glyph). Default size 28.

Both produce an :class:`UnpairedData` (an ArrayData whose ``samples``/``labels`` are domain A,
plus ``samples_b``/``labels_b``); :class:`UnpairedBatches` draws aligned (A, B) batches.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from paddle_gan.data import ArrayData, register_dataset
from paddle_gan.data.image_file import (BadPixels, ImageTooLarge, high_depth_pixels,
                                         open_image)
from paddle_gan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
FOLDER_LAYOUT = "trainA/ trainB/ testA/ testB/"
FOLDER_DEFAULT_SIZE = 128
MNIST_STYLE_DEFAULT_SIZE = 28


def _invert(images: np.ndarray) -> np.ndarray:
    return 1.0 - images


#: Styles of the built-in task's domain B: name -> (apply, undo), both on [0, 1] float images.
#: `undo` maps a B-style image back to ordinary digits (for the MNIST classifier).
STYLES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "inverted": (_invert, _invert),
}
MNIST_STYLE_B = "inverted"


@dataclass
class UnpairedData(ArrayData):
    """Two unpaired image domains in memory.

    samples / labels: domain A, float32 [N_A, C, H, W] in [0, 1] and int64 [N_A] or None.
    samples_b / labels_b: domain B, float32 [N_B, C, H, W] (same C, H, W) and int64 or None.
    flip: random horizontal flips while training (folder photos yes, digits no).
    style_b: a STYLES name when domain B is a styled copy of domain A's kind (built-in task).
    """

    samples_b: Optional[np.ndarray] = None
    labels_b: Optional[np.ndarray] = None
    flip: bool = False
    style_b: Optional[str] = None

    def __post_init__(self) -> None:
        if self.samples_b is None:
            raise ValueError("UnpairedData needs samples_b (domain B)")
        if self.samples.shape[1:] != self.samples_b.shape[1:]:
            raise ValueError(f"domains A and B differ in image shape: {self.samples.shape[1:]} "
                             f"and {self.samples_b.shape[1:]}")

    def undo_b(self, images: np.ndarray) -> np.ndarray:
        """Map B-style images to A's style (identity unless the domain has a STYLES entry)."""
        return STYLES[self.style_b][1](images) if self.style_b else images


def domain_shape(cfg: Any) -> tuple[int, int, int]:
    """(channels, size, size) of the images `cfg.dataset` gives, without loading them."""
    if cfg.dataset == "mnist_style":
        return 1, cfg.image_size or MNIST_STYLE_DEFAULT_SIZE, cfg.image_size or MNIST_STYLE_DEFAULT_SIZE
    if cfg.dataset == "unpaired":
        return 3, cfg.image_size or FOLDER_DEFAULT_SIZE, cfg.image_size or FOLDER_DEFAULT_SIZE
    raise UserError(f"--model cyclegan needs two-domain data: --dataset unpaired --data-dir DIR "
                    f"({FOLDER_LAYOUT}) or --dataset mnist_style, not {cfg.dataset!r}")


# --------------------------------------------------------------------------- folder data
def image_files(folder: str) -> list[str]:
    """Image files directly in `folder` (by extension, sorted)."""
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.lower().endswith(IMAGE_EXTENSIONS)
                  and os.path.isfile(os.path.join(folder, name)))


def read_image(path: str, size: int, channels: int = 3) -> np.ndarray:
    """One image file -> float32 [channels, size, size] in [0, 1]: shorter side resized to
    `size` (bicubic), centre-cropped. UserError names an unreadable file or one larger than
    `image_file.MAX_IMAGE_PIXELS`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with open_image(path) as image:  # refuses a decompression bomb before decoding
            image.load()
            deep = high_depth_pixels(image, path)  # 16-bit / float: never clipped to white
            if deep is None:
                image = image.convert("RGB" if channels == 3 else "L")
            else:
                image = Image.fromarray(deep.astype(np.float32), mode="F")
    except (ImageTooLarge, BadPixels):
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot read image {path}: {reason}") from None
    image = ImageOps.fit(image, (size, size), method=Image.BICUBIC, centering=(0.5, 0.5))
    if deep is not None:  # one grey channel in [0, 1], given to every channel
        grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return np.repeat(grey[None], channels, axis=0)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def read_images(paths: list[str], size: int, channels: int = 3) -> np.ndarray:
    """Image files -> float32 [N, channels, size, size] in [0, 1]."""
    out = np.empty((len(paths), channels, size, size), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i] = read_image(path, size, channels)
    return out


def load_domain(data_dir: str, folder: str, size: int) -> np.ndarray:
    """All images of DIR/<folder> as float32 [N, 3, size, size]; one-line UserErrors for a
    missing folder or one without images."""
    path = os.path.join(data_dir, folder)
    if not os.path.isdir(path):
        raise UserError(f"--data-dir {data_dir}: no {folder}/ folder (expected {FOLDER_LAYOUT})")
    files = image_files(path)
    if not files:
        raise UserError(f"{path} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return read_images(files, size, 3)


def load_folders(cfg: Any, split: str) -> UnpairedData:
    """`--dataset unpaired --data-dir DIR`: DIR/{train,test}{A,B}."""
    if not cfg.data_dir:
        raise UserError(f"--dataset unpaired needs --data-dir DIR holding {FOLDER_LAYOUT}")
    if not os.path.isdir(cfg.data_dir):
        raise UserError(f"--data-dir {cfg.data_dir}: no such folder")
    _, size, _ = domain_shape(cfg)
    a = load_domain(cfg.data_dir, f"{split}A", size)
    b = load_domain(cfg.data_dir, f"{split}B", size)
    note = (f"unpaired folders {cfg.data_dir}: {len(a)} {split}A and {len(b)} {split}B images "
            f"at {size}x{size}")
    return UnpairedData(a, None, 0, "unpaired", note, None, samples_b=b, flip=split == "train")


# --------------------------------------------------------------------------- built-in task
def load_mnist_style(cfg: Any, split: str) -> UnpairedData:
    """The built-in task: embedded MNIST, even indices -> A (ordinary), odd -> B (inverted)."""
    from paddle_gan.data import resize_images
    from paddle_gan.data.mnist import load_mnist

    images, labels, note = load_mnist("mnist5k", split)
    _, size, _ = domain_shape(cfg)
    samples = resize_images((images.astype(np.float32) / 255.0)[:, None], size)  # [N, 1, S, S]
    apply_style = STYLES[MNIST_STYLE_B][0]
    a, b = samples[0::2], apply_style(samples[1::2]).astype(np.float32)
    note = (f"built-in MNIST style task ({note}): {len(a)} ordinary digits (A), {len(b)} other "
            f"digits {MNIST_STYLE_B} (B), {size}x{size}")
    return UnpairedData(a, labels[0::2], 10, "mnist_style", note, [str(d) for d in range(10)],
                        samples_b=b, labels_b=labels[1::2], flip=False, style_b=MNIST_STYLE_B)


# --------------------------------------------------------------------------- batching
class UnpairedBatches:
    """Aligned (A, B) batches whose order is a function of (seed, epoch) only.

    An epoch has max(N_A, N_B) // batch_size batches; each domain is walked in its own shuffled
    order, repeated (reshuffled) where it is the smaller one, as the CycleGAN code does. Flips
    (when the data ask for them) are drawn per batch from (seed, epoch, batch), so a resumed run
    sees exactly the same batches.
    """

    def __init__(self, data: UnpairedData, batch_size: int, seed: int) -> None:
        for name, count in (("A", len(data.samples)), ("B", len(data.samples_b))):
            if batch_size > count:
                raise UserError(f"batch_size {batch_size} is larger than domain {name} "
                                f"({count} images)")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return max(len(self.data.samples), len(self.data.samples_b)) // self.batch_size

    def order(self, epoch: int, domain: int) -> np.ndarray:
        """Indices into domain 0 (A) or 1 (B) for the whole epoch."""
        count = len(self.data.samples if domain == 0 else self.data.samples_b)
        rng = np.random.default_rng([self.seed, epoch, domain])
        need = len(self) * self.batch_size
        return np.concatenate([rng.permutation(count) for _ in range(-(-need // count))])[:need]

    def _flip(self, images: np.ndarray, epoch: int, index: int, domain: int) -> np.ndarray:
        if not self.data.flip:
            return images
        flips = np.random.default_rng([self.seed, epoch, index, domain, 1]).random(len(images)) < 0.5
        images = images.copy()
        images[flips] = images[flips][..., ::-1]
        return images

    def epoch(self, epoch: int, start: int = 0
              ) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray],
                                  tuple[Optional[np.ndarray], Optional[np.ndarray]]]]:
        """Yield (batch index, (A images, B images), (A labels, B labels)) from batch `start`."""
        order_a, order_b = self.order(epoch, 0), self.order(epoch, 1)
        bs = self.batch_size
        for i in range(start, len(self)):
            idx_a = np.sort(order_a[i * bs:(i + 1) * bs])
            idx_b = np.sort(order_b[i * bs:(i + 1) * bs])
            a = self._flip(self.data.samples[idx_a], epoch, i, 0)
            b = self._flip(self.data.samples_b[idx_b], epoch, i, 1)
            la = self.data.labels[idx_a] if self.data.labels is not None else None
            lb = self.data.labels_b[idx_b] if self.data.labels_b is not None else None
            yield i, (a, b), (la, lb)


register_dataset("unpaired", load_folders)
register_dataset("mnist_style", load_mnist_style)
