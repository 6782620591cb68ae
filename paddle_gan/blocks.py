"""Small layers shared by every model: activations, norms, convolutions, ConvBN and the
residual block."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

ACTIVATIONS = ("leaky_relu", "relu", "mish", "tanh", "none")
NORMS = ("batch", "instance", "none")


class Mish(nn.Layer):
    """mish(x) = x * tanh(softplus(x)), the activation the tutorial's author also tried."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x * paddle.tanh(F.softplus(x))


def make_activation(name: str, negative_slope: float = 0.2) -> nn.Layer:
    """Build an activation layer by name (one of ACTIVATIONS)."""
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    table = {"relu": nn.ReLU, "mish": Mish, "tanh": nn.Tanh, "none": nn.Identity}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    return table[name]()


def make_norm2d(kind: str, channels: int) -> nn.Layer:
    """Build a 2-D normalisation layer by name (one of NORMS).

    Instance norm keeps learnable affine parameters, as in CycleGAN. All three kinds have a
    double gradient in Paddle 3.3, so they can sit inside a WGAN-GP critic (LayerNorm cannot).
    """
    if kind == "batch":
        return nn.BatchNorm2D(channels)
    if kind == "instance":
        return nn.InstanceNorm2D(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose from {', '.join(NORMS)}")


def add_channel_bias(x: paddle.Tensor, bias: paddle.Tensor) -> paddle.Tensor:
    """x [N, C, H, W] + bias [C] on every channel's map.

    The same sums as Paddle's own bias add (bias as [1, C, 1, 1]), bitwise in the output and
    in both gradients, computed as [N, C, H*W] + [C, 1]: Paddle's CPU kernels broadcast along
    the last axis 3-6x faster than along the middle ones (0.45 against 1.42 ms forward and
    backward at [64, 64, 3, 3], 1.25 against 5.31 ms at [64, 16, 14, 14]; docs/speed.md).
    """
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    out = paddle.reshape(x, [0, channels, height * width]) + paddle.reshape(bias, [channels, 1])
    return paddle.reshape(out, [0, channels, height, width])  # [N, C, H, W]


def _fast_bias(layer: nn.Layer) -> bool:
    """Whether a convolution layer adds its bias with `add_channel_bias` (NCHW, zero padding,
    more than one output channel: for one channel Paddle's own add is as fast)."""
    return (layer.bias is not None and layer._data_format == "NCHW"
            and getattr(layer, "_padding_mode", "zeros") == "zeros" and layer._out_channels > 1)


class Conv2D(nn.Conv2D):
    """`paddle.nn.Conv2D` (same arguments, parameters and state dict) whose bias is added by
    `add_channel_bias`: the same numbers, faster on the CPU.

    condition_channels: the last K of the `in_channels` are a one-hot condition's K constant
        maps (how a conditional GAN conditions a convolutional network). The layer is then
        called on the other channels only and the condition's part of the output is added by
        `condition_response`: a convolution is linear in its input and the map of class k is
        cond[:, k] times a map of ones, so that part is `cond @ conv(ones, weight[:, C + k])`,
        computed once per call for a batch. The same function and parameters as the layer on
        concatenated maps (equal to float rounding), at C / (C + K) of its multiply-adds.
    """

    def __init__(self, *args: object, condition_channels: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if condition_channels and (condition_channels >= self._in_channels or self._groups != 1
                                   or self._data_format != "NCHW"
                                   or getattr(self, "_padding_mode", "zeros") != "zeros"):
            raise ValueError(f"condition_channels={condition_channels} needs an NCHW, "
                             f"zero-padded, ungrouped convolution with more input channels")
        self.condition_channels = condition_channels

    @property
    def fast_bias(self) -> bool:
        """Whether `forward` is `convolve` followed by `add_channel_bias`."""
        return _fast_bias(self)

    def convolve(self, x: paddle.Tensor) -> paddle.Tensor:
        """The convolution of x's channels, without the bias (and without the condition's
        channels of a conditioned layer: x [N, in_channels - condition_channels, H, W])."""
        weight = self.weight
        if self.condition_channels:
            weight = weight[:, :self._in_channels - self.condition_channels]
        return F.conv2d(x, weight, None, stride=self._stride, padding=self._padding,
                        dilation=self._dilation, groups=self._groups,
                        data_format=self._data_format)  # [N, out, H', W']

    def condition_response(self, cond: paddle.Tensor | None, height: int,
                           width: int) -> paddle.Tensor:
        """What the condition's constant maps add to the output of an input of side
        (height, width): cond [N, K] -> [N, out, H', W']."""
        if cond is None:
            raise ValueError("this layer is conditioned: call it with the condition")
        k = self.condition_channels
        out_channels, _, kh, kw = self.weight.shape
        per_class = paddle.transpose(self.weight[:, self._in_channels - k:], [1, 0, 2, 3])
        ones = paddle.ones([1, 1, height, width], dtype=self.weight.dtype)
        maps = F.conv2d(ones, paddle.reshape(per_class, [k * out_channels, 1, kh, kw]),
                        stride=self._stride, padding=self._padding,
                        dilation=self._dilation)  # [1, K * out, H', W']
        side_h, side_w = maps.shape[2], maps.shape[3]
        table = paddle.reshape(maps, [k, out_channels * side_h * side_w])  # [K, out * H' * W']
        return paddle.reshape(paddle.matmul(cond, table),
                              [-1, out_channels, side_h, side_w])  # [N, out, H', W']

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not self.fast_bias and not self.condition_channels:
            return super().forward(x)
        out = self.convolve(x)  # [N, out, H', W']
        if self.bias is None:
            return out
        if self.fast_bias:
            return add_channel_bias(out, self.bias)
        return out + paddle.reshape(self.bias, [1, -1, 1, 1])


class Conv2DTranspose(nn.Conv2DTranspose):
    """`paddle.nn.Conv2DTranspose` (same arguments, parameters and state dict) whose bias is
    added by `add_channel_bias`."""

    def forward(self, x: paddle.Tensor, output_size: object = None) -> paddle.Tensor:
        if not _fast_bias(self) or output_size is not None:
            return super().forward(x, output_size)
        out = F.conv2d_transpose(x, self.weight, None, padding=self._padding,
                                 output_padding=self.output_padding, stride=self._stride,
                                 dilation=self._dilation, groups=self._groups,
                                 data_format=self._data_format)  # [N, out, H', W']
        return add_channel_bias(out, self.bias)


class ConvBN(nn.Layer):
    """Conv2D (no bias) -> norm -> activation: the tutorial's basic block.

    Args:
        in_channels: input channels (a conditioned block's include the condition's).
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: convolution stride.
        padding: "same", "valid" or an int, as `paddle.nn.Conv2D` takes it (default valid).
        act: activation name (LeakyReLU 0.2 by default, as in the tutorial; "mish", "relu").
        norm: "batch" (the tutorial's), "instance" or "none". Without a norm the conv gets a bias.
        condition_channels: K > 0 makes a conditioned block: called as block(x, cond) with x
            [N, in_channels - K, H, W] and a one-hot cond [N, K], the same as the block on x
            with cond's K constant maps appended (see `Conv2D`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: str | int = 0, act: str = "leaky_relu", norm: str = "batch",
                 condition_channels: int = 0) -> None:
        super().__init__()
        # The tutorial drops the bias because BatchNorm's shift replaces it.
        bias = None if norm == "none" else False
        self.conv = Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                           padding=padding, bias_attr=bias, condition_channels=condition_channels)
        self.norm = make_norm2d(norm, out_channels)
        self.act = make_activation(act)

    def forward(self, x: paddle.Tensor, cond: paddle.Tensor | None = None) -> paddle.Tensor:
        if cond is not None and not self.conv.condition_channels:
            raise ValueError("this block takes no condition (condition_channels=0)")
        out = self.conv(x)  # [N, out, H', W']
        if self.conv.condition_channels:
            out = out + self.conv.condition_response(cond, x.shape[2], x.shape[3])
        return self.act(self.norm(out))


def conditioned_stack(stack: nn.Sequential, x: paddle.Tensor,
                      cond: paddle.Tensor | None) -> paddle.Tensor:
    """Run `stack` on x, its first block (a `ConvBN`) given the condition: [N, C, H, W] ->
    the stack's output."""
    blocks = list(stack.children())
    x = blocks[0](x, cond)
    for block in blocks[1:]:
        x = block(x)
    return x


class UpConvBN(nn.Layer):
    """Conv2DTranspose -> norm -> activation: a generator's upsampling stage (DCGAN, CycleGAN).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size, stride, padding, output_padding: as `paddle.nn.Conv2DTranspose` takes them
            (output side = (H - 1) * stride - 2 * padding + kernel_size + output_padding).
        act: activation name (see `make_activation`).
        norm: "batch" (DCGAN), "instance" (CycleGAN) or "none" (then the conv gets a bias).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, output_padding: int = 0, act: str = "leaky_relu",
                 norm: str = "batch") -> None:
        super().__init__()
        self.conv = Conv2DTranspose(in_channels, out_channels, kernel_size, stride=stride,
                                       padding=padding, output_padding=output_padding,
                                       bias_attr=None if norm == "none" else False)
        self.norm = make_norm2d(norm, out_channels)
        self.act = make_activation(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.act(self.norm(self.conv(x)))  # [N, out, H', W']


class ResidualBlock(nn.Layer):
    """x + [reflect-pad, conv3x3, norm, ReLU, reflect-pad, conv3x3, norm](x) (CycleGAN's block)."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Pad2D(1, mode="reflect"), ConvBN(channels, channels, 3, act="relu", norm=norm),
            nn.Pad2D(1, mode="reflect"), ConvBN(channels, channels, 3, act="none", norm=norm),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x + self.body(x)  # [N, C, H, W]


def flatten_batch(x: paddle.Tensor) -> paddle.Tensor:
    """[N, ...] -> [N, prod(...)] with reshape: unlike nn.Flatten it has a double gradient."""
    return paddle.reshape(x, [x.shape[0], -1])


def append_condition_maps(x: paddle.Tensor, cond: paddle.Tensor) -> paddle.Tensor:
    """Feature maps x [N, C, H, W] and a one-hot condition [N, K] -> [N, C + K, H, W].

    The condition becomes K constant maps, so a convolution sees the class at every position
    (how the conditional GAN conditions convolutional networks).
    """
    n, _, height, width = x.shape
    classes = cond.shape[1]
    maps = paddle.expand(paddle.reshape(cond, [n, classes, 1, 1]),
                         [n, classes, height, width])  # [N, K, H, W]
    return paddle.concat([x, maps], axis=1)  # [N, C + K, H, W]


def one_hot(labels: paddle.Tensor, num_classes: int) -> paddle.Tensor:
    """Integer labels [N] -> float32 one-hot [N, num_classes]."""
    return F.one_hot(labels.astype("int64"), num_classes).astype("float32")


# --------------------------------------------------------------------------- MLP stack
def make_norm1d(kind: str, features: int) -> nn.Layer:
    """A norm for feature vectors [N, F]: "batch" (BatchNorm1D) or "none".

    Instance norm has no meaning for a flat feature vector, so it is refused (ValueError).
    """
    if kind == "batch":
        return nn.BatchNorm1D(features)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm {kind!r} does not apply to feature vectors; use batch or none")


def fan_in_linear(fan_in: int, fan_out: int) -> nn.Linear:
    """nn.Linear with weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default).

    Paddle's default (Xavier weights, zero biases) puts every first-layer ReLU kink of a
    low-dimensional input through the origin; random biases spread them over the input range.
    """
    bound = fan_in ** -0.5
    init = nn.initializer.Uniform(-bound, bound)
    return nn.Linear(fan_in, fan_out, weight_attr=paddle.ParamAttr(initializer=init),
                     bias_attr=paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound)))


def mlp_stack(sizes: list[int], act: str = "leaky_relu", norm: str = "none",
              fan_in_init: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers through `sizes` ([in, hidden..., out]): every hidden layer is
    Linear -> norm -> activation (-> dropout), the last Linear is left linear (no norm, no
    activation).

    fan_in_init: initialise every Linear as `fan_in_linear` (else Paddle's default).
    dropout: rate of a Dropout after each hidden activation (0: none, and no layer added).
    Only Linear, BatchNorm1D and element-wise activations: a critic built from it has a double
    gradient (WGAN-GP) as long as the activation has one (leaky_relu, relu, tanh do).
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp_stack needs at least [in, out] sizes, got {sizes}")
    linear = fan_in_linear if fan_in_init else nn.Linear
    layers: list[nn.Layer] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [linear(fan_in, fan_out), make_norm1d(norm, fan_out), make_activation(act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def register_constant(layer: nn.Layer, name: str, values: list[float]) -> None:
    """`layer.name`: a float32 constant that is not part of the state dict (a non-persistable
    buffer; in a static-graph trace, such as the memory estimate, a constant of the program)."""
    tensor = paddle.to_tensor(values, dtype="float32")
    if paddle.in_dynamic_mode():
        layer.register_buffer(name, tensor, persistable=False)
    else:
        object.__setattr__(layer, name, tensor)

