"""Run a tool's `main` inside the test process (Paddle already imported: no 2-3 s start-up),
through `run_main` exactly as `python tools/<name>.py` would, returning the exit code."""
import importlib
import sys

_loaded = {}


def load_tool(name):
    """The module behind tools/<name>.py: paddle_gan/cli/<name>.py."""
    if name not in _loaded:
        _loaded[name] = importlib.import_module(f"paddle_gan.cli.{name}")
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
