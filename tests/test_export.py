"""Export (paddle.jit.save) and serving with Paddle Inference (tools/generate.py).

The served outputs must equal the dynamic-graph generator's in eval mode for fixed latents.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from inprocess_tools import load_tool, run_tool_main
from tiny_mnist import write_mnist_folder
from paddle_gan.io.export import INFO_FILE, load_generator, reference_outputs
from paddle_gan.train.run import run_training


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs trained for a few steps and exported with tools/export.py: the seed model
    (sigmoid) and a conditional tanh MLP; with their dynamic generators for reference."""
    from conftest import tiny_config

    base = tmp_path_factory.mktemp("export")
    data_dir = write_mnist_folder(base)
    out = {"base": base}
    for name, extra in (("seed", {}), ("mlp", dict(model="mlp", conditional=True))):
        cfg = tiny_config(base / name, max_steps=3, dataset="mnist", data_dir=data_dir, **extra)
        run_training(cfg, say=lambda s: None)
        export_dir = str(base / f"{name}_export")
        assert run_tool_main("export", ["--checkpoint", cfg.output, "--out", export_dir]) == 0
        loaded = load_generator(cfg.output)
        reference = lambda z, labels=None, g=loaded: reference_outputs(  # noqa: E731
            g.generator, g.num_classes, z, labels)
        out[name] = (export_dir, reference)
    return out


def _info(export_dir):
    with open(os.path.join(export_dir, INFO_FILE), encoding="utf-8") as handle:
        return json.load(handle)


def test_exported_generator_matches_the_dynamic_one(runs):
    out, reference = runs["seed"]
    info = _info(out)
    assert info["latent_dim"] == 100 and info["num_classes"] == 0
    assert info["output_range"] == [0.0, 1.0] and info["sample_shape"] == [1, 32, 32]
    assert [i["name"] for i in info["inputs"]] == ["z"]
    generate = load_tool("generate")
    z, cond, labels = generate.make_inputs(info, 5, seed=7)
    assert cond is None and labels is None
    np.testing.assert_allclose(z, np.random.default_rng(7).standard_normal((5, 100)), rtol=1e-6)
    served = generate.predict(generate.create_predictor(out, info), z, cond)
    expected = reference(z)
    assert served.shape == expected.shape == (5, 1, 32, 32)
    np.testing.assert_allclose(served, expected, atol=1e-5, rtol=0)
    # not a constant picture: the latents matter
    assert np.abs(served[0] - served[1]).max() > 1e-4


def test_conditional_tanh_generator_with_class_input(runs, capsys):
    out, reference = runs["mlp"]
    info = _info(out)
    assert info["num_classes"] == 10 and info["output_range"] == [-1.0, 1.0]
    assert [i["name"] for i in info["inputs"]] == ["z", "cond"]
    assert info["sample_shape"] == [1, 28, 28]
    generate = load_tool("generate")
    z, cond, labels = generate.make_inputs(info, 12, seed=1)
    assert labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    np.testing.assert_array_equal(cond.argmax(axis=1), labels)
    predictor = generate.create_predictor(out, info)
    served = generate.predict(predictor, z, cond)
    np.testing.assert_allclose(served, reference(z, labels), atol=1e-5, rtol=0)
    # the class input is used: same z, another class, another image
    _, cond3, labels3 = generate.make_inputs(info, 12, seed=1, class_index=3)
    assert set(labels3.tolist()) == {3}
    other = generate.predict(predictor, z, cond3)
    np.testing.assert_allclose(other, reference(z, labels3), atol=1e-5, rtol=0)
    assert np.abs(other[0] - served[0]).max() > 1e-4
    # --class on a class the model does not have: one line, exit 2
    assert generate.cli(["--model", out, "--num", "4", "--class", "10",
                         "--out", str(runs["base"] / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "generate.py: error: --class: must be in 0..9, got 10"


def test_generate_tool_writes_the_grid_without_training_code(runs, tmp_path):
    """A separate process: the grid PNG, the .npy samples equal the dynamic generator's, and not
    one paddle_gan module was imported."""
    out, reference = runs["seed"]
    grid, npy = str(tmp_path / "grid.png"), str(tmp_path / "samples.npy")
    script = ("import runpy, sys\n"
              f"sys.argv = ['generate.py', '--model', {out!r}, '--num', '16', '--seed', '5', "
              f"'--out', {grid!r}, '--npy', {npy!r}]\n"
              "try:\n"
              f"    runpy.run_path({os.path.join(ROOT, 'tools', 'generate.py')!r}, "
              "run_name='__main__')\n"
              "except SystemExit as exc:\n"
              "    assert not exc.code, exc.code\n"
              "print('training code imported:', sorted(m for m in sys.modules "
              "if m.split('.')[0] == 'paddle_gan'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "training code imported: []" in done.stdout
    assert f"wrote {grid}: 16 samples (seed 5)" in done.stdout
    with Image.open(grid) as image:
        assert image.size == (4 * 34 + 2, 4 * 34 + 2)  # 4x4 grid of 32 px, 2 px padding
    z = np.random.default_rng(5).standard_normal((16, 100)).astype(np.float32)
    np.testing.assert_allclose(np.load(npy), reference(z), atol=1e-5, rtol=0)


def test_generate_on_a_missing_model_folder_is_one_line(tmp_path):
    missing = str(tmp_path / "no_such_export")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "generate.py"),
                           "--model", missing, "--out", str(tmp_path / "g.png")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"generate.py: error: --model {missing}: no such folder")
    assert not os.path.exists(tmp_path / "g.png")


def test_export_refuses_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    code = run_tool_main("export", ["--checkpoint", str(tmp_path / "nope"),
                                    "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or folder" in err[0]


def test_the_export_records_the_size_and_sha256_of_its_model_files(runs):
    out, _ = runs["seed"]
    info = _info(out)
    files = info["files"]
    assert set(info["checksums"]) == {files["model"], files["params"]}
    for name, record in info["checksums"].items():
        with open(os.path.join(out, name), "rb") as handle:
            data = handle.read()
        assert record == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("swap", ["damaged weights", "weights of another export"])
def test_generate_refuses_damaged_or_foreign_files_before_loading(runs, tmp_path, capsys,
                                                                  swap):
    """One line and exit 2, before Paddle Inference sees the files (it used to fail with its
    own message, exit 1)."""
    out, _ = runs["seed"]
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    params = copy / _info(out)["files"]["params"]
    if swap == "damaged weights":
        data = bytearray(params.read_bytes())
        data[len(data) // 2] ^= 0xFF
        params.write_bytes(bytes(data))
    else:
        shutil.copy(os.path.join(runs["mlp"][0], _info(runs["mlp"][0])["files"]["params"]), params)
    capsys.readouterr()
    code = run_tool_main("generate", ["--model", str(copy), "--out", str(tmp_path / "g.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "a damaged export or files of another export: generator.pdiparams is" in err[0]
    assert not os.path.exists(tmp_path / "g.png")


def test_generate_py_checks_files_as_the_export_records_them(runs):
    from paddle_gan.io.export import file_record

    out, _ = runs["seed"]
    generate = load_tool("generate")
    for name in _info(out)["checksums"]:
        path = os.path.join(out, name)
        assert generate.file_record(path) == file_record(path)
