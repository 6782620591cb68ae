"""A PyTorch twin of a run's networks and step, to measure this suite's speed against.

`tools/benchmark.py --reference torch` builds, from the suite's own Paddle networks, PyTorch
networks with the same layers and the same weights (`twin`: layer by layer, weights copied), and
times one iteration of the same update in PyTorch eager mode: k D steps on the real batch and
fresh fakes (real and fake as one batch when the suite does so), one G step with D frozen
(`requires_grad_(False)`, as `train/steps.py` freezes D), the same loss (BCE on logits with the
real label, LSGAN, WGAN with clipping before each critic step, WGAN-GP with one t per sample),
the same optimizers (Adam or RMSProp, same rates and betas), the same threads, and G's weight
average after each G step when the run keeps one. `tests/test_benchmark.py` checks, where
PyTorch is installed, that the twins compute what the Paddle networks compute.

PyTorch is optional: this module imports it only when called, and the suite never needs it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np


def torch_available() -> bool:
    """Whether PyTorch can be imported here."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- layers
def _tensor(value: Any) -> Any:
    import torch

    return torch.from_numpy(np.array(value.numpy(), dtype=np.float32))


def _same_padding(layer: Any) -> Any:
    padding = layer._padding
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, (list, tuple)):
        values = list(padding)
        if len(values) == 4 and values[0] == values[1] and values[2] == values[3]:
            return (values[0], values[2])
        return tuple(values)
    return padding


def twin_leaf(layer: Any) -> Any:
    """The PyTorch layer that computes what the Paddle leaf layer computes, weights copied.

    Conv2D, Conv2DTranspose (the same [in, out, k, k] weight layout in both), Linear (Paddle
    stores [in, out], PyTorch [out, in]), BatchNorm1D/2D (Paddle's momentum m is PyTorch's
    1 - m), element-wise activations, Dropout, PixelShuffle. TypeError for anything else.
    """
    import paddle.nn as pnn
    import torch.nn as tnn

    def copy(dst: Any, name: str, src: Any) -> None:
        if src is not None:
            getattr(dst, name).data.copy_(_tensor(src))

    if isinstance(layer, (pnn.Conv2D, pnn.Conv2DTranspose)):
        transposed = isinstance(layer, pnn.Conv2DTranspose)
        extra = {"output_padding": layer.output_padding} if transposed else {}
        out = (tnn.ConvTranspose2d if transposed else tnn.Conv2d)(
            layer._in_channels, layer._out_channels, layer._kernel_size, stride=layer._stride,
            padding=_same_padding(layer), dilation=layer._dilation, groups=layer._groups,
            bias=layer.bias is not None, **extra)
        copy(out, "weight", layer.weight)
        copy(out, "bias", layer.bias)
        return out
    if isinstance(layer, pnn.Linear):
        fan_in, fan_out = layer.weight.shape
        out = tnn.Linear(fan_in, fan_out, bias=layer.bias is not None)
        out.weight.data.copy_(_tensor(layer.weight).t())
        copy(out, "bias", layer.bias)
        return out
    if isinstance(layer, (pnn.BatchNorm1D, pnn.BatchNorm2D)):
        kind = tnn.BatchNorm1d if isinstance(layer, pnn.BatchNorm1D) else tnn.BatchNorm2d
        out = kind(layer.weight.shape[0], eps=layer._epsilon, momentum=1.0 - layer._momentum)
        copy(out, "weight", layer.weight)
        copy(out, "bias", layer.bias)
        out.running_mean.copy_(_tensor(layer._mean))
        out.running_var.copy_(_tensor(layer._variance))
        return out
    if isinstance(layer, pnn.LeakyReLU):
        return tnn.LeakyReLU(layer._negative_slope)
    if isinstance(layer, pnn.Dropout):
        return tnn.Dropout(layer.p)
    if isinstance(layer, pnn.PixelShuffle):
        return tnn.PixelShuffle(layer._upscale_factor)
    simple = {pnn.ReLU: tnn.ReLU, pnn.Tanh: tnn.Tanh, pnn.Sigmoid: tnn.Sigmoid,
              pnn.Identity: tnn.Identity}
    for paddle_type, torch_type in simple.items():
        if isinstance(layer, paddle_type):
            return torch_type()
    raise TypeError(f"no PyTorch twin for {type(layer).__name__}")


def _condition_maps(x: Any, cond: Any) -> Any:
    import torch

    n, _, height, width = x.shape
    maps = cond.reshape(n, cond.shape[1], 1, 1).expand(n, cond.shape[1], height, width)
    return torch.cat([x, maps], dim=1)  # [N, C + K, H, W]


def twin(network: Any) -> Any:
    """The PyTorch module twin of a Paddle network of this suite (DCGAN, the seed model, the
    MLPs, and their blocks), in the same train / eval mode. TypeError for other networks."""
    import torch.nn as tnn

    forward = FORWARDS.get(type(network).__name__)
    if forward is None:
        if type(network).__name__ == "Sequential":
            module = tnn.Sequential(*[twin(child) for child in network.children()])
        else:
            module = twin_leaf(network)
        module.train(network.training)
        return module

    class Twin(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            for name, child in network.named_children():
                setattr(self, name, twin(child))
            self.source = {key: getattr(network, key) for key in
                           ("top_channels", "shape", "z_input", "project") if hasattr(network, key)}
            self.source["project"] = self.source.get("project") is not None

        def forward(self, x: Any, cond: Any = None) -> Any:
            return forward(self, x, cond)

    module = Twin()
    module.__class__.__name__ = f"Torch{type(network).__name__}"
    module.train(network.training)
    return module


def _block(m: Any, x: Any, cond: Any) -> Any:
    return m.act(m.norm(m.conv(x)))


def _dcgan_g(m: Any, z: Any, cond: Any) -> Any:
    import torch

    if cond is not None:
        z = torch.cat([z, cond], dim=1)  # [N, latent + K]
    x = m.dense(z).reshape(-1, m.source["top_channels"], 4, 4)  # [N, top, 4, 4]
    return m.up(m.dropout(m.dense_act(m.dense_norm(x))))  # [N, C, size, size]


def _dcgan_d(m: Any, x: Any, cond: Any) -> Any:
    if cond is not None:
        x = _condition_maps(x, cond)
    x = m.features(x)
    return m.head(x.reshape(x.shape[0], -1))[:, 0]  # [N]


def _seed_g(m: Any, z: Any, cond: Any) -> Any:
    if m.source["project"]:
        z = m.project(z)
    if m.source.get("z_input") == "coords":
        raise TypeError("no PyTorch twin for the coords input")
    x = z.reshape(-1, 1, 10, 10)
    if cond is not None:
        x = _condition_maps(x, cond)
    return m.net(x)  # [N, C, 32, 32]


def _seed_d(m: Any, x: Any, cond: Any) -> Any:
    if cond is not None:
        x = _condition_maps(x, cond)
    out = m.net(x)
    return out.reshape(out.shape[0], -1)[:, 0]  # [N]


def _mlp_g(m: Any, z: Any, cond: Any) -> Any:
    import torch

    if cond is not None:
        z = torch.cat([z, cond], dim=1)
    return m.net(z).reshape(-1, *m.source["shape"])  # [N, C, H, W]


def _mlp_d(m: Any, x: Any, cond: Any) -> Any:
    import torch

    x = x.reshape(x.shape[0], -1)
    if cond is not None:
        x = torch.cat([x, cond], dim=1)
    return m.net(x)[:, 0]  # [N]


FORWARDS: dict[str, Callable[..., Any]] = {
    "ConvBN": _block, "UpConvBN": _block,
    "DCGANGenerator": _dcgan_g, "DCGANDiscriminator": _dcgan_d,
    "PixelShuffleGenerator": _seed_g, "StridedDiscriminator": _seed_d,
    "MLPGenerator": _mlp_g, "MLPDiscriminator": _mlp_d,
}


# ----------------------------------------------------------------------------- the losses
def _bce_d(real_out: Any, fake_out: Any, real_label: float = 1.0) -> Any:
    import torch.nn.functional as F

    return (F.binary_cross_entropy_with_logits(real_out, real_out.new_full(real_out.shape,
                                                                           real_label))
            + F.binary_cross_entropy_with_logits(fake_out, fake_out.new_zeros(fake_out.shape)))


def _nonsaturating_g(fake_out: Any) -> Any:
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(fake_out, fake_out.new_ones(fake_out.shape))


def _minimax_g(fake_out: Any) -> Any:
    import torch.nn.functional as F

    return -F.softplus(fake_out).mean()


def _lsgan_d(real_out: Any, fake_out: Any, real_label: float = 1.0) -> Any:
    return ((real_out - real_label) ** 2).mean() + (fake_out ** 2).mean()


def _lsgan_g(fake_out: Any) -> Any:
    return ((fake_out - 1.0) ** 2).mean()


def _wasserstein_d(real_out: Any, fake_out: Any, real_label: float = 1.0) -> Any:
    return fake_out.mean() - real_out.mean()


def _wasserstein_g(fake_out: Any) -> Any:
    return -fake_out.mean()


def _torch_twins() -> dict[Callable, Callable]:
    """The suite's loss functions -> their PyTorch twins (keyed by function, so that every
    LOSSES entry made of these functions has a twin, whatever its name)."""
    from paddle_gan import losses

    return {losses.bce_d_loss: _bce_d, losses.nonsaturating_g_loss: _nonsaturating_g,
            losses.minimax_g_loss: _minimax_g, losses.lsgan_d_loss: _lsgan_d,
            losses.lsgan_g_loss: _lsgan_g, losses.wasserstein_d_loss: _wasserstein_d,
            losses.wasserstein_g_loss: _wasserstein_g}


@dataclass(frozen=True)
class TorchLoss:
    """The PyTorch twins of one LossSpec's two functions."""

    d_loss: Callable[..., Any]
    g_loss: Callable[[Any], Any]


def torch_loss(spec: Any) -> TorchLoss:
    """The twin of `spec` (a LossSpec); TypeError for a loss whose functions have no twin."""
    twins = _torch_twins()
    missing = [f.__name__ for f in (spec.d_loss, spec.g_loss) if f not in twins]
    if missing:
        raise TypeError(f"the PyTorch reference has no twin of {', '.join(missing)} (loss "
                        f"{spec.name}): add one to torch_reference._torch_twins")
    return TorchLoss(twins[spec.d_loss], twins[spec.g_loss])


# ----------------------------------------------------------------------------- the step
@dataclass
class TorchStep:
    """One iteration (k D steps + one G step) of a trainer's objective in PyTorch.

    Built by `torch_step(trainer, batch)` from the suite's trainer: its networks (twinned),
    loss, settings, optimizers' kind and rates, k, and weight average.
    """

    G: Any
    D: Any
    opt_g: Any
    opt_d: Any
    loss: TorchLoss
    settings: Any
    k: int
    real: Any
    cond: Any
    average: Optional[tuple[Any, float]] = None
    clip: Optional[float] = None
    penalty: bool = False

    def _scores(self, real: Any, fake: Any) -> tuple[Any, Any]:
        import torch

        s, n = self.settings, real.shape[0]
        if not s.joint_batches:
            return self._head(self.D(real, self.cond)), self._head(self.D(fake, self.cond))
        cond = None if self.cond is None else torch.cat([self.cond, self.cond])
        out = self._head(self.D(torch.cat([real, fake]), cond))
        return out[:n], out[n:]

    def _head(self, out: Any) -> Any:
        import torch

        return torch.tanh(out) if self.settings.tanh_head else out

    def _d_loss(self, real_out: Any, fake_out: Any) -> Any:
        return self.loss.d_loss(real_out, fake_out, self.settings.label_smoothing)

    def _g_loss(self, fake_out: Any) -> Any:
        return self.loss.g_loss(fake_out)

    def _gradient_penalty(self, real: Any, fake: Any) -> Any:
        import torch

        t = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
        xhat = (t * real + (1 - t) * fake).requires_grad_(True)
        out = self._head(self.D(xhat, self.cond))
        grad, = torch.autograd.grad(out.sum(), xhat, create_graph=True)
        return ((grad.reshape(grad.shape[0], -1).norm(dim=1) - 1.0) ** 2).mean()

    def d_step(self) -> None:
        import torch

        if self.clip is not None:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.clip, self.clip)
        n = self.real.shape[0]
        with torch.no_grad():
            fake = self.G(torch.randn(n, self.settings.latent_dim), self.cond)
        loss = self._d_loss(*self._scores(self.real, fake))
        if self.penalty:
            loss = loss + self.settings.gp_lambda * self._gradient_penalty(self.real, fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()

    def g_step(self) -> float:
        import torch

        for p in self.D.parameters():
            p.requires_grad_(False)
        fake = self.G(torch.randn(self.real.shape[0], self.settings.latent_dim), self.cond)
        if self.settings.batch_coupled:
            _, fake_out = self._scores(self.real, fake)
        else:
            fake_out = self._head(self.D(fake, self.cond))
        loss = self._g_loss(fake_out)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        if self.average is not None:
            average, decay = self.average
            with torch.no_grad():
                for mine, theirs in zip(average.parameters(), self.G.parameters()):
                    mine.lerp_(theirs, 1.0 - decay)
        return loss

    def iteration(self) -> None:
        for _ in range(self.k):
            self.d_step()
        float(self.g_step().detach())  # the loss read back, as the suite's loop logs it


def _optimizer(cfg: Any, params: Any, lr: float) -> Any:
    import torch

    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8)
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


def torch_step(trainer: Any, batch: Any) -> TorchStep:
    """The PyTorch twin of `trainer`'s iteration on `batch` (a `steps.Batch`).

    TypeError for a trainer this reference cannot mirror (CycleGAN, the 2-D toy MLPs, a loss
    without a twin).
    """
    import torch

    cfg, loss = trainer.cfg, trainer.loss
    if type(trainer.objective).__name__ != "PairObjective":
        raise TypeError("the PyTorch reference mirrors one G against one D only")
    losses = torch_loss(loss)
    torch.set_num_threads(max(1, int(cfg.threads or 1)))
    G, D = twin(trainer.G), twin(trainer.D)
    average = None
    if trainer.average is not None:
        copy = twin(trainer.G)
        for p in copy.parameters():
            p.requires_grad_(False)
        average = (copy, cfg.g_ema)
    real = torch.from_numpy(batch.real.numpy())
    cond = None if batch.cond is None else torch.from_numpy(batch.cond.numpy())
    return TorchStep(G, D, _optimizer(cfg, G.parameters(), cfg.lr_g),
                     _optimizer(cfg, D.parameters(), cfg.lr_d), losses, trainer.settings,
                     cfg.k, real, cond, average,
                     clip=trainer.settings.weight_clip if loss.weight_clipping else None,
                     penalty=loss.gradient_penalty)


def alternate(ours: Callable[[], None], theirs: Callable[[], None], rounds: int, per_round: int,
              warmup: int) -> tuple[list[float], list[float]]:
    """Per-iteration seconds of two iteration functions, timed in alternating rounds of
    `per_round` iterations each (so a change in the machine's load touches both alike), after
    `warmup` untimed iterations of each."""
    for _ in range(warmup):
        ours()
        theirs()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            out.append((time.perf_counter() - start) / per_round)
    return times


# ----------------------------------------------------------------------------- the rows
#: the rows `tools/benchmark.py --reference torch` measures: (name, config file under
#: paddle_gan/configs or None, overrides)
REFERENCE_ROWS: tuple[tuple[str, Optional[str], dict[str, Any]], ...] = (
    ("quickstart", "quickstart.yaml", {}),
    ("seed w32 gan", None, dict(model="seed", loss="gan", width=32)),
    ("seed w32 wgangp", None, dict(model="seed", loss="wgangp", width=32)),
    ("seed w128 gan", None, dict(model="seed", loss="gan", width=128)),
    ("seed w128 wgangp", None, dict(model="seed", loss="wgangp", width=128)),
    ("dcgan mnist", "dcgan_mnist.yaml", {}),
    ("mlp gan mnist", "mlp_gan_mnist.yaml", {}),
)


@dataclass
class ReferenceRow:
    """One row's medians (seconds per iteration) and what the suite ran."""

    name: str
    ours: float
    torch: float
    plan: str
    rounds: int

    @property
    def speedup(self) -> float:
        """Our throughput over PyTorch's (> 1: this suite is faster)."""
        return self.torch / self.ours


def our_iteration(trainer: Any, batch: Any) -> Callable[[], None]:
    """The suite's iteration as `fit` runs it, less data handling and logging: k D steps + one
    G step (`bare_iteration`) and G's weight average."""
    from paddle_gan.perf.benchmark import bare_iteration

    def iteration() -> None:
        bare_iteration(trainer, batch)
        if trainer.average is not None:
            trainer.average.update()

    return iteration


def measure_row(name: str, cfg: Any, rounds: int, per_round: int, warmup: int) -> ReferenceRow:
    """Both frameworks on `cfg`'s first batch, alternating (see `alternate`)."""
    import tempfile

    from paddle_gan.models import prepare_data
    from paddle_gan.perf.benchmark import first_batch
    from paddle_gan.train.run import build_trainer

    with tempfile.TemporaryDirectory(prefix="paddle_gan_ref_") as scratch:
        trainer = build_trainer(cfg, prepare_data(cfg), scratch, "cpu")
        batch = first_batch(trainer)
        reference = torch_step(trainer, batch)
        ours, theirs = alternate(our_iteration(trainer, batch), reference.iteration, rounds,
                                 per_round, warmup)
    return ReferenceRow(name, float(np.median(ours)), float(np.median(theirs)),
                        trainer.speed.describe(), rounds)


def format_reference(rows: list[ReferenceRow]) -> str:
    """The rows as a Markdown table."""
    lines = ["| row | this suite ms/iter | PyTorch ms/iter | speed-up (PyTorch time / ours) | suite's plan |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.name} | {row.ours * 1e3:.1f} | {row.torch * 1e3:.1f} | "
                     f"**{row.speedup:.2f}x** | {row.plan} |")
    return "\n".join(lines)
