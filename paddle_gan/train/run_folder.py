"""The run folder before anything is written to it: its layout checked, and a lock so that two
runs never share one `--output`."""
from __future__ import annotations

import errno
import fcntl
import os
from typing import Optional

from paddle_gan.checkpoint import CHECKPOINT_DIR, SAMPLES_DIR
from paddle_gan.errors import UserError
from paddle_gan.monitor import TRAIN_LOG, VISUALDL_DIR
from paddle_gan.train.sessions import SESSIONS_FILE

LOCK_FILE = ".lock"
#: what a run writes, and whether each is a folder
LAYOUT = {CHECKPOINT_DIR: True, SAMPLES_DIR: True, VISUALDL_DIR: True, TRAIN_LOG: False,
          SESSIONS_FILE: False, "config.json": False, "data.json": False}


def check_layout(run_dir: str) -> None:
    """UserError when something in `run_dir` stands where the run will write a folder or a file
    of the other kind (a file called checkpoints, a folder called train_log.jsonl, ...)."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UserError(f"--output {run_dir} is a file, not a folder")
    for name, is_folder in LAYOUT.items():
        path = os.path.join(run_dir, name)
        if os.path.lexists(path) and os.path.isdir(path) != is_folder:
            kind = "a folder" if is_folder else "a file"
            raise UserError(f"--output {run_dir}: {name} must be {kind}, and it is not; move it "
                            f"away or choose another --output")


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
