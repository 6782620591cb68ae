"""Ctrl-C while a tool is importing (Python, Paddle) is one line and exit code 130.

Python raises KeyboardInterrupt wherever the signal lands. Inside the initialisation of Paddle's
compiled core that exception becomes an ImportError: Paddle prints two "Error: Can not import
paddle core" lines, and the next `import paddle` fails with yet another traceback. The handler
installed by `catch_interrupts` therefore checks whether the interrupted code is an import (a
frame of Python's import machinery on the stack): nothing has been written yet, so it prints
`<tool>: interrupted` and ends the process at once. Anywhere else it raises KeyboardInterrupt
as Python does, so `finally` blocks and the trainer's own handler (save, then exit) still run.

Only the tools install it (tools/_bootstrap.py, `paddle-gan`, `run_main`): a notebook that
imports paddle_gan keeps Python's own Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any, Optional

EXIT_CODE = 130


def inside_import(frame: Optional[FrameType]) -> bool:
    """Whether `frame` or a caller of it runs Python's import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_sigint(signum: int, frame: Optional[FrameType]) -> None:
    if inside_import(frame):
        prog = os.path.basename(sys.argv[0]) or "paddle_gan"
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.write(2, f"{prog}: interrupted\n".encode())
        os._exit(EXIT_CODE)
    raise KeyboardInterrupt


def catch_interrupts() -> Any:
    """Install the handler where Ctrl-C has Python's default behaviour (not where it is
    ignored, e.g. a background job, or handled by someone else); returns the previous
    handler, for `signal.signal` to restore."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        try:
            signal.signal(signal.SIGINT, _on_sigint)
        except ValueError:  # not the main thread
            pass
    return previous
