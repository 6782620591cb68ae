"""CycleGAN training: two generators, two PatchGANs, cycle and identity losses, image pools and
a constant-then-linearly-decaying learning rate (Zhu et al. 2017, section 4 and appendix 7.1).

`CycleGanTrainer` is a GanTrainer whose generator and discriminator are the model's
GeneratorPair / DiscriminatorPair; its step is built from the pieces of
`paddle_gan.train.steps` (the D objective with its penalty, the G adversarial objective, the
update with its histograms and AMP scaling, weight clipping of trainable weights), and it
replaces the batches (aligned A/B), the optimizers (LR schedulers) and the snapshots. It
inherits everything else unchanged: the fit loop, checkpoints (with the schedulers' state and
both image pools), the interrupt and non-finite-loss handling, VisualDL scalars,
train_log.jsonl and the summary line.

One step (batch of real a in A and real b in B, images in [-1, 1]):
  G step (every k-th step; k = 1 as in the paper):
    adv   = g_loss(D_B(G(a))) + g_loss(D_A(F(b)))            any loss from the LOSSES table
    cycle = lambda_cyc * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
    ident = lambda_identity * lambda_cyc * (|F(a) - a|_1 + |G(b) - b|_1)   (skipped when 0)
  D step: D_A on real a vs pool_A(F(b)), D_B on real b vs pool_B(G(a)), each loss halved as in
    the paper (D then learns at half G's rate), penalty included; weights clipped under wgan.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Union

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.config import TrainConfig
from paddle_gan.data import ArrayData
from paddle_gan.data.unpaired import UnpairedBatches, UnpairedData
from paddle_gan.errors import UserError
from paddle_gan.distributed import ParallelContext
from paddle_gan.losses import LossSpec
from paddle_gan.models.cyclegan import DiscriminatorPair, GeneratorPair
from paddle_gan.monitor import RunMonitor
from paddle_gan.train.gan import GanTrainer
from paddle_gan.train.image_pool import ImagePool
from paddle_gan.train.optim import make_optimizer, step_seed
from paddle_gan.train.steps import (StepRuntime, apply_update, clip_critic, d_objective,
                                    frozen, g_objective)
from paddle_gan.models import from_unit_range
from paddle_gan.checkpoint import SAMPLES_DIR
from paddle_gan.viz import cyclegan_rows, save_png

Tensor = paddle.Tensor
SNAPSHOT_COUNT = 8  # fixed images per domain in the sample rows


# ----------------------------------------------------------------------------- losses
def l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference (PyTorch's L1Loss, as the CycleGAN code uses)."""
    return (a - b).abs().mean()


def cycle_losses(real_a: Tensor, rec_a: Tensor, real_b: Tensor, rec_b: Tensor,
                 lambda_cyc: float) -> tuple[Tensor, Tensor]:
    """(lambda * |F(G(a)) - a|_1, lambda * |G(F(b)) - b|_1); the cycle loss is their sum."""
    return lambda_cyc * l1(rec_a, real_a), lambda_cyc * l1(rec_b, real_b)


def identity_losses(real_a: Tensor, same_a: Tensor, real_b: Tensor, same_b: Tensor,
                    weight: float) -> tuple[Tensor, Tensor]:
    """(weight * |F(a) - a|_1, weight * |G(b) - b|_1): each generator should leave images of its
    own target domain unchanged. weight = lambda_identity * lambda_cyc (paper: 0.5 * 10)."""
    return weight * l1(same_a, real_a), weight * l1(same_b, real_b)


# ----------------------------------------------------------------------------- schedule
def decay_epochs(cfg: TrainConfig) -> int:
    """Epochs of linear decay after the constant phase (default: as many as `epochs`)."""
    return cfg.epochs if cfg.decay_epochs is None else cfg.decay_epochs


def linear_decay(epochs: int, decay: int) -> Callable[[int], float]:
    """LR factor of epoch e (0-based): 1 for the first `epochs` epochs, then falling linearly by
    1/(decay+1) per epoch, reaching 0 after the last epoch (the CycleGAN code's 'linear' policy)."""

    def factor(epoch: int) -> float:
        if epoch < epochs:
            return 1.0
        return max(0.0, (epochs + decay - epoch) / (decay + 1.0))

    return factor


def make_scheduler(cfg: TrainConfig, learning_rate: float) -> paddle.optimizer.lr.LambdaDecay:
    """The run's LR schedule as a Paddle scheduler (its state goes into every checkpoint)."""
    return paddle.optimizer.lr.LambdaDecay(learning_rate, linear_decay(cfg.epochs, decay_epochs(cfg)))


# ----------------------------------------------------------------------------- pictures
class CycleSnapshots:
    """samples/<tag>.png: rows a | G(a) | F(G(a)) | b | F(b) | G(F(b)) for fixed training images;
    VisualDL images 'cycle_AtoB' and 'cycle_BtoA' with the same rows per direction."""

    def __init__(self, run_dir: str, images_a: np.ndarray, images_b: np.ndarray) -> None:
        self.folder = os.path.join(run_dir, SAMPLES_DIR)
        self.images = (images_a, images_b)

    def __call__(self, trainer: Any, tag: str) -> str:
        picture = cyclegan_rows(trainer, self.images)
        path = os.path.join(self.folder, f"{tag}.png")
        save_png(path, picture)
        trainer.monitor.image("cycle_AtoB", trainer.step, cyclegan_rows(trainer, (self.images[0], None)))
        trainer.monitor.image("cycle_BtoA", trainer.step, cyclegan_rows(trainer, (None, self.images[1])))
        return path


# ----------------------------------------------------------------------------- trainer
class CycleGanTrainer(GanTrainer):
    """Trains a GeneratorPair / DiscriminatorPair on UnpairedData.

    Args:
        cfg: the resolved config (lambda_cyc, lambda_identity, pool_size, decay_epochs, ...).
        loss: the adversarial objective (LSGAN by default for cyclegan).
        generator: GeneratorPair (G: A->B as `ab`, F: B->A as `ba`).
        discriminator: DiscriminatorPair (D_A as `a`, D_B as `b`).
        data: UnpairedData (domain A in samples, B in samples_b), [0, 1] images.
        run_dir: the run folder.
        monitor: VisualDL / console writer (built from run_dir when omitted).

    `train_step` takes ((A images, B images), (A labels, B labels)) as UnpairedBatches yields.
    The run lasts epochs + decay_epochs epochs (or max_steps steps).
    """

    checkpoint_kind = "cyclegan"
    compiles_forwards = False  # the pairs are called through their parts (G.ab, D.a, ...)

    def __init__(self, cfg: TrainConfig, loss: LossSpec, generator: GeneratorPair,
                 discriminator: DiscriminatorPair, data: ArrayData, run_dir: str,
                 monitor: Optional[RunMonitor] = None, runtime: Optional[StepRuntime] = None,
                 parallel: Optional[ParallelContext] = None) -> None:
        if not isinstance(data, UnpairedData):
            raise UserError(f"--model cyclegan needs two-domain data (--dataset unpaired "
                            f"--data-dir DIR, or mnist_style), not {cfg.dataset!r}")
        super().__init__(cfg, loss, generator, discriminator, data, run_dir, monitor, runtime,
                         parallel)
        self.batches = UnpairedBatches(data, cfg.batch_size, cfg.seed)
        self.sched_g = make_scheduler(cfg, cfg.lr_g)
        self.sched_d = make_scheduler(cfg, cfg.lr_d)
        self.opt_g = make_optimizer(cfg, generator.parameters(), self.sched_g)
        self.opt_d = make_optimizer(cfg, discriminator.parameters(), self.sched_d)
        shape = tuple(data.samples.shape[1:])
        self.pool_a = ImagePool(cfg.pool_size, shape)  # fakes F(b) shown to D_A
        self.pool_b = ImagePool(cfg.pool_size, shape)  # fakes G(a) shown to D_B
        self.identity_weight = cfg.lambda_identity * cfg.lambda_cyc
        rng = np.random.default_rng([cfg.seed, 424242])
        self.fixed_images = tuple(
            x[np.sort(rng.choice(len(x), min(SNAPSHOT_COUNT, len(x)), replace=False))]
            for x in (data.samples, data.samples_b))  # the snapshot rows' images
        self._snapshot = CycleSnapshots(run_dir, *self.fixed_images)

    # ----------------------------------------------------------------- state
    def total_epochs(self) -> int:
        return self.cfg.epochs + decay_epochs(self.cfg)

    def modules(self) -> dict[str, nn.Layer]:
        return {"G": self.G, "D": self.D, "pool_A": self.pool_a, "pool_B": self.pool_b}

    # ----------------------------------------------------------------- pieces
    def _to_model_range(self, images: np.ndarray) -> Tensor:
        return paddle.to_tensor(from_unit_range(images, self.G.output_range).astype(np.float32))

    def _update_lr(self) -> None:
        """Set both schedulers to the current epoch (a pure function of the position)."""
        for scheduler in (self.sched_g, self.sched_d):
            if scheduler.last_epoch != self.position.epoch:
                scheduler.step(epoch=self.position.epoch)

    def g_step(self, real_a: Tensor, real_b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One update of both generators; returns (stats, G(a), F(b))."""
        G, D, settings = self.G, self.D, self.settings
        with frozen(D):  # no gradients for the discriminators' weights
            fake_b = G.ab(real_a)  # [N, C, H, W]
            fake_a = G.ba(real_b)
            adv_ab = g_objective(self.loss, settings, D.b, real_b, fake_b)
            adv_ba = g_objective(self.loss, settings, D.a, real_a, fake_a)
            cyc_a, cyc_b = cycle_losses(real_a, G.ba(fake_b), real_b, G.ab(fake_a),
                                        self.cfg.lambda_cyc)
            total = adv_ab + adv_ba + cyc_a + cyc_b
            stats = {"g_adv_AtoB": adv_ab, "g_adv_BtoA": adv_ba, "cycle_A": cyc_a,
                     "cycle_B": cyc_b}
            if self.identity_weight > 0:
                idt_a, idt_b = identity_losses(real_a, G.ba(real_a), real_b, G.ab(real_b),
                                               self.identity_weight)
                total = total + idt_a + idt_b
                stats.update(identity_A=idt_a, identity_B=idt_b)
            apply_update(total, self.opt_g, G, "G", self.runtime, self._grad_hook(self.cfg.k))
        self.opt_d.clear_grad()  # any gradient D still received (a compiled D) is discarded
        stats["g_loss"] = total
        return stats, fake_b.detach(), fake_a.detach()

    def cycle_d_step(self, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor
                     ) -> dict[str, Tensor]:
        """One update of both discriminators on real images and pooled fakes, each objective
        (penalty included) halved as in the paper."""
        rng = np.random.default_rng([self.cfg.seed, self.position.step, 17])
        pooled_a = self.pool_a.query(fake_a, rng)
        pooled_b = self.pool_b.query(fake_b, rng)
        if self.loss.weight_clipping:
            clip_critic(self.D, self.settings.weight_clip)
        loss_a, stats_a = d_objective(self.loss, self.settings, self.D.a, self.D.a, real_a, pooled_a)
        loss_b, stats_b = d_objective(self.loss, self.settings, self.D.b, self.D.b, real_b, pooled_b)
        loss_a, loss_b = 0.5 * loss_a, 0.5 * loss_b
        d_loss = loss_a + loss_b
        apply_update(d_loss, self.opt_d, self.D, "D", self.runtime, self._grad_hook(1))
        return {"d_loss": d_loss, "d_loss_A": loss_a, "d_loss_B": loss_b,
                "real_score": (stats_a["real_score"] + stats_b["real_score"]) / 2.0,
                "fake_score": (stats_a["fake_score"] + stats_b["fake_score"]) / 2.0}

    def train_step(self, samples: tuple[np.ndarray, np.ndarray],
                   labels: Any = None) -> dict[str, Union[Tensor, float]]:
        """G step (every k-th step) then D step, on one (A, B) batch of [0, 1] images."""
        paddle.seed(step_seed(self.cfg.seed, self.position.step))
        self._update_lr()
        real_a, real_b = (self._to_model_range(x) for x in samples)
        with self.runtime.context():
            if self.is_g_step():
                self._last_g, fake_b, fake_a = self.g_step(real_a, real_b)
            else:
                with paddle.no_grad():
                    fake_b, fake_a = self.G.ab(real_a), self.G.ba(real_b)
            stats: dict[str, Union[Tensor, float]] = dict(
                self.cycle_d_step(real_a, real_b, fake_a, fake_b))
        stats.update(self._last_g)
        stats["lr_g"] = float(self.sched_g.last_lr)
        return stats

    def sample_fixed(self, n: int) -> np.ndarray:
        """G(a) for the first n fixed A images, in [0, 1] (the generic trainer's sample hook;
        use `cyclegan_rows` for the full picture)."""
        return self.G.translate(self.fixed_images[0][:n], "AtoB")
