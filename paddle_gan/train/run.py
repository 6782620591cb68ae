"""The run driver behind `tools/train.py`: config -> data + models + loss -> trainer.fit()."""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
from typing import Any, Callable, Optional

import numpy as np

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.atomic import atomic_write
from paddle_gan.config import (HORIZON_CHANGE, Horizon, TrainConfig, allows_change,
                               architecture_differences, describe_horizon_change,
                               describe_step_change, from_dict, horizon_differs,
                               horizon_keep_flags, keep_hint, step_differences, to_dict)
from paddle_gan.data import ArrayData
from paddle_gan.data.provenance import differences as provenance_differences
from paddle_gan.data.provenance import provenance, sample_count
from paddle_gan.errors import UserError
from paddle_gan.io.runs import CONFIG_FILE
from paddle_gan.losses import get_loss
from paddle_gan.models import build_models, data_spec, get_model, prepare_data
from paddle_gan.runtime import setup_runtime, usable_cores
from paddle_gan.distributed import ParallelContext, init_parallel, launch_context
from paddle_gan.train import get_trainer
from paddle_gan.train.memory import check_run_memory
from paddle_gan.train.run_folder import RunLock, check_layout
from paddle_gan.train.sessions import record_session

#: the training data's record (paddle_gan.data.provenance), beside the config
DATA_FILE = "data.json"


def trainer_class(model: str) -> type:
    """The trainer class of the kind the model's entry names (`ModelEntry.trainer`)."""
    return get_trainer(get_model(model).trainer)


def build_trainer(cfg: TrainConfig, data: ArrayData, run_dir: str, device: Optional[str] = None,
                  parallel: Optional[ParallelContext] = None, monitor: Any = None):
    """Models, loss, step runtime and trainer for `cfg` on `data` (no checkpoint loaded).

    With a `device`, the speed plan for it (oneDNN convolutions, compiled forwards, AMP) and a
    data-parallel launch shape the step runtime, and the plan is kept as `trainer.speed`;
    without one the steps run on the plain dynamic graph.
    """
    import paddle

    from paddle_gan.train.speed import SpeedPlan, plan_run
    from paddle_gan.train.steps import StepRuntime

    paddle.seed(cfg.seed)  # the initial weights depend on the run's seed only
    try:
        generator, discriminator = build_models(cfg, data_spec(cfg, data))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    make = trainer_class(cfg.model)
    loss = get_loss(cfg.loss)
    extra = {}
    if cfg.g_ema:  # built before any speed option touches G's layers
        extra["g_average"] = copy.deepcopy(generator)
    plan, runtime = SpeedPlan(), StepRuntime()
    if device is not None:
        plan, runtime = plan_run(cfg, device, make, generator, discriminator,
                                 loss.gradient_penalty, parallel,
                                 data.num_classes if cfg.conditional else 0)
    trainer = make(cfg, loss, generator, discriminator, data, run_dir, monitor=monitor,
                   runtime=runtime, parallel=parallel, **extra)
    trainer.speed = plan
    return trainer


def _check_fresh(cfg: TrainConfig) -> None:
    """A new run (no --resume) never writes into a folder that holds checkpoints."""
    if cfg.resume is None and ckpt_io.list_checkpoints(cfg.output):
        raise UserError(f"{cfg.output} already holds checkpoints: pass --resume to continue "
                        f"that run, or choose another --output")


def _check_same_run(checkpoint: ckpt_io.Checkpoint, cfg: TrainConfig, horizon: Horizon) -> None:
    """UserError when the checkpoint's run was made with other architecture keys, other step
    settings, or (decaying its learning rates) another decay `horizon`, that --allow-change does
    not name."""
    stored = checkpoint.meta.get("config")
    if not isinstance(stored, dict):
        raise UserError(f"{checkpoint.path} has no stored config")
    previous = from_dict({k: v for k, v in stored.items()})
    differing = architecture_differences(previous, cfg)
    if differing:
        details = ", ".join(f"{k}: {stored[k]!r} -> {getattr(cfg, k)!r}" for k in differing)
        raise UserError(f"cannot resume {checkpoint.path}: the run was made with other settings "
                        f"({details})")
    changed = step_differences(previous, cfg)
    details = [describe_step_change(previous, cfg, k) for k in changed]
    kept: list[str] = []
    if horizon_differs(previous, cfg, horizon):
        details.append(describe_horizon_change(previous, cfg, horizon))
        kept = horizon_keep_flags(previous, cfg, horizon)
        changed.append(HORIZON_CHANGE)
    if changed:
        raise UserError(f"cannot resume {checkpoint.path} with other settings "
                        f"({', '.join(details)}); pass --allow-change {','.join(changed)} if "
                        f"that is intended{keep_hint(previous, cfg, changed, kept)}")


def _check_same_data(checkpoint: ckpt_io.Checkpoint, data: ArrayData, cfg: TrainConfig) -> None:
    """UserError when the data differ from the checkpoint's record (source, count, content
    hash) and --allow-change does not name data. A checkpoint without a record passes."""
    stored = checkpoint.meta.get("data")
    if stored is None or allows_change(cfg, "data"):
        return
    changed = provenance_differences(stored, provenance(data))
    if changed:
        raise UserError(f"cannot resume {checkpoint.path} on other data ({', '.join(changed)}); "
                        f"pass --allow-change data if that is intended")


def _check_same_horizon_on_data(checkpoint: ckpt_io.Checkpoint, trainer: Any,
                                cfg: TrainConfig) -> None:
    """UserError when data of another size (allowed by --allow-change data) would move the
    decay horizon of a run whose length follows its epochs, and --allow-change does not name
    lr_horizon. A checkpoint without a data record passes."""
    count = (checkpoint.meta.get("data") or {}).get("count")
    if not isinstance(count, int) or allows_change(cfg, HORIZON_CHANGE):
        return
    previous = from_dict(dict(checkpoint.meta["config"]))
    before, after = trainer.decay_horizon(previous, samples=count), trainer.decay_horizon(cfg)
    if before is None or after is None or before == after:
        return
    keep = dataclasses.replace(cfg, max_steps=before)
    hint = (f", or give --max-steps {before} to keep the learning-rate schedule"
            if trainer.decay_horizon(keep) == before else "")
    raise UserError(f"cannot resume {checkpoint.path} on data of another size ({count:,} -> "
                    f"{sample_count(trainer.data):,} samples): its {cfg.lr_decay} decay would "
                    f"move from {before} to {after} steps (lr_horizon); pass --allow-change "
                    f"lr_horizon if that is intended{hint}")


def _resume_checkpoint(cfg: TrainConfig, trainer: Any, say: Callable[[str], None]
                       ) -> Optional[ckpt_io.Checkpoint]:
    """The checkpoint --resume continues from, fully checked against `cfg`, the built
    `trainer` (which it does not change) and its data; None for a new run.

    In a run folder a damaged or inconsistent newest checkpoint is reported and the previous
    one taken; other settings or other data are a UserError.
    """
    if cfg.resume is None:
        return None
    run_dir = cfg.output
    target = run_dir if cfg.resume == "latest" else cfg.resume

    def accept(checkpoint: ckpt_io.Checkpoint) -> None:
        _check_same_run(checkpoint, cfg, trainer.decay_horizon)
        trainer.check_checkpoint(checkpoint)

    checkpoint = ckpt_io.resolve_checkpoint(target, warn=say, accept=accept)
    _check_same_data(checkpoint, trainer.data, cfg)
    _check_same_horizon_on_data(checkpoint, trainer, cfg)
    # continuing from an older checkpoint while newer ones exist in the
    # run folder would interleave two histories (and --resume would later pick the stale one).
    newer = [] if cfg.resume == "latest" else [
        p for p in ckpt_io.list_checkpoints(run_dir) if ckpt_io.step_in_name(p) > checkpoint.step]
    if newer:
        raise UserError(f"cannot resume {checkpoint.path} into {run_dir}: it holds newer "
                        f"checkpoints ({', '.join(os.path.basename(p) for p in newer)}); move "
                        f"them away or choose another --output")
    return checkpoint


def _quiet(text: str) -> None:
    """`say` of data-parallel ranks > 0: rank 0 prints for the run."""


def run_training(cfg: TrainConfig, say: Callable[[str], None] = print) -> str:
    """Train as configured; returns the final checkpoint's path.

    Raises UserError for bad input, RunFailure for a run that had to stop, and
    paddle_gan.errors.Interrupted after an interrupt saved a checkpoint.
    """
    # data parallel: under paddle.distributed.launch every process runs this; the
    # cores are shared out between them and only rank 0 prints and writes
    parallel = launch_context()
    runtime = setup_runtime(cfg.device, cfg.threads or parallel.default_threads(usable_cores()))
    init_parallel(parallel)
    if not parallel.is_writer:
        say = _quiet
    run_dir = cfg.output
    check_layout(run_dir)
    _check_fresh(cfg)
    data = prepare_data(cfg)
    trainer_class(cfg.model).batches_of(cfg, data)  # a batch the data can give
    check_run_memory(cfg, data)  # the whole run's memory, before any network is built
    trainer = build_trainer(cfg, data, run_dir, runtime.device, parallel)
    # every check that can fail runs before the first write into run_dir
    checkpoint = _resume_checkpoint(cfg, trainer, say)
    if checkpoint is not None:
        trainer.load(checkpoint)
        say(f"resumed from {checkpoint.path} at step {checkpoint.step}")
        if cfg.init_from:
            say(f"note: --init-from {cfg.init_from} ignored: resuming restores every weight")
    elif cfg.init_from:
        from paddle_gan.io.init_weights import init_from

        init_from(cfg.init_from, {"G": trainer.G, "D": trainer.D}, cfg.trust_checkpoint, say)
    lock = RunLock(run_dir)
    try:
        if parallel.is_writer:  # data parallel: rank 0 writes (and locks)
            lock.acquire()
            for name, doc in ((CONFIG_FILE, to_dict(cfg)), (DATA_FILE, provenance(data))):
                text = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
                atomic_write(os.path.join(run_dir, name), lambda f, text=text: f.write(text))
            record_session(run_dir, checkpoint.step if checkpoint else 0, runtime.device,
                           runtime.threads)
    except OSError as exc:
        lock.release()
        raise UserError(f"cannot write to --output {run_dir}: {exc.strerror}") from None
    try:
        return _announce_and_fit(trainer, cfg, data, runtime, parallel, say)
    finally:
        lock.release()


def _announce_and_fit(trainer, cfg: TrainConfig, data: ArrayData, runtime, parallel,
                      say: Callable[[str], None]) -> str:
    """The start-up lines (runtime, speed plan, data, model), then the training."""
    run_dir = cfg.output
    n_g = sum(int(np.prod(p.shape)) for p in trainer.G.parameters())
    n_d = sum(int(np.prod(p.shape)) for p in trainer.D.parameters())
    say(f"runtime: {runtime.describe()}")
    for line in trainer.speed.summary(parallel):
        say(line)
    say(f"data: {data.note or data.name}: {len(data):,} samples of shape "
        f"{list(data.samples.shape[1:])}, sha256 {data.sha256[:12]}")
    say(f"model {cfg.model} (width {cfg.width}): G {n_g:,} params, D {n_d:,} params; "
        f"loss {cfg.loss}, k={cfg.k}, {cfg.optimizer} lr_g={cfg.lr_g} lr_d={cfg.lr_d}")
    say(f"run folder: {run_dir}  (watch: visualdl --logdir {os.path.join(run_dir, 'vdl')})")
    sys.stdout.flush()
    return trainer.fit()
