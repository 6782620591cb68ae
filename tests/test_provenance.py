"""The training data's record (loader, source, count, content hash): in data.json and every
checkpoint, compared on --resume, printed by train, named by eval."""
import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from conftest import tiny_config
from inprocess_tools import run_tool_main
from tiny_mnist import write_mnist_folder
from paddle_gan import checkpoint as ck
from paddle_gan.data import ArrayData, load_dataset
from paddle_gan.data.provenance import content_sha256, provenance
from paddle_gan.errors import UserError
from paddle_gan.train.run import run_training


def tree(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                out[os.path.relpath(os.path.join(root, name), folder)] = \
                    hashlib.sha256(handle.read()).hexdigest()
    return out


@pytest.fixture
def run(tmp_path):
    """A 2-step run on a tiny idx folder; returns (settings, messages)."""
    (tmp_path / "data").mkdir()
    data_dir = write_mnist_folder(tmp_path / "data")
    settings = dict(width=4, k=1, dataset="mnist", data_dir=data_dir, max_steps=2)
    messages = []
    run_training(tiny_config(tmp_path, **settings), say=messages.append)
    return settings, messages


def test_the_record_is_in_data_json_and_every_checkpoint(run, tmp_path):
    settings, messages = run
    run_dir = tmp_path / "run"
    record = json.loads((run_dir / "data.json").read_text())
    images = os.path.join(settings["data_dir"], "train-images-idx3-ubyte")
    assert record["loader"] == "mnist" and record["count"] == 64
    assert images in record["source"]
    data = load_dataset(tiny_config(tmp_path, **settings))
    assert record["sha256"] == content_sha256(data) and len(record["sha256"]) == 64
    assert ck.load_checkpoint(ck.checkpoint_path(str(run_dir), 2)).meta["data"] == record
    line = [m for m in messages if m.startswith("data: ")]
    assert len(line) == 1 and "MNIST idx files from" in line[0] and record["sha256"][:12] in line[0]


def test_the_hash_follows_the_content():
    rng = np.random.default_rng(0)
    data = ArrayData(rng.random((5, 1, 4, 4)).astype(np.float32), np.arange(5), 5, "x")
    same = ArrayData(data.samples.copy(), data.labels.copy(), 5, "y")
    assert content_sha256(data) == content_sha256(same)
    same.samples[3, 0, 2, 1] += 1 / 255
    assert content_sha256(data) != content_sha256(same)
    relabelled = ArrayData(data.samples, data.labels[::-1].copy(), 5, "x")
    assert content_sha256(data) != content_sha256(relabelled)
    assert provenance(data)["count"] == 5


def test_resume_refuses_other_data_unless_allowed(run, tmp_path):
    settings, _ = run
    run_dir = str(tmp_path / "run")
    write_mnist_folder(tmp_path / "data", seed=1)  # same files and sizes, other pixels
    before = tree(run_dir)
    cfg = tiny_config(tmp_path, **{**settings, "max_steps": 3}, resume="latest")
    with pytest.raises(UserError, match=r"on other data \(sha256: '[0-9a-f]{12}' -> "
                                        r"'[0-9a-f]{12}'\); pass --allow-change data") as info:
        run_training(cfg, say=lambda text: None)
    assert "\n" not in str(info.value)
    assert tree(run_dir) == before
    allowed = tiny_config(tmp_path, **{**settings, "max_steps": 3}, resume="latest",
                          allow_change="data")
    run_training(allowed, say=lambda text: None)
    record = json.loads(open(os.path.join(run_dir, "data.json")).read())
    assert ck.load_checkpoint(ck.checkpoint_path(run_dir, 3)).meta["data"] == record
    assert record["sha256"] != ck.load_checkpoint(ck.checkpoint_path(run_dir, 2)).meta["data"][
        "sha256"]


def test_mnist_says_which_source_it_used(tmp_path, monkeypatch):
    import paddle_gan.data.mnist as mnist

    (tmp_path / "cache").mkdir()
    cache = write_mnist_folder(tmp_path / "cache")
    monkeypatch.setattr(mnist, "PADDLE_CACHE", cache)
    found = load_dataset(tiny_config(tmp_path, dataset="mnist"))
    assert (found.loader, len(found)) == ("mnist", 64)
    assert "Paddle's cache" in found.note and cache in found.source
    shutil.rmtree(cache)
    monkeypatch.setattr(mnist, "_try_paddle_download", lambda split: None)  # offline
    fallback = load_dataset(tiny_config(tmp_path, dataset="mnist"))
    assert (fallback.loader, len(fallback)) == ("mnist5k", 4500)
    assert "embedded 5k subset" in fallback.note and fallback.source == mnist.SUBSET_SOURCE


def test_eval_names_its_held_out_set(run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = run_tool_main("eval", ["--checkpoint", str(tmp_path / "run"), "--num-samples", "20",
                                  "--kid-subsets", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["held_out"]["count"] == 20 and doc["held_out"]["loader"] == "mnist"
    assert "t10k-images-idx3-ubyte" in doc["held_out"]["source"]
    assert doc["train_data"]["count"] == 64
    line = [m for m in printed.splitlines() if m.startswith("held-out set: ")]
    assert len(line) == 1 and doc["held_out"]["sha256"][:12] in line[0]


def test_resume_on_data_of_another_size_refuses_a_moved_decay_horizon(tmp_path, lr_factor_calls):
    """A decaying run whose length follows its epochs decays over epochs x batches: data of
    another size, allowed by --allow-change data, would move that horizon. It is refused in one
    line (nothing written) unless --allow-change names lr_horizon too; then the steps decay over
    the new data's horizon."""
    (tmp_path / "data").mkdir()
    settings = dict(width=4, k=1, dataset="mnist", data_dir=write_mnist_folder(tmp_path / "data"),
                    batch_size=8, epochs=2, max_steps=None, lr_decay="linear")
    run_training(tiny_config(tmp_path, **settings), say=lambda text: None)  # 64 samples: 16 steps
    run_dir = str(tmp_path / "run")
    shutil.rmtree(tmp_path / "data")
    (tmp_path / "data").mkdir()
    write_mnist_folder(tmp_path / "data", train=128)
    before = tree(run_dir)
    more = dict(settings, resume="latest")  # the same 2 epochs, of 16 batches
    with pytest.raises(UserError) as info:
        run_training(tiny_config(tmp_path, **more, allow_change="data"), say=lambda text: None)
    assert str(info.value) == (
        f"cannot resume {ck.checkpoint_path(run_dir, 16)} on data of another size (64 -> 128 "
        f"samples): its linear decay would move from 16 to 32 steps (lr_horizon); pass "
        f"--allow-change lr_horizon if that is intended, or give --max-steps 16 to keep the "
        f"learning-rate schedule")
    assert tree(run_dir) == before
    lr_factor_calls.clear()
    run_training(tiny_config(tmp_path, **more, allow_change="data,lr_horizon"),
                 say=lambda text: None)
    assert {total for _, total in lr_factor_calls} == {32}
