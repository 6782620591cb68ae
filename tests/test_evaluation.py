"""paddle_gan.evaluation and tools/eval.py: registry, metrics table, JSON, evaluation during
training, best checkpoint, fallback feature space, and one-line errors."""
import json
import math
import os

import numpy as np
import pytest
from conftest import run_tool

from paddle_gan import evaluation as ev
from paddle_gan.errors import UserError
from paddle_gan.evaluation.images import METRIC_KEYS, image_metrics

REQUIRED_KEYS = ("fid", "kid", "kid_std", "inception_score", "precision", "recall",
                 "classes_covered", "class_kl")
TRAINED_STEPS = 200


def _config(out, **overrides):
    from paddle_gan.config import make_config

    values = dict(dataset="mnist5k", width=8, batch_size=16, output=str(out), progress=False,
                  seed=1)
    values.update(overrides)
    return make_config(values)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same run at step 0 (saved before any update) and after TRAINED_STEPS steps.

    Width 8 with k=1 and lr 1e-3 (not the paper's settings: chosen because digits of all ten
    classes appear within 200 steps for every seed tried, FID falling from ~2000 to 500-900).
    """
    from paddle_gan.config import save_json
    from paddle_gan.train.run import CONFIG_FILE, build_trainer, prepare_data, run_training

    base = tmp_path_factory.mktemp("eval")
    cfg = _config(base / "start", max_steps=TRAINED_STEPS, k=1, lr_g=1e-3, lr_d=1e-3,
                  d_norm="batch")
    data = prepare_data(cfg)
    os.makedirs(cfg.output)
    save_json(cfg, os.path.join(cfg.output, CONFIG_FILE))
    start = build_trainer(cfg, data, cfg.output).save()
    cfg.output = str(base / "trained")
    run_training(cfg, say=lambda text: None)
    return {"start": start, "trained": cfg.output}


def test_image_metrics_closed_forms():
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((2000, 6))
    onehot = np.eye(10)[np.arange(2000) % 10]
    found = image_metrics(feats, feats.copy(), onehot, kid_subsets=5)
    assert list(found) == list(METRIC_KEYS)
    assert abs(found["fid"]) < 1e-6
    assert found["precision"] == 1.0 and found["recall"] == 1.0
    assert found["classes_covered"] == 10 and found["class_kl"] == pytest.approx(0.0, abs=1e-12)
    # Splits of 200 shuffled rows: each holds ~20 per class, so IS is close to 10 (exactly 10
    # needs perfectly balanced splits); sorted by class, unshuffled splits would give 1.
    assert found["inception_score"] == pytest.approx(10.0, rel=0.03)
    sorted_probs = np.eye(10)[np.repeat(np.arange(10), 200)]
    assert image_metrics(feats, feats, sorted_probs, kid_subsets=5)["inception_score"] == \
        pytest.approx(found["inception_score"], rel=0.03)
    # one class only: IS 1, coverage 1, KL log 10; shifted features: FID = |mu diff|^2
    found = image_metrics(feats, feats + 5.0, np.eye(10)[np.zeros(2000, int)], kid_subsets=5)
    assert found["fid"] == pytest.approx(6 * 25.0, rel=1e-6)
    assert found["inception_score"] == pytest.approx(1.0)
    assert found["classes_covered"] == 1 and found["class_kl"] == pytest.approx(math.log(10))
    assert found["precision"] == 0.0 and found["recall"] == 0.0
    assert image_metrics(feats, feats, None, kid_subsets=5)["inception_score"] is None


def test_precision_recall_use_equally_many_samples():
    from paddle_gan.evaluation.images import _equal_size

    a, b = _equal_size(np.arange(10)[:, None], np.arange(3)[:, None], seed=0)
    assert len(a) == len(b) == 3 and len(np.unique(a)) == 3


def test_fixed_subset_keeps_order_and_depends_on_seed_and_stream_only():
    items = np.arange(100) * 10
    first = ev.fixed_subset(items, 7, seed=1, stream=5)
    assert len(first) == 7 and list(first) == sorted(first) and set(first) <= set(items)
    np.testing.assert_array_equal(first, ev.fixed_subset(items, 7, seed=1, stream=5))
    assert list(first) != list(ev.fixed_subset(items, 7, seed=2, stream=5))
    assert list(first) != list(ev.fixed_subset(items, 7, seed=1, stream=6))
    assert ev.fixed_subset(items, 100, seed=1, stream=5) is items  # all: not copied


def test_run_kind_and_registry(runs):
    run = ev.load_run(runs["trained"])
    assert ev.run_kind(run, lambda: 4) == "images"
    assert ev.run_kind(run, lambda: 2) == "points"
    run.checkpoint.meta["kind"] = "cyclegan"
    assert ev.run_kind(run, lambda: 4) == "cyclegan"
    with pytest.raises(UserError, match="no evaluator for nothing-like-this runs"):
        ev.get_evaluator("nothing-like-this")
    ev.register_evaluator("test-kind", lambda ctx: ev.EvalResult({"x": 1.0}))
    try:
        assert ev.get_evaluator("test-kind")(None).metrics == {"x": 1.0}
    finally:
        del ev.EVALUATORS["test-kind"]
    assert "images" in ev.EVALUATORS


def test_eval_tool_writes_finite_json(runs, tmp_path):
    out = tmp_path / "m.json"
    proc = run_tool("tools/eval.py", "--checkpoint", runs["trained"], "--num-samples", "200",
                    "--kid-subsets", "10", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    for key in REQUIRED_KEYS:
        assert isinstance(doc[key], (int, float)) and math.isfinite(doc[key]), key
    assert doc["feature_space"] == "mnist_lenet"
    assert doc["step"] == TRAINED_STEPS and doc["config"]["width"] == 8
    assert doc["num_samples"] == 200 and doc["num_real"] == 500 and doc["kid_subsets"] == 10
    result, _ = ev.evaluate(runs["trained"], ev.EvalOptions(num_samples=200, kid_subsets=10),
                           say=lambda text: None)
    for key in REQUIRED_KEYS:  # the tool writes what the library computes
        assert doc[key] == pytest.approx(result.metrics[key], rel=1e-4, abs=1e-6), key
    for key in REQUIRED_KEYS:  # the table shows every metric
        assert key in proc.stdout


@pytest.fixture(scope="module")
def scores(runs):
    """Evaluations with 500 samples of both checkpoints and of real data (data loaded once)."""
    quiet = lambda text: None  # noqa: E731
    trained = ev.load_run(runs["trained"])
    start = ev.load_run(runs["start"])
    options = ev.EvalOptions(num_samples=500, kid_subsets=10)
    out = {"trained": ev.evaluate_run(trained, options, quiet)}
    start.splits.update(trained.splits)  # same config: same data
    out["start"] = ev.evaluate_run(start, options, quiet)
    out["real"] = ev.evaluate_run(trained, ev.EvalOptions(num_samples=500, real=True, kid_subsets=10), quiet)
    return {name: result for name, (result, _) in out.items()} | {"real_ctx": out["real"][1]}


def test_training_lowers_fid(scores):
    start, trained = scores["start"].metrics, scores["trained"].metrics
    assert trained["fid"] < 0.7 * start["fid"], (start, trained)
    assert trained["kid"] < start["kid"]
    assert trained["classes_covered"] > start["classes_covered"]


def test_real_floor_is_below_samples(scores):
    real = scores["real"]
    assert scores["real_ctx"].kind == "images"
    assert real.info["samples"].startswith("real training images")
    assert real.info["num_samples"] == 500 and real.info["num_real"] == 500
    assert 0 <= real.metrics["fid"] < 0.2 * scores["trained"].metrics["fid"]
    assert real.metrics["classes_covered"] == 10 and real.metrics["inception_score"] > 8.0
    assert real.metrics["precision"] > 0.6 and real.metrics["recall"] > 0.6


def test_tool_errors_are_one_line(runs, tmp_path):
    proc = run_tool("tools/eval.py", "--checkpoint", runs["trained"], "--inception-weights",
                    str(tmp_path / "none.pdparams"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--inception-weights" in lines[0], proc.stderr
    with pytest.raises(UserError, match="holds no checkpoint"):  # a folder that is not a run
        ev.evaluate(str(tmp_path), ev.EvalOptions())
    with pytest.raises(UserError, match="no such file"):
        ev.evaluate(str(tmp_path / "absent"), ev.EvalOptions())
    with pytest.raises(UserError, match=r"--num-samples: must be in 10\.\.100,000"):
        ev.evaluate(runs["trained"], ev.EvalOptions(num_samples=3))


def test_foreign_inception_weights_are_rejected(tmp_path):
    from paddle_gan.evaluation.features import load_inception

    path = tmp_path / "w.npz"
    np.savez(path, x=np.zeros(2, np.float32))
    with pytest.raises(UserError, match="not InceptionV3 weights"):
        load_inception(str(path))


def test_projection_fallback_for_other_data(tmp_path):
    """A 3-channel data set without a classifier: random-projection features, no IS/coverage."""
    from paddle_gan.config import save_json
    from paddle_gan.data import ArrayData, register_dataset
    from paddle_gan.evaluation.features import projection_extractor
    from paddle_gan.train.run import CONFIG_FILE, build_trainer, prepare_data

    def colour(cfg, split):
        rng = np.random.default_rng(0 if split == "train" else 1)
        return ArrayData(rng.random((64, 3, 32, 32)).astype(np.float32), None, 0, "colour")

    register_dataset("colour-test", colour)
    cfg = _config(tmp_path / "run", dataset="colour-test")
    os.makedirs(cfg.output)
    save_json(cfg, os.path.join(cfg.output, CONFIG_FILE))
    build_trainer(cfg, prepare_data(cfg), cfg.output).save()
    result, ctx = ev.evaluate(cfg.output, ev.EvalOptions(num_samples=40, kid_subsets=10), say=lambda t: None)
    assert result.info["feature_space"] == "random_projection_256"
    assert result.metrics["inception_score"] is None and result.metrics["classes_covered"] is None
    assert math.isfinite(result.metrics["fid"]) and math.isfinite(result.metrics["kid"])
    doc = ev.result_json(result, ctx)
    assert doc["inception_score"] is None and doc["feature_space"] == "random_projection_256"
    assert "n/a" in ev.format_table(result)
    # the projection is fixed and keeps distances roughly (Johnson-Lindenstrauss)
    x = np.random.default_rng(2).random((20, 3, 32, 32)).astype(np.float32)
    feats, probs = projection_extractor().extract(x)
    assert probs is None and feats.shape == (20, 256)
    np.testing.assert_array_equal(feats, projection_extractor().extract(x)[0])
    ratio = np.linalg.norm(feats[0] - feats[1]) / np.linalg.norm((x[0] - x[1]).ravel())
    assert 0.8 < ratio < 1.2


def test_eval_during_training_logs_and_keeps_best(tmp_path):
    from paddle_gan.checkpoint import load_checkpoint
    from paddle_gan.viz.plots import read_scalars
    from paddle_gan.train.run import run_training

    cfg = _config(tmp_path / "run", max_steps=6, eval_every=3, keep_best=True, k=1)
    run_training(cfg, say=lambda text: None)
    with open(os.path.join(cfg.output, "train_log.jsonl")) as handle:
        evals = [line["eval"] for line in map(json.loads, handle) if "eval" in line]
    assert len(evals) == 2
    for values in evals:
        assert {"fid", "kid", "classes_covered", "d_score_train", "d_score_held_out"} <= set(values)
        assert all(math.isfinite(v) for v in values.values())
    scalars = read_scalars(cfg.output)
    np.testing.assert_array_equal(scalars["eval/fid"][0], [3, 6])
    np.testing.assert_allclose(scalars["eval/fid"][1], [e["fid"] for e in evals], rtol=1e-6)
    np.testing.assert_allclose(scalars["eval/d_score_held_out"][1],
                               [e["d_score_held_out"] for e in evals], rtol=1e-6)
    best = load_checkpoint(os.path.join(cfg.output, "checkpoints", "best.npz"))
    best_fid = min(e["fid"] for e in evals)
    assert best.meta["eval"]["fid"] == pytest.approx(best_fid)
    assert best.meta["step"] == [3, 6][[e["fid"] for e in evals].index(best_fid)]


def test_keep_best_needs_eval_every(tmp_path):
    with pytest.raises(UserError, match="keep_best"):
        _config(tmp_path, keep_best=True)
    with pytest.raises(UserError, match="eval_every"):
        _config(tmp_path, eval_every=0)


def test_a_resumed_run_remembers_its_best_fid(tmp_path):
    import paddle

    from paddle_gan.checkpoint import save_checkpoint
    from paddle_gan.evaluation.training import _stored_best, best_path

    path = best_path(str(tmp_path))
    assert _stored_best(str(tmp_path), "fid", 10) == math.inf
    save_checkpoint(path, {"G": paddle.nn.Linear(2, 2)}, {}, {"step": 30, "eval": {"fid": 12.5}})
    assert _stored_best(str(tmp_path), "fid", 40) == 12.5
    assert _stored_best(str(tmp_path), "fid", 20) == math.inf  # written later: another run's
    assert _stored_best(str(tmp_path), "kid", 40) == math.inf
