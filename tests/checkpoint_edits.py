"""Editing a checkpoint file in place, to make damaged or inconsistent ones for the tests."""
import json

import numpy as np

from paddle_gan import checkpoint as ck


def rewrite(path, edit):
    """Rewrite checkpoint `path` with edit(arrays, meta) -> meta (arrays edited in place)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = edit(arrays, json.loads(arrays.pop(ck.META_KEY).tobytes()))
    arrays[ck.META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def array_edit(pick, change):
    """An edit applying `change` to the first array (by key) that `pick` accepts."""
    def edit(arrays, meta):
        key = next(k for k in sorted(arrays) if pick(k))
        arrays[key] = change(arrays[key])
        return meta
    return edit


def is_d_weight(key):
    return key.startswith("D/") and key.endswith("weight")


def to_float64(array):
    return array.astype(np.float64)
