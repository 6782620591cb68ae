"""The GAN trainer: the fit loop around the D and G steps of `paddle_gan.train.steps`.

It owns the position (step, epoch, batch), the k schedule, seeding, logging, snapshots and
checkpoints. Loss-specific behaviour comes from the LossSpec (weight clipping, gradient penalty)
and the model's `output_range`; there is no branch per loss or per model here.
"""
from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.blocks import one_hot
from paddle_gan.config import TrainConfig, to_dict
from paddle_gan.data import ArrayData, EpochBatches
from paddle_gan.data.provenance import provenance
from paddle_gan.distributed import NullMonitor, ParallelContext
from paddle_gan.errors import Interrupted, RunFailure
from paddle_gan.evaluation.training import maybe_training_evaluator
from paddle_gan.losses import LossSpec
from paddle_gan.monitor import RunMonitor
from paddle_gan.train import register_trainer
from paddle_gan.train.average import GeneratorAverage
from paddle_gan.train.estimate import CostClock
from paddle_gan.train.histograms import maybe_histogram_writer
from paddle_gan.train.hparams import write_hparams
from paddle_gan.train.optim import make_optimizer, step_seed
from paddle_gan.train.schedule import CriticSchedule, lr_factor
from paddle_gan.train.snapshots import make_snapshot_writer
from paddle_gan.models import fixed_latents, from_unit_range, to_unit_range
from paddle_gan.train.steps import (Adversaries, Batch, GradHook, PairObjective, StepRuntime,
                                    StepSettings, d_step, g_step)

INTERRUPT_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: fixed-noise samples drawn and checked finite before every checkpoint and sample grid
CHECKED_SAMPLES = 8

#: what a non-finite loss or weight usually means (the tutorial hit log(0) at the start)
NAN_HINT = ("Hint: lower --lr-d/--lr-g, or add --clip-grad; a saturated sigmoid fed to log() gives "
            "inf (the with-logits losses avoid it)")


@dataclass
class Position:
    """Where a run stands: D steps done, current epoch, next batch index within the epoch, and
    the training time so far (the x axis of FID-against-time curves)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    train_seconds: float = 0.0  # wall time spent in training steps (not evaluation, not I/O)


def run_steps(epochs: int, batches: int, max_steps: Optional[int]) -> int:
    """Steps of a run of `epochs` epochs of `batches` batches, at most `max_steps` (if set)."""
    by_epochs = epochs * batches
    return min(by_epochs, max_steps) if max_steps else by_epochs


def detached(values: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
    """The logged values without their autograd history (memory): nothing of a step's
    graph stays alive until the next step, or for k steps in the G step's case."""
    return {name: value.detach() for name, value in values.items()}


class GanTrainer:
    """Trains a (generator, discriminator) pair on in-memory data.

    Args:
        cfg: the resolved config.
        loss: the adversarial objective.
        generator, discriminator: networks from the model registry.
        data: training data, [0, 1] images or points.
        run_dir: where checkpoints, samples and logs go.
        monitor: VisualDL / console writer (built from run_dir when omitted).
        runtime: how each step runs (compiled forwards, step context, AMP scalers, shard);
            built by `paddle_gan.train.speed.build_step_runtime`; the plain dynamic graph by default.
        parallel: this process's place in a data-parallel launch (one process by default).
        g_average: with `cfg.g_ema`, an untrained copy of the generator's architecture that
            becomes the average of its weights (samples, evaluation and export use it).
    """

    #: stored as the checkpoint's meta "kind" (subclass hook: CycleGAN writes "cyclegan")
    checkpoint_kind = "gan"
    #: whether the speed plan may compile this trainer's forwards (`paddle_gan.train.speed`)
    compiles_forwards = True

    def __init__(self, cfg: TrainConfig, loss: LossSpec, generator: nn.Layer,
                 discriminator: nn.Layer, data: ArrayData, run_dir: str,
                 monitor: Optional[RunMonitor] = None,
                 runtime: Optional[StepRuntime] = None,
                 parallel: Optional[ParallelContext] = None,
                 g_average: Optional[nn.Layer] = None) -> None:
        self.cfg = cfg
        self.loss = loss
        self.G = generator
        self.D = discriminator
        self.data = data
        self.run_dir = run_dir
        self.runtime = runtime or StepRuntime()
        self.parallel = parallel or ParallelContext()
        self.num_classes = data.num_classes if cfg.conditional else 0
        self.batches = self.make_batches()
        self.opt_g, self.opt_d = self.make_optimizers()
        self.settings = StepSettings.from_config(cfg, discriminator,
                                                 getattr(generator, "latent_dim", None))
        self.objective = self.make_objective()
        self.schedule = CriticSchedule.from_config(cfg)
        self.average = (GeneratorAverage(generator, g_average, cfg.g_ema)
                        if cfg.g_ema and g_average is not None else None)
        self.position = Position()
        self.last_checkpoint: Optional[str] = None
        self.resumed_from: Optional[str] = None  # never pruned
        self.writes_files = self.parallel.is_writer  # only rank 0 of a data-parallel run writes
        self.monitor = monitor if self.writes_files else NullMonitor()
        self._snapshot = self.make_snapshots()
        self._interrupt: Optional[int] = None
        self._last_g: dict[str, paddle.Tensor] = {}
        # callables(trainer) run after every step: data-parallel buffer sync first, then (rank 0)
        # the 2-D frames, the histograms
        self.step_callbacks: list[Any] = list(self.parallel.step_callbacks([generator, discriminator]))
        self.evaluator = maybe_training_evaluator(cfg, self) if self.writes_files else None
        self.histograms = maybe_histogram_writer(cfg) if self.writes_files else None
        if self.writes_files:
            on_step = getattr(self._snapshot, "on_step", None)
            if on_step is not None:
                self.step_callbacks.append(on_step)
            if self.histograms is not None:
                self.step_callbacks.append(self.histograms.on_step)

    # ----------------------------------------------------------------- hooks (CycleGAN's own)
    @staticmethod
    def batches_of(cfg: TrainConfig, data: ArrayData) -> Any:
        """Shuffled epochs of `data` in batches of `cfg.batch_size`; UserError when the data
        cannot give one batch."""
        return EpochBatches(data, cfg.batch_size, cfg.seed)

    def make_batches(self) -> Any:
        """The run's batches: shuffled epochs of the data, this process's share of each."""
        return self.parallel.shard_batches(self.batches_of(self.cfg, self.data))

    def make_optimizers(self) -> tuple[Any, Any]:
        """G's and D's optimizers."""
        return (make_optimizer(self.cfg, self.G.parameters(), self.cfg.lr_g),
                make_optimizer(self.cfg, self.D.parameters(), self.cfg.lr_d))

    def make_snapshots(self) -> Any:
        """What draws samples/<tag>.png (and the VisualDL image) from the trainer."""
        return make_snapshot_writer(self.run_dir, self.data.samples.ndim, self.num_classes)

    def make_objective(self) -> Any:
        """What this trainer's steps optimise."""
        return PairObjective(self.loss, self.settings)

    # ----------------------------------------------------------------- state
    @property
    def step(self) -> int:
        return self.position.step

    @property
    def nets(self) -> Adversaries:
        return Adversaries(self.G, self.D, self.opt_g, self.opt_d)

    @property
    def sampler(self) -> nn.Layer:
        """The generator that draws the run's samples: G's weight average when `g_ema` is on."""
        return self.average.average if self.average is not None else self.G

    def sampler_is_finite(self) -> bool:
        """Whether every weight and buffer of the sampling generator is finite."""
        return not ckpt_io.non_finite_keys(
            {name: value.numpy() for name, value in self.sampler.state_dict().items()})

    def samples_are_finite(self) -> bool:
        """Whether the first CHECKED_SAMPLES fixed-noise samples are finite (finite weights can
        still draw NaN, e.g. through a BatchNorm running variance that went negative)."""
        return bool(np.isfinite(self.sample_fixed(CHECKED_SAMPLES)).all())

    def draws_finite(self) -> bool:
        """Whether the sampling generator's weights and its fixed-noise samples are finite."""
        return self.sampler_is_finite() and self.samples_are_finite()

    def modules(self) -> dict[str, nn.Layer]:
        nets = {"G": self.G, "D": self.D}
        if self.average is not None:
            nets["G_ema"] = self.average.average
        return nets

    def optimizers(self) -> dict[str, ckpt_io.OptimizerEntry]:
        return {"opt_G": (self.opt_g, {"G": self.G}), "opt_D": (self.opt_d, {"D": self.D})}

    def save(self) -> str:
        """Checkpoint now (networks, optimizers, position, config); returns its path."""
        pos = self.position
        path = ckpt_io.checkpoint_path(self.run_dir, pos.step)
        if not self.writes_files:
            return path
        meta = {"step": pos.step, "epoch": pos.epoch, "batch": pos.batch,
                "train_seconds": round(pos.train_seconds, 3),
                "g_ema_updates": self.average.updates if self.average is not None else 0,
                "config": to_dict(self.cfg), "kind": self.checkpoint_kind,
                "data": provenance(self.data)}
        # NaN weights or samples are never saved, a failed write is one line; in every case the
        # files already on disk stay as they were. Non-finite weights are named by the save.
        if self.sampler_is_finite() and not self.samples_are_finite():
            raise RunFailure(f"non-finite samples at step {pos.step}: the generator's weights "
                             f"are finite but its fixed-noise samples are not; stopped. Last good "
                             f"checkpoint: {self.last_checkpoint or 'none written yet'}. "
                             f"{NAN_HINT}")
        try:
            ckpt_io.save_checkpoint(path, self.modules(), self.optimizers(), meta)
            self.last_checkpoint = path
            ckpt_io.save_tutorial_weights(self.run_dir, self.G, self.D)
        except ckpt_io.NonFiniteState as exc:
            raise RunFailure(f"non-finite weights at step {pos.step}: {exc}; stopped. Last good "
                             f"checkpoint: {self.last_checkpoint or 'none written yet'}. "
                             f"{NAN_HINT}") from None
        except ckpt_io.CheckpointWriteError as exc:
            raise RunFailure(f"{exc}; last good checkpoint: "
                             f"{self.last_checkpoint or 'none written yet'}") from None
        ckpt_io.prune_checkpoints(self.run_dir, self.cfg.keep_checkpoints,
                                  protect=(self.resumed_from, path))
        return path

    @staticmethod
    def _check_position(checkpoint: ckpt_io.Checkpoint) -> None:
        """CorruptCheckpoint unless the metadata holds the position (epoch, batch)."""
        missing = [key for key in ("epoch", "batch") if key not in checkpoint.meta]
        if missing:
            raise ckpt_io.CorruptCheckpoint(f"{checkpoint.path}: metadata has no "
                                            f"{', '.join(missing)}")

    def check_checkpoint(self, checkpoint: ckpt_io.Checkpoint) -> None:
        """CorruptCheckpoint unless `checkpoint` restores into this trainer: a position (epoch,
        batch) and arrays that fit every network and optimizer (`ckpt_io.check_fits`).
        Changes nothing."""
        self._check_position(checkpoint)
        ckpt_io.check_fits(checkpoint, self.modules(), self.optimizers())

    def load(self, checkpoint: ckpt_io.Checkpoint) -> None:
        """Restore networks, optimizers and position from a checkpoint; everything is checked
        before anything changes (CorruptCheckpoint otherwise; `restore` checks the arrays)."""
        self._check_position(checkpoint)
        ckpt_io.restore(checkpoint, self.modules(), self.optimizers())
        meta = checkpoint.meta
        self.position = Position(int(meta["step"]), int(meta["epoch"]), int(meta["batch"]),
                                 float(meta.get("train_seconds", 0.0)))
        if self.average is not None:
            self.average.updates = int(meta.get("g_ema_updates", 0))
        self.last_checkpoint = checkpoint.path
        self.resumed_from = checkpoint.path

    # ----------------------------------------------------------------- pieces
    def _cond(self, labels: Optional[np.ndarray]) -> Optional[paddle.Tensor]:
        if not self.num_classes or labels is None:
            return None
        return one_hot(paddle.to_tensor(labels), self.num_classes)

    def _grad_hook(self, window: int) -> Optional[GradHook]:
        """Copies fresh gradients for the VisualDL histograms when one will show them (the
        network is updated every `window` steps)."""
        if self.histograms is None:
            return None
        step = self.position.step + 1
        return lambda name, layer: self.histograms.capture_grads(step, name, layer, window)

    def is_g_step(self) -> bool:
        """Whether the current D step is followed by a G step (the k schedule)."""
        return self.schedule.is_g_step(self.position.step)

    def set_learning_rates(self) -> None:
        """Both learning rates for the current step (`cfg.lr_decay`; constant by default)."""
        if self.cfg.lr_decay == "none":
            return
        factor = lr_factor(self.cfg.lr_decay, self.position.step, self.total_steps())
        self.opt_g.set_lr(self.cfg.lr_g * factor)
        self.opt_d.set_lr(self.cfg.lr_d * factor)

    def to_batch(self, samples: np.ndarray, labels: Optional[np.ndarray]) -> Batch:
        """A batch of [0, 1] data as the objective takes it: tensors in G's output range."""
        value_range = getattr(self.G, "output_range", (0.0, 1.0))
        real = paddle.to_tensor(from_unit_range(samples, value_range).astype(np.float32))
        return Batch(real, self._cond(labels))

    def train_step(self, samples: np.ndarray, labels: Optional[np.ndarray]) -> dict[str, paddle.Tensor]:
        """D step on this batch, plus a G step when the schedule says so."""
        paddle.seed(step_seed(self.cfg.seed, self.position.step))
        self.set_learning_rates()
        batch = self.to_batch(samples, labels)
        nets, objective, runtime = self.nets, self.objective, self.runtime
        with runtime.context():
            stats = d_step(nets, objective, runtime, batch, on_grads=self._grad_hook(1))
            if self.is_g_step():
                window = self.schedule.window(self.position.step)
                g_stats, _ = g_step(nets, objective, runtime, batch,
                                    on_grads=self._grad_hook(window))
                self._last_g = detached(g_stats)
                if self.average is not None:
                    self.average.update()
        stats.update(self._last_g)
        return detached(stats)

    def sample_fixed(self, n: int) -> np.ndarray:
        """The run's fixed-noise samples in eval mode (BN statistics frozen), in [0, 1]."""
        z, labels = fixed_latents(self.cfg.seed, n, self.cfg.latent_dim, self.num_classes)
        sampler = self.sampler
        sampler.eval()
        with paddle.no_grad():
            out = sampler(paddle.to_tensor(z), self._cond(labels)).numpy()
        if sampler is self.G:
            self.G.train()
        return to_unit_range(out, getattr(self.G, "output_range", (0.0, 1.0)))

    # ----------------------------------------------------------------- loop
    def total_epochs(self) -> int:
        """Epochs the run lasts (a subclass hook: CycleGAN adds its LR-decay epochs)."""
        return self.cfg.epochs

    def total_steps(self) -> int:
        """Steps the run lasts: its epochs of batches, at most `max_steps`."""
        return run_steps(self.total_epochs(), len(self.batches), self.cfg.max_steps)

    def decay_horizon(self, cfg: TrainConfig, samples: Optional[int] = None) -> Optional[int]:
        """The steps `cfg.lr_decay` decays both learning rates over (the total steps of a run of
        `cfg`, as `set_learning_rates` computes them) on this trainer's data, or on data of
        `samples` samples; None without a decay. A subclass hook: CycleGAN's schedule is its
        own (`decay_epochs`)."""
        if cfg.lr_decay == "none":
            return None
        batches = (len(self.batches_of(cfg, self.data)) if samples is None
                   else EpochBatches.batches_in(samples, cfg.batch_size))
        return run_steps(cfg.epochs, batches, cfg.max_steps)

    def _check_finite(self, values: dict[str, float]) -> None:
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            where = self.last_checkpoint or "none written yet"
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            raise RunFailure(
                f"non-finite loss at step {self.step} ({shown}); stopped without saving. "
                f"Last good checkpoint: {where}. {NAN_HINT}")

    def _log(self, stats: dict[str, paddle.Tensor], last: bool = False) -> None:
        """Scalars every `scalar_every` steps; summary line + jsonl every `log_every` and at the end."""
        step, cfg = self.step, self.cfg
        summary = step % cfg.log_every == 0 or last
        if step % cfg.scalar_every and not summary:
            return
        values = {k: float(v) for k, v in stats.items()}
        self._check_finite(values)
        if step % cfg.scalar_every == 0:
            self.monitor.scalars(step, values)
        self.monitor.advance(0, {k: values[k] for k in ("d_loss", "g_loss") if k in values})
        if summary:
            pos = self.position
            self.monitor.record({"step": step, "epoch": pos.epoch, **values})
            self.monitor.line(
                f"epoch {pos.epoch} batch {pos.batch} step {step}: "
                f"d_loss {values['d_loss']:.4f} g_loss {values.get('g_loss', float('nan')):.4f} "
                f"fake_score {values['fake_score']:.4f} real_score {values['real_score']:.4f}")

    def _say_cost(self, estimate: Any) -> None:
        """Print and log the measured step time and the time to the end of the run."""
        on_cpu = paddle.device.get_device().startswith("cpu")
        for text in estimate.lines(on_cpu, self.cfg.width):
            self.monitor.line(text)
        self.monitor.record({"step": self.step, **estimate.record()})

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._interrupt is not None:  # second Ctrl-C: stop at once
            if signum == signal.SIGTERM:  # keep SIGTERM's exit code
                raise SystemExit(INTERRUPT_EXIT_CODES[signum])
            raise KeyboardInterrupt
        self._interrupt = signum
        self.monitor.line("interrupt received: saving a checkpoint at the end of this step "
                          "(press again to abort without saving)")

    def fit(self) -> str:
        """Train until `epochs` or `max_steps`; returns the final checkpoint's path.

        SIGINT / SIGTERM save a checkpoint at the next step boundary and raise Interrupted.
        A non-finite loss raises RunFailure without overwriting any checkpoint; so does a failed
        write (disk full), leaving the previous checkpoints as they were.
        """
        os.makedirs(self.run_dir, exist_ok=True)
        if self.monitor is None:
            self.monitor = RunMonitor(self.run_dir, self.total_steps(), self.cfg.progress,
                                      initial_step=self.step)
        handlers = {}
        try:
            for sig in INTERRUPT_EXIT_CODES:
                handlers[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread: leave signals alone
            handlers = {}
        try:
            self._loop()
            write_hparams(self)  # VisualDL HParams: finished runs only
            self.monitor.flush()  # the whole log readable as soon as fit returns
        except OSError as exc:  # e.g. disk full writing a sample or log
            raise RunFailure(f"write failed at step {self.step}: {exc}; last good checkpoint: "
                             f"{self.last_checkpoint or 'none written yet'}") from None
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return self.last_checkpoint

    def _loop(self) -> None:
        cfg, pos, total = self.cfg, self.position, self.total_steps()
        self.G.train()
        self.D.train()
        clock = CostClock(pos.step, total)
        while pos.step < total and pos.epoch < self.total_epochs():
            for index, samples, labels in self.batches.epoch(pos.epoch, pos.batch):
                started = time.perf_counter()
                stats = self.train_step(samples, labels)
                pos.train_seconds += time.perf_counter() - started
                pos.step += 1
                pos.batch = index + 1
                self._log(stats, last=pos.step >= total)
                self.monitor.advance(1, epoch=pos.epoch)
                estimate = clock.tick(pos.step, pos.train_seconds)
                if estimate is not None:
                    self._say_cost(estimate)
                if self.evaluator is not None and pos.step % cfg.eval_every == 0:
                    self.evaluator(self)
                for callback in self.step_callbacks:
                    callback(self)
                if self._interrupt is not None:
                    path = self.save()
                    self.monitor.line(f"saved {path}")
                    raise Interrupted(INTERRUPT_EXIT_CODES[self._interrupt], path)
                if cfg.save_every_steps and pos.step % cfg.save_every_steps == 0 \
                        and pos.step < total:  # mid-epoch checkpoints
                    self.save()
                if pos.step >= total:
                    break
            else:
                pos.epoch += 1
                pos.batch = 0
                # a generator whose weights or samples are not finite draws no grid: the save
                # that follows (here or at the end) stops the run with the NaN message
                if pos.epoch % cfg.sample_every == 0 and self.draws_finite():
                    self._snapshot(self, f"epoch_{pos.epoch:03d}")
                if pos.epoch % cfg.save_every == 0 and pos.step < total:
                    self.save()
        # save first: it refuses non-finite weights, so a NaN stop never draws final.png and
        # the last good pictures stay
        path = self.save()
        self._snapshot(self, "final")
        self.monitor.line(f"done at step {pos.step}: checkpoint {path}")


register_trainer(GanTrainer)
