"""The GAN trainer: D step, G step every k-th batch, logging, snapshots, checkpoints.

Loss-specific behaviour comes from the LossSpec (weight clipping, gradient penalty) and the
model's `output_range`; there is no branch per loss or per model here.
"""
from __future__ import annotations

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
from paddle_gan.train.snapshots import fixed_latents, from_unit_range, make_snapshot_writer, to_unit_range

INTERRUPT_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


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
        self.monitor = monitor
        self._snapshot = make_snapshot_writer(run_dir, data.samples.ndim)
        self._interrupt: Optional[int] = None
        self._last_g: dict[str, paddle.Tensor] = {}

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
        meta = {"step": pos.step, "epoch": pos.epoch, "batch": pos.batch,
                "config": to_dict(self.cfg), "kind": "gan"}
        ckpt_io.save_checkpoint(path, self.modules(), self.optimizers(), meta)
        ckpt_io.save_tutorial_weights(self.run_dir, self.G, self.D)
        ckpt_io.prune_checkpoints(self.run_dir, self.cfg.keep_checkpoints)
        self.last_checkpoint = path
        return path

    def load(self, checkpoint: ckpt_io.Checkpoint) -> None:
        """Restore networks, optimizers and position from a checkpoint."""
        ckpt_io.restore(checkpoint, self.modules(), self.optimizers())
        meta = checkpoint.meta
        self.position = Position(int(meta["step"]), int(meta["epoch"]), int(meta["batch"]))
        self.last_checkpoint = checkpoint.path

    # ----------------------------------------------------------------- pieces
    def _latents(self, n: int) -> paddle.Tensor:
        return paddle.randn([n, self.cfg.latent_dim])

    def _cond(self, labels: Optional[np.ndarray]) -> Optional[paddle.Tensor]:
        if not self.num_classes or labels is None:
            return None
        return one_hot(paddle.to_tensor(labels), self.num_classes)

    def _head(self, out: paddle.Tensor) -> paddle.Tensor:
        return paddle.tanh(out) if self.cfg.d_head == "tanh" else out

    def d_step(self, real: paddle.Tensor, cond: Optional[paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One discriminator (critic) update on a real batch and fresh, detached fakes."""
        n = real.shape[0]
        with paddle.no_grad():
            fake = self.G(self._latents(n), cond)
        real_out = self._head(self.D(real, cond))
        fake_out = self._head(self.D(fake, cond))
        d_loss = self.loss.d_loss(real_out, fake_out, real_label=self.cfg.label_smoothing)
        stats = {"real_score": self.loss.score(real_out), "fake_score": self.loss.score(fake_out)}
        if self.loss.gradient_penalty:
            gp = gradient_penalty(lambda x: self._head(self.D(x, cond)), real, fake)
            stats["gp"] = gp
            stats["wasserstein"] = real_out.mean() - fake_out.mean()
            d_loss = d_loss + self.cfg.gp_lambda * gp
        elif self.loss.weight_clipping:
            stats["wasserstein"] = real_out.mean() - fake_out.mean()
        d_loss.backward()
        self.opt_d.step()
        self.opt_d.clear_grad()
        if self.loss.weight_clipping:
            clip_weights(self.D.parameters(), self.cfg.weight_clip)
        stats["d_loss"] = d_loss
        return stats

    def g_step(self, n: int, cond: Optional[paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One generator update on fresh fakes; D's gradients are discarded."""
        fake = self.G(self._latents(n), cond)
        g_loss = self.loss.g_loss(self._head(self.D(fake, cond)))
        g_loss.backward()
        self.opt_g.step()
        self.opt_g.clear_grad()
        self.opt_d.clear_grad()
        return {"g_loss": g_loss}

    def train_step(self, samples: np.ndarray, labels: Optional[np.ndarray]) -> dict[str, paddle.Tensor]:
        """D step on this batch, plus a G step when this is every k-th batch."""
        paddle.seed(step_seed(self.cfg.seed, self.position.step))
        value_range = getattr(self.G, "output_range", (0.0, 1.0))
        real = paddle.to_tensor(from_unit_range(samples, value_range).astype(np.float32))
        cond = self._cond(labels)
        stats = self.d_step(real, cond)
        if (self.position.step + 1) % self.cfg.k == 0:
            self._last_g = self.g_step(real.shape[0], cond)
        stats.update(self._last_g)
        return stats

    def sample_fixed(self, n: int) -> np.ndarray:
        """The run's fixed-noise samples in eval mode (BN statistics frozen), in [0, 1]."""
        z, labels = fixed_latents(self.cfg.seed, n, self.cfg.latent_dim, self.num_classes)
        self.G.eval()
        with paddle.no_grad():
            out = self.G(paddle.to_tensor(z), self._cond(labels)).numpy()
        self.G.train()
        return to_unit_range(out, getattr(self.G, "output_range", (0.0, 1.0)))

    # ----------------------------------------------------------------- loop
    def total_steps(self) -> int:
        by_epochs = self.cfg.epochs * len(self.batches)
        return min(by_epochs, self.cfg.max_steps) if self.cfg.max_steps else by_epochs

    def _check_finite(self, values: dict[str, float]) -> None:
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            where = self.last_checkpoint or "none written yet"
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            raise RunFailure(
                f"non-finite loss at step {self.step} ({shown}); stopped without saving. "
                f"Last good checkpoint: {where}. Hint: lower --lr-d/--lr-g, or add --clip-grad; "
                f"a saturated sigmoid fed to log() gives inf (the with-logits losses avoid it)")

    def _log(self, stats: dict[str, paddle.Tensor]) -> None:
        step, cfg = self.step, self.cfg
        if step % cfg.scalar_every and step % cfg.log_every:
            return
        values = {k: float(v) for k, v in stats.items()}
        self._check_finite(values)
        if step % cfg.scalar_every == 0:
            self.monitor.scalars(step, values)
        self.monitor.advance(0, {k: values[k] for k in ("d_loss", "g_loss") if k in values})
        if step % cfg.log_every == 0:
            pos = self.position
            self.monitor.record({"step": step, "epoch": pos.epoch, **values})
            self.monitor.line(
                f"epoch {pos.epoch} batch {pos.batch} step {step}: "
                f"d_loss {values['d_loss']:.4f} g_loss {values.get('g_loss', float('nan')):.4f} "
                f"fake_score {values['fake_score']:.4f} real_score {values['real_score']:.4f}")

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._interrupt is not None:  # second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self._interrupt = signum
        self.monitor.line("interrupt received: saving a checkpoint at the end of this step "
                          "(press again to abort without saving)")

    def fit(self) -> str:
        """Train until `epochs` or `max_steps`; returns the final checkpoint's path.

        SIGINT / SIGTERM save a checkpoint at the next step boundary and raise Interrupted.
        A non-finite loss raises RunFailure without overwriting any checkpoint.
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
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return self.last_checkpoint

    def _loop(self) -> None:
        cfg, pos, total = self.cfg, self.position, self.total_steps()
        self.G.train()
        self.D.train()
        while pos.step < total and pos.epoch < cfg.epochs:
            for index, samples, labels in self.batches.epoch(pos.epoch, pos.batch):
                stats = self.train_step(samples, labels)
                pos.step += 1
                pos.batch = index + 1
                self._log(stats)
                self.monitor.advance(1, epoch=pos.epoch)
                if self._interrupt is not None:
                    path = self.save()
                    self.monitor.line(f"saved {path}")
                    raise Interrupted(INTERRUPT_EXIT_CODES[self._interrupt], path)
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
