"""Speed options of the training steps: oneDNN convolutions, compiled forwards, AMP.

The options become a `StepRuntime` (`build_step_runtime`) that the trainer receives when it is
built; nothing here changes a trainer.

- **oneDNN** (CPU): Paddle's dynamic graph always runs its own convolution (im2col + MKL sgemm,
  one sample at a time); oneDNN's direct convolutions (forward and both backward passes) are
  only chosen inside a static program built while `FLAGS_use_onednn` is on. So every `Conv2D`
  of G and of D (D's only without a gradient penalty) gets its forward replaced by a one-layer
  static program (`CompiledConv`); norms, activations and everything else stay in the dynamic
  graph. Only the convolution is compiled because Paddle 3.3's oneDNN batch-norm *backward*
  inside a static program returns wrong gradients (gamma's and the input's), and transposed
  convolutions stay dynamic because its oneDNN kernel is inference-only ("ConvTransposeOneDNN
  works only for inference"); both found while building this, see docs/speed.md.
- **to_static** compiles G's and D's whole forwards with `paddle.jit.to_static` on Paddle's own
  kernels (`CompiledForward`; the GPU path: fewer Python round trips per step). Bitwise the same
  results as the dynamic graph on CPU.
- **AMP**: `paddle.amp.auto_cast` around the steps plus one `GradScaler` per optimizer (GPU).
  Paddle's CPU build does not autocast (`auto_cast` leaves float32 ops as they are and
  `GradScaler` disables itself off GPU / XPU), so on CPU `--amp` is reported and ignored.

Two more Paddle 3.3 behaviours shape the compiled callables:
1. `to_static(..., full_graph=True)` caches one program per input signature whatever the grad
   mode: a forward first compiled under `paddle.no_grad()` (G in the D step) is reused later with
   gradients on and silently produces no gradients (G would never train). So each grad mode
   (and train / eval mode, condition given or not) gets its own program.
2. With `FLAGS_use_onednn`, a program whose output value comes from an op that the oneDNN passes
   rewrite (a biased conv, scale, reshape, slice) crashes with a segmentation fault when Paddle
   builds the output tensor. A trailing `unsqueeze` (no oneDNN kernel, never rewritten) makes the
   output op safe; the caller squeezes the extra axis away again (a view; its backward is a
   reshape, where indexing with `[0]` would write a zero-filled copy of the gradient).
The gradient penalty differentiates D twice, which a compiled program cannot: its critic pass
always runs D's dynamic forward (and D's convolutions stay dynamic under a penalty).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import paddle
import paddle.nn as nn

from paddle_gan.blocks import add_channel_bias
from paddle_gan.train.steps import StepRuntime

ONEDNN_FLAG = "FLAGS_use_onednn"
#: below this many FLOPs per batch in the convolutions oneDNN would take (`onednn_layers`;
#: forward, G and D) oneDNN's per-call overhead and its one-off program builds (~0.1 s a
#: layer) outweigh its faster kernels. Measured in one run each, alternating, 2-core AMD EPYC
#: (AVX2), bias adds as `blocks.add_channel_bias` (docs/speed.md): the quickstart (D's two
#: wide layers: 1.4 MFLOP per sample x 32 = 44 per batch) 0.85x the time per step with oneDNN
#: on; the seed model at width 4, batch 64 (88 per batch, every layer) 0.62x; at width 8,
#: batch 64 (320) 0.40x; at width 8, batch 8 (39 per batch, the layers of `onednn_layers`)
#: 1.00x; at width 4, batch 8 (11 per batch) 1.5x (slower)
ONEDNN_MIN_FLOPS_PER_BATCH = 40e6
AMP_CPU_NOTE = ("amp: Paddle's CPU build has no automatic mixed precision (auto_cast leaves "
                "ops in float32 and GradScaler only acts on GPU/XPU); training in float32")


@dataclass
class SpeedPlan:
    """What the trainer will use, decided once per run by `plan_speed`.

    onednn_g / onednn_d: G's / D's `Conv2D` layers run on oneDNN (CPU).
    compile: G's and D's whole forwards run as static programs (Paddle's kernels).
    amp: float16 autocast + loss scaling (GPU).
    notes: one line per option that was asked for but cannot apply, or was chosen automatically.
    """

    onednn_g: bool = False
    onednn_d: bool = False
    compile: bool = False
    amp: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def onednn(self) -> bool:
        return self.onednn_g or self.onednn_d

    def summary(self, parallel: Any = None) -> list[str]:
        """Lines for the run's start-up log: the plan, its notes, the data-parallel split."""
        lines = [f"speed: {self.describe()}"] + list(self.notes)
        if parallel is not None and parallel.active:
            lines.append(f"data parallel: {parallel.world} processes (rank 0 writes); each takes "
                         f"1/{parallel.world} of every batch")
        return lines

    def describe(self) -> str:
        nets = " and ".join(n for n, on in (("G", self.onednn_g), ("D", self.onednn_d)) if on)
        return ", ".join([f"oneDNN convolutions {'on (' + nets + ')' if nets else 'off'}",
                          f"to_static {'on' if self.compile else 'off'}",
                          f"amp {'on' if self.amp else 'off'}"])


#: a convolution with fewer input channels than this stays on Paddle's own kernel
ONEDNN_MIN_IN_CHANNELS = 4


def onednn_wins(layer: nn.Conv2D) -> bool:
    """Whether oneDNN's kernels beat Paddle's own on this convolution in training.

    Measured per layer and per call of a step (docs/results/conv_layer_ab.md, 2-core AMD EPYC):
    oneDNN takes 0.26-0.6x Paddle's time on convolutions of 16 or more channels, but 1.8-3x
    on those convolving one input channel (an image's first layer; its input gradient is a
    degenerate oneDNN case) and 3.5-5x on a 1x1 kernel (D's head on a 1x1 map: a matmul per
    sample in Paddle's kernel). A fixed rule rather than a start-up measurement, so that a run
    and its resumption always compute with the same kernels.
    """
    convolved = layer._in_channels - getattr(layer, "condition_channels", 0)
    return convolved >= ONEDNN_MIN_IN_CHANNELS and tuple(layer._kernel_size) != (1, 1)


def onednn_layers(net: nn.Layer) -> list[nn.Layer]:
    """The layers the oneDNN path compiles: every `Conv2D` on which oneDNN wins (`onednn_wins`;
    transposed ones stay dynamic)."""
    return [layer for layer in net.sublayers(include_self=True)
            if isinstance(layer, nn.Conv2D) and onednn_wins(layer)]


def conv_flops_per_sample(generator: nn.Layer, discriminator: nn.Layer, latent_dim: int,
                          num_classes: int = 0) -> int:
    """Forward FLOPs per sample of the `Conv2D` layers of G and D (G on one latent, D on G's
    image; eval mode, no gradients)."""
    from paddle_gan.flops import FlopCounter

    nets = {"G": generator, "D": discriminator}
    modes = {name: net.training for name, net in nets.items()}
    wanted = {id(layer) for net in nets.values() for layer in onednn_layers(net)}
    counted: dict[str, nn.Layer] = {}
    for name, net in nets.items():
        net.eval()
        counted.update({f"{name}.{n}": l for n, l in net.named_sublayers() if id(l) in wanted})
    try:
        with paddle.no_grad(), FlopCounter(nets) as counter:
            cond = paddle.zeros([1, num_classes]) if num_classes else None
            discriminator(generator(paddle.zeros([1, latent_dim]), cond), cond)
    finally:
        for name, net in nets.items():
            if modes[name]:
                net.train()
    return sum(call.forward for call in counter.report.calls if call.name in counted)


def plan_speed(cfg: Any, device: str, generator: nn.Layer, discriminator: nn.Layer,
               standard_trainer: bool = True, distributed: bool = False,
               gradient_penalty: bool = False, latent_dim: Optional[int] = None,
               num_classes: int = 0) -> SpeedPlan:
    """Decide the speed options for a run.

    `cfg.onednn` None (auto) turns oneDNN convolutions on, on CPU, when the `Conv2D` layers of G
    and D cost at least ONEDNN_MIN_FLOPS_PER_BATCH per batch of `cfg.batch_size` (below that
    oneDNN's per-call overhead outweighs its faster kernels). D's convolutions stay dynamic under a gradient
    penalty. Both compiled paths need the standard GanTrainer steps (a model with its own
    trainer keeps its dynamic forwards); whole-forward `to_static` is off with oneDNN and under
    data parallel.
    """
    plan = SpeedPlan()
    want_static = bool(getattr(cfg, "to_static", False))
    choice = getattr(cfg, "onednn", None)
    if getattr(cfg, "amp", False):
        if device == "gpu":
            plan.amp = True
        else:
            plan.notes.append(AMP_CPU_NOTE)
    if not standard_trainer:
        if want_static or choice:
            plan.notes.append("to_static/onednn: off (this model has its own trainer)")
        return plan
    g_convs, d_convs = bool(onednn_layers(generator)), bool(onednn_layers(discriminator))
    d_convs = d_convs and not gradient_penalty
    if device != "cpu":
        if choice:
            plan.notes.append("onednn: off (oneDNN kernels are for the CPU; this run is on GPU)")
    elif not (g_convs or d_convs):
        if choice:
            plan.notes.append("onednn: off (no Conv2D layers to run on oneDNN)")
    elif choice is None:
        flops = conv_flops_per_sample(generator, discriminator, latent_dim or cfg.latent_dim,
                                      num_classes)
        per_batch = flops * cfg.batch_size
        if per_batch >= ONEDNN_MIN_FLOPS_PER_BATCH:
            plan.onednn_g, plan.onednn_d = g_convs, d_convs
            plan.notes.append(f"onednn: on (auto: convolutions cost {per_batch / 1e6:.0f} MFLOP "
                              f"per batch; --no-onednn uses Paddle's own)")
    elif choice:
        plan.onednn_g, plan.onednn_d = g_convs, d_convs
    if want_static:
        if plan.onednn:
            plan.notes.append("to_static: off (with oneDNN only the convolutions are compiled; "
                              "--no-onednn --to-static compiles whole forwards)")
        elif distributed:
            plan.notes.append("to_static: off (data parallel runs the forwards through "
                              "paddle.DataParallel)")
        else:
            plan.compile = True
    return plan


@contextlib.contextmanager
def onednn_flag(on: bool) -> Iterator[None]:
    """`FLAGS_use_onednn` set to `on` inside the block, restored after."""
    if not on:
        yield
        return
    old = paddle.get_flags([ONEDNN_FLAG])[ONEDNN_FLAG]
    paddle.set_flags({ONEDNN_FLAG: True})
    try:
        yield
    finally:
        paddle.set_flags({ONEDNN_FLAG: old})


class CompiledForward:
    """Calls `layer.forward(x, cond)` through static programs on Paddle's own kernels.

    One `paddle.jit.to_static` program per (grad enabled, layer.training, cond given) (see the
    module docstring); input shapes are cached by Paddle inside each. Parameters stay the
    layer's own tensors, so optimizers, checkpoints and state dicts are unaffected.

    Args:
        layer: the network (G or D) whose forward is compiled.
    """

    def __init__(self, layer: nn.Layer) -> None:
        self.layer = layer
        self._programs: dict[tuple[bool, bool, bool], Callable[..., paddle.Tensor]] = {}

    def _program(self, with_cond: bool) -> Callable[..., paddle.Tensor]:
        forward = self.layer.forward
        if with_cond:
            def program(x: paddle.Tensor, cond: paddle.Tensor) -> paddle.Tensor:
                return forward(x, cond)
        else:
            def program(x: paddle.Tensor) -> paddle.Tensor:
                return forward(x)
        return paddle.jit.to_static(program, full_graph=True)

    def __call__(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        key = (paddle.is_grad_enabled(), self.layer.training, cond is not None)
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = self._program(cond is not None)
        return program(x) if cond is None else program(x, cond)


class CompiledConv:
    """A convolution layer's forward as a one-layer static program on oneDNN kernels.

    Installed as the layer's `forward` (`compile_convolutions`), so the model's own forward,
    forward hooks (the FLOP counter), DataParallel and state dicts see the same layer. One
    program per grad mode (see the module docstring); `dynamic` is the original forward.

    Paddle chooses a program's kernels when it lowers it: the forward at its first run, the
    backward when `backward()` first reaches it, reading `FLAGS_use_onednn` each time. So the
    first call for an input signature (grad mode, shape, whether x takes a gradient) runs
    inside `onednn_flag(True)`, and the backward must run inside the flag too (the step
    runtime's `context`), or the gradients are computed by Paddle's own, slower kernels. Later
    calls of that signature go straight to the lowered program (the `to_static` function's own
    call re-derives its cache key from the arguments and toggles no flag: ~0.4 ms a
    forward and backward saved, measured in docs/speed.md).
    """

    def __init__(self, layer: nn.Layer) -> None:
        self.dynamic = layer.forward
        # A `blocks.Conv2D` with a bias: only the convolution is compiled and the bias is added
        # in the dynamic graph (oneDNN's bias gradient inside a program is the slower one)
        self.bias_outside = bool(getattr(layer, "fast_bias", False))
        self.layer = layer
        self._programs: dict[bool, Callable[[paddle.Tensor], paddle.Tensor]] = {}
        self._lowered: dict[tuple[bool, tuple[int, ...], bool], Callable[..., Any]] = {}

    def _program(self, grad: bool) -> Callable[[paddle.Tensor], paddle.Tensor]:
        program = self._programs.get(grad)
        if program is None:
            forward = self.layer.convolve if self.bias_outside else self.dynamic

            def one_layer(x: paddle.Tensor) -> paddle.Tensor:
                return paddle.unsqueeze(forward(x), 0)  # [1, N, C, H, W]: a safe output op

            program = self._programs[grad] = paddle.jit.to_static(one_layer, full_graph=True)
        return program

    def _convolve(self, x: paddle.Tensor) -> paddle.Tensor:
        """[1, N, C, H, W]: the program's output for x."""
        key = (paddle.is_grad_enabled(), tuple(x.shape), x.stop_gradient)
        lowered = self._lowered.get(key)
        if lowered is not None:
            return lowered((x,))
        program = self._program(key[0])
        with onednn_flag(True):  # tracing warnings: runtime.PADDLE_NOTICES
            out = program(x)
        get_lowered = getattr(program, "get_concrete_program", None)
        if get_lowered is not None:
            self._lowered[key] = get_lowered(x)[1]  # the program just built (cached)
        return out

    def __call__(self, x: paddle.Tensor) -> paddle.Tensor:
        # squeeze, not [0]: a slice's backward writes a zero-filled copy of the whole tensor
        out = paddle.squeeze(self._convolve(x), axis=0)  # [N, C, H, W]
        return add_channel_bias(out, self.layer.bias) if self.bias_outside else out


def compile_convolutions(net: nn.Layer) -> int:
    """Give every `Conv2D` of `net` a oneDNN forward; returns how many."""
    count = 0
    for layer in onednn_layers(net):
        if not isinstance(layer.forward, CompiledConv):
            layer.forward = CompiledConv(layer)
            count += 1
    return count


def restore_convolutions(net: nn.Layer) -> None:
    """Undo `compile_convolutions`: every layer back on its dynamic forward."""
    for layer in net.sublayers(include_self=True):
        if isinstance(layer.__dict__.get("forward"), CompiledConv):
            del layer.forward


def build_step_runtime(plan: SpeedPlan, generator: nn.Layer, discriminator: nn.Layer,
                       parallel: Any = None) -> StepRuntime:
    """The StepRuntime that carries out `plan` (and a data-parallel launch) for these networks.

    oneDNN convolutions are installed on the networks' `Conv2D` layers (their parameters and
    state dicts are unchanged); the gradient penalty's critic pass always calls D's own forward,
    and `plan.onednn_d` is off under a penalty.
    """
    if plan.onednn_g:
        compile_convolutions(generator)
    if plan.onednn_d:
        compile_convolutions(discriminator)
    context: Callable[[], Any] = contextlib.nullcontext
    scalers: dict[str, Any] = {}
    if plan.onednn:  # Paddle builds a program's backward at the first backward(): flag on then
        context = lambda: onednn_flag(True)  # noqa: E731
    if plan.amp:
        context = lambda: paddle.amp.auto_cast(enable=True, level="O1",  # noqa: E731
                                               dtype="float16")
        scalers = {"D": paddle.amp.GradScaler(), "G": paddle.amp.GradScaler()}
    g_forward = d_forward = None
    shard = (0, 1)
    if parallel is not None and parallel.active:
        g_forward, d_forward = parallel.wrap(generator), parallel.wrap(discriminator)
        shard = (parallel.rank, parallel.world)
    elif plan.compile:
        g_forward, d_forward = CompiledForward(generator), CompiledForward(discriminator)
    return StepRuntime(g_forward=g_forward, d_forward=d_forward, context=context,
                       scalers=scalers, shard=shard)


def plan_run(cfg: Any, device: str, trainer_class: Any, generator: nn.Layer,
             discriminator: nn.Layer, gradient_penalty: bool, parallel: Any = None,
             num_classes: int = 0) -> tuple[SpeedPlan, StepRuntime]:
    """The speed plan of a run and the StepRuntime to build its trainer with.

    Raises UserError when a data-parallel launch meets a trainer that cannot run one.
    """
    distributed = parallel is not None and parallel.active
    standard = bool(getattr(trainer_class, "compiles_forwards", False))
    if distributed and not standard:
        from paddle_gan.errors import UserError

        raise UserError(f"model {cfg.model!r} has its own trainer, which does not support "
                        f"multi-process data parallel; run it in one process")
    plan = plan_speed(cfg, device, generator, discriminator, standard_trainer=standard,
                      distributed=distributed, gradient_penalty=gradient_penalty,
                      latent_dim=getattr(generator, "latent_dim", cfg.latent_dim),
                      num_classes=num_classes)
    return plan, build_step_runtime(plan, generator, discriminator, parallel)
