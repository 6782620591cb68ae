"""Make `paddle_gan` importable when a tool runs from a checkout (python tools/x.py), and make
Ctrl-C while the tool is still importing one line and exit code 130 (paddle_gan.interrupts)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from paddle_gan.interrupts import catch_interrupts  # noqa: E402

catch_interrupts()
