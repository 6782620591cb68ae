"""Shared command-line plumbing: flags generated from TrainConfig and one-line errors.

Every tool's `main` runs inside `run_main`, which turns UserError / RunFailure / interrupts into
one line on stderr and an exit code (2 bad input, 1 run failure, 130/143 interrupted, also while
Paddle is importing: `paddle_gan.interrupts`); `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import traceback
from dataclasses import MISSING, fields
from typing import Callable, Optional, Sequence

from paddle_gan.config import SEED_LIMIT, TrainConfig, _base_type
from paddle_gan.errors import Interrupted, RunFailure, UserError
from paddle_gan.interrupts import catch_interrupts


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage block) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _typed(name: str, base: type) -> Callable[[str], object]:
    def convert(text: str) -> object:
        from paddle_gan.config import coerce_value

        try:
            return coerce_value(name, text)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = base.__name__
    return convert


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (`--lr-g` for lr_g); defaults stay None so that a YAML
    file's values are only overridden by flags the user actually gave."""
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        base = _base_type(f.name)
        if f.name == "resume":
            parser.add_argument(flag, nargs="?", const="latest", default=None, metavar="CKPT",
                                help="continue the run in --output (or from a checkpoint file)")
        elif base is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, type=_typed(f.name, base), default=None,
                                choices=f.metadata.get("choices"), help=help_text,
                                metavar=None if f.metadata.get("choices") else f.name.upper())
    parser.add_argument("--config", default=None, metavar="FILE.yaml",
                        help="YAML file of config keys (flags override it)")


def seed_value(text: str) -> int:
    """argparse type of a --seed flag: an integer in 0..2**32-1 (NumPy's and Paddle's range)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be in 0..2**32-1, got {value}")
    return value


def threads_value(text: str) -> int:
    """argparse type of a --threads flag: an integer from 1 to this machine's usable cores."""
    from paddle_gan.runtime import usable_cores

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= value <= usable_cores():
        raise argparse.ArgumentTypeError(f"must be in 1..{usable_cores()} (the usable cores), "
                                         f"got {value}")
    return value


def check_range(flag: str, value: float, low: float, high: float, unit: str = "") -> None:
    """UserError `FLAG: must be in LOW..HIGH[ UNIT], got VALUE` unless low <= value <= high
    (NaN never is): a tool's number checked before any work."""
    if not low <= value <= high:
        raise UserError(f"{flag}: must be in {low:,}..{high:,}{' ' + unit if unit else ''}, "
                        f"got {value:,}")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


# tools check where they will write before doing any work, so that an
# output path that is a folder / under a file / not writable is one line, not a late traceback.
def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _check_folder_usable(path: str, flag: str, target: str) -> None:
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise UserError(f"{flag} {target}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {target}: {existing} is not writable")


#: what Paddle (its cache, ~/.cache/paddle, made at import) and VisualDL (~/.visualdl) create
#: in the home folder
HOME_FOLDERS = (".cache", ".visualdl")


def check_home() -> None:
    """UserError unless the folders Paddle and VisualDL keep in HOME exist as writable folders
    or can be created there."""
    home = os.path.expanduser("~")
    for name in HOME_FOLDERS:
        path = os.path.join(home, name)
        existing = _nearest_existing(path)
        if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
            raise UserError(f"HOME {home} is not usable: {path} cannot be created (Paddle keeps "
                            f"its cache in ~/.cache, VisualDL its settings in ~/.visualdl); set "
                            f"HOME to a writable folder")


#: what a run folder holds (paddle_gan.train.run_folder.LAYOUT and its lock, the tutorial's
#: weights) and an export folder (paddle_gan.io.export): no output file replaces one of them.
#: Spelled out here, so that checking an output path imports no Paddle (a test keeps them equal).
RUN_FILES = ("config.json", "data.json", "train_log.jsonl", "sessions.jsonl", ".lock",
             "generator.pdparams", "discriminator.pdparams")
RUN_FOLDERS = ("checkpoints", "samples", "vdl")
EXPORT_FILES = ("generator_info.json", "generator.json", "generator.pdmodel",
                "generator.pdiparams", "generate.py")


def is_run_folder(folder: str) -> bool:
    """Whether `folder` looks like a run folder: a config.json beside checkpoints/, data.json or
    train_log.jsonl."""
    return os.path.isfile(os.path.join(folder, "config.json")) and (
        os.path.isdir(os.path.join(folder, "checkpoints"))
        or any(os.path.isfile(os.path.join(folder, n)) for n in ("data.json", "train_log.jsonl")))


def owner_of(path: str) -> Optional[str]:
    """What `path` (symbolic links resolved) belongs to when it is one of a run's own files
    (config.json, data.json, anything in checkpoints/, samples/, vdl/, ...) or an export's
    ("the run in DIR", "the export in DIR"), else None."""
    real = os.path.realpath(path)
    folder, name = os.path.split(real)
    if name in RUN_FILES + RUN_FOLDERS and is_run_folder(folder):
        return f"the run in {folder}"
    if name in EXPORT_FILES and os.path.isfile(os.path.join(folder, EXPORT_FILES[0])):
        return f"the export in {folder}"
    while os.path.dirname(folder) != folder:
        parent = os.path.dirname(folder)
        if os.path.basename(folder) in RUN_FOLDERS and is_run_folder(parent):
            return f"the run in {parent}"
        folder = parent
    return None


def _file_kind(mode: int) -> str:
    """'a FIFO', 'a socket', 'a device', ... for a file that is not a regular one."""
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def check_output_file(path: str, flag: str, inputs: Sequence[Optional[str]] = ()) -> None:
    """UserError unless `path` can be written as a file (creates nothing): not a folder, not an
    existing FIFO, socket or device, not one of a run's or an export's own files (`owner_of`),
    not one of `inputs` (the files the tool reads), and in a writable folder."""
    if os.path.isdir(path):
        raise UserError(f"{flag} {path} is a folder, not a file")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # a new file (or a dangling link): nothing there to protect
    if mode is not None and not stat.S_ISREG(mode):
        raise UserError(f"{flag} {path} is {_file_kind(mode)}, not a regular file")
    for given in inputs:
        if given and os.path.exists(given) and os.path.realpath(given) == os.path.realpath(path):
            raise UserError(f"{flag} {path} is an input of this command: an output never "
                            f"replaces it")
    owner = owner_of(path)
    if owner is not None:
        raise UserError(f"{flag} {path} is a file of {owner}: an output never replaces it")
    _check_folder_usable(os.path.dirname(os.path.abspath(path)), flag, path)


def check_output_dir(path: str, flag: str) -> None:
    """UserError unless `path` is, or can be created as, a writable folder (creates nothing)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path} is a file, not a folder")
    _check_folder_usable(path, flag, path)


def config_overrides(args: argparse.Namespace) -> dict:
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def run_main(main: Callable[[Optional[Sequence[str]]], int],
             argv: Optional[Sequence[str]] = None) -> None:
    """Call main(argv) and exit with its code, reporting expected failures in one line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("PADDLE_GAN_DEBUG") == "1"
    prog = os.path.basename(sys.argv[0]) or "paddle_gan"
    previous = catch_interrupts()  # Ctrl-C during an import (Paddle's): one line, exit 130
    try:
        check_home()  # before anything imports Paddle
        code = main(argv)
    except (UserError, RunFailure) as exc:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except Interrupted as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # pragma: no cover - last resort, still one line
        if debug:
            raise
        print(f"{prog}: unexpected {type(exc).__name__}: {exc} (run with --debug for the "
              f"traceback)", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, previous)
    sys.exit(code)
