"""CIFAR-10 from the "python version" archive, with an optional class filter (`--classes horse`).

A filtered set is relabelled 0..k-1 (`class_names` lists the kept classes in index order), so a
conditional model and the fixed-noise snapshots see only the classes it was trained on.

Sources, in order: `--data-dir` (a folder holding `cifar-10-python.tar.gz` or the extracted
`cifar-10-batches-py/`, that folder itself, or the .tar.gz file), Paddle's cache file
`~/.cache/paddle/dataset/cifar/cifar-10-python.tar.gz`, then a download into that cache through
Paddle's own MD5-checked downloader (what `paddle.vision.datasets.Cifar10(download=True)` calls;
it fails within seconds offline). There is no embedded CIFAR: without the file the loader raises
a one-line UserError saying where to put it.

The archive stores pickled batches (`data_batch_1..5` = train, `test_batch` = test), each a dict
with b"data" (uint8 [N, 3072], channel-major 32x32 RGB) and b"labels" (N ints). Pickle can run
arbitrary code while loading, and this file is downloaded data, so it is read only through
`SafeUnpickler`, which resolves just the few globals that a dict of lists, bytes and NumPy arrays
needs; anything else (e.g. `os.system` in a crafted `__reduce__`) is refused before it can run.
A pickle can also ask for any amount of memory (a length of 2**62, a memo slot of 2**31, an
array of 2**40 bytes): its opcodes are scanned first and every array is charged to a budget of
MAX_BATCH_BYTES before it is allocated, so such a file is one line, at once.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import pickletools
import tarfile
import zlib
from typing import Any, BinaryIO, Callable, Optional

import numpy as np

from paddle_gan.data import ArrayData, register_dataset
from paddle_gan.errors import UserError

ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
PADDLE_CACHE_FILE = os.path.join(os.path.expanduser("~"), ".cache", "paddle", "dataset", "cifar",
                                 ARCHIVE_NAME)
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
SPLIT_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
IMAGE_SHAPE = (3, 32, 32)
#: the largest pickled batch read (CIFAR-10's are 31 MB each); checked before unpickling
MAX_BATCH_BYTES = 128 * 2**20


def how_to_provide() -> str:
    """The one-line instruction shown when no CIFAR-10 file is available."""
    return (f"download {ARCHIVE_NAME} (https://www.cs.toronto.edu/~kriz/cifar.html) and pass "
            f"--data-dir FOLDER, or copy it to {PADDLE_CACHE_FILE}")


#: opcodes a batch's pickle may hold: twenty per image of a full 10,000-image batch (a real
#: batch has about three: a label, a file name and its memo entry). Every opcode makes at most
#: one small object, so this bounds what the pickle can build besides the bytes it holds.
MAX_PICKLE_OPS = 200_000
#: opcodes that store into the memo: the C unpickler grows its memo table to the index given
_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


def scan_pickle(raw: bytes) -> None:
    """pickle.UnpicklingError unless `raw` is a pickle of at most MAX_PICKLE_OPS opcodes whose
    declared lengths (bytes, strings, frames) fit in it and whose memo indices stay below
    MAX_PICKLE_OPS. Nothing is built: the opcodes are only read (pickletools), so a length of
    2**62 is refused before anything of that size is allocated."""
    try:
        for count, (op, arg, pos) in enumerate(pickletools.genops(raw), 1):
            if count > MAX_PICKLE_OPS:
                raise pickle.UnpicklingError(f"its pickle has more than {MAX_PICKLE_OPS:,} "
                                             f"opcodes (a batch has about 30,000)")
            if op.name in _MEMO_PUTS and int(arg) >= MAX_PICKLE_OPS:
                raise pickle.UnpicklingError(f"its pickle asks for memo slot {int(arg):,}, "
                                             f"beyond its {MAX_PICKLE_OPS:,} opcodes")
            if op.name == "FRAME" and arg > len(raw) - pos:
                raise pickle.UnpicklingError(f"its pickle declares a frame of {arg:,} bytes, "
                                             f"more than the {len(raw) - pos:,} left")
    except ValueError as exc:  # a length beyond the data, a bad opcode, a truncated argument
        raise pickle.UnpicklingError(f"its pickle is malformed: {exc}") from None


def _array_bytes(shape: Any, dtype: Any) -> int:
    """Bytes of an array of `shape` and `dtype` as the pickle asks for it; UnpicklingError for
    an object dtype (its elements would be more pickled objects) or a shape of no integers."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise pickle.UnpicklingError("refusing an array of Python objects")
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"refusing an array of shape {shape!r}")
    return math.prod(dims) * dtype.itemsize


class _Budget:
    """Bytes of array data an unpickler may still ask for (MAX_BATCH_BYTES in all)."""

    def __init__(self) -> None:
        self.left = MAX_BATCH_BYTES

    def take(self, shape: Any, dtype: Any) -> None:
        """Count an array of `shape` and `dtype`; UnpicklingError when it does not fit."""
        size = _array_bytes(shape, dtype)
        if size > self.left:
            raise pickle.UnpicklingError(
                f"its pickle asks for an array of {size:,} bytes, more than the "
                f"{MAX_BATCH_BYTES // 2**20} MiB of arrays a CIFAR-10 batch may hold")
        self.left -= size


class _GuardedArray(np.ndarray):
    """The ndarray type SafeUnpickler hands out: creating one (`ndarray(shape, dtype)`) or
    filling one (`__setstate__`, pickle's BUILD) first charges its size to the budget."""

    budget: _Budget

    def __new__(cls, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> "_GuardedArray":
        cls.budget.take(shape, dtype)
        return super().__new__(cls, shape, dtype, *args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("refusing an array state that is not NumPy's")
        shape, dtype = state[-4], state[-3]
        self.budget.take(shape, dtype)
        super().__setstate__(state)


class SafeUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR batches: only NumPy's array reconstruction, each array bounded.

    Dicts, lists, bytes, str and int are built by pickle opcodes without any global, so no
    builtin callable is resolved (`bytes(2**62)` would allocate what the pickle asks). The
    globals that NumPy array pickles name (protocols 2 to 5) resolve to versions that charge
    each array's size to a budget of MAX_BATCH_BYTES before allocating it, and refuse object
    arrays. `load_batch_pickle` also scans the opcodes first (`scan_pickle`).
    """

    ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.array_type = type("GuardedArray", (_GuardedArray,), {"budget": _Budget()})

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        """NumPy's `_reconstruct` (protocols 2 to 4) for this unpickler's array type only."""
        if subtype is not self.array_type:
            raise pickle.UnpicklingError(f"refusing to reconstruct {subtype!r}")
        self.array_type.budget.take(shape, dtype)
        return np.ndarray.__new__(subtype, shape, dtype)

    def _frombuffer(self, buffer: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
        """NumPy's `_frombuffer` (protocol 5): a view of the pickle's own bytes, counted."""
        self.array_type.budget.take(shape, dtype)
        array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)
        return array.view(self.array_type)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return {"ndarray": self.array_type, "dtype": np.dtype, "_reconstruct": self._reconstruct,
                "_frombuffer": self._frombuffer}[name]


def load_batch_pickle(raw: bytes) -> Any:
    """The object pickled in `raw` (at most MAX_BATCH_BYTES), through `scan_pickle` and
    SafeUnpickler; arrays come back as plain ndarrays. pickle.UnpicklingError and the errors
    of a malformed pickle pass through."""
    scan_pickle(raw)
    batch = SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if isinstance(batch, dict):
        batch = {key: np.asarray(value) if isinstance(value, np.ndarray) else value
                 for key, value in batch.items()}
    return batch


def check_batch_size(size: int, where: str) -> None:
    """UserError when a batch file's size (from the tar header or the file system) is beyond
    MAX_BATCH_BYTES: refused before it is read or unpickled."""
    if size > MAX_BATCH_BYTES:
        raise UserError(f"{where} is {size:,} bytes, more than the {MAX_BATCH_BYTES // 2**20} MiB "
                        f"a CIFAR-10 batch may be here (they are 31 MB)")


def read_bounded(handle: BinaryIO, where: str, chunk: int = 2 ** 20) -> bytes:
    """All of `handle`, read `chunk` bytes at a time (a read of the limit at once would
    allocate it); UserError (check_batch_size) as soon as it passes MAX_BATCH_BYTES."""
    parts, size = [], 0
    while True:
        part = handle.read(chunk)
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
        check_batch_size(size, where)


def read_batch(handle: BinaryIO, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (uint8 [N, 3, 32, 32], int64 [N]); UserError if it is not one.

    At most MAX_BATCH_BYTES are read from `handle`, and nothing the pickle asks for beyond
    that is allocated (`load_batch_pickle`)."""
    raw = read_bounded(handle, where)
    try:
        batch = load_batch_pickle(raw)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, zlib.error, OSError) as exc:
        raise UserError(f"{where} is not a CIFAR-10 batch: {exc}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise UserError(f"{where} is not a CIFAR-10 batch (no data / labels)")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    size = int(np.prod(IMAGE_SHAPE))
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != size or labels.shape != (len(data),)
            or not np.issubdtype(labels.dtype, np.integer)):
        raise UserError(f"{where}: expected uint8 data [N, {size}] and N integer labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise UserError(f"{where}: labels outside 0..{len(CLASS_NAMES) - 1}")
    return data.reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def _read_archive(path: str, names: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read the named batches from the .tar.gz in one pass (no extraction to disk)."""
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                base = os.path.basename(member.name)
                if member.isfile() and base in names and base not in found:
                    check_batch_size(member.size, f"{path}:{member.name}")
                    handle = archive.extractfile(member)
                    found[base] = read_batch(handle, f"{path}:{member.name}")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(f"{path} has no {', '.join(missing)} (is it {ARCHIVE_NAME}?)")
    return [found[n] for n in names]


def _read_folder(folder: str, names: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise UserError(f"{folder} has no {name} (expected the extracted {FOLDER_NAME})")
        check_batch_size(os.path.getsize(path), path)
        with open(path, "rb") as handle:
            out.append(read_batch(handle, path))
    return out


def _source_in(data_dir: str) -> tuple[str, Callable[[str, list[str]], list]]:
    """The archive or batch folder that --data-dir points at, with its reader."""
    if os.path.isfile(data_dir):
        return data_dir, _read_archive
    if not os.path.isdir(data_dir):
        raise UserError(f"--data-dir {data_dir}: no such file or folder")
    if os.path.isfile(os.path.join(data_dir, "data_batch_1")) or \
            os.path.isfile(os.path.join(data_dir, "test_batch")):
        return data_dir, _read_folder
    for name, reader in ((FOLDER_NAME, _read_folder), (ARCHIVE_NAME, _read_archive)):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path, reader
    raise UserError(f"--data-dir {data_dir} holds neither {ARCHIVE_NAME} nor {FOLDER_NAME}/")


def download_to_cache() -> Optional[str]:
    """Fetch the archive into Paddle's cache with Paddle's MD5-checked downloader; its path,
    or None when that fails (offline: within about two seconds).

    Paddle's `Cifar10(download=True)` calls this same downloader and then unpickles the file
    without restriction; calling the downloader alone keeps every read on SafeUnpickler.
    """
    try:
        from paddle.dataset.common import download
        from paddle.vision.datasets.cifar import CIFAR10_MD5, CIFAR10_URL

        # Paddle prints its retries and a progress bar; keep the console to our own lines.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            path = download(CIFAR10_URL, "cifar", CIFAR10_MD5)
    except Exception:  # offline, proxy, disk: all mean "not available"
        return None
    return path if os.path.isfile(path) else None


def load_cifar10(split: str = "train", data_dir: Optional[str] = None
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """CIFAR-10 as (uint8 [N, 3, 32, 32], int64 [N], note on the source)."""
    if split not in SPLIT_BATCHES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = SPLIT_BATCHES[split]
    if data_dir is not None:
        path, reader = _source_in(data_dir)
        note = f"CIFAR-10 from {path}"
    else:
        path = PADDLE_CACHE_FILE if os.path.isfile(PADDLE_CACHE_FILE) else download_to_cache()
        if path is None:
            raise UserError(f"CIFAR-10 not found and the download failed (offline?): "
                            f"{how_to_provide()}")
        reader, note = _read_archive, f"CIFAR-10 from Paddle's cache {path}"
    batches = reader(path, names)
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return images, labels, note


def parse_classes(text: str, class_names: list[str]) -> list[int]:
    """'7,horse' -> sorted unique class indices; UserError lists the valid names."""
    chosen = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.isdigit() and int(item) < len(class_names):
            chosen.add(int(item))
        elif item.lower() in class_names:
            chosen.add(class_names.index(item.lower()))
        else:
            raise UserError(f"classes: unknown class {item!r}; choose names or indices 0-"
                            f"{len(class_names) - 1} from {', '.join(class_names)}")
    if not chosen:
        raise UserError(f"classes: no class given; choose from {', '.join(class_names)}")
    return sorted(chosen)


def select_classes(images: np.ndarray, labels: np.ndarray, text: Optional[str],
                   class_names: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Keep only the classes named in `text` (None keeps all), relabelled 0..k-1 in index order.

    Returns (images, labels, names of the kept classes). Relabelling makes a filtered set a
    k-class data set everywhere: a conditional model gets a k-long one-hot, and fixed-noise
    snapshots cycle over the trained classes only. `names[label]` is still the class's name.
    """
    if text is None:
        return images, labels, list(class_names)
    keep = parse_classes(text, class_names)
    mask = np.isin(labels, keep)
    remap = np.full(len(class_names), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return images[mask], remap[labels[mask]], [class_names[i] for i in keep]


def load(cfg: Any, split: str) -> ArrayData:
    """The `cifar10` data set: [N, 3, 32, 32] float32 in [0, 1], filtered by `cfg.classes`."""
    images, labels, note = load_cifar10(split, cfg.data_dir)
    classes = getattr(cfg, "classes", None)
    images, labels, names = select_classes(images, labels, classes, CLASS_NAMES)
    if not len(images):
        raise UserError(f"CIFAR-10 {split} split has no images of {', '.join(names)}")
    samples = images.astype(np.float32) / 255.0  # [N, 3, 32, 32]
    if classes is not None:
        note = f"{note} (classes {', '.join(names)}: {len(images)} images)"
    return ArrayData(samples, labels, len(names), "cifar10", note, names)


register_dataset("cifar10", load)
