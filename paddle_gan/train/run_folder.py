"""The run folder before anything is written to it: its layout checked, and a lock so that two
runs never share one `--output`."""
from __future__ import annotations

import errno
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

    A lock left by a process that no longer exists (killed) is taken over; one held by a live
    process is a UserError naming its pid.
    """

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.held = False

    def holder(self) -> Optional[int]:
        try:
            with open(self.path, encoding="ascii") as handle:
                return int(handle.read().strip() or "0")
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self.holder()
                if pid and pid != os.getpid() and _alive(pid):
                    raise UserError(f"--output {os.path.dirname(self.path)} is in use by another "
                                    f"run (pid {pid}); wait for it or choose another --output")
                os.remove(self.path)  # a stale lock: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(str(os.getpid()))
            self.held = True
            return
        raise UserError(f"cannot lock --output {os.path.dirname(self.path)}")

    def release(self) -> None:
        if self.held:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
