"""The GAN trainer: D step, G step every k-th batch, logging, snapshots, checkpoints.

Loss-specific behaviour comes from the LossSpec (weight clipping, gradient penalty) and the
model's `output_range`; there is no branch per loss or per model here.
"""
from __future__ import annotations

import contextlib  # speed (issue 7)
import math
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.blocks import one_hot
from paddle_gan.config import TrainConfig, to_dict
from paddle_gan.data import ArrayData, EpochBatches
from paddle_gan.errors import RunFailure
from paddle_gan.losses import LossSpec, clip_weights, gradient_penalty
from paddle_gan.monitor import RunMonitor
from paddle_gan.train.optim import make_optimizer, step_seed
from paddle_gan.train.hparams import write_hparams  # VisualDL HParams (issue 9)
from paddle_gan.train.snapshots import fixed_latents, from_unit_range, make_snapshot_writer, to_unit_range

INTERRUPT_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: what a non-finite loss or weight usually means (the tutorial hit log(0) at the start)
NAN_HINT = ("Hint: lower --lr-d/--lr-g, or add --clip-grad; a saturated sigmoid fed to log() gives "
            "inf (the with-logits losses avoid it)")


class Interrupted(Exception):
    """Raised after an interrupt saved a checkpoint; carries the exit code and the path."""

    def __init__(self, exit_code: int, path: str) -> None:
        super().__init__(f"interrupted: saved {path}")
        self.exit_code = exit_code
        self.path = path


@dataclass
class Position:
    """Where a run stands: D steps done, current epoch, next batch index within the epoch."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


@dataclass
class StepStats:
    """Tensors of the latest step; turned into floats only when logged (no per-step host sync)."""

    values: dict[str, paddle.Tensor] = field(default_factory=dict)

    def floats(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.values.items()}


def detached(values: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
    """The logged values without their autograd history (memory, issue 7): nothing of a step's
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
    """

    #: stored as the checkpoint's meta "kind" (subclass hook: CycleGAN writes "cyclegan")
    checkpoint_kind = "gan"

    def __init__(self, cfg: TrainConfig, loss: LossSpec, generator: nn.Layer,
                 discriminator: nn.Layer, data: ArrayData, run_dir: str,
                 monitor: Optional[RunMonitor] = None) -> None:
        self.cfg = cfg
        self.loss = loss
        self.G = generator
        self.D = discriminator
        self.data = data
        self.run_dir = run_dir
        self.num_classes = data.num_classes if cfg.conditional else 0
        self.batches = EpochBatches(data, cfg.batch_size, cfg.seed)
        self.opt_g = make_optimizer(cfg, generator.parameters(), cfg.lr_g)
        self.opt_d = make_optimizer(cfg, discriminator.parameters(), cfg.lr_d)
        self.position = Position()
        self.last_checkpoint: Optional[str] = None
        self.resumed_from: Optional[str] = None  # reliability (issue 8): never pruned
        self.monitor = monitor
        self._snapshot = make_snapshot_writer(run_dir, data.samples.ndim)
        self._interrupt: Optional[int] = None
        self._last_g: dict[str, paddle.Tensor] = {}
        # speed and scale-out (issue 7; paddle_gan/speed.py, paddle_gan/distributed.py): the
        # forwards the steps call (compiled or DataParallel wrappers of G and D), the context
        # each step runs in (AMP's autocast, the oneDNN flag) and AMP's loss scalers, this
        # process's (rank, world) share of every batch, and whether it writes files (only rank 0
        # of a data-parallel run does)
        self.g_forward: Any = generator
        self.d_forward: Any = discriminator
        self.step_context: Any = contextlib.nullcontext
        self.scalers: dict[str, Any] = {}
        self.shard: tuple[int, int] = (0, 1)
        self.writes_files = True
        # evaluation (issue 3): callable(trainer) run every cfg.eval_every steps, or None
        from paddle_gan.evaluation.training import maybe_training_evaluator

        self.evaluator = maybe_training_evaluator(cfg, self)
        # step hooks (issue 4): callables(trainer) run after every step; a snapshot writer
        # with an `on_step` method (the 2-D frames) joins them
        on_step = getattr(self._snapshot, "on_step", None)
        self.step_callbacks: list[Any] = [on_step] if on_step is not None else []
        # VisualDL histograms (issue 9): weights + gradients every cfg.histogram_every steps
        from paddle_gan.train.histograms import maybe_histogram_writer

        self.histograms = maybe_histogram_writer(cfg)
        if self.histograms is not None:
            self.step_callbacks.append(self.histograms.on_step)

    # ----------------------------------------------------------------- state
    @property
    def step(self) -> int:
        return self.position.step

    def modules(self) -> dict[str, nn.Layer]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, ckpt_io.OptimizerEntry]:
        return {"opt_G": (self.opt_g, {"G": self.G}), "opt_D": (self.opt_d, {"D": self.D})}

    def save(self) -> str:
        """Checkpoint now (networks, optimizers, position, config); returns its path."""
        pos = self.position
        path = ckpt_io.checkpoint_path(self.run_dir, pos.step)
        if not self.writes_files:  # data parallel (issue 7): rank 0 writes the checkpoints
            return path
        meta = {"step": pos.step, "epoch": pos.epoch, "batch": pos.batch,
                "config": to_dict(self.cfg), "kind": self.checkpoint_kind}
        # reliability (issue 8): NaN weights are never saved, a failed write is one line; in
        # both cases the files already on disk stay as they were.
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
                                  protect=(self.resumed_from,))
        return path

    def load(self, checkpoint: ckpt_io.Checkpoint) -> None:
        """Restore networks, optimizers and position from a checkpoint."""
        ckpt_io.restore(checkpoint, self.modules(), self.optimizers())
        meta = checkpoint.meta
        self.position = Position(int(meta["step"]), int(meta["epoch"]), int(meta["batch"]))
        self.last_checkpoint = checkpoint.path
        self.resumed_from = checkpoint.path

    # ----------------------------------------------------------------- pieces
    def _latents(self, n: int) -> paddle.Tensor:
        rank, world = self.shard  # data parallel (issue 7): this rank's rows of the whole
        if world > 1:  # batch's draw, so N processes use the latents of one
            return paddle.randn([n * world, self.cfg.latent_dim])[rank * n:(rank + 1) * n]
        return paddle.randn([n, self.cfg.latent_dim])

    def _cond(self, labels: Optional[np.ndarray]) -> Optional[paddle.Tensor]:
        if not self.num_classes or labels is None:
            return None
        return one_hot(paddle.to_tensor(labels), self.num_classes)

    def _head(self, out: paddle.Tensor) -> paddle.Tensor:
        return paddle.tanh(out) if self.cfg.d_head == "tanh" else out

    def discriminate(self, real: paddle.Tensor, fake: paddle.Tensor,
                     cond: Optional[paddle.Tensor]) -> tuple[paddle.Tensor, paddle.Tensor]:
        """D's (head-transformed) scores for a real and a fake batch.

        `d_batches: joint` (default) runs both through D as ONE batch, so that batch norm
        normalises them with shared statistics. With the tutorial's separate passes each batch is
        normalised by its own statistics; on the stride-2 D, whose last block is a 1x1 map, that
        erases the difference between a real and a fake batch and D barely learns.
        """
        if self.cfg.d_batches == "separate":
            return (self._head(self.d_forward(real, cond)),
                    self._head(self.d_forward(fake, cond)))
        n = real.shape[0]
        both_cond = None if cond is None else paddle.concat([cond, cond])
        out = self._head(self.d_forward(paddle.concat([real, fake]), both_cond))  # [2N]
        return out[:n], out[n:]

    def d_step(self, real: paddle.Tensor, cond: Optional[paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One discriminator (critic) update on a real batch and fresh, detached fakes."""
        n = real.shape[0]
        with paddle.no_grad():
            fake = self.g_forward(self._latents(n), cond)
        real_out, fake_out = self.discriminate(real, fake, cond)
        d_loss = self.loss.d_loss(real_out, fake_out, real_label=self.cfg.label_smoothing)
        stats = {"real_score": self.loss.score(real_out), "fake_score": self.loss.score(fake_out)}
        if self.loss.gradient_penalty:
            # the critic's own dynamic forward (a compiled one cannot be differentiated twice),
            # in float32 under AMP: no loss scale is needed inside the penalty (issue 7)
            with paddle.amp.auto_cast(enable=False):
                gp = gradient_penalty(lambda x: self._head(self.D(x, cond)), real,
                                      fake.astype("float32"))
            stats["gp"] = gp
            stats["wasserstein"] = real_out.mean() - fake_out.mean()
            d_loss = d_loss + self.cfg.gp_lambda * gp
        elif self.loss.weight_clipping:
            stats["wasserstein"] = real_out.mean() - fake_out.mean()
        self._backward(d_loss, self.opt_d, "D")  # issue 7: loss scaling under AMP
        self._capture_grads("D", self.D, 1)  # VisualDL histograms (issue 9)
        self._update(self.opt_d, "D")
        self.opt_d.clear_grad()
        if self.loss.weight_clipping:
            # trainable weights only: BN's running statistics are parameters in Paddle too
            clip_weights([p for p in self.D.parameters() if p.trainable], self.cfg.weight_clip)
        stats["d_loss"] = d_loss
        return stats

    def g_step(self, real: paddle.Tensor, cond: Optional[paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One generator update on fresh fakes; D's gradients are discarded.

        The real batch only accompanies the fakes through D (see `discriminate`).
        """
        fake = self.g_forward(self._latents(real.shape[0]), cond)
        _, fake_out = self.discriminate(real, fake, cond)
        g_loss = self.loss.g_loss(fake_out)
        self._backward(g_loss, self.opt_g, "G")  # issue 7: loss scaling under AMP
        self._capture_grads("G", self.G, self.cfg.k)  # VisualDL histograms (issue 9)
        self._update(self.opt_g, "G")
        self.opt_g.clear_grad()
        self.opt_d.clear_grad()
        return {"g_loss": g_loss}

    def train_step(self, samples: np.ndarray, labels: Optional[np.ndarray]) -> dict[str, paddle.Tensor]:
        """D step on this batch, plus a G step when this is every k-th batch."""
        paddle.seed(step_seed(self.cfg.seed, self.position.step))
        value_range = getattr(self.G, "output_range", (0.0, 1.0))
        real = paddle.to_tensor(from_unit_range(samples, value_range).astype(np.float32))
        cond = self._cond(labels)
        with self.step_context():  # issue 7: AMP's autocast / the oneDNN flag, else a no-op
            stats = self.d_step(real, cond)
            if (self.position.step + 1) % self.cfg.k == 0:
                self._last_g = detached(self.g_step(real, cond))
        stats.update(self._last_g)
        return detached(stats)

    # speed (issue 7): backward and update, with the loss scaler of AMP when there is one
    def _backward(self, loss: paddle.Tensor, optimizer: Any, net: str) -> None:
        scaler = self.scalers.get(net)
        if scaler is None:
            loss.backward()
            return
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # true gradients for clipping and histograms

    def _update(self, optimizer: Any, net: str) -> None:
        scaler = self.scalers.get(net)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)  # skipped when a gradient is inf / nan
        scaler.update()

    def sample_fixed(self, n: int) -> np.ndarray:
        """The run's fixed-noise samples in eval mode (BN statistics frozen), in [0, 1]."""
        z, labels = fixed_latents(self.cfg.seed, n, self.cfg.latent_dim, self.num_classes)
        self.G.eval()
        with paddle.no_grad():
            out = self.G(paddle.to_tensor(z), self._cond(labels)).numpy()
        self.G.train()
        return to_unit_range(out, getattr(self.G, "output_range", (0.0, 1.0)))

    def _capture_grads(self, net: str, layer: nn.Layer, window: int) -> None:
        """VisualDL histograms (issue 9): copy `layer`'s fresh gradients if a histogram will
        show them (`window`: the network is updated every `window` steps)."""
        if self.histograms is not None:
            self.histograms.capture_grads(self.position.step + 1, net, layer, window)

    # ----------------------------------------------------------------- loop
    def total_epochs(self) -> int:
        """Epochs the run lasts (a subclass hook: CycleGAN adds its LR-decay epochs)."""
        return self.cfg.epochs

    def total_steps(self) -> int:
        by_epochs = self.total_epochs() * len(self.batches)
        return min(by_epochs, self.cfg.max_steps) if self.cfg.max_steps else by_epochs

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

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._interrupt is not None:  # second Ctrl-C: stop at once
            if signum == signal.SIGTERM:  # reliability (issue 8): keep SIGTERM's exit code
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
            write_hparams(self)  # VisualDL HParams (issue 9): finished runs only
            self.monitor.flush()  # issue 9: the whole log readable as soon as fit returns
        except OSError as exc:  # reliability (issue 8): e.g. disk full writing a sample or log
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
        while pos.step < total and pos.epoch < self.total_epochs():
            for index, samples, labels in self.batches.epoch(pos.epoch, pos.batch):
                stats = self.train_step(samples, labels)
                pos.step += 1
                pos.batch = index + 1
                self._log(stats, last=pos.step >= total)
                self.monitor.advance(1, epoch=pos.epoch)
                if self.evaluator is not None and pos.step % cfg.eval_every == 0:  # issue 3
                    self.evaluator(self)
                for callback in self.step_callbacks:  # issue 4
                    callback(self)
                if self._interrupt is not None:
                    path = self.save()
                    self.monitor.line(f"saved {path}")
                    raise Interrupted(INTERRUPT_EXIT_CODES[self._interrupt], path)
                if cfg.save_every_steps and pos.step % cfg.save_every_steps == 0 \
                        and pos.step < total:  # reliability (issue 8): mid-epoch checkpoints
                    self.save()
                if pos.step >= total:
                    break
            else:
                pos.epoch += 1
                pos.batch = 0
                if pos.epoch % cfg.sample_every == 0:
                    self._snapshot(self, f"epoch_{pos.epoch:03d}")
                if pos.epoch % cfg.save_every == 0 and pos.step < total:
                    self.save()
        self._snapshot(self, "final")
        path = self.save()
        self.monitor.line(f"done at step {pos.step}: checkpoint {path}")
