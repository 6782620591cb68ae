"""A tool's start-up as a user sees it: Ctrl-C while Paddle is importing is one line and exit
130, and Paddle's import-time ccache warning is not shown (real subprocesses, no
PYTHONWARNINGS)."""
import json
import os
import signal
import subprocess
import sys

from conftest import ROOT

#: a sitecustomize that interrupts the process while Paddle's compiled core initialises and, as
#: pybind11 does with an exception raised during a module's initialisation, turns the
#: KeyboardInterrupt into an ImportError (what a real Ctrl-C at that moment does)
INTERRUPT_HOOK = '''
import importlib.abc, os, signal, sys, time

class InterruptLibpaddle(importlib.abc.MetaPathFinder):
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name != "paddle.base.libpaddle" or InterruptLibpaddle.fired:
            return None
        InterruptLibpaddle.fired = True
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the signal handler runs here
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc
        return None

sys.meta_path.insert(0, InterruptLibpaddle())
'''


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONPATH")}
    env.update(extra)
    return env


def fake_export(folder):
    """An export folder whose files exist but hold no program (Paddle Inference fails)."""
    folder.mkdir()
    info = {"latent_dim": 2, "num_classes": 0, "output_range": [0, 1],
            "files": {"model": "generator.json", "params": "generator.pdiparams"}}
    (folder / "generator_info.json").write_text(json.dumps(info))
    for name in info["files"].values():
        (folder / name).write_bytes(b"")
    return str(folder)


def default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so Python installs its Ctrl-C
    handler even when the tests run as a background job (whose SIGINT the shell ignores)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stderr_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_ctrl_c_while_paddle_imports_is_one_line_and_exit_130(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(INTERRUPT_HOOK)
    env = clean_env(PYTHONPATH=str(hook))
    model = fake_export(tmp_path / "export")
    for tool, args in (("train", ["--dataset", "mnist5k", "--max-steps", "1",
                                  "--output", str(tmp_path / "run")]),
                       ("generate", ["--model", model, "--out", str(tmp_path / "grid.png")])):
        proc = subprocess.run([sys.executable, f"tools/{tool}.py", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120,
                              preexec_fn=default_sigint)
        assert proc.returncode == 130, (tool, proc.stderr)
        assert stderr_lines(proc) == [f"{tool}.py: interrupted"], proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["export", "hook"]  # nothing written


def test_paddle_import_warnings_are_not_shown(tmp_path):
    model = fake_export(tmp_path / "export")
    proc = subprocess.run([sys.executable, "tools/generate.py", "--model", model, "--out",
                           str(tmp_path / "grid.png")], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "ccache" not in proc.stderr, proc.stderr
    assert len(stderr_lines(proc)) == 1 and "Paddle Inference failed" in proc.stderr
