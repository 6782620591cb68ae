"""Export a run's generator for serving: `paddle.jit.save` plus a small JSON describing it.

An export folder holds
    generator.json + generator.pdiparams   Paddle's static program and weights (Paddle 3's PIR
                                           format; older Paddle writes generator.pdmodel)
    generator_info.json                    what a caller needs: latent size, output range, sample
                                           shape, class count, input names, where it came from
The program's inputs are `z` [None, latent_dim] float32 and, for conditional models, `cond`
[None, num_classes] (a one-hot class vector); its output is the generator's raw output in
`output_range`. `generate.py`, copied into the export folder from paddle_gan/cli/generate.py,
serves it with `paddle.inference` alone (no training code): the folder is portable on its own.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from paddle_gan.atomic import atomic_folder
from paddle_gan.errors import UserError

EXPORT_PREFIX = "generator"
INFO_FILE = "generator_info.json"
#: the server copied next to every export
GENERATE_SCRIPT = "generate.py"
GENERATE_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli",
                               GENERATE_SCRIPT)
FORMAT_VERSION = 1
#: generator kinds that can be exported (CycleGAN's image-to-image pair has no latent input)
EXPORTABLE_KINDS = ("gan",)


def file_record(path: str) -> dict[str, Any]:
    """{"bytes": size, "sha256": hex digest} of the file at `path`, as the standalone
    generate.py computes it to check an export (its own copy: it imports nothing of the suite;
    a test keeps the two equal)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
            size += len(piece)
    return {"bytes": size, "sha256": digest.hexdigest()}


def model_file(out_dir: str) -> str:
    """The saved program's file name in an export folder (PIR .json, else legacy .pdmodel)."""
    for suffix in (".json", ".pdmodel"):
        if os.path.isfile(os.path.join(out_dir, EXPORT_PREFIX + suffix)):
            return EXPORT_PREFIX + suffix
    raise UserError(f"{out_dir}: paddle.jit.save wrote no {EXPORT_PREFIX}.json / .pdmodel")


def export_info(generator: Any, cfg: Any, num_classes: int, class_names: Any,
                sample_shape: list[int], source: dict[str, Any]) -> dict[str, Any]:
    """The generator_info.json document (before the saved file names are added)."""
    import paddle

    latent_dim = int(getattr(generator, "latent_dim", cfg.latent_dim))
    low, high = getattr(generator, "output_range", (0.0, 1.0))
    inputs = [{"name": "z", "shape": [None, latent_dim], "dtype": "float32"}]
    if num_classes:
        inputs.append({"name": "cond", "shape": [None, num_classes], "dtype": "float32",
                       "note": "one-hot class vector"})
    return {"format": FORMAT_VERSION, "latent_dim": latent_dim,
            "output_range": [float(low), float(high)],
            "sample_kind": "image" if len(sample_shape) == 3 else "points",
            "sample_shape": sample_shape, "num_classes": int(num_classes),
            "class_names": list(class_names) if num_classes and class_names else None,
            "inputs": inputs, "latent_distribution": "standard normal",
            "paddle_version": paddle.__version__, "source": source}


def save_generator(generator: Any, latent_dim: int, num_classes: int, out_dir: str) -> None:
    """paddle.jit.save the generator (put in eval mode) with inputs z [None, latent_dim] and,
    when num_classes > 0, cond [None, num_classes]."""
    import paddle
    from paddle.static import InputSpec

    generator.eval()
    specs = [InputSpec([None, latent_dim], "float32", "z")]
    if num_classes:
        specs.append(InputSpec([None, num_classes], "float32", "cond"))
    static = paddle.jit.to_static(generator, input_spec=specs, full_graph=True)
    paddle.jit.save(static, os.path.join(out_dir, EXPORT_PREFIX))


@dataclass
class LoadedGenerator:
    """A run's generator in eval mode, with what an export needs to describe it."""

    run: Any  # paddle_gan.io.runs.LoadedRun
    generator: Any
    num_classes: int  # > 0 for conditional models
    class_names: Optional[list[str]]


def load_generator(target: str, say: Callable[[str], None] = print) -> LoadedGenerator:
    """The generator of a run folder or checkpoint `target`, rebuilt and in eval mode.

    UserError (one line) when `target` is missing, not a checkpoint, or not an exportable run.
    """
    from paddle_gan.io.runs import build_generator, load_run, load_split

    run = load_run(target, warn=say)
    if run.stored_kind not in EXPORTABLE_KINDS:
        raise UserError(f"{run.checkpoint.path}: a {run.stored_kind} run; export supports "
                        f"latent-to-sample generators ({', '.join(EXPORTABLE_KINDS)} runs)")
    data = load_split(run, "test")  # only its sample shape and class count are used
    num_classes = data.num_classes if run.cfg.conditional else 0
    return LoadedGenerator(run, build_generator(run, data), num_classes, data.class_names)


def reference_outputs(generator: Any, num_classes: int, z: np.ndarray,
                      labels: Optional[np.ndarray] = None) -> np.ndarray:
    """The dynamic-graph generator's raw outputs (eval mode) for latents `z` [N, latent_dim]
    and class indices `labels` [N] (conditional models): what the export must reproduce."""
    import paddle

    from paddle_gan.blocks import one_hot

    generator.eval()
    cond = one_hot(paddle.to_tensor(np.asarray(labels, dtype=np.int64)), num_classes) \
        if num_classes else None
    with paddle.no_grad():
        return generator(paddle.to_tensor(np.asarray(z, dtype=np.float32)), cond).numpy()


def check_export_folder(out_dir: str) -> None:
    """UserError unless `out_dir` is new, empty, or an earlier export (whose files a new
    export replaces): an export never mixes its files into a folder of other files."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f"--out {out_dir} is a file, not a folder")
    if os.path.isdir(out_dir) and os.listdir(out_dir) \
            and not os.path.isfile(os.path.join(out_dir, INFO_FILE)):
        raise UserError(f"--out {out_dir} holds other files and no earlier export ({INFO_FILE}); "
                        f"choose a new or empty folder")


def export_generator(target: str, out_dir: str, say: Callable[[str], None] = print
                     ) -> dict[str, Any]:
    """Export the generator of a run folder or checkpoint `target` into `out_dir`.

    The files are written into a temporary folder beside `out_dir` and moved into place only
    when all of them are complete: a failed export leaves no folder, or the earlier export as
    it was. Returns the generator_info.json document. UserError (one line) for a missing or
    non-GAN checkpoint or an unusable output folder.
    """
    check_export_folder(out_dir)
    loaded = load_generator(target, say)
    run, generator, num_classes = loaded.run, loaded.generator, loaded.num_classes
    latent_dim = int(getattr(generator, "latent_dim", run.cfg.latent_dim))
    one = np.zeros((1, latent_dim), dtype=np.float32)  # the sample shape, from one latent
    labels = np.zeros(1, dtype=np.int64) if num_classes else None
    sample_shape = [int(s) for s in
                    reference_outputs(generator, num_classes, one, labels).shape[1:]]
    source = {"checkpoint": os.path.abspath(run.checkpoint.path), "step": run.step,
              "model": run.cfg.model, "loss": run.cfg.loss, "dataset": run.cfg.dataset}
    info = export_info(generator, run.cfg, num_classes, loaded.class_names, sample_shape, source)
    try:
        with atomic_folder(out_dir) as folder:
            save_generator(generator, latent_dim, num_classes, folder)
            info["files"] = {"model": model_file(folder), "params": EXPORT_PREFIX + ".pdiparams",
                             "server": GENERATE_SCRIPT}
            # generate.py checks these before it loads anything
            info["checksums"] = {name: file_record(os.path.join(folder, name))
                                 for name in (info["files"]["model"], info["files"]["params"])}
            with open(os.path.join(folder, INFO_FILE), "w", encoding="utf-8") as handle:
                json.dump(info, handle, indent=2)
            # the self-contained server (numpy + paddle.inference only): the folder works alone
            shutil.copyfile(GENERATE_SOURCE, os.path.join(folder, GENERATE_SCRIPT))
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write: {exc.strerror or exc}") from None
    return info
