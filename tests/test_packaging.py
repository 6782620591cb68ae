"""Packaging: pyproject mirrors requirements.txt; `python -m paddle_gan` lists and runs tools."""
import os
import re
import subprocess
import sys

from conftest import ROOT

#: requirements that only the tests need (pyproject's `test` extra)
TEST_ONLY = {"pytest", "nbclient", "nbformat", "ipykernel"}


def _requirement_names(lines):
    return {re.split(r"[<>=!~ \[]", line.strip(), maxsplit=1)[0].lower()
            for line in lines if line.strip() and not line.strip().startswith("#")}


def test_pyproject_dependencies_mirror_requirements():
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        required = handle.read().splitlines()
    deps = project["project"]["dependencies"]
    assert _requirement_names(deps) == _requirement_names(required) - TEST_ONLY
    assert set(deps) == {r.strip() for r in required if r.strip() and not r.startswith("#")
                         and _requirement_names([r]).isdisjoint(TEST_ONLY)}  # same pins
    assert _requirement_names(project["project"]["optional-dependencies"]["test"]) == TEST_ONLY
    data = project["tool"]["setuptools"]["package-data"]["paddle_gan"]
    assert set(data) == {"configs/*.yaml", "metrics/weights/*"}
    package = os.path.join(ROOT, "paddle_gan")
    assert any(n.endswith(".yaml") for n in os.listdir(os.path.join(package, "configs")))
    assert os.listdir(os.path.join(package, "metrics", "weights"))


def _module(*args):
    return subprocess.run([sys.executable, "-m", "paddle_gan", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_module_help_lists_the_tools():
    done = _module("--help")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines()[3:] if line.strip()]
    assert listed[:5] == ["train", "eval", "plot_samples", "export", "generate"]
    assert "  train " in done.stdout and "Train a GAN" in done.stdout
    assert "Export a generator for Paddle Inference" in done.stdout


def test_module_runs_a_tool_and_rejects_an_unknown_one(tmp_path):
    done = _module("generate", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "g.png"))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"generate.py: error: --model {tmp_path / 'none'}: ")
    done = _module("trian")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()] and "unknown tool 'trian'; choose from train, eval" in done.stderr
