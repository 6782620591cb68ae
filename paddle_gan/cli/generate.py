"""Draw images from an exported generator: `python tools/generate.py --model DIR --out g.png`.

DIR comes from tools/export.py. This file imports no training code (nor paddle_gan): only
paddle.inference, numpy, Pillow and, for 2-D point generators, matplotlib; copy it next to an
export folder and it runs anywhere Paddle is installed. Latents are standard normal from --seed;
conditional generators draw class --class (= --digit), or classes 0, 1, 2, ... in turn.

`--pretrained quickstart` draws instead from a generator shipped in the package
(paddle_gan/pretrained/, see paddle_gan/io/pretrained.py), offline and without a run folder:
    python tools/generate.py --pretrained quickstart --out grid.png [--digit 7] [--num N]
draws N (100) digits, one column per class (or only sevens). Only this path imports paddle_gan
(installed, or the checkout this file lies in).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import warnings
from types import FrameType
from typing import Optional, Sequence

# Intel MKL's fast path on AMD CPUs; must be set before Paddle loads (see paddle_gan/runtime.py).
os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
# Paddle's C++-extension helper warns at import that ccache is missing; nothing is compiled here
# (paddle_gan/runtime.py filters the same message for the other tools)
warnings.filterwarnings("ignore", message=re.escape("No ccache found"))

import numpy as np  # noqa: E402

INFO_FILE = "generator_info.json"
PARAMS_FILE = "generator.pdiparams"
MAX_NUM = 4096
BATCH = 256
#: samples drawn by default: an 8x8 grid of an export, a 10x10 grid of a shipped generator
DEFAULT_NUM = 64
DEFAULT_PRETRAINED_NUM = 100


class GenerateError(Exception):
    """A problem the user can fix (missing folder, bad flag value): one line, exit 2."""


def _on_sigint(signum: int, frame: Optional[FrameType]) -> None:
    """Ctrl-C: inside an import (Paddle's), where a KeyboardInterrupt would become Paddle's
    multi-line ImportError, end at once with one line; elsewhere raise KeyboardInterrupt (`cli`
    reports it). The same rule as paddle_gan/interrupts.py, which this standalone file cannot
    import."""
    while frame is not None and not frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    if frame is None:
        raise KeyboardInterrupt
    sys.stdout.flush()
    os.write(2, b"generate.py: interrupted\n")
    os._exit(130)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def file_record(path: str) -> dict:
    """{"bytes": size, "sha256": hex digest} of the file at `path`, read in 1 MiB pieces (as
    paddle_gan.io.export.file_record records it: this script imports nothing of the suite)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
            size += len(piece)
    return {"bytes": size, "sha256": digest.hexdigest()}


def check_files(model_dir: str, info: dict) -> None:
    """GenerateError unless every file the export description records (`info["checksums"]`:
    name -> file_record) has its recorded size and SHA-256; exports without the record pass."""
    records = info.get("checksums")
    if records is None:
        return
    if not isinstance(records, dict):
        raise GenerateError(f"--model {model_dir}: {INFO_FILE} holds no file records")
    for name, record in sorted(records.items()):
        path = os.path.join(model_dir, os.path.basename(str(name)))
        found = file_record(path) if os.path.isfile(path) else None
        if found != record:
            seen = (f"{found['bytes']:,} bytes, sha256 {found['sha256'][:12]}" if found
                    else "missing")
            wanted = (f"{record.get('bytes', 0):,} bytes, sha256 "
                      f"{str(record.get('sha256'))[:12]}" if isinstance(record, dict) else "?")
            raise GenerateError(f"--model {model_dir}: a damaged export or files of another "
                                f"export: {name} is {seen}, {INFO_FILE} records {wanted}")


def load_info(model_dir: str) -> dict:
    """The export folder's generator_info.json; GenerateError when the folder is not an export."""
    if not os.path.isdir(model_dir):
        raise GenerateError(f"--model {model_dir}: no such folder (make one with "
                            f"tools/export.py --checkpoint RUN --out {model_dir})")
    path = os.path.join(model_dir, INFO_FILE)
    if not os.path.isfile(path):
        raise GenerateError(f"--model {model_dir}: not an exported generator (no {INFO_FILE}; "
                            f"make one with tools/export.py)")
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        model = os.path.join(model_dir, info["files"]["model"])
        params = os.path.join(model_dir, info["files"]["params"])
        int(info["latent_dim"]), int(info["num_classes"]), list(info["output_range"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenerateError(f"{path}: unreadable export description ({exc})") from None
    for needed in (model, params):
        if not os.path.isfile(needed):
            raise GenerateError(f"--model {model_dir}: {os.path.basename(needed)} is missing")
    check_files(model_dir, info)
    return info


def make_inputs(info: dict, num: int, seed: int, class_index: Optional[int] = None
                ) -> tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
    """Latents z [num, latent_dim] ~ N(0, I) from `seed`, and for conditional generators the
    one-hot cond [num, num_classes] with the class indices [num] (class_index, else cycling)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((num, int(info["latent_dim"]))).astype(np.float32)
    classes = int(info["num_classes"])
    if not classes:
        if class_index is not None:
            raise GenerateError("--class: this generator is not conditional")
        return z, None, None
    if class_index is not None and not 0 <= class_index < classes:
        raise GenerateError(f"--class: must be in 0..{classes - 1}, got {class_index}")
    labels = (np.full(num, class_index) if class_index is not None
              else np.arange(num) % classes).astype(np.int64)
    return z, np.eye(classes, dtype=np.float32)[labels], labels


def check_gpu() -> None:
    """GenerateError unless this Paddle was built with CUDA and sees a GPU: Paddle Inference
    asked for a GPU on a CPU build fails in its native code, beyond any Python handler."""
    import paddle

    if not paddle.is_compiled_with_cuda():
        raise GenerateError("--gpu: this Paddle build has no CUDA; install paddlepaddle-gpu "
                            "or leave out --gpu")
    try:
        count = paddle.device.cuda.device_count()
    except Exception:  # a CUDA build on a machine without a driver
        count = 0
    if count < 1:
        raise GenerateError("--gpu: no GPU is visible to this CUDA build of Paddle")


def _usable_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def create_predictor(model_dir: str, info: dict, threads: Optional[int] = None, gpu: bool = False):
    """A paddle.inference predictor for the export in `model_dir`.

    oneDNN stays off on CPU: Paddle 3.3's oneDNN conv fusion pass crashes on these programs, and
    without it the outputs equal the dynamic-graph generator's.
    """
    import paddle.inference as paddle_infer

    config = paddle_infer.Config(os.path.join(model_dir, info["files"]["model"]),
                                 os.path.join(model_dir, info["files"]["params"]))
    config.disable_glog_info()
    if gpu:
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        (getattr(config, "disable_onednn", None) or config.disable_mkldnn)()
        config.set_cpu_math_library_num_threads(threads or os.cpu_count() or 1)
    return paddle_infer.create_predictor(config)


def predict(predictor, z: np.ndarray, cond: Optional[np.ndarray] = None) -> np.ndarray:
    """The generator's raw outputs for z [N, latent_dim] (and cond [N, classes]), in batches."""
    outputs = []
    for start in range(0, len(z), BATCH):
        feeds = {"z": z[start:start + BATCH]}
        if cond is not None:
            feeds["cond"] = cond[start:start + BATCH]
        for name in predictor.get_input_names():
            handle = predictor.get_input_handle(name)
            handle.reshape(list(feeds[name].shape))
            handle.copy_from_cpu(np.ascontiguousarray(feeds[name]))
        predictor.run()
        outputs.append(predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu())
    return np.concatenate(outputs)


def to_unit_range(x: np.ndarray, output_range: Sequence[float]) -> np.ndarray:
    """Map generator output from its range (e.g. tanh's (-1, 1)) to [0, 1]."""
    low, high = output_range
    return (x - low) / (high - low)


def image_grid(images: np.ndarray, padding: int = 2, ncol: Optional[int] = None) -> np.ndarray:
    """Tile [N, C, H, W] images in [0, 1] (C 1 or 3) into a uint8 [H', W', 3] grid of `ncol`
    columns (default: square-ish)."""
    n, c, h, w = images.shape
    if c == 1:
        images = np.repeat(images, 3, axis=1)
    ncol = min(n, ncol) if ncol else int(math.ceil(math.sqrt(n)))
    nrow = int(math.ceil(n / ncol))
    grid = np.ones((3, nrow * (h + padding) + padding, ncol * (w + padding) + padding), np.float32)
    for index in range(n):
        row, col = divmod(index, ncol)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = images[index]
    return (np.clip(grid, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(1, 2, 0)


def save_points(points: np.ndarray, labels: Optional[np.ndarray], path: str) -> None:
    """Scatter plot of 2-D samples (coloured by class for conditional generators)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6,
               c=None if labels is None else labels, cmap=None if labels is None else "tab10")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: an export folder's files and a run folder's (paddle_gan/cli/__init__.py keeps the same lists;
#: this file imports nothing of paddle_gan): an output never replaces one of them
EXPORT_FILES = ("generator_info.json", "generator.json", "generator.pdmodel",
                "generator.pdiparams", "generate.py")
RUN_FILES = ("config.json", "data.json", "train_log.jsonl", "sessions.jsonl", ".lock",
             "generator.pdparams", "discriminator.pdparams")
RUN_FOLDERS = ("checkpoints", "samples", "vdl")


def _is_run_folder(folder: str) -> bool:
    """A config.json beside checkpoints/, data.json or train_log.jsonl."""
    return os.path.isfile(os.path.join(folder, "config.json")) and (
        os.path.isdir(os.path.join(folder, "checkpoints"))
        or any(os.path.isfile(os.path.join(folder, n)) for n in ("data.json", "train_log.jsonl")))


def owner_of(path: str) -> Optional[str]:
    """"the export in DIR" / "the run in DIR" when `path` (links resolved) is one of an export's
    or a run's own files, else None."""
    folder, name = os.path.split(os.path.realpath(path))
    if name in EXPORT_FILES and os.path.isfile(os.path.join(folder, INFO_FILE)):
        return f"the export in {folder}"
    if name in RUN_FILES + RUN_FOLDERS and _is_run_folder(folder):
        return f"the run in {folder}"
    while os.path.dirname(folder) != folder:
        parent = os.path.dirname(folder)
        if os.path.basename(folder) in RUN_FOLDERS and _is_run_folder(parent):
            return f"the run in {parent}"
        folder = parent
    return None


def check_output(path: str, flag: str, suffix: str) -> None:
    """GenerateError unless `path` names a `suffix` file that can be written: not a folder, not
    an existing FIFO, socket or device, not a file of an export or a run (`owner_of`), in a
    writable folder (a probe file is created there and removed at once)."""
    if not path.lower().endswith(suffix):
        raise GenerateError(f"{flag} {path}: give a {suffix} file name")
    if os.path.isdir(path):
        raise GenerateError(f"{flag} {path} is a folder, not a file")
    if os.path.exists(path) and not os.path.isfile(path):
        raise GenerateError(f"{flag} {path} exists and is not a regular file (a FIFO, socket "
                            f"or device)")
    owner = owner_of(path)
    if owner is not None:
        raise GenerateError(f"{flag} {path} is a file of {owner}: an output never replaces it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise GenerateError(f"{flag} {path}: folder {folder} does not exist")
    try:  # a file created and removed at once: the only test a read-only mount cannot fool
        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError as exc:
        raise GenerateError(f"{flag} {path}: folder {folder} is not writable "
                            f"({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def write_atomically(path: str, write) -> None:
    """Call write(temporary path) beside `path`, then move the file into place: a failed write
    leaves the previous file, and no partial one."""
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix,
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_samples(info: dict, samples: np.ndarray, labels: Optional[np.ndarray], out: str,
                  npy: Optional[str], ncol: Optional[int] = None) -> np.ndarray:
    """The picture (image grid of `ncol` columns, or scatter plot) to `out` and the samples to
    `npy`, each written atomically; returns the saved samples (images mapped to [0, 1])."""
    if info.get("sample_kind") == "points":
        write_atomically(out, lambda path: save_points(samples, labels, path))
        kept = samples
    else:
        kept = np.clip(to_unit_range(samples, info["output_range"]), 0.0, 1.0)
        from PIL import Image

        write_atomically(out, lambda path: Image.fromarray(image_grid(kept, ncol=ncol)).save(path))
    if npy:
        write_atomically(npy, lambda path: np.save(path, kept.astype(np.float32)))
    return kept


def load_pretrained(name: str):
    """--pretrained: the shipped generator `name` (paddle_gan.io.pretrained.Pretrained). Needs
    the paddle_gan package: installed, or the checkout this file lies in (tools/generate.py)."""
    try:
        from paddle_gan.io import pretrained
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("paddle_gan"):
            raise
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if not os.path.isfile(os.path.join(root, "paddle_gan", "io", "pretrained.py")):
            raise GenerateError("--pretrained needs the paddle_gan package (pip install . in "
                                "the repository, or run tools/generate.py from it)") from None
        sys.path.insert(0, root)
        from paddle_gan.io import pretrained
    from paddle_gan.errors import UserError

    try:
        return pretrained.load_pretrained(name)
    except UserError as exc:
        raise GenerateError(str(exc)) from None


def predict_pretrained(shipped, z: np.ndarray, labels: Optional[np.ndarray],
                       threads: Optional[int] = None, gpu: bool = False) -> np.ndarray:
    """The shipped generator's raw outputs (dynamic graph, eval mode) for z [N, latent_dim]
    and class indices [N], in batches."""
    import paddle

    from paddle_gan.io.export import reference_outputs

    paddle.set_device("gpu" if gpu else "cpu")
    if threads:
        paddle.base.core.set_num_threads(threads)
    return np.concatenate([
        reference_outputs(shipped.generator, shipped.num_classes, z[start:start + BATCH],
                          None if labels is None else labels[start:start + BATCH])
        for start in range(0, len(z), BATCH)])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(prog="generate.py", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="DIR", help="folder from tools/export.py")
    source.add_argument("--pretrained", metavar="NAME",
                        help="a generator shipped in the package (quickstart: MNIST digits)")
    parser.add_argument("--num", type=int, default=None,
                        help=f"samples to draw, 1..{MAX_NUM} ({DEFAULT_NUM}; --pretrained: "
                             f"{DEFAULT_PRETRAINED_NUM})")
    parser.add_argument("--out", required=True, metavar="FILE.png", help="picture to write")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (0)")
    parser.add_argument("--class", "--digit", dest="class_index", type=int, default=None,
                        metavar="C", help="conditional generators: draw class C only (default: "
                                          "cycle classes); --digit 7 draws sevens")
    parser.add_argument("--npy", default=None, metavar="FILE.npy",
                        help="also save the samples, mapped to [0, 1] for images, as .npy")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (all cores)")
    parser.add_argument("--gpu", action="store_true", help="run on GPU 0 (paddlepaddle-gpu)")
    args = parser.parse_args(argv)
    if args.num is None:
        args.num = DEFAULT_PRETRAINED_NUM if args.pretrained else DEFAULT_NUM
    if not 1 <= args.num <= MAX_NUM:
        raise GenerateError(f"--num: must be in 1..{MAX_NUM}, got {args.num}")
    if not 0 <= args.seed < 2 ** 32:
        raise GenerateError(f"--seed: must be in 0..2**32-1, got {args.seed}")
    if args.threads is not None and not 1 <= args.threads <= _usable_cores():
        raise GenerateError(f"--threads: must be in 1..{_usable_cores()} (this machine's usable "
                            f"cores), got {args.threads}")
    check_output(args.out, "--out", ".png")
    if args.npy:
        check_output(args.npy, "--npy", ".npy")
    if args.gpu:
        check_gpu()
    ncol = None
    if args.pretrained:
        shipped = load_pretrained(args.pretrained)
        info = shipped.info
        z, cond, labels = make_inputs(info, args.num, args.seed, args.class_index)
        samples = predict_pretrained(shipped, z, labels, args.threads, args.gpu)
        # one column per class when the classes cycle, ten columns of one class otherwise
        ncol = int(info["num_classes"]) or None
    else:
        info = load_info(args.model)
        z, cond, labels = make_inputs(info, args.num, args.seed, args.class_index)
        try:
            samples = predict(create_predictor(args.model, info, args.threads, args.gpu), z, cond)
        except Exception as exc:  # Paddle's own errors are many lines: keep the first
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"generate.py: error: Paddle Inference failed: {first}", file=sys.stderr)
            return 1
    try:
        write_samples(info, samples, labels, args.out, args.npy, ncol)
    except OSError as exc:  # e.g. disk full: the previous files stay (write_atomically)
        print(f"generate.py: error: cannot write {args.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    classes = f", class {args.class_index}" if args.class_index is not None else ""
    origin = f" of the shipped {args.pretrained} generator" if args.pretrained else ""
    print(f"wrote {args.out}: {args.num} samples{origin} (seed {args.seed}{classes})")
    return 0


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """main() with GenerateError reported as one line on stderr (exit 2) and Ctrl-C as one line
    (exit 130, also while Paddle is importing)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler and \
            threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        return main(argv)
    except GenerateError as exc:
        print(f"generate.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("generate.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if signal.getsignal(signal.SIGINT) is _on_sigint:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(cli())
