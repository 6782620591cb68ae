"""CycleGAN training: two generators, two PatchGANs, cycle and identity losses, image pools and
a constant-then-linearly-decaying learning rate (Zhu et al. 2017, section 4 and appendix 7.1).

`CycleGanTrainer` is a GanTrainer whose generator and discriminator are the model's
GeneratorPair / DiscriminatorPair. Its updates are `paddle_gan.train.steps`' d_step and g_step
with `CycleObjective` (below): the freeze, the weight clipping and the update (histograms, AMP
scaling) are the steps' own. The trainer supplies its batches (aligned A/B), optimizers (LR
schedulers) and snapshots through GanTrainer's hooks and inherits everything else unchanged:
the fit loop, checkpoints (with the schedulers' state and both image pools), the interrupt and
non-finite-loss handling, VisualDL scalars, train_log.jsonl and the summary line.

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
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.config import TrainConfig, effective_value
from paddle_gan.data import ArrayData
from paddle_gan.data.unpaired import UnpairedBatches, UnpairedData
from paddle_gan.errors import UserError
from paddle_gan.distributed import ParallelContext
from paddle_gan.losses import LossSpec
from paddle_gan.models.cyclegan import DiscriminatorPair, GeneratorPair
from paddle_gan.monitor import RunMonitor
from paddle_gan.train import register_trainer
from paddle_gan.train.gan import GanTrainer, detached
from paddle_gan.train.image_pool import ImagePool
from paddle_gan.train.optim import make_optimizer, step_seed
from paddle_gan.train.steps import (Adversaries, StepRuntime, StepSettings, d_objective, d_step,
                                    g_objective, g_step)
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
    """Epochs of linear decay after the constant phase (default: as many as `epochs`; the
    value `--resume` compares, `config.effective_value`)."""
    return effective_value(cfg, "decay_epochs")


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


# ----------------------------------------------------------------------------- objective
@dataclass(frozen=True)
class CycleBatch:
    """One step's data: real a in A and real b in B (model range), and the generator that
    decides this step's image-pool swaps (a function of the seed and the step: exact resume)."""

    real_a: Tensor
    real_b: Tensor
    pool_rng: np.random.Generator


class CycleObjective:
    """CycleGAN's objective for `d_step` / `g_step` (nets.G a GeneratorPair, nets.D a
    DiscriminatorPair); fakes are the pair (G(a), F(b)).

    G's loss: the adversarial loss of both directions + cycle + identity (module docstring).
    D's loss: D_A on real a against pool_A(F(b)), D_B on real b against pool_B(G(a)), each
    (penalty included) halved as in the paper.

    Args:
        loss, settings: the adversarial loss and its numbers, as for one pair.
        lambda_cyc: weight of the cycle loss. identity_weight: lambda_identity * lambda_cyc.
        pool_a / pool_b: the history pools of fakes shown to D_A / D_B.
    """

    def __init__(self, loss: LossSpec, settings: StepSettings, lambda_cyc: float,
                 identity_weight: float, pool_a: ImagePool, pool_b: ImagePool) -> None:
        self.loss, self.settings = loss, settings
        self.lambda_cyc, self.identity_weight = lambda_cyc, identity_weight
        self.pool_a, self.pool_b = pool_a, pool_b

    @property
    def clip_bound(self) -> Optional[float]:
        return self.settings.weight_clip if self.loss.weight_clipping else None

    def fakes(self, nets: Adversaries, runtime: StepRuntime,
              batch: CycleBatch) -> tuple[Tensor, Tensor]:
        return nets.G.ab(batch.real_a), nets.G.ba(batch.real_b)  # [N, C, H, W] each

    def g_loss(self, nets: Adversaries, runtime: StepRuntime, batch: CycleBatch
               ) -> tuple[Tensor, dict[str, Tensor], tuple[Tensor, Tensor]]:
        G, D, real_a, real_b = nets.G, nets.D, batch.real_a, batch.real_b
        fake_b, fake_a = self.fakes(nets, runtime, batch)
        adv_ab = g_objective(self.loss, self.settings, D.b, real_b, fake_b)
        adv_ba = g_objective(self.loss, self.settings, D.a, real_a, fake_a)
        cyc_a, cyc_b = cycle_losses(real_a, G.ba(fake_b), real_b, G.ab(fake_a), self.lambda_cyc)
        total = adv_ab + adv_ba + cyc_a + cyc_b
        stats = {"g_adv_AtoB": adv_ab, "g_adv_BtoA": adv_ba, "cycle_A": cyc_a, "cycle_B": cyc_b}
        if self.identity_weight > 0:
            idt_a, idt_b = identity_losses(real_a, G.ba(real_a), real_b, G.ab(real_b),
                                           self.identity_weight)
            total = total + idt_a + idt_b
            stats.update(identity_A=idt_a, identity_B=idt_b)
        return total, stats, (fake_b, fake_a)

    def d_loss(self, nets: Adversaries, runtime: StepRuntime, batch: CycleBatch,
               fakes: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        fake_b, fake_a = fakes
        pooled_a = self.pool_a.query(fake_a, batch.pool_rng)  # fakes of domain A, for D_A
        pooled_b = self.pool_b.query(fake_b, batch.pool_rng)
        loss_a, stats_a = d_objective(self.loss, self.settings, nets.D.a, nets.D.a,
                                      batch.real_a, pooled_a)
        loss_b, stats_b = d_objective(self.loss, self.settings, nets.D.b, nets.D.b,
                                      batch.real_b, pooled_b)
        loss_a, loss_b = 0.5 * loss_a, 0.5 * loss_b
        d_loss = loss_a + loss_b
        return d_loss, {"d_loss": d_loss, "d_loss_A": loss_a, "d_loss_B": loss_b,
                        "real_score": (stats_a["real_score"] + stats_b["real_score"]) / 2.0,
                        "fake_score": (stats_a["fake_score"] + stats_b["fake_score"]) / 2.0}


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
        super().__init__(cfg, loss, generator, discriminator, data, run_dir, monitor, runtime,
                         parallel)

    # ----------------------------------------------------------------- GanTrainer's hooks
    @staticmethod
    def batches_of(cfg: TrainConfig, data: ArrayData) -> UnpairedBatches:
        """(A, B) batches of two-domain `data`; UserError for data of one domain or a domain
        smaller than a batch."""
        if not isinstance(data, UnpairedData):
            raise UserError(f"--model cyclegan needs two-domain data (--dataset unpaired "
                            f"--data-dir DIR, or mnist_style), not {cfg.dataset!r}")
        return UnpairedBatches(data, cfg.batch_size, cfg.seed)

    def make_batches(self) -> UnpairedBatches:
        return self.batches_of(self.cfg, self.data)

    def make_optimizers(self) -> tuple[Any, Any]:
        self.sched_g = make_scheduler(self.cfg, self.cfg.lr_g)
        self.sched_d = make_scheduler(self.cfg, self.cfg.lr_d)
        return (make_optimizer(self.cfg, self.G.parameters(), self.sched_g),
                make_optimizer(self.cfg, self.D.parameters(), self.sched_d))

    def make_snapshots(self) -> CycleSnapshots:
        rng = np.random.default_rng([self.cfg.seed, 424242])
        self.fixed_images = tuple(
            x[np.sort(rng.choice(len(x), min(SNAPSHOT_COUNT, len(x)), replace=False))]
            for x in (self.data.samples, self.data.samples_b))  # the snapshot rows' images
        return CycleSnapshots(self.run_dir, *self.fixed_images)

    def make_objective(self) -> CycleObjective:
        shape = tuple(self.data.samples.shape[1:])
        self.pool_a = ImagePool(self.cfg.pool_size, shape)  # fakes F(b) shown to D_A
        self.pool_b = ImagePool(self.cfg.pool_size, shape)  # fakes G(a) shown to D_B
        return CycleObjective(self.loss, self.settings, self.cfg.lambda_cyc,
                              self.cfg.lambda_identity * self.cfg.lambda_cyc,
                              self.pool_a, self.pool_b)

    # ----------------------------------------------------------------- state
    def total_epochs(self) -> int:
        return self.cfg.epochs + decay_epochs(self.cfg)

    def decay_horizon(self, cfg: TrainConfig, samples: Optional[int] = None) -> Optional[int]:
        """None: the steps never set the loss-given `lr_decay`; CycleGAN's schedule follows
        `decay_epochs`, a step setting of its own."""
        return None

    def modules(self) -> dict[str, nn.Layer]:
        return {"G": self.G, "D": self.D, "pool_A": self.pool_a, "pool_B": self.pool_b}

    # ----------------------------------------------------------------- pieces
    def _update_lr(self) -> None:
        """Set both schedulers to the current epoch (a pure function of the position)."""
        for scheduler in (self.sched_g, self.sched_d):
            if scheduler.last_epoch != self.position.epoch:
                scheduler.step(epoch=self.position.epoch)

    def to_batch(self, samples: tuple[np.ndarray, np.ndarray], labels: Any = None) -> CycleBatch:
        """An (A, B) batch of [0, 1] images in the model's range, with this step's pool draws."""
        real_a, real_b = (
            paddle.to_tensor(from_unit_range(x, self.G.output_range).astype(np.float32))
            for x in samples)
        return CycleBatch(real_a, real_b,
                          np.random.default_rng([self.cfg.seed, self.position.step, 17]))

    def train_step(self, samples: tuple[np.ndarray, np.ndarray],
                   labels: Any = None) -> dict[str, Union[Tensor, float]]:
        """G step (every k-th step) then D step on G's fakes (or fresh ones), on one (A, B)
        batch of [0, 1] images."""
        paddle.seed(step_seed(self.cfg.seed, self.position.step))
        self._update_lr()
        batch = self.to_batch(samples)
        nets, objective, runtime = self.nets, self.objective, self.runtime
        fakes = None
        with runtime.context():
            if self.is_g_step():
                window = self.schedule.window(self.position.step)
                g_stats, fakes = g_step(nets, objective, runtime, batch,
                                        on_grads=self._grad_hook(window))
                self._last_g = detached(g_stats)
            stats: dict[str, Union[Tensor, float]] = dict(
                d_step(nets, objective, runtime, batch, fakes=fakes,
                       on_grads=self._grad_hook(1)))
        stats = detached(stats)
        stats.update(self._last_g)
        stats["lr_g"] = float(self.sched_g.last_lr)
        return stats

    def sample_fixed(self, n: int) -> np.ndarray:
        """G(a) for the first n fixed A images, in [0, 1] (the generic trainer's sample hook;
        use `cyclegan_rows` for the full picture)."""
        return self.G.translate(self.fixed_images[0][:n], "AtoB")


register_trainer(CycleGanTrainer)
