"""`python -m paddle_gan TOOL [ARGS]` runs tools/TOOL.py; `python -m paddle_gan --help` lists them.

`python -m paddle_gan train --loss lsgan` is `python tools/train.py --loss lsgan`, and
`python -m paddle_gan train --help` shows that tool's flags. The tools live in the checkout's
tools/ folder, which an editable install (`pip install -e .`) keeps next to the package.
"""
from __future__ import annotations

import ast
import os
import runpy
import sys
from typing import Optional, Sequence

TOOLS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
#: listed first, in this order; any other tools/*.py follows alphabetically
MAIN_TOOLS = ("train", "eval", "plot_samples", "export", "generate")
PROG = "python -m paddle_gan"


def tool_names(folder: str = TOOLS_DIR) -> list[str]:
    """The tools in `folder`: MAIN_TOOLS first, then the others by name (no _private files)."""
    found = sorted(name[:-3] for name in os.listdir(folder)
                   if name.endswith(".py") and not name.startswith("_"))
    return [n for n in MAIN_TOOLS if n in found] + [n for n in found if n not in MAIN_TOOLS]


def summary(path: str) -> str:
    """A tool's one-line description: its docstring's first line, before the example command."""
    with open(path, encoding="utf-8") as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.split(": `")[0].rstrip(".")


def usage(folder: str = TOOLS_DIR) -> str:
    """The --help text: how to call a tool, and every tool with its one-line description."""
    names = tool_names(folder)
    width = max(len(n) for n in names)
    lines = [f"usage: {PROG} TOOL [ARGS ...]   ({PROG} TOOL --help for a tool's flags)", "",
             "tools:"]
    lines += [f"  {n.ljust(width)}  {summary(os.path.join(folder, n + '.py'))}" for n in names]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the tool list (--help) or run a tool with the remaining arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not os.path.isdir(TOOLS_DIR):
        print(f"{PROG}: error: no tools/ folder next to the package ({TOOLS_DIR}): install "
              f"from a checkout with `pip install -e .`", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0].replace("-", "_")
    if name not in tool_names():
        print(f"{PROG}: error: unknown tool {argv[0]!r}; choose from "
              f"{', '.join(tool_names())}", file=sys.stderr)
        return 2
    path = os.path.join(TOOLS_DIR, name + ".py")
    if TOOLS_DIR not in sys.path:
        sys.path.insert(0, TOOLS_DIR)  # the tools' `import _bootstrap`
    sys.argv = [path, *argv[1:]]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:  # the tools exit through paddle_gan.cli.run_main
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
