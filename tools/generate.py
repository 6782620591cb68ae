"""Serve an exported generator (thin wrapper of paddle_gan/cli/generate.py, which
tools/export.py copies next to every export so that an export folder is portable on its own)."""
import os
import runpy
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(here, "paddle_gan", "cli", "generate.py")
    sys.argv[0] = path
    runpy.run_path(path, run_name="__main__")
