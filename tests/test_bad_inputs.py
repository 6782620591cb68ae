"""Every bad input a user can give, across every tool: ONE line naming the problem, exit code 2
(1 for runtime failures), no traceback, and every existing file of the run folder unchanged.

Each row runs the tool's `main` through `run_main` in this process (as `python tools/<tool>.py`
would; Paddle is imported once), and rows marked `sub` run as real subprocesses to prove the
command line itself. No row trains except the full-disk one (one step on a copy of the run).
"""
import errno
import glob
import gzip
import hashlib
import json
import os
import pickle
import shutil
import socket
import stat
import struct
import tarfile
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

from checkpoint_edits import array_edit, is_d_weight, rewrite, to_float64
from conftest import ROOT, run_tool, tiny_config
from image_bombs import png_header
from inprocess_tools import run_tool_main
from paddle_gan import checkpoint as ck
from paddle_gan.config import to_dict
from paddle_gan.losses import LOSSES
from paddle_gan.models.seed import PixelShuffleGenerator, StridedDiscriminator
from paddle_gan.train.run import run_training

TINY = ["--dataset", "mnist5k", "--width", "4", "--batch-size", "8"]
#: TINY plus the settings of the `world` run that a resume must repeat (tests/conftest.tiny_config)
RESUME = [*TINY, "--seed", "3", "--k", "2", "--label-smoothing", "1.0", "--g-ema", "0",
          "--lr-decay", "none"]
#: TINY for one step: a row whose check were missing would train for a moment, not for hours
ONE = [*TINY, "--max-steps", "1", "--no-progress"]
CYCLE = ["--model", "cyclegan", "--width", "4", "--n-blocks", "1", "--batch-size", "8",
         "--max-steps", "1", "--no-progress"]
#: the step benchmark at its smallest
BENCH = [*TINY, "--iters", "1", "--warmup", "1", "--sgemm-size", "64", "--loops", "bare"]


@dataclass
class Row:
    """One bad input: `tool` (tools/<tool>.py) with `args` ({run}, {bad}, {out}, {ckpt2}, {ckpt4}
    are filled in) must exit `code` with one stderr line containing `expect`."""

    name: str
    tool: str
    args: list
    expect: str
    code: int = 2
    sub: bool = False  # run as a real subprocess too
    patch: Optional[Callable] = None  # fn(monkeypatch) before the run (runtime failures)
    copy_run: bool = False  # the row may append logs: use a copy, compare checkpoints/weights


def _disk_full(monkeypatch):
    def savez(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ck.np, "savez", savez)


#: the tools that read a run, with the flags each needs besides --checkpoint
READERS = (("eval", ["--num-samples", "10"]), ("plot_samples", ["--out", "{out}.png"]),
           ("export", ["--out", "{out}"]))

#: files a run writes inside its folder, each blocked by a folder of its name in one row
BLOCKED_FILES = ("samples/final.png", "samples/epoch_001.png", "checkpoints/best.npz",
                 "generator.pdparams", "discriminator.pdparams.tmp")


def _home_a_file(monkeypatch):
    monkeypatch.setenv("HOME", os.path.join(ROOT, "README.md"))  # a file: ~/.cache cannot be


ROWS = [
    # --------------------------------------------------------------- tools/train.py: flags
    Row("train unknown flag", "train", ["--bogus-flag", "--output", "{out}"],
        "unrecognized arguments: --bogus-flag", sub=True),
    Row("train flag without its value", "train", ["--output", "{out}", "--width"],
        "argument --width: expected one argument"),
    Row("train int flag not a number", "train", ["--width", "wide", "--output", "{out}"],
        "width: expected int, got 'wide'"),
    Row("train float flag not a number", "train", ["--lr-g", "fast", "--output", "{out}"],
        "lr_g: expected float, got 'fast'"),
    Row("train fractional int", "train", ["--epochs", "2.5", "--output", "{out}"],
        "epochs: expected int, got '2.5'"),
    Row("train switch given a value", "train", ["--progress=yes", "--output", "{out}"],
        "argument --progress/--no-progress: ignored explicit argument 'yes'"),
    Row("train zero batch", "train", ["--batch-size", "0", "--output", "{out}"],
        "batch_size: must be at least 1, got 0"),
    Row("train negative batch", "train", ["--batch-size", "-8", "--output", "{out}"],
        "batch_size: must be at least 1, got -8"),
    Row("train zero learning rate", "train", ["--lr-d", "0", "--output", "{out}"],
        "lr_d: must be in (0, 1], got 0.0"),
    Row("train negative learning rate", "train", ["--lr-g=-1e-4", "--output", "{out}"],
        "lr_g: must be in (0, 1], got -0.0001"),
    Row("train zero epochs", "train", ["--epochs", "0", "--output", "{out}"],
        "epochs: must be at least 1, got 0"),
    Row("train negative max steps", "train", ["--max-steps", "-5", "--output", "{out}"],
        "max_steps: must be at least 1, got -5"),
    Row("train beta1 out of range", "train", ["--beta1", "1.5", "--output", "{out}"],
        "beta1: must be in [0, 1), got 1.5"),
    Row("train zero label smoothing", "train", ["--label-smoothing", "0", "--output", "{out}"],
        "label_smoothing: must be in (0, 1], got 0.0"),
    Row("train keep zero checkpoints", "train", ["--keep-checkpoints", "0", "--output", "{out}"],
        "keep_checkpoints: must be at least 1, got 0"),
    Row("train save every zero steps", "train", ["--save-every-steps", "0", "--output", "{out}"],
        "save_every_steps: must be at least 1, got 0"),
    Row("train unknown loss", "train", ["--loss", "no_such_loss", "--output", "{out}"],
        "loss: unknown value 'no_such_loss'; choose from " + ", ".join(LOSSES)),
    Row("train unknown model", "train", ["--model", "nope", "--output", "{out}"],
        "model: unknown value 'nope'"),
    Row("train unknown data set", "train", ["--dataset", "imagenet", "--output", "{out}"],
        "dataset: unknown value 'imagenet'"),
    Row("train batch larger than the data set", "train",
        ["--dataset", "mnist5k", "--batch-size", "5000", "--output", "{out}"],
        "batch_size 5000 is larger than the data set (4500 samples)"),
    Row("train no GPU", "train", ["--device", "gpu", "--output", "{out}"], "no CUDA"),
    # --------------------------------------------------------------- tools/train.py: memory
    Row("train sizes that together do not fit the machine", "train",
        ["--dataset", "mnist5k", "--width", "1024", "--batch-size", "4096", "--output", "{out}"],
        "more than this machine's memory", sub=True),
    Row("train toy depth, width and batch that together do not fit", "train",
        ["--model", "toy", "--width", "1024", "--depth", "64", "--batch-size", "8192",
         "--output", "{out}"], "activations of a step at batch 8192"),
    Row("train estimate above --max-memory", "train",
        [*ONE, "--max-memory", "0.001", "--output", "{out}"],
        "more than --max-memory 0.001 GiB; lower --batch-size"),
    Row("train max memory not positive", "train", [*ONE, "--max-memory", "0", "--output", "{out}"],
        "max_memory: must be positive (GiB), got 0.0"),
    # --------------------------------------------------------------- tools/train.py: YAML
    Row("yaml unknown key", "train", ["--config", "{bad}/unknown.yaml", "--output", "{out}"],
        "unknown key 'learning_rate'", sub=True),
    Row("yaml malformed", "train", ["--config", "{bad}/malformed.yaml", "--output", "{out}"],
        "is not valid YAML"),
    Row("yaml wrong type", "train", ["--config", "{bad}/wrong_type.yaml", "--output", "{out}"],
        "width: expected int, got 'wide'"),
    Row("yaml not a mapping", "train", ["--config", "{bad}/list.yaml", "--output", "{out}"],
        "must hold a mapping of keys, not list"),
    Row("yaml negative rate", "train", ["--config", "{bad}/negative.yaml", "--output", "{out}"],
        "lr_d: must be in (0, 1], got -0.1"),
    Row("yaml file missing", "train", ["--config", "{bad}/none.yaml", "--output", "{out}"],
        "config file not found"),
    Row("yaml alias bomb", "train", ["--config", "{bad}/bomb.yaml", "--output", "{out}"],
        "anchors (&name) are not allowed in a config", sub=True),
    Row("yaml anchor", "train", ["--config", "{bad}/anchor.yaml", "--output", "{out}"],
        "anchors (&name) are not allowed in a config"),
    Row("yaml too large", "train", ["--config", "{bad}/huge.yaml", "--output", "{out}"],
        "is larger than 64 kB"),
    Row("yaml float infinite in float32", "train",
        [*ONE, "--config", "{bad}/clip_1e39.yaml", "--output", "{out}"],
        "clip_grad: must be finite as a float32"),
    Row("yaml one key under two spellings", "train",
        [*ONE, "--config", "{bad}/two_spellings.yaml", "--output", "{out}"],
        "two_spellings.yaml: key 'max-steps' given twice (also as 'max_steps'), line 2", sub=True),
    Row("yaml one key twice", "train", [*ONE, "--config", "{bad}/twice.yaml", "--output", "{out}"],
        "twice.yaml: key 'width' given twice, line 2"),
    Row("yaml integer of 5,000 digits", "train",
        [*ONE, "--config", "{bad}/long_int.yaml", "--output", "{out}"],
        "long_int.yaml: a value cannot be read (Exceeds the limit (4300 digits)"),
    Row("yaml nested too deeply", "train",
        [*ONE, "--config", "{bad}/deep.yaml", "--output", "{out}"],
        "deep.yaml is nested too deeply to be a config", sub=True),
    Row("yaml mapping where a value goes", "train",
        [*ONE, "--config", "{bad}/mapping_value.yaml", "--output", "{out}"],
        "output: expected str, got a dict"),
    Row("yaml config is a FIFO", "train",
        [*ONE, "--config", "{special}/config.yaml", "--output", "{out}"],
        "config file {special}/config.yaml is not a regular file"),
    # ------------------------------------------------ trust is given on the command line only
    Row("yaml grants trust", "train", [*ONE, "--config", "{bad}/trust.yaml", "--output", "{out}"],
        "trust.yaml: trust_checkpoint is a command-line flag only (--trust-checkpoint)", sub=True),
    Row("yaml grants trust under a dashed key", "train",
        [*ONE, "--config", "{bad}/trust_dashed.yaml", "--output", "{out}"],
        "trust-checkpoint is a command-line flag only"),
    Row("step benchmark yaml grants trust", "benchmark", [*BENCH, "--config", "{bad}/trust.yaml"],
        "trust_checkpoint is a command-line flag only"),
    Row("infinite learning rate", "train", ["--lr-d", "inf", "--output", "{out}"],
        "lr_d: must be finite as a float32 (the kernels' type: at most 3.4e+38 in size), got inf"),
    Row("nan penalty weight", "train", ["--loss", "wgangp", "--gp-lambda", "nan",
                                        "--output", "{out}"],
        "gp_lambda: must be finite as a float32 (the kernels' type: at most 3.4e+38 in size), "
        "got nan"),
    Row("negative seed", "train", ["--seed", "-1", "--output", "{out}"],
        "seed: must be in 0..2**32-1, got -1"),
    Row("more threads than cores", "train", ["--threads", "100000", "--output", "{out}"],
        "threads: this machine has"),
    Row("absurd batch size", "train", ["--batch-size", "64000000", "--output", "{out}"],
        "batch_size: at most 8,192"),
    Row("tanh head with a sigmoid loss", "train", ["--d-head", "tanh", "--output", "{out}"],
        "d_head: tanh caps D's logits to (-1, 1)"),
    Row("seed model with another latent size", "train",
        [*TINY, "--latent-dim", "50", "--max-steps", "1", "--output", "{out}"],
        "latent_dim: the seed generator turns z into a 1x10x10 map, so it needs 100, got 50"),
    Row("generator input option on another model", "train",
        ["--model", "dcgan", "--g-input", "reshape", "--output", "{out}"],
        "g_input: only the seed model reads it, got reshape with model dcgan"),
    Row("discriminator dropout on another model", "train",
        ["--model", "dcgan", "--d-dropout", "0.3", "--output", "{out}"],
        "d_dropout: only the mlp model reads it, got 0.3 with model dcgan"),
    Row("discriminator dropout of 1", "train",
        ["--model", "mlp", "--d-dropout", "1", "--output", "{out}"],
        "d_dropout: must be in [0, 1), got 1.0"),
    # ------------------------------------------------ every value as the kernels see it (float32)
    Row("learning rate above 1", "train", [*ONE, "--lr-g", "2", "--output", "{out}"],
        "lr_g: must be in (0, 1], got 2.0"),
    Row("learning rate that is 0 in float32", "train",
        [*ONE, "--lr-d", "1e-50", "--output", "{out}"],
        "lr_d: must be in (0, 1], got 1e-50 (0 in float32)"),
    Row("clipping bound infinite in float32", "train",
        [*ONE, "--loss", "wgan", "--weight-clip", "1e39", "--output", "{out}"],
        "weight_clip: must be finite as a float32 (the kernels' type: at most 3.4e+38 in size), "
        "got 1e+39"),
    Row("penalty weight too large", "train",
        [*ONE, "--loss", "wgangp", "--gp-lambda", "1e5", "--output", "{out}"],
        "gp_lambda: must be in [0, 10,000], got 100000.0"),
    Row("cycle weight too large", "train",
        [*CYCLE, "--lambda-cyc", "1e6", "--output", "{out}"],
        "lambda_cyc: must be in [0, 10,000], got 1000000.0"),
    Row("identity weight negative", "train",
        [*CYCLE, "--lambda-identity=-0.5", "--output", "{out}"],
        "lambda_identity: must be in [0, 10,000], got -0.5"),
    Row("identity weight infinite in float32", "train",
        [*CYCLE, "--lambda-identity", "1e39", "--output", "{out}"],
        "lambda_identity: must be finite as a float32"),
    Row("history pool too large", "train",
        [*CYCLE, "--pool-size", "1000000", "--output", "{out}"],
        "pool_size: at most 100,000"),
    Row("decay epochs too many", "train",
        [*CYCLE, "--decay-epochs", "100000000", "--output", "{out}"],
        "decay_epochs: at most 10,000,000"),
    Row("a count beyond the limit", "train",
        [*ONE, "--save-every", "10000000000", "--output", "{out}"],
        "save_every: at most 1,000,000,000 (a count of steps or epochs), got 10,000,000,000"),
    Row("step benchmark on a GPU that is not there", "benchmark", [*BENCH, "--device", "gpu"],
        "no CUDA"),
    # --------------------------------------------------------------- tools/train.py: data
    Row("data dir missing", "train", ["--data-dir", "{bad}/no_such_dir", "--output", "{out}"],
        "no_such_dir: no such folder"),
    Row("data dir empty", "train", ["--data-dir", "{bad}/empty", "--output", "{out}"],
        "no train-images-idx3-ubyte[.gz]"),
    Row("idx file with a bad magic number", "train",
        ["--data-dir", "{bad}/bad_magic", "--output", "{out}"], "bad magic number"),
    Row("idx file truncated", "train", ["--data-dir", "{bad}/short_idx", "--output", "{out}"],
        "is truncated or padded"),
    Row("gzip truncated", "train", ["--data-dir", "{bad}/truncated_gz", "--output", "{out}"],
        "cannot read"),
    Row("idx header larger than the limit", "train",
        ["--data-dir", "{bad}/huge_idx", "--output", "{out}"],
        "its header declares shape (100000, 100, 100) (1,000,000,000 bytes), more than the 256 MiB"),
    Row("idx header whose size overflows 64 bits", "train",
        ["--data-dir", "{bad}/overflow_idx", "--output", "{out}"],
        "its header declares shape (4294967295, 4294967295, 4294967295)"),
    Row("gzip idx longer than its header says", "train",
        ["--data-dir", "{bad}/padded_gz", "--output", "{out}"],
        "is truncated or padded: more than 7840 data bytes, expected 7840"),
    Row("idx files with zero images", "train", ["--data-dir", "{bad}/zero_idx", "--output", "{out}"],
        "train-images-idx3-ubyte holds no images"),
    Row("labels out of range with --conditional", "train",
        ["--model", "mlp", "--conditional", "--data-dir", "{bad}/label_12", "--output", "{out}"],
        "has labels 3..12, outside the 10 classes 0..9"),
    Row("cifar batch larger than the limit", "train",
        ["--dataset", "cifar10", "--data-dir", "{bad}/cifar_huge", "--output", "{out}"],
        "data_batch_1 is 209,715,200 bytes, more than the 128 MiB"),
    Row("cifar batch whose pickle asks for an array of 2**62 bytes", "train",
        ["--dataset", "cifar10", "--data-dir", "{bad}/cifar_greedy_array", "--output", "{out}"],
        "data_batch_1 is not a CIFAR-10 batch: its pickle asks for an array of "
        "4,611,686,018,427,387,904 bytes, more than the 128 MiB", sub=True),
    Row("cifar batch whose pickle declares 2**62 bytes", "train",
        ["--dataset", "cifar10", "--data-dir", "{bad}/cifar_greedy_bytes", "--output", "{out}"],
        "data_batch_1 is not a CIFAR-10 batch: its pickle is malformed: expected "
        "4611686018427387904 bytes in a bytes8"),
    Row("image larger than 4096x4096", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/bomb_5k",
         "--output", "{out}"], "is 5000x5000 pixels, more than the 4096x4096 this suite decodes"),
    Row("image past Pillow's bomb warning", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/bomb_10k",
         "--output", "{out}"], "is 100,000,000 pixels, more than the 4096x4096"),
    Row("image past Pillow's bomb error", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/bomb_20k",
         "--output", "{out}"], "is 400,000,000 pixels, more than the 4096x4096", sub=True),
    Row("density image larger than 4096x4096", "train",
        ["--model", "toy", "--dataset", "image:{bad}/bomb_5k/trainA/huge.png", "--output", "{out}"],
        "is 5000x5000 pixels, more than the 4096x4096"),
    Row("text target longer than the limit", "train",
        ["--model", "toy", "--dataset", "text:" + "W" * 1000, "--max-steps", "1", "--no-progress",
         "--output", "{out}"],
        "text target: at most 64 characters, got 1,000"),
    Row("float image with a NaN pixel", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/nan_images",
         "--output", "{out}"], "nan.tiff has NaN or infinite pixels"),
    Row("float image outside [0, 1]", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/bright_images",
         "--output", "{out}"], "bright.tiff (F) has pixels in [3, 3], outside 0..1"),
    Row("density image with a NaN pixel", "train",
        ["--model", "toy", "--dataset", "image:{bad}/nan_images/trainA/nan.tiff",
         "--output", "{out}"], "nan.tiff has NaN or infinite pixels"),
    Row("cyclegan with a loss-given learning-rate decay", "train",
        [*CYCLE, "--lr-decay", "linear", "--output", "{out}"],
        "lr_decay: 'linear' is not available for cyclegan: its rates stay constant for --epochs"),
    Row("unreadable image", "train",
        ["--model", "cyclegan", "--dataset", "unpaired", "--data-dir", "{bad}/images",
         "--output", "{out}"], "cannot read image"),
    # --------------------------------------------------------------- tools/train.py: runs
    Row("resume with another model", "train",
        [*TINY, "--resume", "--output", "{run}", "--model", "dcgan"], "model: 'seed' -> 'dcgan'"),
    Row("resume with another width and loss", "train",
        ["--dataset", "mnist5k", "--width", "8", "--loss", "lsgan", "--resume",
         "--output", "{run}"], "loss: 'gan' -> 'lsgan', width: 4 -> 8"),
    Row("resume a folder that is not a run", "train",
        [*TINY, "--resume", "--output", "{bad}/empty"], "holds no checkpoint"),
    Row("resume a damaged checkpoint file", "train",
        [*TINY, "--resume", "{bad}/damaged.npz", "--output", "{out}"],
        "is damaged or not a checkpoint"),
    Row("resume a run whose only checkpoint has float64 weights", "train",
        [*RESUME, "--resume", "--max-steps", "5", "--output", "{bad}/float64_run"],
        "holds no usable checkpoint"),
    Row("resume a checkpoint file with float64 weights", "train",
        [*RESUME, "--resume", "{bad}/float64_run/checkpoints/step_00000004.npz",
         "--max-steps", "5", "--output", "{out}"], "is float64, this model has float32"),
    Row("resume on other data", "train",
        [*RESUME, "--resume", "--max-steps", "5", "--output", "{bad}/other_data_run"],
        "on other data (sha256: '000000000000' -> "),
    Row("resume with another batch size", "train",
        [*RESUME, "--resume", "--batch-size", "16", "--output", "{run}"],
        "with other settings (batch_size: 8 -> 16); pass --allow-change batch_size"),
    Row("resume with another optimizer", "train",
        [*RESUME, "--resume", "--optimizer", "rmsprop", "--output", "{run}"],
        "with other settings (optimizer: 'adam' -> 'rmsprop'"),
    Row("resume a decaying run to another max steps", "train",
        [*RESUME[:-1], "linear", "--epochs", "1", "--resume", "--max-steps", "8", "--output",
         "{bad}/decaying_run"],
        "with other settings (lr_horizon: 4 -> 8 steps of linear decay (max_steps: 4 -> 8)); "
        "pass --allow-change lr_horizon if that is intended, or give --max-steps 4 to keep"),
    Row("allow a change that cannot be allowed", "train",
        [*RESUME, "--resume", "--allow-change", "width", "--output", "{run}"],
        "allow_change: width cannot change on resume"),
    Row("output holds a file named checkpoints", "train",
        [*TINY, "--max-steps", "1", "--output", "{bad}/layout_file"],
        "checkpoints must be a folder, and it is not"),
    Row("output holds a folder named train_log.jsonl", "train",
        [*TINY, "--max-steps", "1", "--output", "{bad}/layout_folder"],
        "train_log.jsonl must be a file, and it is not"),
    *[Row(f"output holds a folder where the run writes {name}", "train",
          [*ONE, "--output", f"{{bad}}/blocked_{index}"],
          f"{name} is a folder where the run writes a file")
      for index, name in enumerate(BLOCKED_FILES)],
    Row("output's vdl folder cannot be written", "train",
        [*ONE, "--output", "{bad}/vdl_read_only"], "vdl_read_only: cannot write vdl in it"),
    Row("train with a HOME that cannot hold Paddle's cache", "train",
        [*ONE, "--output", "{out}"], "is not usable: ", patch=_home_a_file),
    Row("resume a checkpoint whose name disagrees with its step", "train",
        [*RESUME, "--resume", "{bad}/renamed_run/checkpoints/step_00000006.npz",
         "--max-steps", "7", "--output", "{out}"], "it stores step 4, its name says 6"),
    Row("resume a run whose only checkpoint disagrees with its name", "train",
        [*RESUME, "--resume", "--max-steps", "7", "--output", "{bad}/renamed_run"],
        "holds no usable checkpoint"),
    Row("resume a pickle", "train", [*TINY, "--resume", "{bad}/evil.pdparams",
                                     "--output", "{out}"], "never loaded here"),
    Row("resume an older checkpoint over newer ones", "train",
        [*RESUME, "--resume", "{ckpt2}", "--output", "{run}"],
        "holds newer checkpoints (step_00000004.npz)"),
    Row("fresh run into an existing run", "train", [*TINY, "--output", "{run}"],
        "already holds checkpoints"),
    Row("output is a file", "train", [*TINY, "--output", "{bad}/a_file"], "is a file"),
    Row("output not writable", "train", [*TINY, "--max-steps", "1",
                                         "--output", "{bad}/a_file/run"],
        "cannot write to --output"),
    Row("init from an untrusted pickle", "train",
        [*TINY, "--init-from", "{bad}/evil.pdparams", "--output", "{out}"],
        "unpickling can run arbitrary code; pass --trust-checkpoint"),
    Row("init from a missing file", "train",
        [*TINY, "--init-from", "{bad}/none.npz", "--output", "{out}"], "no such file or folder"),
    Row("init from a folder that is not a run", "train",
        [*TINY, "--init-from", "{bad}/empty", "--output", "{out}"], "not a run folder"),
    Row("init from a checkpoint of another model", "train",
        [*TINY, "--init-from", "{bad}/other_model.npz", "--output", "{out}"],
        "has shape [64, 1, 5, 5], this model has [4, 1, 5, 5]"),
    Row("full disk while saving", "train",
        [*RESUME, "--resume", "--max-steps", "5", "--no-progress", "--output", "{run}"],
        "No space left on device", code=1, patch=_disk_full, copy_run=True),
    # --------------------------------------------------------------- tools/eval.py
    Row("eval without --checkpoint", "eval", [],
        "the following arguments are required: --checkpoint"),
    Row("eval missing checkpoint", "eval", ["--checkpoint", "{bad}/none"],
        "no such file or folder", sub=True),
    Row("eval a folder that is not a run", "eval", ["--checkpoint", "{bad}/empty"],
        "holds no checkpoint"),
    Row("eval a damaged checkpoint", "eval", ["--checkpoint", "{bad}/damaged.npz"],
        "is damaged or not a checkpoint"),
    Row("eval an untrusted pickle", "eval", ["--checkpoint", "{bad}/evil.pdparams"],
        "never loaded here"),
    Row("eval too few samples", "eval", ["--checkpoint", "{run}", "--num-samples", "0"],
        "--num-samples: must be in 10..100,000, got 0"),
    Row("eval samples not a number", "eval", ["--checkpoint", "{run}", "--num-samples", "many"],
        "argument --num-samples: invalid int value: 'many'"),
    Row("eval untrusted inception pickle", "eval",
        ["--checkpoint", "{run}", "--inception-weights", "{bad}/evil.pdparams"],
        "unpickling can run arbitrary code; pass --trust-checkpoint"),
    Row("eval negative seed", "eval", ["--checkpoint", "{run}", "--seed", "-1"],
        "argument --seed: must be in 0..2**32-1, got -1"),
    Row("eval more threads than cores", "eval", ["--checkpoint", "{run}", "--threads", "100000"],
        "argument --threads: must be in 1.."),
    Row("eval json is a folder", "eval", ["--checkpoint", "{run}", "--json", "{bad}/empty"],
        "--json {bad}/empty is a folder, not a file"),
    Row("eval json is a FIFO", "eval", ["--checkpoint", "{run}", "--json", "{special}/fifo.json"],
        "--json {special}/fifo.json is a FIFO, not a regular file"),
    Row("eval json is a device", "eval",
        ["--checkpoint", "{run}", "--json", "{special}/null_link.json"],
        "--json {special}/null_link.json is a character device, not a regular file"),
    Row("eval json is the run's config", "eval",
        ["--checkpoint", "{run}", "--json", "{run}/config.json"],
        "is a file of the run in {run}: an output never replaces it"),
    Row("eval json is a checkpoint", "eval", ["--checkpoint", "{run}", "--json", "{ckpt2}"],
        "is a file of the run in {run}"),
    Row("eval json links to the run's data record", "eval",
        ["--checkpoint", "{run}", "--json", "{special}/data_link.json"],
        "is a file of the run in {run}"),
    Row("eval json is the checkpoint it scores", "eval",
        ["--checkpoint", "{bad}/other_model.npz", "--json", "{bad}/other_model.npz"],
        "is an input of this command"),
    Row("eval inception weights are a FIFO", "eval",
        ["--checkpoint", "{run}", "--inception-weights", "{special}/fifo.json"],
        "--inception-weights {special}/fifo.json: not a regular file"),
    Row("eval missing inception weights", "eval",
        ["--checkpoint", "{run}", "--inception-weights", "{bad}/none.pdparams"], "no such file"),
    # --------------------------------------------------------------- tools/plot_samples.py
    # a stored config is checked as a command line before anything is built from it, and a
    # run folder's newest checkpoint against the folder's config.json
    *[Row(f"{tool} a checkpoint whose stored config asks for width 10^6", tool,
          ["--checkpoint", "{bad}/width_1e6.npz", *extra],
          "width_1e6.npz: its stored config is not valid: width: at most 1,024")
      for tool, extra in READERS],
    Row("eval a checkpoint whose stored config has a learning rate of 5", "eval",
        ["--checkpoint", "{bad}/lr_5.npz", "--num-samples", "10"],
        "lr_5.npz: its stored config is not valid: lr_g: must be in (0, 1], got 5"),
    *[Row(f"{tool} a run whose checkpoint is of another run", tool,
          ["--checkpoint", "{bad}/foreign_checkpoint_run", *extra],
          "is not a checkpoint of the run in {bad}/foreign_checkpoint_run: it was made with "
          "other settings than its config.json (width: 8 -> 4)")
      for tool, extra in READERS],
    Row("plot output not a png", "plot_samples", ["--checkpoint", "{run}", "--out", "{out}.jpg"],
        "give a .png file name"),
    Row("plot zero grid", "plot_samples", ["--checkpoint", "{run}", "--out", "{out}.png",
                                           "--n", "0"], "--n: must be in 1..32, got 0"),
    Row("plot missing checkpoint", "plot_samples", ["--checkpoint", "{bad}/none",
                                                    "--out", "{out}.png"],
        "no such file or folder"),
    Row("plot an untrusted pickle", "plot_samples",
        ["--checkpoint", "{bad}/evil.pdparams", "--out", "{out}.png"], "never loaded here",
        sub=True),
    Row("plot a checkpoint of another model", "plot_samples",
        ["--checkpoint", "{bad}/other_model.npz", "--out", "{out}.png"], "has shape"),
    Row("plot curves of a damaged VisualDL log", "plot_samples",
        ["--checkpoint", "{bad}/damaged_vdl_run", "--out", "{out}.png", "--curves"],
        "damaged_vdl_run/vdl/vdlrecords."),
    Row("plot curves without a run folder", "plot_samples",
        ["--checkpoint", "{bad}/other_model.npz", "--out", "{out}.png", "--curves"],
        "--curves and --progress need a run folder"),
    Row("plot negative seed", "plot_samples",
        ["--checkpoint", "{run}", "--out", "{out}.png", "--seed", "-1"],
        "argument --seed: must be in 0..2**32-1, got -1"),
    Row("plot output under a file", "plot_samples",
        ["--checkpoint", "{run}", "--out", "{bad}/a_file/x.png"], "a_file is a file, not a folder"),
    Row("plot output is a socket", "plot_samples",
        ["--checkpoint", "{run}", "--out", "{special}/socket.png"],
        "--out {special}/socket.png is a socket, not a regular file"),
    Row("plot output is the run's sample grid", "plot_samples",
        ["--checkpoint", "{run}", "--out", "{run}/samples/final.png"],
        "is a file of the run in {run}"),
    Row("plot progress gif links to the run's checkpoint", "plot_samples",
        ["--checkpoint", "{run}", "--progress", "--out", "{special}/progress.png"],
        "--out (its .gif) {special}/progress.gif is a file of the run in {run}"),
    Row("plot two modes", "plot_samples",
        ["--checkpoint", "{run}", "--out", "{out}.png", "--curves", "--interpolate"],
        "not allowed with argument"),
    # --------------------------------------------------------------- tools/translate.py
    Row("translate a GAN checkpoint", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images/trainB", "--out", "{out}"],
        "is a 'seed' run, not a cyclegan one"),
    Row("translate missing input", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/none", "--out", "{out}"],
        "no such file or folder"),
    Row("translate zero batch", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images", "--out", "{out}",
         "--batch-size", "0"], "--batch-size: must be in 1..256, got 0"),
    Row("translate batch too large", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images", "--out", "{out}",
         "--batch-size", "100000"], "--batch-size: must be in 1..256, got 100,000"),
    Row("translate output is a file", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images", "--out", "{bad}/a_file"],
        "--out {bad}/a_file is a file, not a folder"),
    Row("translate output inside the input folder", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images/trainB", "--out",
         "{bad}/images/trainB/out"], "--out {bad}/images/trainB/out is inside --input"),
    Row("translate output is the input folder", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images/trainA", "--out",
         "{bad}/images/trainA"], "is inside --input {bad}/images/trainA"),
    Row("translate output would replace the input file", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images/trainB/ok.png", "--out",
         "{bad}/images/trainB"], "the output would replace --input {bad}/images/trainB/ok.png"),
    Row("translate on a GPU that is not there", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images", "--out", "{out}", "--device", "gpu"],
        "no CUDA"),
    Row("translate unknown direction", "translate",
        ["--checkpoint", "{run}", "--input", "{bad}/images", "--out", "{out}",
         "--direction", "sideways"], "invalid choice: 'sideways'"),
    # --------------------------------------------------------------- other tools
    Row("classifier zero epochs", "train_classifier", ["--epochs", "0", "--out", "{out}.npz"],
        "--epochs: must be at least 1"),
    Row("classifier negative rate", "train_classifier", ["--lr", "-1", "--out", "{out}.npz"],
        "--lr in (0, 1]"),
    Row("classifier negative seed", "train_classifier",
        ["--seed", "-3", "--out", "{out}.npz"], "argument --seed: must be in 0..2**32-1, got -3"),
    Row("classifier zero threads", "train_classifier", ["--threads", "0", "--out", "{out}.npz"],
        "argument --threads: must be in 1.."),
    Row("classifier output under a file", "train_classifier",
        ["--out", "{bad}/a_file/weights.npz"], "a_file is a file, not a folder"),
    Row("classifier data dir missing", "train_classifier",
        ["--data-dir", "{bad}/no_such_dir", "--out", "{out}.npz"], "no such folder"),
    Row("compare unknown loss", "compare_losses", ["--out", "{out}", "--losses", "no_such_loss"],
        "--losses: unknown no_such_loss"),
    Row("compare seeds not numbers", "compare_losses", ["--out", "{out}", "--seeds", "a,b"],
        "--seeds: expected comma-separated integers"),
    Row("compare zero updates", "compare_losses", ["--out", "{out}", "--g-updates", "0"],
        "--g-updates: must be at least 1"),
    Row("compare output is a file", "compare_losses", ["--out", "{bad}/a_file"],
        "is a file, not a folder"),
    Row("reproduce unknown table", "reproduce", ["--out", "{out}", "--tables", "tables"],
        "--tables: unknown tables; choose from quickstart, losses, models"),
    Row("reproduce unknown entry", "reproduce", ["--out", "{out}", "--entries", "nosuch"],
        "--entries: unknown nosuch in the tables quickstart, losses, models; choose from "),
    Row("reproduce no entry", "reproduce", ["--out", "{out}", "--entries", ","],
        "--entries: unknown (none)"),
    Row("eval too many samples", "eval", ["--checkpoint", "{run}", "--num-samples", "10000000"],
        "--num-samples: must be in 10..100,000, got 10,000,000"),
    Row("eval too many KID subsets", "eval",
        ["--checkpoint", "{run}", "--kid-subsets", "1000000000"],
        "--kid-subsets: must be in 1..10,000, got 1,000,000,000"),
    Row("eval batch too large", "eval", ["--checkpoint", "{run}", "--batch-size", "100000"],
        "--batch-size: must be in 1..8,192, got 100,000"),
    Row("generate more threads than cores", "generate",
        ["--model", "{bad}/empty", "--threads", "100000", "--out", "{out}.png"],
        "--threads: must be in 1.."),
    Row("reproduce seeds not numbers", "reproduce", ["--out", "{out}", "--seeds", "a"],
        "--seeds: expected comma-separated integers, got 'a'"),
    Row("reproduce results under a file", "reproduce", ["--out", "{bad}/a_file/results"],
        "a_file is a file, not a folder"),
    Row("step benchmark batch sizes not numbers", "benchmark", ["--batch-sizes", "8,x"],
        "--batch-sizes: expected comma-separated integers, got '8,x'"),
    Row("step benchmark batch size too large", "benchmark", [*BENCH, "--batch-sizes", "8,100000"],
        "--batch-sizes: must be in 1..8,192, got 100,000"),
    Row("step benchmark too many iterations", "benchmark", [*BENCH, "--iters", "1000000000"],
        "--iters: must be in 1..10,000, got 1,000,000,000"),
    Row("step benchmark negative warm-up", "benchmark", [*BENCH, "--warmup=-1"],
        "--warmup: must be in 1..10,000, got -1"),
    Row("step benchmark sgemm too large", "benchmark", [*BENCH, "--sgemm-size", "1000000"],
        "--sgemm-size: must be in 1..8,192, got 1,000,000"),
    Row("step benchmark estimate above --max-memory", "benchmark",
        [*BENCH, "--max-memory", "0.001"], "more than --max-memory 0.001 GiB; lower --batch-size"),
    Row("step benchmark sizes that together do not fit the machine", "benchmark",
        [*BENCH, "--width", "1024", "--batch-sizes", "8,4096"], "activations of a step at batch 4096"),
    Row("step benchmark profile above --max-memory", "benchmark",
        [*TINY, "--profile", "1", "--max-memory", "0.001"], "more than --max-memory 0.001 GiB"),
    Row("step benchmark unknown loop", "benchmark", ["--loops", "fast"],
        "--loops: unknown loop 'fast'"),
    Row("step benchmark unknown model", "benchmark", [*TINY, "--models", "nope"],
        "model: unknown value 'nope'"),
    Row("step benchmark json is a folder", "benchmark", ["--json", "{bad}/empty"],
        "--json {bad}/empty is a folder, not a file"),
    Row("benchmark zero seeds", "benchmark_toy", ["--seeds", "0", "--output", "{out}"],
        "--seeds, --iterations and --threads must be at least 1"),
    Row("benchmark unknown target", "benchmark_toy", ["--targets", "moon", "--output", "{out}"],
        "argument --targets: invalid choice: 'moon'"),
    Row("benchmark json is a folder", "benchmark_toy",
        ["--output", "{out}", "--json", "{bad}/empty"], "--json {bad}/empty is a folder"),
    Row("benchmark output is a file", "benchmark_toy", ["--output", "{bad}/a_file"],
        "--output {bad}/a_file is a file, not a folder"),
    Row("export missing checkpoint", "export", ["--checkpoint", "{bad}/none", "--out", "{out}"],
        "no such file"),
    Row("export a pickle", "export", ["--checkpoint", "{bad}/evil.pdparams", "--out", "{out}"],
        "never loaded here"),
    Row("export output is a file", "export", ["--checkpoint", "{run}", "--out", "{bad}/a_file"],
        "--out {bad}/a_file is a file, not a folder"),
    Row("generate from a folder that is no export", "generate",
        ["--model", "{bad}/empty", "--out", "{out}.png"], "not an exported generator"),
    Row("generate zero samples", "generate", ["--model", "{bad}/empty", "--num", "0",
                                              "--out", "{out}.png"], "--num: must be in 1..4096"),
    Row("generate output folder missing", "generate",
        ["--model", "{bad}/empty", "--out", "{bad}/no_such_dir/grid.png"], "does not exist"),
    Row("generate negative seed", "generate",
        ["--model", "{bad}/empty", "--seed", "-1", "--out", "{out}.png"],
        "--seed: must be in 0..2**32-1, got -1"),
    Row("generate output is a folder", "generate",
        ["--model", "{bad}/empty", "--out", "{bad}/folder.png"], "folder.png is a folder, not a file"),
    Row("generate output in a read-only place", "generate",
        ["--model", "{bad}/empty", "--out", "/proc/sys/grid.png"],
        "folder /proc/sys is not writable"),
    Row("generate npy output is a folder", "generate",
        ["--model", "{bad}/empty", "--out", "{out}.png", "--npy", "{bad}/folder.npy"],
        "--npy {bad}/folder.npy is a folder, not a file"),
    Row("generate zero threads", "generate",
        ["--model", "{bad}/empty", "--threads", "0", "--out", "{out}.png"],
        "--threads: must be in 1.."),
    Row("generate output is a FIFO", "generate",
        ["--model", "{bad}/empty", "--out", "{special}/fifo.png"],
        "--out {special}/fifo.png exists and is not a regular file"),
    Row("generate output links to an export's weights", "generate",
        ["--model", "{bad}/empty", "--out", "{special}/export_link.png"],
        "is a file of the export in {bad}/fake_export: an output never replaces it"),
    Row("generate npy output is a run's checkpoint", "generate",
        ["--model", "{bad}/empty", "--out", "{out}.png", "--npy", "{special}/ckpt_link.npy"],
        "is a file of the run in {run}"),
    Row("generate on a GPU that is not there", "generate",
        ["--model", "{bad}/empty", "--gpu", "--out", "{out}.png"],
        "--gpu: this Paddle build has no CUDA", sub=True),
    Row("generate from an unknown shipped generator", "generate",
        ["--pretrained", "nope", "--out", "{out}.png"],
        "--pretrained nope: no such shipped generator (shipped: quickstart)"),
    Row("generate a digit the shipped generator lacks", "generate",
        ["--pretrained", "quickstart", "--digit", "10", "--out", "{out}.png"],
        "--class: must be in 0..9, got 10"),
    Row("generate from an export and a shipped generator", "generate",
        ["--pretrained", "quickstart", "--model", "{bad}/empty", "--out", "{out}.png"],
        "argument --model: not allowed with argument --pretrained"),
    Row("export shipped-generator files into a missing folder", "export",
        ["--checkpoint", "{run}", "--pretrained-out", "{bad}/a_file/quickstart"],
        "is a file, not a folder"),
    Row("export both an export folder and shipped-generator files", "export",
        ["--checkpoint", "{run}", "--out", "{out}", "--pretrained-out", "{out}/q"],
        "not allowed with argument"),
    Row("export into a folder of other files", "export",
        ["--checkpoint", "{run}", "--out", "{bad}/images"],
        "holds other files and no earlier export (generator_info.json)"),
    Row("soak zero steps", "soak", ["--steps", "0", "--out", "{out}"],
        "--steps: must be in 1..1,000,000, got 0"),
    Row("soak too many steps", "soak", ["--steps", "1000000000", "--out", "{out}"],
        "--steps: must be in 1..1,000,000, got 1,000,000,000"),
    Row("soak batch too large", "soak", ["--batch-size", "100000", "--out", "{out}"],
        "--batch-size: must be in 1..8,192, got 100,000"),
    Row("soak width too large", "soak", ["--width", "1000000", "--out", "{out}"],
        "--width: must be in 1..1,024, got 1,000,000"),
    Row("soak measuring every 10^9 steps", "soak",
        ["--sample-every", "1000000000", "--out", "{out}"],
        "--sample-every: must be in 1..1,000,000, got 1,000,000,000"),
    Row("soak growth limit not a number", "soak", ["--max-growth", "nan", "--out", "{out}"],
        "--max-growth: must be in 0..1,000 percent, got nan"),
    Row("soak warm-up longer than the run", "soak",
        ["--steps", "10", "--warmup", "20", "--out", "{out}"], "--warmup: must be in [0, --steps)"),
    Row("soak estimate above --max-memory", "soak", ["--max-memory", "0.001", "--out", "{out}"],
        "more than --max-memory 0.001 GiB; lower --batch-size"),
    Row("soak sizes that together do not fit the machine", "soak",
        ["--model", "seed", "--width", "1024", "--batch-size", "4096", "--out", "{out}"],
        "more than this machine's memory"),
    Row("soak max memory not positive", "soak", ["--max-memory", "0", "--out", "{out}"],
        "max_memory: must be positive (GiB), got 0.0"),
    Row("soak output is a file", "soak", ["--out", "{bad}/a_file"], "is a file, not a folder"),
    Row("soak into an existing run", "soak", ["--out", "{run}"], "already holds a run"),
]


def _idx(array, magic_type=0x08):
    header = bytes([0, 0, magic_type, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_bad_data(bad, labels, images):
    """Data files whose headers declare implausible sizes, or labels out of range."""
    def idx_folder(name, image_bytes, label_bytes=labels, gz=False):
        (bad / name).mkdir()
        image_name = "train-images-idx3-ubyte" + (".gz" if gz else "")
        (bad / name / image_name).write_bytes(gzip.compress(image_bytes) if gz else image_bytes)
        (bad / name / "train-labels-idx1-ubyte").write_bytes(label_bytes)

    header = bytes([0, 0, 0x08, 3])
    idx_folder("huge_idx", header + struct.pack(">3I", 100000, 100, 100) + images[16:])
    idx_folder("overflow_idx", header + struct.pack(">3I", *[2**32 - 1] * 3) + images[16:])
    idx_folder("padded_gz", images + images[16:16 + 2 * 784], gz=True)
    idx_folder("zero_idx", _idx(np.zeros((0, 28, 28))), _idx(np.zeros(0)))
    idx_folder("label_12", images, _idx(np.arange(10) + 3))
    (bad / "cifar_huge").mkdir()
    member = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    member.size = 200 * 2**20  # declared in the tar header; the file holds 1 kB
    (bad / "cifar_huge" / "cifar-10-python.tar.gz").write_bytes(member.tobuf() + b"x" * 1024)
    size_2_62 = (2 ** 62).to_bytes(8, "little")
    for name, raw in (("array", b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                                b"\x8a\x08" + size_2_62 + b"\x85U\x01b\x87R."),
                      ("bytes", b"\x80\x04\x8e" + size_2_62 + b"xx.")):
        (bad / f"cifar_greedy_{name}").mkdir()
        (bad / f"cifar_greedy_{name}" / "data_batch_1").write_bytes(raw)
    from PIL import Image

    nan = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    nan[3, 3] = np.nan
    for name, pixels in (("nan", nan), ("bright", np.full((16, 16), 3.0, np.float32))):
        for domain in ("trainA", "trainB"):
            (bad / f"{name}_images" / domain).mkdir(parents=True)
            Image.fromarray(pixels, mode="F").save(bad / f"{name}_images" / domain / f"{name}.tiff")
    for name, side in (("bomb_5k", 5000), ("bomb_10k", 10000), ("bomb_20k", 20000)):
        for domain in ("trainA", "trainB"):
            (bad / name / domain).mkdir(parents=True)
            (bad / name / domain / "huge.png").write_bytes(png_header(side, side))


def _write_bad_files(bad):
    """Every broken file and folder the rows point at."""
    (bad / "unknown.yaml").write_text("learning_rate: 0.1\n")
    (bad / "malformed.yaml").write_text("width: [1, 2\n")
    (bad / "wrong_type.yaml").write_text("width: wide\n")
    (bad / "list.yaml").write_text("- width\n- 4\n")
    (bad / "negative.yaml").write_text("lr_d: -0.1\n")
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    (bad / "bomb.yaml").write_text("\n".join(levels) + "\ndataset: *i\n")  # 9**9 strings
    (bad / "anchor.yaml").write_text("width: &w 8\n")
    (bad / "clip_1e39.yaml").write_text("clip_grad: 1e39\n")
    (bad / "two_spellings.yaml").write_text("max_steps: 5\nmax-steps: 6\n")
    (bad / "twice.yaml").write_text("width: 4\nwidth: 8\n")
    (bad / "long_int.yaml").write_text("width: " + "1" * 5000 + "\n")
    (bad / "deep.yaml").write_text("width: " + "[" * 20000 + "]" * 20000 + "\n")
    (bad / "mapping_value.yaml").write_text("output: {a: 1}\n")
    (bad / "trust.yaml").write_text(f"trust_checkpoint: true\ninit_from: {bad / 'evil.pdparams'}\n")
    (bad / "trust_dashed.yaml").write_text(f"init-from: {bad / 'evil.pdparams'}\n"
                                           f"trust-checkpoint: yes\n")
    (bad / "fake_export").mkdir()
    (bad / "fake_export" / "generator_info.json").write_text("{}\n")
    (bad / "fake_export" / "generator.pdiparams").write_bytes(b"weights")
    (bad / "layout_file").mkdir()
    (bad / "layout_file" / "checkpoints").write_text("a file where a folder goes\n")
    (bad / "layout_folder" / "train_log.jsonl").mkdir(parents=True)
    for index, name in enumerate(BLOCKED_FILES):
        (bad / f"blocked_{index}" / name).mkdir(parents=True)
    (bad / "vdl_read_only").mkdir()
    os.symlink("/proc/sys", bad / "vdl_read_only" / "vdl")  # a folder no one can write in
    (bad / "huge.yaml").write_text("# padding\n" * 10_000 + "width: 8\n")
    (bad / "empty").mkdir()
    (bad / "folder.png").mkdir()
    (bad / "folder.npy").mkdir()
    (bad / "a_file").write_text("not a folder\n")
    labels = _idx(np.zeros(10, np.uint8))
    images = _idx(np.random.default_rng(0).integers(0, 256, (10, 28, 28)))
    for name, image_bytes in (("bad_magic", b"\x12\x34" + images[2:]),
                              ("short_idx", images[:-100]),
                              ("truncated_gz", None)):
        folder = bad / name
        folder.mkdir()
        (folder / "train-labels-idx1-ubyte").write_bytes(labels)
        if image_bytes is None:
            (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(images)[:3000])
        else:
            (folder / "train-images-idx3-ubyte").write_bytes(image_bytes)
    _write_bad_data(bad, labels, images)
    from PIL import Image

    for domain in ("trainA", "trainB"):
        (bad / "images" / domain).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 10, 10)).save(bad / "images" / domain / "ok.png")
    (bad / "images" / "trainA" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (bad / "damaged.npz").write_bytes(b"PK\x03\x04 not really a zip")

    class CreatesAFile:
        def __reduce__(self):
            return (os.mkdir, (str(bad / "pwned"),))

    with open(bad / "evil.pdparams", "wb") as handle:
        pickle.dump({"net.0.conv.weight": CreatesAFile()}, handle)


def _write_special_files(special, run_dir, bad):
    """Outputs that are not regular files (a FIFO, a socket) and links to a run's and an
    export's files; outside `bad`, whose files the rows hash (reading a FIFO would block)."""
    special.mkdir()
    for name in ("fifo.json", "fifo.png", "config.yaml"):
        os.mkfifo(special / name)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(special / "socket.png"))
    server.close()  # the socket file stays
    # a device through a link: were the check missing, the atomic write would replace the link
    # in this folder, never /dev/null itself (as root, writing to /dev/null directly would)
    os.symlink(os.devnull, special / "null_link.json")
    os.symlink(os.path.join(run_dir, "data.json"), special / "data_link.json")
    os.symlink(ck.checkpoint_path(run_dir, 4), special / "ckpt_link.npy")
    os.symlink(ck.checkpoint_path(run_dir, 2), special / "progress.gif")
    os.symlink(bad / "fake_export" / "generator.pdiparams", special / "export_link.png")
    return special


def _edited_run(run_dir, dest, edit):
    """A copy of `run_dir` holding only its step 4 checkpoint, edited (checkpoint_edits)."""
    (dest / "checkpoints").mkdir(parents=True)
    shutil.copy(os.path.join(run_dir, "config.json"), dest / "config.json")
    shutil.copy(ck.checkpoint_path(run_dir, 4), dest / "checkpoints")
    rewrite(ck.checkpoint_path(str(dest), 4), edit)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A real tiny run (checkpoints at steps 2 and 4) and a folder of broken inputs."""
    base = tmp_path_factory.mktemp("world")
    cfg = tiny_config(base, width=4, max_steps=4, save_every_steps=2, keep_checkpoints=5)
    run_training(cfg, say=lambda msg: None)
    bad = base / "bad"
    bad.mkdir()
    _write_bad_files(bad)
    # a run folder whose only checkpoint (step 4) is named step_00000006.npz
    (bad / "renamed_run" / "checkpoints").mkdir(parents=True)
    shutil.copy(os.path.join(cfg.output, "config.json"), bad / "renamed_run" / "config.json")
    shutil.copy(ck.checkpoint_path(cfg.output, 4),
                ck.checkpoint_path(str(bad / "renamed_run"), 6))
    special = _write_special_files(base / "special", cfg.output, bad)
    # a checkpoint whose stored config asks for a width of 10^6 (its arrays are width 4)
    shutil.copy(ck.checkpoint_path(cfg.output, 4), bad / "width_1e6.npz")
    rewrite(str(bad / "width_1e6.npz"), lambda arrays, meta: {
        **meta, "config": {**meta["config"], "width": 10 ** 6}})
    shutil.copy(ck.checkpoint_path(cfg.output, 4), bad / "lr_5.npz")
    rewrite(str(bad / "lr_5.npz"), lambda arrays, meta: {
        **meta, "config": {**meta["config"], "lr_g": 5}})
    # a run folder whose config.json says width 8 and whose only checkpoint is of width 4
    _edited_run(cfg.output, bad / "foreign_checkpoint_run", lambda arrays, meta: meta)
    (bad / "foreign_checkpoint_run" / "config.json").write_text(json.dumps(
        {**to_dict(cfg), "width": 8}))
    # a copy of the run whose VisualDL log holds garbage inside its last record
    shutil.copytree(cfg.output, bad / "damaged_vdl_run")
    log = next((bad / "damaged_vdl_run" / "vdl").iterdir())
    log.write_bytes(log.read_bytes()[:-6] + b"\xff" * 6)
    # run folders whose only checkpoint has one float64 weight / a record of other data
    _edited_run(cfg.output, bad / "float64_run", array_edit(is_d_weight, to_float64))
    _edited_run(cfg.output, bad / "other_data_run", lambda arrays, meta: {
        **meta, "data": {**meta["data"], "sha256": "0" * 64}})
    # a run folder whose only checkpoint (step 4 of 4) decayed its learning rates
    _edited_run(cfg.output, bad / "decaying_run", lambda arrays, meta: {
        **meta, "config": {**meta["config"], "lr_decay": "linear"}})
    # a checkpoint whose stored config says width 4 but whose networks are width 64
    other = dict(to_dict(cfg), resume=None)
    ck.save_checkpoint(str(bad / "other_model.npz"),
                       {"G": PixelShuffleGenerator(64), "D": StridedDiscriminator(64)}, {},
                       {"step": 1, "epoch": 0, "batch": 1, "config": other, "kind": "gan"})
    return {"run": cfg.output, "bad": str(bad), "base": base, "special": str(special)}


def sha256_tree(*folders, only=lambda rel: True):
    """sha256 of every regular file (links followed) under `folders` that `only` accepts, and
    the kind of every other one (a FIFO is never opened)."""
    out = {}
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                path = os.path.join(root, name)
                if not os.path.isfile(path):
                    out[path] = stat.S_IFMT(os.lstat(path).st_mode)
                elif only(os.path.relpath(path, folder)):
                    with open(path, "rb") as handle:
                        out[path] = hashlib.sha256(handle.read()).hexdigest()
    return out


def test_the_table_is_big_and_covers_every_tool():
    assert len({row.name for row in ROWS}) == len(ROWS) >= 30
    tools = {name[:-3] for name in os.listdir(os.path.join(ROOT, "tools"))
             if name.endswith(".py") and not name.startswith("_")}
    assert tools <= {row.tool for row in ROWS}, tools - {row.tool for row in ROWS}


def _fill(args, values):
    return [str(a).format(**values) for a in args]


def _check(row, code, err, values):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == row.code, (row.name, code, err)
    assert len(lines) == 1, (row.name, err)
    assert "Traceback" not in err
    assert row.expect.format(**values) in lines[0], (row.name, lines[0])
    created = glob.glob(values["out"] + "*")
    assert not created, f"{row.name}: bad input created {created}"
    assert not os.path.exists(os.path.join(values["bad"], "pwned")), "a pickle was opened"


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_gives_one_line_and_changes_nothing(row, world, tmp_path, capsys, monkeypatch):
    run_dir = world["run"]
    if row.copy_run:
        run_dir = str(tmp_path / "run_copy")
        shutil.copytree(world["run"], run_dir)
    values = {"run": run_dir, "bad": world["bad"], "out": str(tmp_path / "out"),
              "ckpt2": ck.checkpoint_path(run_dir, 2), "ckpt4": ck.checkpoint_path(run_dir, 4),
              "special": world["special"]}
    keep = (lambda rel: rel.startswith("checkpoints") or rel.endswith(".pdparams")) \
        if row.copy_run else (lambda rel: True)
    before = sha256_tree(run_dir, world["bad"], world["special"], only=keep)
    if row.patch is not None:
        row.patch(monkeypatch)
    capsys.readouterr()
    code = run_tool_main(row.tool, _fill(row.args, values))
    _check(row, code, capsys.readouterr().err, values)
    assert sha256_tree(run_dir, world["bad"], world["special"], only=keep) == before, row.name


SUB_ROWS = [row for row in ROWS if row.sub]


@pytest.mark.parametrize("row", SUB_ROWS, ids=[row.name for row in SUB_ROWS])
def test_bad_input_on_the_real_command_line(row, world, tmp_path):
    values = {"run": world["run"], "bad": world["bad"], "out": str(tmp_path / "out"),
              "special": world["special"]}
    before = sha256_tree(world["run"], world["bad"], world["special"])
    proc = run_tool(f"tools/{row.tool}.py", *_fill(row.args, values), timeout=180)
    _check(row, proc.returncode, proc.stderr, values)
    assert sha256_tree(world["run"], world["bad"], world["special"]) == before
