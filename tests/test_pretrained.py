"""The generator shipped in the package (paddle_gan/pretrained/quickstart.npz + .json): it loads,
its samples score what its description records, it has the format and keys of the generator
state of a tools/train.py checkpoint, and tools/export.py --pretrained-out regenerates it."""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from inprocess_tools import run_tool_main
from paddle_gan import checkpoint as ck
from paddle_gan.io import pretrained as pre
from paddle_gan.io.export import reference_outputs

#: FID on 1,000 samples minus the recorded FID on 5,000 (the same generator, the same 500
#: held-out digits): measured over latent seeds 0-7 at 1.4 to 7.0 (35.6 to 41.2 against 34.2;
#: fewer samples bias FID upwards); the band leaves room on both sides.
FID_1000_OFFSET = (-1.0, 10.0)
#: precision / recall on 1,000 samples, measured 0.78-0.85 / 0.69-0.73 (recorded 0.806 / 0.762)
PR_TOLERANCE = 0.1


@pytest.fixture(scope="module")
def shipped():
    return pre.load_pretrained("quickstart")


def test_the_shipped_generator_loads_with_its_description(shipped):
    weights, description = pre.paths("quickstart")
    assert 100_000 < os.path.getsize(weights) < 1_000_000  # a few hundred KB
    info = shipped.info
    assert info["module"] == "G_ema" and info["config"]["g_ema"] > 0  # the weight average
    assert info["config"]["model"] == "dcgan" and info["config"]["conditional"] is True
    assert info["num_classes"] == 10 and info["sample_shape"] == [1, 28, 28]
    assert info["data"] == shipped.checkpoint.meta["data"]  # data.json's record
    assert len(info["data"]["sha256"]) == 64 and info["data"]["count"] == 4500
    assert info["trained_by_commits"] and "unknown" not in info["trained_by_commits"]
    assert info["evaluation"]["num_samples"] == 5000 and info["evaluation"]["seed"] == 0
    metrics = info["metrics"]
    assert 20 < metrics["fid"] < 50 and metrics["precision"] > 0.7 and metrics["recall"] > 0.6
    assert info["regenerate"] == ("python tools/export.py --checkpoint RUN --pretrained-out "
                                  "paddle_gan/pretrained/quickstart")
    # eval mode, finite, in tanh's range
    z = np.random.default_rng(0).standard_normal((10, info["latent_dim"])).astype(np.float32)
    out = reference_outputs(shipped.generator, 10, z, np.arange(10))
    assert out.shape == (10, 1, 28, 28) and np.isfinite(out).all()
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_samples_score_close_to_the_recorded_fid(shipped):
    from paddle_gan.evaluation import EvalOptions, evaluate_run
    from paddle_gan.io.runs import load_run

    weights, _ = pre.paths("quickstart")
    run = load_run(weights)  # the shipped file is a checkpoint tools/eval.py reads
    # scored against the held-out split of the data it trained on, online or not
    run.cfg = dataclasses.replace(run.cfg, dataset=shipped.info["data"]["loader"])
    result, ctx = evaluate_run(run, EvalOptions(num_samples=1000, seed=0, kid_subsets=5),
                               say=lambda line: None)
    from paddle_gan.data.provenance import provenance

    assert provenance(ctx.held_out)["sha256"] == \
        shipped.info["evaluation"]["held_out"]["sha256"]
    recorded, got = shipped.info["metrics"], result.metrics
    low, high = FID_1000_OFFSET
    assert recorded["fid"] + low < got["fid"] < recorded["fid"] + high, (got, recorded)
    assert abs(got["precision"] - recorded["precision"]) < PR_TOLERANCE
    assert abs(got["recall"] - recorded["recall"]) < PR_TOLERANCE
    assert got["classes_covered"] == 10


def test_the_shipped_file_is_a_training_checkpoints_generator_and_is_regenerated(tmp_path,
                                                                                  shipped):
    """Two training steps with the shipped config give a checkpoint whose sampling generator
    has the shipped file's keys, shapes and dtypes; --pretrained-out turns that run into files
    of the shipped format, which load and serve."""
    from paddle_gan.config import from_dict, to_dict
    from paddle_gan.train.run import run_training

    values = dict(shipped.info["config"], dataset="mnist5k", max_steps=2, progress=False,
                  output=str(tmp_path / "run"), save_every_steps=None, histogram_every=0)
    cfg = from_dict(to_dict(from_dict(values)))
    run_training(cfg, say=lambda line: None)
    trained = ck.load_checkpoint(ck.list_checkpoints(cfg.output)[-1])
    weights, _ = pre.paths("quickstart")
    ours = ck.load_checkpoint(weights)

    def generator_state(c, module):
        return {k: (v.shape, v.dtype) for k, v in c.arrays.items() if k.startswith(module + "/")}

    assert generator_state(ours, "G_ema") == generator_state(trained, "G_ema")
    assert set(ours.arrays) == set(generator_state(trained, "G_ema"))  # nothing else
    assert ours.meta["modules"] == ["G_ema"] and ours.meta["format_version"] == ck.FORMAT_VERSION
    assert ours.meta["kind"] == trained.meta["kind"] == "gan"

    prefix = str(tmp_path / "shipped" / "again")
    os.makedirs(os.path.dirname(prefix))
    assert run_tool_main("export", ["--checkpoint", cfg.output, "--pretrained-out", prefix,
                                    "--eval-samples", "100"]) == 0
    again = pre.load_pretrained(prefix)
    assert set(again.info) == set(shipped.info)
    assert set(again.info["metrics"]) == set(shipped.info["metrics"])
    assert again.info["data"]["sha256"] == trained.meta["data"]["sha256"]
    regenerated = ck.load_checkpoint(prefix + ".npz")
    assert generator_state(regenerated, "G_ema") == generator_state(ours, "G_ema")
    for key, value in trained.arrays.items():
        if key.startswith("G_ema/"):
            np.testing.assert_array_equal(regenerated.arrays[key], value)


def test_generate_draws_the_asked_digit_offline_in_seconds(tmp_path):
    from paddle_gan.evaluation.features import mnist_extractor

    grid, npy = tmp_path / "sevens.png", tmp_path / "sevens.npy"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "generate.py"),
                           "--pretrained", "quickstart", "--digit", "7", "--num", "50",
                           "--out", str(grid), "--npy", str(npy)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"wrote {grid}: 50 samples of the shipped quickstart "
                                   f"generator (seed 0, class 7)")
    assert seconds < 60, seconds  # about 2 s on 2 idle cores; generous for a busy machine
    with Image.open(grid) as image:
        assert image.size == (10 * 30 + 2, 5 * 30 + 2)  # ten columns of 28 px, 2 px padding
    _, probs = mnist_extractor().extract(np.load(npy))
    assert (probs.argmax(1) == 7).mean() >= 0.9  # the shipped classifier reads sevens


def test_a_weights_file_that_does_not_match_its_description_is_one_line(tmp_path, capsys):
    weights, description = pre.paths("quickstart")
    shutil.copyfile(weights, tmp_path / "q.npz")
    info = json.load(open(description, encoding="utf-8"))
    info["weights_sha256"] = "0" * 64
    (tmp_path / "q.json").write_text(json.dumps(info), encoding="utf-8")
    code = run_tool_main("generate", ["--pretrained", str(tmp_path / "q"),
                                      "--out", str(tmp_path / "g.png")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"generate.py: error: {tmp_path / 'q.npz'} does "
                                               f"not match q.json")
    assert not (tmp_path / "g.png").exists()
    assert run_tool_main("generate", ["--pretrained", "nope", "--out",
                                      str(tmp_path / "g.png")]) == 2
    assert capsys.readouterr().err.strip() == ("generate.py: error: --pretrained nope: no such "
                                               "shipped generator (shipped: quickstart)")
