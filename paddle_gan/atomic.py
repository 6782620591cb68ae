"""Writes that leave either the old file (or folder) or the new one, never a half-written one.

`atomic_write` writes into a temporary file in the target's folder, fsyncs it and moves it into
place with `os.replace`; `atomic_folder` builds a folder under a temporary name and moves it
into place when it is complete. A failure (disk full, an exception from the writer, Ctrl-C)
removes the temporary file or folder and leaves what was there before.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any, Callable, Iterator

#: prefix of the temporary files and folders (a killed write leaves one behind; checkpoint
#: pruning removes the ones in checkpoints/)
TEMP_PREFIX = ".tmp-"


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else the common 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_folder(folder: str) -> None:
    """Make a rename inside `folder` durable (best effort: not every file system allows it)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Call write(binary file) on a temporary file beside `path`, fsync it, then rename it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 -> the usual permissions
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def atomic_copy(source: str, path: str) -> None:
    """Copy the file `source` to `path` with `atomic_write`."""
    with open(source, "rb") as handle:
        data = handle.read()
    atomic_write(path, lambda out: out.write(data))


@contextlib.contextmanager
def atomic_folder(path: str) -> Iterator[str]:
    """Yield a temporary folder beside `path` to fill; on success its files end up in `path`.

    A new or empty `path` is replaced by the temporary folder in one rename. An existing folder
    keeps its other files and gets each new file by `os.replace` (one rename per file). On any
    failure inside the block the temporary folder is removed and `path` is left as it was. The
    temporary folder is named after `path` (`.tmp-<name>-XXXX`), and the ones a killed earlier
    call left beside it are removed first (two calls for one `path` at once are not supported).
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    prefix = f"{TEMP_PREFIX}{os.path.basename(os.path.abspath(path))}-"
    with os.scandir(parent) as listing:
        leftovers = [e.path for e in listing
                     if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    for leftover in leftovers:  # a kill inside the block skips the cleanup below
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 -> the usual permissions
        yield tmp
        if os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)
        if not os.path.exists(path):
            os.replace(tmp, path)
        else:
            for name in sorted(os.listdir(tmp)):
                os.replace(os.path.join(tmp, name), os.path.join(path, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _fsync_folder(parent)
