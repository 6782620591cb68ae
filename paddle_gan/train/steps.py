"""The suite's one discriminator step and one generator step.

Every trainer (images, 2-D points, CycleGAN) and the benchmark's bare loop call `d_step` and
`g_step`; nothing else in the package freezes D, clips a critic or applies an update. A step is a
function of

- the networks and their optimizers (`Adversaries`; for CycleGAN a pair of each),
- the *objective*: what the update optimises on a batch (`Objective`). `PairObjective` is one
  generator against one discriminator with a `LossSpec` (losses, score, clipping or penalty)
  and the config's numbers (`StepSettings`); CycleGAN's objective (both directions, cycle and
  identity terms, image pools, the halved D loss) lives with its trainer,
- a `StepRuntime`: the forwards to call (the networks themselves, compiled programs or
  data-parallel wrappers), the context a step runs in (autocast, the oneDNN flag), the AMP loss
  scalers and this process's share of a batch,

and returns the tensors a trainer logs. What the steps guarantee for every objective (tested in
tests/test_steps.py): a G step leaves D's weights, gradients and optimizer state as they were (D's
batch-norm running statistics do move: a train-mode pass through D updates them); a D step leaves
G's; under weight clipping the critic is clipped before each of its updates.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator, Mapping, Optional, Protocol

import paddle
import paddle.nn as nn

from paddle_gan.losses import LossSpec, clip_weights, gradient_penalty

Tensor = paddle.Tensor
#: called with (network name, layer) between a backward pass and the optimizer step
GradHook = Callable[[str, nn.Layer], None]


@dataclass(frozen=True)
class StepRuntime:
    """How a step runs (built once per run by `paddle_gan.train.speed.build_step_runtime`).

    g_forward / d_forward: what the steps call as G and D (None: the networks themselves);
        compiled programs or `paddle.DataParallel` wrappers share the networks' parameters.
    context: a context manager factory every step runs in (AMP autocast, the oneDNN flag).
    scalers: AMP loss scalers by network name ("G", "D"); empty without AMP.
    shard: (rank, world) of a data-parallel run: this process's rows of every latent draw.
    """

    g_forward: Optional[Callable[..., Tensor]] = None
    d_forward: Optional[Callable[..., Tensor]] = None
    context: Callable[[], ContextManager] = contextlib.nullcontext
    scalers: Mapping[str, Any] = field(default_factory=dict)
    shard: tuple[int, int] = (0, 1)


@dataclass(frozen=True)
class StepSettings:
    """The config's numbers that a step reads.

    latent_dim: length of z. label_smoothing: target of real samples in D's BCE / LS loss.
    gp_lambda: weight of the gradient penalty. weight_clip: WGAN's clipping bound c.
    tanh_head: apply tanh to D's output before the loss (the tutorial's LSGAN).
    joint_batches: real and fake go through D as one batch in the D step.
    batch_coupled: D mixes samples of a batch (batch norm), so the G step shows D the real batch
        beside the fakes, as in the D step; without batch norm D scores each sample on its own
        and the fakes go alone (same update, half the work).
    """

    latent_dim: int
    label_smoothing: float = 1.0
    gp_lambda: float = 10.0
    weight_clip: float = 0.01
    tanh_head: bool = False
    joint_batches: bool = True
    batch_coupled: bool = True

    @classmethod
    def from_config(cls, cfg: Any, discriminator: nn.Layer,
                    latent_dim: Optional[int] = None) -> "StepSettings":
        """Settings of `cfg` for this discriminator (batch norm found by looking at its layers)."""
        return cls(latent_dim=latent_dim or cfg.latent_dim,
                   label_smoothing=cfg.label_smoothing,
                   gp_lambda=cfg.gp_lambda if cfg.gp_lambda is not None else 10.0,
                   weight_clip=cfg.weight_clip if cfg.weight_clip is not None else 0.01,
                   tanh_head=cfg.d_head == "tanh",
                   joint_batches=cfg.d_batches == "joint",
                   batch_coupled=has_batch_norm(discriminator))


@dataclass
class Adversaries:
    """The two networks and their optimizers."""

    G: nn.Layer
    D: nn.Layer
    opt_g: Any
    opt_d: Any


def has_batch_norm(layer: nn.Layer) -> bool:
    """Whether any sublayer normalises with batch statistics (mixing a batch's samples)."""
    norms = (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.SyncBatchNorm)
    return any(isinstance(sub, norms) for sub in layer.sublayers(include_self=True))


def head(out: Tensor, settings: StepSettings) -> Tensor:
    """D's raw output as the loss sees it (tanh for the tutorial's LSGAN head)."""
    return paddle.tanh(out) if settings.tanh_head else out


def latents(n: int, settings: StepSettings, runtime: StepRuntime) -> Tensor:
    """n latent vectors; a data-parallel rank takes its rows of the whole batch's draw, so N
    processes use exactly the latents of one."""
    rank, world = runtime.shard
    if world > 1:
        return paddle.randn([n * world, settings.latent_dim])[rank * n:(rank + 1) * n]
    return paddle.randn([n, settings.latent_dim])


def discriminate(d: Callable[..., Tensor], real: Tensor, fake: Tensor, cond: Optional[Tensor],
                 settings: StepSettings, joint: bool) -> tuple[Tensor, Tensor]:
    """D's (head-transformed) scores of a real and a fake batch, as one batch when `joint`.

    One batch lets batch norm normalise real and fake with shared statistics; with two passes
    (the tutorial's code) each batch is normalised by its own statistics, which on the stride-2
    D (last block a 1x1 map) erases the difference between a real and a fake batch.
    """
    if not joint:
        return head(d(real, cond), settings), head(d(fake, cond), settings)
    n = real.shape[0]
    both = None if cond is None else paddle.concat([cond, cond])
    out = head(d(paddle.concat([real, fake]), both), settings)  # [2N, ...]
    return out[:n], out[n:]


def d_objective(loss: LossSpec, settings: StepSettings, d: Callable[..., Tensor],
                critic: Callable[..., Tensor], real: Tensor, fake: Tensor,
                cond: Optional[Tensor] = None) -> tuple[Tensor, dict[str, Tensor]]:
    """D's loss on a real batch and a (detached) fake batch, and the values to log.

    `d` scores the batches (possibly compiled); `critic` is D's dynamic forward, which the
    gradient penalty differentiates twice (a compiled program cannot be).
    """
    real_out, fake_out = discriminate(d, real, fake, cond, settings, settings.joint_batches)
    d_loss = loss.d_loss(real_out, fake_out, real_label=settings.label_smoothing)
    stats = {"real_score": loss.score(real_out), "fake_score": loss.score(fake_out)}
    if loss.gradient_penalty:
        # float32 under AMP: no loss scale is needed inside the penalty
        with paddle.amp.auto_cast(enable=False):
            gp = gradient_penalty(lambda x: head(critic(x, cond), settings), real,
                                  fake.astype("float32"))
        stats["gp"] = gp
        d_loss = d_loss + settings.gp_lambda * gp
    if loss.gradient_penalty or loss.weight_clipping:
        stats["wasserstein"] = real_out.mean() - fake_out.mean()
    stats["d_loss"] = d_loss
    return d_loss, stats


def g_objective(loss: LossSpec, settings: StepSettings, d: Callable[..., Tensor], real: Tensor,
                fake: Tensor, cond: Optional[Tensor] = None) -> Tensor:
    """G's adversarial loss on fakes that carry G's graph (the real batch only accompanies them
    through a batch-norm D; see `StepSettings.batch_coupled`)."""
    if settings.batch_coupled:
        _, fake_out = discriminate(d, real, fake, cond, settings, settings.joint_batches)
    else:
        fake_out = head(d(fake, cond), settings)
    return loss.g_loss(fake_out)


def apply_update(value: Tensor, optimizer: Any, layer: nn.Layer, name: str,
                 runtime: StepRuntime, on_grads: Optional[GradHook] = None) -> None:
    """Backward of `value`, then one optimizer step of `layer` and its gradients cleared.

    Under AMP the loss is scaled and the gradients unscaled before `on_grads` sees them (true
    gradients for histograms); the scaler skips a step whose gradients are not finite.
    """
    scaler = runtime.scalers.get(name)
    if scaler is None:
        value.backward()
    else:
        scaler.scale(value).backward()
        scaler.unscale_(optimizer)
    if on_grads is not None:
        on_grads(name, layer)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    optimizer.clear_grad()


@contextlib.contextmanager
def frozen(*layers: nn.Layer) -> Iterator[None]:
    """Inside the block the layers' trainable parameters take no gradient (`stop_gradient`),
    restored after, also on errors. A G step backpropagates through D to reach G, but has no use
    for D's own weight gradients: frozen, D's layers skip computing them (8-9 % of the
    quickstart's step) and G's gradients are the same."""
    params = [p for layer in layers for p in layer.parameters() if not p.stop_gradient]
    for param in params:
        param.stop_gradient = True
    try:
        yield
    finally:
        for param in params:
            param.stop_gradient = False


def clip_critic(discriminator: nn.Layer, bound: float) -> None:
    """WGAN's Lipschitz constraint: D's trainable weights clipped to [-bound, bound] in place
    (batch norm's running statistics are parameters in Paddle too, and are left alone)."""
    clip_weights([p for p in discriminator.parameters() if p.trainable], bound)


@dataclass(frozen=True)
class Batch:
    """One step's real data for a `PairObjective`: images (or points) in G's output range and
    the one-hot condition of a conditional run."""

    real: Tensor
    cond: Optional[Tensor] = None


class Objective(Protocol):
    """What a GAN update optimises; `d_step` and `g_step` do the rest (freeze, clip, update).

    clip_bound: WGAN's weight-clipping bound, applied to D before every D update (None: none).
    fakes: detached fakes for a D step that follows no G step (called under `no_grad`).
    d_loss: D's loss on the batch and those fakes, and the values to log (`d_loss` among them).
    g_loss: G's loss on fresh fakes carrying G's graph, the values to log, and the fakes (for an
        objective whose D step reuses them, as CycleGAN's image pools do).
    """

    clip_bound: Optional[float]

    def fakes(self, nets: Adversaries, runtime: StepRuntime, batch: Any) -> Any: ...

    def d_loss(self, nets: Adversaries, runtime: StepRuntime, batch: Any,
               fakes: Any) -> tuple[Tensor, dict[str, Tensor]]: ...

    def g_loss(self, nets: Adversaries, runtime: StepRuntime,
               batch: Any) -> tuple[Tensor, dict[str, Tensor], Any]: ...


@dataclass(frozen=True)
class PairObjective:
    """One generator against one discriminator under a `LossSpec` (every model but CycleGAN).

    The batch is a `Batch`; G and D are called as the runtime says (compiled or data-parallel
    forwards), the gradient penalty always differentiates D's own dynamic forward.
    """

    loss: LossSpec
    settings: StepSettings

    @property
    def clip_bound(self) -> Optional[float]:
        return self.settings.weight_clip if self.loss.weight_clipping else None

    def fakes(self, nets: Adversaries, runtime: StepRuntime, batch: Batch) -> Tensor:
        g = runtime.g_forward or nets.G
        return g(latents(batch.real.shape[0], self.settings, runtime), batch.cond)

    def d_loss(self, nets: Adversaries, runtime: StepRuntime, batch: Batch,
               fakes: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return d_objective(self.loss, self.settings, runtime.d_forward or nets.D, nets.D,
                           batch.real, fakes, batch.cond)

    def g_loss(self, nets: Adversaries, runtime: StepRuntime,
               batch: Batch) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        fake = self.fakes(nets, runtime, batch)
        value = g_objective(self.loss, self.settings, runtime.d_forward or nets.D, batch.real,
                            fake, batch.cond)
        return value, {}, fake


def d_step(nets: Adversaries, objective: Objective, runtime: StepRuntime, batch: Any,
           fakes: Any = None, on_grads: Optional[GradHook] = None) -> dict[str, Tensor]:
    """One discriminator (critic) update on a batch and detached fakes (`fakes`, or fresh ones
    from `objective.fakes`).

    Under weight clipping the critic's weights are clipped *before* the update, as the WGAN
    reference code does, so no critic step ever starts from unclipped weights.
    """
    if objective.clip_bound is not None:
        clip_critic(nets.D, objective.clip_bound)
    if fakes is None:
        with paddle.no_grad():
            fakes = objective.fakes(nets, runtime, batch)
    d_loss, stats = objective.d_loss(nets, runtime, batch, fakes)
    apply_update(d_loss, nets.opt_d, nets.D, "D", runtime, on_grads)
    return stats


def g_step(nets: Adversaries, objective: Objective, runtime: StepRuntime, batch: Any,
           on_grads: Optional[GradHook] = None) -> tuple[dict[str, Tensor], Any]:
    """One generator update on fresh fakes; returns (the values to log, the fakes detached).

    D is frozen for the pass (`frozen`): its weights take no gradient, so its weights,
    gradients and optimizer state are as they were (its batch-norm statistics move with the
    train-mode forward, as in the tutorial).
    """
    with frozen(nets.D):
        g_loss, stats, fakes = objective.g_loss(nets, runtime, batch)
        apply_update(g_loss, nets.opt_g, nets.G, "G", runtime, on_grads)
    return {**stats, "g_loss": g_loss}, detach_all(fakes)


def detach_all(value: Any) -> Any:
    """A tensor, or a tuple of tensors, without its autograd history."""
    if isinstance(value, tuple):
        return tuple(detach_all(v) for v in value)
    return value.detach() if isinstance(value, Tensor) else value
