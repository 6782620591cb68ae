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
    assert set(data) == {"configs/*.yaml", "configs/tutorial/*.yaml", "metrics/weights/*",
                         "pretrained/*"}
    package = os.path.join(ROOT, "paddle_gan")
    assert any(n.endswith(".yaml") for n in os.listdir(os.path.join(package, "configs")))
    assert os.listdir(os.path.join(package, "metrics", "weights"))
    assert {"quickstart.npz", "quickstart.json"} <= set(os.listdir(os.path.join(package,
                                                                                "pretrained")))


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


def outer_site_dirs():
    """The site-packages folders of the interpreter running the tests: a virtual environment's
    own (where `pip install -r requirements.txt` put Paddle), the base's when that environment
    sees them, the user's when enabled."""
    import site
    import sysconfig

    found = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        found.append(site.getusersitepackages())
    found += [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    return [d for d in dict.fromkeys(found) if os.path.isdir(d)]


def venv_seeing_these_packages(env_dir):
    """A fresh virtual environment in `env_dir` whose Python finds its own site-packages first,
    then every package this interpreter finds (a .pth file adds our site folders, their .pth
    files included). `system_site_packages` would show the *base* interpreter's packages
    instead, which inside a virtual environment lack Paddle. Returns its python."""
    import venv

    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    inner = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                            "['purelib'])"], capture_output=True, text=True, timeout=60)
    assert inner.returncode == 0, inner.stderr
    lines = [f"import site; site.addsitedir({d!r})" for d in outer_site_dirs()]
    with open(os.path.join(inner.stdout.strip(), "_outer_packages.pth"), "w",
              encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return python


def test_the_inner_environment_sees_the_packages_the_tests_see(tmp_path):
    """Inside a virtual environment (`python3 -m venv v && . v/bin/activate && pip install -r
    requirements.txt`) the inner environment must find that environment's Paddle, not the
    base interpreter's (which may have none)."""
    import paddle

    python = venv_seeing_these_packages(tmp_path / "venv")
    done = subprocess.run([python, "-c", "import paddle, yaml; print(paddle.__file__)"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == paddle.__file__


def test_a_non_editable_install_runs_every_tool_without_the_checkout(tmp_path):
    """`pip install .` (a built wheel, into a fresh virtual environment that sees the installed
    dependencies, so nothing is downloaded) gives a `paddle-gan` command that trains, exports
    and serves from outside the checkout: the tools live in the package, not in tools/."""
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "-q", "-w", str(wheels), ROOT], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    env_dir = tmp_path / "venv"
    python = venv_seeing_these_packages(env_dir)
    (wheel,) = wheels.glob("paddle_gan-*.whl")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    command = str(env_dir / "bin" / "paddle-gan")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args):
        return subprocess.run([command, *args], cwd=work, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})

    where = subprocess.run([python, "-c", "import paddle_gan; print(paddle_gan.__file__)"],
                           cwd=work, capture_output=True, text=True, timeout=120)
    assert str(env_dir) in where.stdout and ROOT not in where.stdout
    assert "Train a GAN" in run("--help").stdout
    done = run("train", "--dataset", "mnist5k", "--width", "8", "--batch-size", "8",
               "--max-steps", "2", "--no-progress", "--output", "run")
    assert done.returncode == 0, done.stderr
    done = run("export", "--checkpoint", "run", "--out", "exported")
    assert done.returncode == 0, done.stderr
    served = subprocess.run([python, str(work / "exported" / "generate.py"), "--model",
                             "exported", "--num", "4", "--out", "grid.png"], cwd=work,
                            capture_output=True, text=True, timeout=300)
    assert served.returncode == 0, served.stderr
    assert (work / "grid.png").stat().st_size > 100
    # the shipped generator travels in the wheel
    done = run("generate", "--pretrained", "quickstart", "--num", "10", "--out", "digits.png")
    assert done.returncode == 0, done.stderr
    assert "10 samples of the shipped quickstart generator" in done.stdout
    assert (work / "digits.png").stat().st_size > 100
