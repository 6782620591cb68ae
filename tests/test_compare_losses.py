"""paddle_gan.experiments.compare and tools/compare_losses.py at toy size."""
import json
import math
import os

import pytest

from paddle_gan.errors import UserError
from paddle_gan.experiments import compare


def test_mean_std_and_table_values():
    assert compare.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)  # sample std
    assert compare.mean_std([4.0, None]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in compare.mean_std([None]))
    docs = {"gan": [{"fid": 10.0, "kid": 2.0, "classes_covered": 10},
                    {"fid": 14.0, "kid": 4.0, "classes_covered": 8}]}
    table = compare.markdown_table(docs, {"gan": 3}, {"gan": 300}).splitlines()
    assert table[0].startswith("| loss | k | D steps | seeds | FID")
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:5] == ["gan", "3", "300", "2", "12.0 ± 2.8"]  # std sqrt(8)
    assert cells[5] == "3.0 ± 1.4"
    assert cells[6] == "n/a"  # no inception_score in the docs
    assert cells[9] == "9.0 ± 1.4"


def test_same_generator_updates_for_every_loss(tmp_path):
    spec = compare.ComparisonSpec(str(tmp_path), g_updates=7, width=8, batch_size=8)
    steps = {loss: compare.run_config(spec, loss, 0).max_steps for loss in compare.ALL_LOSSES}
    # k 1 for the classifier losses, k 5 for WGAN-GP, WGAN's schedule: 100 critic steps each
    assert steps == {"gan": 7, "minimax": 7, "lsgan": 7, "wgan": 700, "wgangp": 35}
    cfg = compare.run_config(spec, "wgan", 2)
    assert cfg.output == os.path.join(str(tmp_path), "wgan_seed2") and cfg.seed == 2


def test_toy_comparison_runs_evaluates_and_reuses(tmp_path):
    spec = compare.ComparisonSpec(str(tmp_path), losses=("gan", "wgangp"), seeds=(0,),
                                  g_updates=2, width=8, batch_size=8, num_samples=20)
    table = compare.run_comparison(spec, say=lambda text: None)
    rows = table.splitlines()[2:]
    assert [r.split("|")[1].strip() for r in rows] == ["gan", "wgangp"]
    assert [r.split("|")[3].strip() for r in rows] == ["2", "10"]  # D steps = k x 2
    for loss, steps in (("gan", 2), ("wgangp", 10)):
        doc = json.loads((tmp_path / f"{loss}_seed0" / "eval.json").read_text())
        assert doc["step"] == steps and math.isfinite(doc["fid"])
        assert (tmp_path / f"samples_{loss}.png").stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["k"] == {"gan": 1, "wgangp": 5}
    assert (tmp_path / "table.md").read_text().strip() == table
    # a second call reuses the runs and the evaluations
    ckpt = tmp_path / "gan_seed0" / "checkpoints" / "step_00000002.npz"
    evaluation = tmp_path / "gan_seed0" / "eval.json"
    stamps = (ckpt.stat().st_mtime_ns, evaluation.stat().st_mtime_ns)
    assert compare.run_comparison(spec, say=lambda text: None) == table
    assert (ckpt.stat().st_mtime_ns, evaluation.stat().st_mtime_ns) == stamps
    # a finished run of other settings in the same folder is refused, not reused
    other = compare.ComparisonSpec(str(tmp_path), losses=("gan",), seeds=(0,), g_updates=2,
                                   width=8, batch_size=8, num_samples=20,
                                   overrides={"lr_g": 5e-4})
    with pytest.raises(UserError, match=r"gan_seed0: holds a run with other settings \(lr_g "):
        compare.run_comparison(other, say=lambda text: None)
    assert (ckpt.stat().st_mtime_ns, evaluation.stat().st_mtime_ns) == stamps


def test_tool_rejects_unknown_losses(tmp_path):
    import importlib
    import sys

    from conftest import ROOT

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    tool = importlib.import_module("compare_losses")
    with pytest.raises(UserError, match="unknown no_such_loss"):
        tool.main(["--out", str(tmp_path), "--losses", "gan,no_such_loss"])
    with pytest.raises(UserError, match="--seeds"):
        tool.main(["--out", str(tmp_path), "--seeds", "a,b"])
