"""Run a tool's `main` inside the test process (Paddle already imported: no 2-3 s start-up),
through `run_main` exactly as `python tools/<name>.py` would, returning the exit code."""
import importlib.util
import os
import sys

from conftest import ROOT

TOOLS = os.path.join(ROOT, "tools")
_loaded = {}


def load_tool(name):
    """tools/<name>.py as a module (its `import _bootstrap` needs tools/ on sys.path)."""
    if name not in _loaded:
        if TOOLS not in sys.path:
            sys.path.insert(0, TOOLS)
        spec = importlib.util.spec_from_file_location(f"tool_{name}",
                                                      os.path.join(TOOLS, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


def run_tool_main(name, argv):
    """Exit code of `tools/<name>.py argv` run in-process (stderr goes to pytest's capsys);
    a tool without run_main (generate.py: no paddle_gan import) runs through its own `cli`."""
    from paddle_gan.cli import run_main

    module = load_tool(name)
    program = sys.argv[0]
    sys.argv[0] = f"{name}.py"
    try:
        if hasattr(module, "cli"):  # a standalone tool (generate.py) with its own error wrapper
            return module.cli([str(a) for a in argv])
        run_main(module.main, [str(a) for a in argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv[0] = program
    return 0
