"""Data sets as in-memory arrays, a registry of loaders, and deterministic batching.

All the suite's data sets are small enough to hold in memory as float32 arrays in [0, 1]
(images [N, C, H, W]) or as points ([N, D]); batches are sliced from them directly, which is
faster than per-item collation and makes the data order a pure function of (seed, epoch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np
import paddle

from paddle_gan.discovery import import_modules
from paddle_gan.errors import UserError


@dataclass
class ArrayData:
    """A whole data set in memory.

    samples: float32 [N, C, H, W] images in [0, 1], or [N, D] points.
    labels: int64 [N] class indices, or None.
    """

    samples: np.ndarray
    labels: Optional[np.ndarray]
    num_classes: int
    name: str
    note: str = ""  # one line on where the data came from (e.g. a fallback)
    class_names: Optional[list[str]] = None
    # provenance (paddle_gan.data.provenance): the registered loader that produced the arrays
    # (when not the asked-for name, e.g. mnist5k after mnist fell back), their source (files or
    # the embedded subset; the note when empty) and their content hash
    loader: str = ""
    source: str = ""
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.samples)


class ArrayDataset(paddle.io.Dataset):
    """`paddle.io.Dataset` view of an ArrayData, for users who want a DataLoader."""

    def __init__(self, data: ArrayData) -> None:
        super().__init__()
        self.data = data

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        label = self.data.labels[index] if self.data.labels is not None else np.int64(-1)
        return self.data.samples[index], label

    def __len__(self) -> int:
        return len(self.data)


#: name -> loader(cfg, split) returning ArrayData; "prefix:" names take the text after the colon.
DATASETS: dict[str, Callable[[Any, str], ArrayData]] = {}


def register_dataset(name: str, loader: Callable[[Any, str], ArrayData]) -> None:
    """Make `loader` the data set `name` (called by each data module at import)."""
    DATASETS[name] = loader


def dataset_names() -> list[str]:
    """The registered data sets' names, sorted."""
    import_modules(__name__)
    return sorted(DATASETS)


def load_dataset(cfg: Any, split: str = "train") -> ArrayData:
    """Load `cfg.dataset` ("name" or "name:argument") with its provenance filled in (loader,
    content hash of the arrays as loaded); UserError for an unknown name or an empty split."""
    from paddle_gan.data.provenance import content_sha256

    import_modules(__name__)
    key = cfg.dataset.split(":", 1)[0] + (":" if ":" in cfg.dataset else "")
    loader = DATASETS.get(key) or DATASETS.get(cfg.dataset)
    if loader is None:
        raise UserError(f"dataset: unknown value {cfg.dataset!r}; "
                        f"choose from {', '.join(dataset_names())}")
    data = loader(cfg, split)
    if not len(data):
        raise UserError(f"dataset {cfg.dataset!r}: its {split} split holds no samples")
    data.loader = data.loader or cfg.dataset
    data.sha256 = content_sha256(data)  # once, before any resize
    return data


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float32 [N, C, H, W] to [N, C, size, size] (antialiased when shrinking)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    import paddle.nn.functional as F

    out = []
    for start in range(0, len(images), 4096):
        chunk = paddle.to_tensor(images[start:start + 4096])
        out.append(F.interpolate(chunk, size=[size, size], mode="bilinear",
                                 align_corners=False).numpy())
    return np.clip(np.concatenate(out), 0.0, 1.0).astype(np.float32)


class EpochBatches:
    """Shuffled mini-batches whose order is a function of (seed, epoch) only.

    Batch `i` of epoch `e` is the same in every process, which is what makes a resumed run
    continue exactly. The last incomplete batch is dropped (BatchNorm and the tutorial both
    prefer full batches).
    """

    def __init__(self, data: ArrayData, batch_size: int, seed: int) -> None:
        if batch_size > len(data):
            raise UserError(f"batch_size {batch_size} is larger than the data set "
                            f"({len(data)} samples)")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return self.batches_in(len(self.data), self.batch_size)

    @staticmethod
    def batches_in(samples: int, batch_size: int) -> int:
        """Full batches of `batch_size` in an epoch of `samples` samples."""
        return samples // batch_size

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data))

    def epoch(self, epoch: int, start: int = 0
              ) -> Iterator[tuple[int, np.ndarray, Optional[np.ndarray]]]:
        """Yield (batch index, samples, labels) for batches `start..` of `epoch`."""
        order = self.order(epoch)
        for i in range(start, len(self)):
            idx = np.sort(order[i * self.batch_size:(i + 1) * self.batch_size])
            labels = self.data.labels[idx] if self.data.labels is not None else None
            yield i, self.data.samples[idx], labels
