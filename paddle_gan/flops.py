"""Count the floating-point work of a training step from the layers that run in it.

`FlopCounter` puts forward hooks on every convolution, transposed convolution and linear layer
of the given networks and records each call with the shapes it saw. One multiply-add counts as
2 FLOPs; bias additions, norms, activations, pixel shuffles and the optimizer are not counted
(they are memory-bound and a few per cent of the work at most).

The backward pass of a recorded call costs, per layer:
- the weight gradient (same work as the forward) when the weight is trainable, and
- the input gradient (same work as the forward) when the layer's input needs a gradient,
both only when the call ran with gradients enabled. So G's first layer (its input is the
latent code) has no input gradient, D's first layer in the D step has none either (real and
detached fake images), but in the G step it has one (the gradient flows back into G).

The gradient penalty's second-order pass (the gradient of a gradient) is not counted: for
`wgangp` the totals are a lower bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import paddle
import paddle.nn as nn

#: Layer classes whose work is counted, and how: "conv" (output-stationary), "convT"
#: (input-stationary: every input value meets Cout/groups * kernel weights), "linear".
_CONV_TYPES: tuple[type, ...] = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
_CONVT_TYPES: tuple[type, ...] = (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)
_LINEAR_TYPES: tuple[type, ...] = (nn.Linear,)


def layer_kind(layer: nn.Layer) -> str | None:
    """"conv", "convT", "linear" or None for layers the counter ignores."""
    if isinstance(layer, _CONVT_TYPES):
        return "convT"
    if isinstance(layer, _CONV_TYPES):
        return "conv"
    if isinstance(layer, _LINEAR_TYPES):
        return "linear"
    return None


def forward_flops(layer: nn.Layer, inputs: paddle.Tensor, output: paddle.Tensor) -> int:
    """FLOPs (2 per multiply-add) of one call of a conv / transposed conv / linear layer.

    conv: every output value is a dot product over (Cin / groups) * prod(kernel) inputs; the
    weight is [Cout, Cin/groups, *kernel], so work = numel(out) * prod(weight.shape[1:]).
    convT: the weight is [Cin, Cout/groups, *kernel] and every input value is scattered onto
    prod(weight.shape[1:]) outputs: work = numel(in) * prod(weight.shape[1:]).
    linear: the weight is [in, out]: work = numel(in) * out.
    Layouts (NCHW / NHWC) do not matter: only element counts enter.
    """
    kind = layer_kind(layer)
    weight_shape = list(layer.weight.shape)
    if kind == "conv":
        # a conditioned convolution convolves only its input's channels (`blocks.Conv2D`)
        weight_shape[1] -= getattr(layer, "condition_channels", 0)
        macs = _numel(output) * math.prod(weight_shape[1:])
    elif kind == "convT":
        macs = _numel(inputs) * math.prod(weight_shape[1:])
    elif kind == "linear":
        macs = _numel(inputs) * weight_shape[1]
    else:
        raise ValueError(f"no FLOP rule for {type(layer).__name__}")
    return 2 * int(macs)


def _numel(tensor: paddle.Tensor) -> int:
    return int(math.prod(tensor.shape))


@dataclass
class LayerCall:
    """One recorded call: its forward FLOPs and which gradients its backward computes."""

    name: str
    kind: str
    forward: int
    input_grad: bool
    weight_grad: bool

    @property
    def backward(self) -> int:
        return self.forward * (int(self.input_grad) + int(self.weight_grad))


@dataclass
class FlopReport:
    """Totals over the recorded calls."""

    calls: list[LayerCall] = field(default_factory=list)

    @property
    def forward(self) -> int:
        return sum(c.forward for c in self.calls)

    @property
    def backward(self) -> int:
        return sum(c.backward for c in self.calls)

    @property
    def total(self) -> int:
        return self.forward + self.backward


class FlopCounter:
    """Context manager recording the counted layers' calls in `self.report`.

    Args:
        networks: mapping of a prefix (e.g. "G") to a network; every conv / transposed conv /
            linear sub-layer gets a forward hook while the context is open.
    """

    def __init__(self, networks: dict[str, nn.Layer]) -> None:
        self.networks = networks
        self.report = FlopReport()
        self._handles: list[Any] = []

    def __enter__(self) -> "FlopCounter":
        for prefix, net in self.networks.items():
            for name, layer in _counted_layers(net):
                full = f"{prefix}.{name}" if name else prefix
                self._handles.append(layer.register_forward_post_hook(self._hook(full)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str):
        def record(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> None:
            x = inputs[0]
            grad_on = paddle.is_grad_enabled()
            weight = layer.weight
            self.report.calls.append(LayerCall(
                name=name, kind=layer_kind(layer), forward=forward_flops(layer, x, output),
                input_grad=grad_on and not x.stop_gradient,
                weight_grad=grad_on and not weight.stop_gradient))

        return record


def _counted_layers(net: nn.Layer) -> Iterable[tuple[str, nn.Layer]]:
    for name, layer in net.named_sublayers(include_self=True):
        if layer_kind(layer) is not None:
            yield name, layer
