"""Where a measurement was made and with what code: the stamp of runs and results files.

`code_commit()` names the checkout's commit; `machine()` the CPU, its flags, cores, bf16 support
and versions; `describe_machine()` says it in a few words. Training records them for every
session of a run (`train/sessions.py`); the results files of `tools/reproduce.py` and the
benchmark carry them in their headers.
"""
from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

#: The checkout holding the package (a commit is only reported when it is a git repository).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def code_commit() -> str:
    """The checkout's short commit, with '+dirty' when tracked files differ from it; 'unknown'
    outside a git checkout (an installed package) or without git."""
    if not os.path.exists(os.path.join(REPO_ROOT, ".git")):
        return "unknown"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if head and dirty else "")


#: The /proc/cpuinfo flags that decide the speed of the kernels Paddle picks.
VECTOR_FLAG_PREFIXES = ("avx", "amx", "fma")


def vector_flags(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The CPU's AVX / AMX / FMA flags (sorted; [] where /proc/cpuinfo is not readable). A CPU
    model name alone does not say whether it has AVX-512 or bf16 instructions."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return sorted(flag for flag in line.split(":", 1)[1].split()
                                  if flag.startswith(VECTOR_FLAG_PREFIXES))
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    """CPU model, its vector flags, usable cores, Paddle's bf16 support (any / fast) and the
    versions."""
    import paddle
    from paddle.base import core

    from paddle_gan.runtime import cpu_model, usable_cores

    return {"cpu": cpu_model(), "cpu_flags": vector_flags(), "cores": usable_cores(),
            "bf16": bool(core.supports_bfloat16()),
            "bf16_fast": bool(core.supports_bfloat16_fast_performance()),
            "python": platform.python_version(), "paddle": paddle.__version__,
            "platform": platform.platform()}


def describe_machine(machine: dict) -> str:
    """'<cpu model> (<vector flags>)', e.g. 'AMD EPYC (avx avx2 fma)'."""
    flags = " ".join(machine.get("cpu_flags", []))
    return f"{machine.get('cpu', 'unknown')} ({flags or 'flags not recorded'})"
