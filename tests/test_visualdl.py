"""VisualDL beyond scalars: weight / gradient histograms, hyper-parameters with final metrics and
evaluation metrics, read back from a run's log with VisualDL's own LogReader."""
import glob
import os

import numpy as np
import pytest

from paddle_gan import checkpoint as ck
from paddle_gan.errors import UserError
from paddle_gan.train.histograms import HistogramWriter
from paddle_gan.train.hparams import HPARAM_KEYS, hparam_values, metric_tags
from paddle_gan.train.run import run_training
from tiny_mnist import write_mnist_folder


def _reader(run_dir):
    from visualdl import LogReader

    (path,) = glob.glob(os.path.join(run_dir, "vdl", "vdlrecords.*"))
    return LogReader(file_path=path)


def test_gradients_are_kept_only_when_a_histogram_will_show_them():
    writer = HistogramWriter(every=5)
    # D (updated every step): only the step of the histogram itself
    assert [s for s in range(1, 12) if writer.wanted(s)] == [5, 10]
    # G updated every 3 steps (at 3, 6, 9): its last update before 5 is at 3, before 10 at 9
    assert [s for s in range(1, 12) if writer.wanted(s, window=3)] == [3, 4, 5, 8, 9, 10]
    with pytest.raises(ValueError):
        HistogramWriter(every=0)


def test_hparams_values_and_metric_order(make_tiny_config):
    cfg = make_tiny_config(loss="wgangp")
    values = hparam_values(cfg, 6)
    assert values["loss"] == "wgangp" and values["k"] == 2 and values["gp_lambda"] == 10.0
    assert values["conditional"] == "false" and values["steps"] == 6
    assert "weight_clip" not in values  # None for wgangp: left out
    assert set(values) <= set(HPARAM_KEYS) | {"steps"}
    assert metric_tags(["real_score", "eval/fid", "g_loss", "d_loss", "gp", "g_loss"]) == [
        "d_loss", "g_loss", "gp", "real_score", "eval/fid"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """6 steps, G every 3rd (k 3), histograms every 2 steps, evaluation every 3 steps."""
    from conftest import tiny_config

    base = tmp_path_factory.mktemp("vdl")
    cfg = tiny_config(base, k=3, histogram_every=2, eval_every=3, dataset="mnist",
                      data_dir=write_mnist_folder(base))
    run_training(cfg, say=lambda s: None)
    return cfg


def test_histograms_of_weights_and_gradients(run):
    reader = _reader(run.output)
    tags = set(reader.get_tags()["histogram"])
    first = "net.0.conv.weight"
    for net in ("G", "D"):
        assert f"{net}/weights/{first}" in tags and f"{net}/grads/{first}" in tags
    steps = lambda tag: [r.id for r in reader.get_data("histogram", tag)]  # noqa: E731
    assert steps(f"D/weights/{first}") == [2, 4, 6]
    assert steps(f"D/grads/{first}") == [2, 4, 6]
    # G is updated at steps 3 and 6 only: no gradient to show at step 2
    assert steps(f"G/grads/{first}") == [4, 6]
    # the step-6 weight histogram is the histogram of the final checkpoint's weights
    final = ck.load_checkpoint(ck.checkpoint_path(run.output, 6)).arrays
    (key,) = [k for k in final if k.endswith(f"D/{first}")]
    weights = final[key].ravel().astype(np.float64)
    record = reader.get_data("histogram", f"D/weights/{first}")[-1].histogram
    counts, edges = np.histogram(weights, bins=30)
    np.testing.assert_array_equal(np.array(record.hist), counts)
    np.testing.assert_allclose(np.array(record.bin_edges), edges, rtol=1e-6)
    grads = reader.get_data("histogram", f"D/grads/{first}")[-1].histogram
    assert sum(grads.hist) == weights.size and list(grads.bin_edges) != list(edges)
    # only trainable parameters: BN running statistics are not shown
    assert not any(t.endswith(("_mean", "_variance")) for t in tags)


def test_hparams_with_final_and_evaluation_metrics(run):
    reader = _reader(run.output)
    (record,) = reader.get_data("hyper_parameters", "hparam")
    info = {h.name: getattr(h, h.WhichOneof("type")) for h in record.hparam.hparamInfos}
    assert info["loss"] == "gan" and info["model"] == "seed" and info["k"] == 3
    assert info["lr_d"] == pytest.approx(1e-3) and info["steps"] == 6  # the gan default
    metrics = [m.name for m in record.hparam.metricInfos]
    assert metrics[:2] == ["d_loss", "g_loss"]
    assert {"real_score", "fake_score", "eval/fid", "eval/kid"} <= set(metrics)
    # every metric is a scalar of the run (VisualDL reads the metric's value from it)
    scalars = set(reader.get_tags()["scalar"])
    assert set(metrics) <= scalars
    # evaluation during training lands in VisualDL at its steps
    fid = reader.get_data("scalar", "eval/fid")
    assert [r.id for r in fid] == [3, 6] and all(np.isfinite(r.value) for r in fid)


def test_histograms_off_and_bad_interval(make_tiny_config, tmp_path):
    cfg = make_tiny_config(histogram_every=0, max_steps=2, dataset="mnist",
                           data_dir=write_mnist_folder(tmp_path))
    run_training(cfg, say=lambda s: None)
    assert "histogram" not in _reader(cfg.output).get_tags()
    with pytest.raises(UserError, match="histogram_every: must be non-negative"):
        make_tiny_config(histogram_every=-1)
