"""Generators shipped with the package: `paddle_gan/pretrained/NAME.npz` + `NAME.json`.

NAME.npz is a checkpoint in the format of `paddle_gan.checkpoint` (arrays without pickle, JSON
metadata with the run's config, step and training data record) that holds only the sampling
generator's state, under the same keys as in the training checkpoint it came from (`G_ema/...`
when the run kept G's weight average, else `G/...`): `restore` loads it into a generator built
from its config, and `tools/eval.py --checkpoint paddle_gan/pretrained/NAME.npz` scores it.

NAME.json says what it is: the sample interface (latent size, classes, output range: the keys
of an export's generator_info.json, so `generate.py` serves both), the config, the training
data record (SHA-256 of the arrays), the commits that trained it, the metrics
`tools/eval.py --checkpoint RUN` measured on the run, and the SHA-256 of NAME.npz.

Regenerate both from a finished run folder:
    python tools/export.py --checkpoint RUN --pretrained-out paddle_gan/pretrained/quickstart
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.atomic import atomic_write
from paddle_gan.config import from_dict, to_dict
from paddle_gan.errors import UserError

#: the package's folder of shipped generators
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "pretrained")
FORMAT_VERSION = 1
REGENERATE = ("python tools/export.py --checkpoint RUN --pretrained-out "
              "paddle_gan/pretrained/{name}")


@dataclass
class Pretrained:
    """A shipped generator in eval mode with its description (NAME.json)."""

    name: str
    info: dict[str, Any]
    generator: Any
    checkpoint: ckpt_io.Checkpoint

    @property
    def num_classes(self) -> int:
        return int(self.info["num_classes"])


def available(folder: str = PRETRAINED_DIR) -> list[str]:
    """Names of the shipped generators (NAME.npz with its NAME.json)."""
    if not os.path.isdir(folder):
        return []
    return sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".json")
                  and os.path.isfile(os.path.join(folder, n[:-5] + ".npz")))


def paths(name: str) -> tuple[str, str]:
    """(weights .npz, description .json) of a shipped name ("quickstart") or of a path prefix
    (`DIR/quickstart`, as written by --pretrained-out); UserError for an unknown name."""
    prefix = name
    for suffix in (".npz", ".json"):
        prefix = prefix[:-len(suffix)] if prefix.endswith(suffix) else prefix
    if os.sep not in prefix and "/" not in prefix:
        if prefix not in available():
            known = ", ".join(available()) or "none"
            raise UserError(f"--pretrained {name}: no such shipped generator (shipped: {known})")
        prefix = os.path.join(PRETRAINED_DIR, prefix)
    weights, description = prefix + ".npz", prefix + ".json"
    for path in (weights, description):
        if not os.path.isfile(path):
            raise UserError(f"--pretrained {name}: {path} is missing")
    return weights, description


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_info(name: str) -> tuple[str, dict[str, Any]]:
    """The weights path and the description of `name`, the weights checked against its hash."""
    weights, description = paths(name)
    try:
        with open(description, encoding="utf-8") as handle:
            info = json.load(handle)
        int(info["latent_dim"]), int(info["num_classes"]), list(info["output_range"])
        expected = str(info["weights_sha256"])
        str(info["module"])
        tuple(int(s) for s in info["sample_shape"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{description}: unreadable description ({exc})") from None
    if file_sha256(weights) != expected:
        raise UserError(f"{weights} does not match {os.path.basename(description)} (another "
                        f"file?); regenerate both with {REGENERATE.format(name='NAME')}")
    return weights, info


def load_pretrained(name: str) -> Pretrained:
    """A shipped generator (or one written with --pretrained-out) rebuilt from its stored
    config, its weights restored (checked: names, shapes, dtypes, finite), in eval mode.
    Reads no data set: the sample shape and class count come from the description."""
    from paddle_gan.models import DataSpec, build_models

    weights, info = read_info(name)
    checkpoint = ckpt_io.load_checkpoint(weights)
    cfg = from_dict(checkpoint.meta["config"])
    spec = DataSpec(tuple(int(s) for s in info["sample_shape"]), int(info["num_classes"]))
    try:
        generator, _ = build_models(cfg, spec)
    except ValueError as exc:
        raise UserError(f"{weights}: cannot rebuild its model: {exc}") from None
    ckpt_io.restore(checkpoint, {info["module"]: generator}, {})
    generator.eval()
    return Pretrained(os.path.basename(weights)[:-4], info, generator, checkpoint)


#: training-checkpoint metadata carried into the shipped file
CARRIED_META = ("step", "epoch", "batch", "train_seconds", "g_ema_updates", "kind", "data")


def write_pretrained(prefix: str, run: Any, generator: Any, data: Any,
                     evaluation: dict[str, Any], commits: list[str],
                     written_by: Optional[str] = None) -> dict[str, Any]:
    """Write PREFIX.npz (the sampling generator's state, as the training checkpoint holds it)
    and PREFIX.json (its description); each file atomically, the weights first. `run` is a
    LoadedRun, `generator` its sampling generator (`build_generator`), `data` its held-out split
    (sample shape, classes), `evaluation` the result document of tools/eval.py on the run.
    Returns the description."""
    from paddle_gan.io.export import reference_outputs
    from paddle_gan.io.runs import sample_module
    from paddle_gan.stamp import code_commit

    meta_in = run.checkpoint.meta
    module = sample_module(meta_in)
    meta = {key: meta_in[key] for key in CARRIED_META if key in meta_in}
    meta["config"] = to_dict(run.cfg)
    weights = prefix + ".npz"
    ckpt_io.save_checkpoint(weights, {module: generator}, {}, meta)
    num_classes = data.num_classes if run.cfg.conditional else 0
    latent_dim = int(getattr(generator, "latent_dim", run.cfg.latent_dim))
    one = np.zeros((1, latent_dim), dtype=np.float32)
    sample_shape = [int(s) for s in reference_outputs(
        generator, num_classes, one, np.zeros(1, np.int64) if num_classes else None).shape[1:]]
    low, high = getattr(generator, "output_range", (0.0, 1.0))
    name = os.path.basename(prefix)
    metric_keys = ("fid", "precision", "recall", "kid", "inception_score", "classes_covered",
                   "class_kl")
    info = {
        "format": FORMAT_VERSION,
        "name": name,
        "weights": os.path.basename(weights),
        "weights_sha256": file_sha256(weights),
        "module": module,
        "latent_dim": latent_dim,
        "latent_distribution": "standard normal",
        "num_classes": int(num_classes),
        "class_names": list(data.class_names) if num_classes and data.class_names else None,
        "sample_kind": "image" if len(sample_shape) == 3 else "points",
        "sample_shape": sample_shape,
        "output_range": [float(low), float(high)],
        "step": run.step,
        "train_seconds": meta_in.get("train_seconds"),
        "config": to_dict(run.cfg),
        "data": meta_in.get("data"),
        "trained_by_commits": commits,
        "written_by_commit": written_by or code_commit(),
        "metrics": {k: evaluation.get(k) for k in metric_keys},
        "evaluation": {
            "command": f"python tools/eval.py --checkpoint RUN --num-samples "
                       f"{evaluation.get('num_samples')} --seed {evaluation.get('seed', 0)}",
            "num_samples": evaluation.get("num_samples"),
            "seed": evaluation.get("seed", 0),
            "feature_space": evaluation.get("feature_space"),
            "held_out": evaluation.get("held_out"),
        },
        "regenerate": REGENERATE.format(name=name),
    }
    text = json.dumps(info, indent=2, allow_nan=False) + "\n"
    atomic_write(prefix + ".json", lambda handle: handle.write(text.encode("utf-8")))
    return info
