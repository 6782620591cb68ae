"""`paddle-gan TOOL [ARGS]` (or `python -m paddle_gan TOOL [ARGS]`) runs a tool; `--help` lists them.

`paddle-gan train --loss lsgan` is `python tools/train.py --loss lsgan`, and
`paddle-gan train --help` shows that tool's flags. The tools are the modules of
`paddle_gan.cli`, so they work from any install (`pip install .`), not only from a checkout.
"""
from __future__ import annotations

import ast
import importlib
import os
import sys
from typing import Optional, Sequence

CLI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli")
#: listed first, in this order; any other tool follows alphabetically
MAIN_TOOLS = ("train", "eval", "plot_samples", "export", "generate")
PROG = "paddle-gan"


def tool_names(folder: str = CLI_DIR) -> list[str]:
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


def usage(folder: str = CLI_DIR) -> str:
    """The --help text: how to call a tool, and every tool with its one-line description."""
    names = tool_names(folder)
    width = max(len(n) for n in names)
    lines = [f"usage: {PROG} TOOL [ARGS ...]   ({PROG} TOOL --help for a tool's flags)", "",
             "tools:"]
    lines += [f"  {n.ljust(width)}  {summary(os.path.join(folder, n + '.py'))}" for n in names]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the tool list (--help) or run a tool with the remaining arguments."""
    from paddle_gan.interrupts import catch_interrupts

    catch_interrupts()  # Ctrl-C while the tool imports: one line, exit 130
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0].replace("-", "_")
    if name not in tool_names():
        print(f"{PROG}: error: unknown tool {argv[0]!r}; choose from "
              f"{', '.join(tool_names())}", file=sys.stderr)
        return 2
    sys.argv = [f"{name}.py", *argv[1:]]  # error lines read "<tool>.py: error: ...", as tools/
    module = importlib.import_module(f"paddle_gan.cli.{name}")
    if name == "generate":  # self-contained: its own one-line error handling
        return module.cli(argv[1:])
    from paddle_gan.cli import run_main

    try:
        run_main(module.main, argv[1:])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
