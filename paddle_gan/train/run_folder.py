"""The run folder before anything is written to it: its layout checked, and a lock so that two
runs never share one `--output`."""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from typing import Optional

from paddle_gan.atomic import TEMP_PREFIX
from paddle_gan.checkpoint import (CHECKPOINT_DIR, SAMPLES_DIR, TUTORIAL_TEMP_SUFFIX,
                                   folder_entries)
from paddle_gan.errors import UserError
from paddle_gan.evaluation.training import BEST_CHECKPOINT
from paddle_gan.io.init_weights import TUTORIAL_FILES
from paddle_gan.monitor import TRAIN_LOG, VISUALDL_DIR
from paddle_gan.train.sessions import SESSIONS_FILE

LOCK_FILE = ".lock"
#: what a run writes, and whether each is a folder
LAYOUT = {CHECKPOINT_DIR: True, SAMPLES_DIR: True, VISUALDL_DIR: True, TRAIN_LOG: False,
          SESSIONS_FILE: False, "config.json": False, "data.json": False}


#: files a run writes beyond LAYOUT's, relative to the run folder: the best checkpoint, the
#: final grid, the tutorial weights and their temporaries
NESTED_FILES = (os.path.join(CHECKPOINT_DIR, BEST_CHECKPOINT),
                os.path.join(SAMPLES_DIR, "final.png"), *TUTORIAL_FILES,
                *(name + TUTORIAL_TEMP_SUFFIX for name in TUTORIAL_FILES))
#: endings of the files a run writes in its checkpoints/ and samples/ folders (step_*.npz,
#: epoch_*.png, frame_*.png, training.gif): a folder with such a name blocks one of them
WRITTEN_ENDINGS = (".npz", ".png", ".gif")


def _blocked(run_dir: str, name: str) -> UserError:
    return UserError(f"--output {run_dir}: {name} is a folder where the run writes a file; move "
                     f"it away or choose another --output")


def _check_writable(run_dir: str, name: str) -> None:
    """UserError unless a file can be created in `run_dir/name` (a probe, removed at once: the
    only test a read-only mount or a link into one cannot fool)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=os.path.join(run_dir, name))
    except OSError as exc:
        where = f"{name} in it" if name else "it"
        raise UserError(f"--output {run_dir}: cannot write {where} ({exc.strerror or exc})"
                        ) from None
    os.close(fd)
    os.unlink(probe)


def check_layout(run_dir: str) -> None:
    """UserError when something in `run_dir` stands where the run will write a folder or a file
    of the other kind (a file called checkpoints, a folder called train_log.jsonl or
    samples/final.png, ...), or when one of its folders that exist cannot be written."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UserError(f"--output {run_dir} is a file, not a folder")
    for name, is_folder in LAYOUT.items():
        path = os.path.join(run_dir, name)
        if os.path.lexists(path) and os.path.isdir(path) != is_folder:
            kind = "a folder" if is_folder else "a file"
            raise UserError(f"--output {run_dir}: {name} must be {kind}, and it is not; move it "
                            f"away or choose another --output")
    for name in NESTED_FILES:
        if os.path.isdir(os.path.join(run_dir, name)):
            raise _blocked(run_dir, name)
    for folder in (CHECKPOINT_DIR, SAMPLES_DIR):
        for entry in folder_entries(os.path.join(run_dir, folder)):
            if entry.name.endswith(WRITTEN_ENDINGS) and entry.is_dir():
                raise _blocked(run_dir, os.path.join(folder, entry.name))
    for name in ("", *(n for n, is_folder in LAYOUT.items() if is_folder)):
        if os.path.isdir(os.path.join(run_dir, name)):
            _check_writable(run_dir, name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


class RunLock:
    """`run_dir/.lock` holding this process's pid while a run trains there.

    The file is held with an exclusive `flock` for the run's lifetime, which the kernel drops
    when the process ends however it ends: a lock nobody holds is stale and taken over, and of
    runs starting together exactly one gets it. A lock held by a live process (or naming a live
    pid, as an unlocked file written by an older version does) is a UserError naming its pid.
    """

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.held = False
        self._fd: Optional[int] = None

    def holder(self) -> Optional[int]:
        try:
            with open(self.path, encoding="ascii") as handle:
                return int(handle.read().strip() or "0")
        except (OSError, ValueError):
            return None

    def _in_use(self, pid: Optional[int]) -> UserError:
        who = f" (pid {pid})" if pid else ""
        return UserError(f"--output {os.path.dirname(self.path)} is in use by another run{who}; "
                         f"wait for it or choose another --output")

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(100):  # a holder releasing between our open and our flock: open again
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._in_use(self.holder()) from None
            if not self._is_the_file_at_the_path(fd):
                os.close(fd)  # released (removed) after we opened it
                continue
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            pid = int(text) if text.isdigit() else 0
            if pid and pid != os.getpid() and _alive(pid):
                os.close(fd)
                raise self._in_use(pid)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
            self._fd, self.held = fd, True
            return
        raise UserError(f"cannot lock --output {os.path.dirname(self.path)}")

    def _is_the_file_at_the_path(self, fd: int) -> bool:
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)

    def release(self) -> None:
        if self.held:
            try:  # removed while still locked: a run that opened this file opens the path anew
                os.remove(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd, self.held = None, False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
