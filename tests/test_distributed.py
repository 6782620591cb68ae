"""Multi-process data parallel on CPU: `paddle.distributed.launch --nproc_per_node 2
tools/train.py` (gloo), identical replicas, one set of outputs, checkpoints moving between 2 and
1 processes; and the pieces (launcher environment, batch sharding) by hand."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from paddle_gan.data import ArrayData, EpochBatches
from paddle_gan.distributed import ShardedBatches, launch_context
from paddle_gan.errors import UserError


def test_launch_context_and_thread_share():
    ctx = launch_context({"PADDLE_TRAINERS_NUM": "2", "PADDLE_TRAINER_ID": "1",
                          "PADDLE_LOCAL_SIZE": "2"})
    assert (ctx.rank, ctx.world, ctx.active, ctx.is_writer) == (1, 2, True, False)
    assert ctx.default_threads(2) == 1 and ctx.default_threads(8) == 4
    single = launch_context({})
    assert (single.rank, single.world, single.active, single.is_writer) == (0, 1, False, True)
    assert single.default_threads(2) == 2
    with pytest.raises(UserError):
        launch_context({"PADDLE_TRAINERS_NUM": "2", "PADDLE_TRAINER_ID": "2"})


def test_sharded_batches_split_every_batch_of_the_shared_order():
    data = ArrayData(np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20), 20, "toy")
    whole = EpochBatches(data, 8, seed=5)
    shards = [ShardedBatches(whole, rank, 2) for rank in range(2)]
    assert len(shards[0]) == len(whole) == 2
    for (i, samples, labels), (i0, s0, l0), (i1, s1, l1) in zip(
            whole.epoch(1), shards[0].epoch(1), shards[1].epoch(1)):
        assert i == i0 == i1
        np.testing.assert_array_equal(np.concatenate([s0, s1]), samples)
        np.testing.assert_array_equal(np.concatenate([l0, l1]), labels)
    assert [i for i, _, _ in shards[1].epoch(1, start=1)] == [1]  # resumes mid-epoch
    with pytest.raises(UserError, match="divisible"):
        ShardedBatches(EpochBatches(data, 5, seed=0), 0, 2)


def _launch(tmp_path, dump, args):
    os.makedirs(dump, exist_ok=True)
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
           "--log_dir", str(tmp_path / "launch_log"), os.path.join(ROOT, "tests", "dp_worker.py"),
           *args]
    env = {**os.environ, "DP_DUMP_DIR": str(dump), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    logs = "".join(open(f).read()[-1500:] for f in
                   sorted(glob.glob(str(tmp_path / "launch_log" / "workerlog.*"))))
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:] + logs
    ranks = [np.load(os.path.join(dump, f"rank{r}.npz")) for r in range(2)]
    assert sorted(ranks[0].files) == sorted(ranks[1].files)
    for key in ranks[0].files:  # trainable weights and batch-norm statistics alike
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=key)
    return {key: ranks[0][key] for key in ranks[0].files}


def _checkpoint_state(path):
    from paddle_gan.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)  # networks stored as "G/<name>", "D/<name>"
    return ckpt, {key.replace("/", ".", 1): value for key, value in ckpt.arrays.items()
                  if key.split("/", 1)[0] in ("G", "D")}


def test_two_processes_train_one_model_and_checkpoints_move_between_process_counts(tmp_path):
    """1 process (2 steps) -> 2 processes (to step 6) -> 1 process (to step 8), one run folder."""
    from paddle_gan.config import make_config
    from paddle_gan.train.run import run_training

    run = tmp_path / "run"
    # no weight average: the averaged G's batch-norm statistics are not kept equal across
    # ranks (a known gap), and this test is about the replicas and the checkpoint; no decay: the
    # resume lengthens the run, which would move its decay horizon
    settings = dict(dataset="mnist5k", width=4, batch_size=8, k=2, progress=False, log_every=2,
                    onednn=True, g_ema=0.0, lr_decay="none", output=str(run))
    path = run_training(make_config(dict(settings, max_steps=2)), say=lambda text: None)
    assert path.endswith("step_00000002.npz")
    # resumed in 2 processes: identical replicas, and the outputs of one run only
    state = _launch(tmp_path, tmp_path / "dump", [
        "--dataset", "mnist5k", "--width", "4", "--batch-size", "8", "--k", "2", "--g-ema", "0",
        "--lr-decay", "none", "--no-progress", "--log-every", "2", "--onednn", "--output", str(run),
        "--resume", "--max-steps", "6"])
    ckpt, saved = _checkpoint_state(str(run / "checkpoints" / "step_00000006.npz"))
    assert (ckpt.meta["step"], ckpt.meta["epoch"], ckpt.meta["batch"]) == (6, 0, 6)
    assert sorted(saved) == sorted(state)
    for key, value in state.items():  # the checkpoint holds the (unwrapped) replicas' weights
        np.testing.assert_array_equal(saved[key], value, err_msg=key)
    with open(run / "train_log.jsonl") as handle:
        assert [json.loads(line)["step"] for line in handle] == [2, 4, 6]  # rank 0's lines only
    assert len(os.listdir(run / "vdl")) == 2  # the first run's writer + rank 0's
    worker1 = open(tmp_path / "launch_log" / "workerlog.1").read()
    assert "done at step" not in worker1 and "runtime:" not in worker1  # rank 1 is quiet
    # and the 2-process checkpoint continues in one process
    path = run_training(make_config(dict(settings, max_steps=8, resume="latest")),
                        say=lambda text: None)
    assert path.endswith("step_00000008.npz")
    assert sorted(os.listdir(run / "checkpoints"))[-1] == "step_00000008.npz"
