import numpy as np
import paddle
import pytest

from paddle_gan.blocks import (Conv2D, Conv2DTranspose, ConvBN, Mish, ResidualBlock, add_channel_bias,
                               flatten_batch, make_activation, one_hot)


def test_convbn_same_and_valid_shapes():
    x = paddle.randn([2, 3, 10, 10])
    assert ConvBN(3, 5, 5, padding="same")(x).shape == [2, 5, 10, 10]
    assert ConvBN(3, 5, 3)(x).shape == [2, 5, 8, 8]  # valid by default, as the tutorial
    assert ConvBN(3, 5, 5, stride=2)(paddle.randn([2, 3, 32, 32])).shape == [2, 5, 14, 14]


def test_convbn_has_no_conv_bias_with_norm_and_a_bias_without():
    assert ConvBN(3, 5, 3).conv.bias is None
    assert ConvBN(3, 5, 3, norm="none").conv.bias is not None


def test_convbn_structure_is_conv_bn_leakyrelu():
    block = ConvBN(1, 4, 3)
    assert isinstance(block.norm, paddle.nn.BatchNorm2D)
    assert isinstance(block.act, paddle.nn.LeakyReLU)
    x = paddle.to_tensor([[-2.0, 3.0]])
    np.testing.assert_allclose(block.act(x).numpy(), [[-0.4, 3.0]], rtol=1e-6)


def test_mish_matches_its_formula():
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], dtype=np.float32)
    expected = x * np.tanh(np.log1p(np.exp(x)))
    np.testing.assert_allclose(Mish()(paddle.to_tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(ConvBN(1, 2, 3, act="mish").act, Mish)


def test_unknown_activation_and_norm_raise():
    with pytest.raises(ValueError, match="activation"):
        make_activation("swishy")
    with pytest.raises(ValueError, match="norm"):
        ConvBN(1, 2, 3, norm="layer")


def test_residual_block_keeps_shape():
    assert ResidualBlock(4)(paddle.randn([2, 4, 8, 8])).shape == [2, 4, 8, 8]


def test_flatten_batch_and_one_hot():
    assert flatten_batch(paddle.ones([3, 2, 2, 2])).shape == [3, 8]
    np.testing.assert_array_equal(one_hot(paddle.to_tensor([2, 0]), 3).numpy(),
                                  [[0, 0, 1], [1, 0, 0]])


def test_tutorial_import_path_works():
    from work.ConvBN import ConvBN as TutorialConvBN

    assert TutorialConvBN is ConvBN


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_up_conv_bn_shapes_and_bias(norm):
    from paddle_gan.blocks import UpConvBN

    # CycleGAN's u-k: 3x3, stride 2, padding 1, output_padding 1 doubles H and W
    block = UpConvBN(4, 2, 3, stride=2, padding=1, output_padding=1, act="relu", norm=norm)
    assert block(paddle.ones([2, 4, 5, 7])).shape == [2, 2, 10, 14]
    # DCGAN's stage: 4x4, stride 2, padding 1 doubles too; 7x7 from 1x1 with stride 1
    assert UpConvBN(4, 2, 4, 2, 1)(paddle.ones([2, 4, 7, 7])).shape == [2, 2, 14, 14]
    assert UpConvBN(4, 2, 7, 1, 0)(paddle.ones([2, 4, 1, 1])).shape == [2, 2, 7, 7]
    assert (block.conv.bias is not None) == (norm == "none")  # a norm's shift replaces the bias


def _forward_and_grads(layer, x, upstream):
    x = x.detach()
    x.stop_gradient = False
    layer.clear_gradients()
    out = layer(x)
    (out * upstream).sum().backward()
    return out.numpy(), x.grad.numpy(), [p.grad.numpy() for p in layer.parameters()]


@pytest.mark.parametrize("kind, args, shape", [
    ("conv", dict(in_channels=3, out_channels=5, kernel_size=4, stride=2, padding=1), [6, 3, 12, 12]),
    ("conv", dict(in_channels=4, out_channels=8, kernel_size=5, padding="same"), [4, 4, 9, 9]),
    ("transpose", dict(in_channels=6, out_channels=4, kernel_size=4, stride=2, padding=1), [5, 6, 7, 7]),
    ("transpose", dict(in_channels=8, out_channels=3, kernel_size=4, stride=1, padding=0), [3, 8, 4, 4]),
])
def test_fast_bias_convolutions_compute_paddle_s_numbers_bit_for_bit(kind, args, shape):
    """blocks.Conv2D / Conv2DTranspose add their bias as [N, C, H*W] + [C, 1]: the output and
    the gradients of input, weight and bias are exactly those of Paddle's own layers."""
    ours_type, theirs_type = ((Conv2D, paddle.nn.Conv2D) if kind == "conv"
                              else (Conv2DTranspose, paddle.nn.Conv2DTranspose))
    paddle.seed(0)
    ours = ours_type(**args)
    theirs = theirs_type(**args)
    theirs.set_state_dict(ours.state_dict())
    with paddle.no_grad():  # a bias that is not zero
        ours.bias.set_value(paddle.randn(ours.bias.shape))
        theirs.bias.set_value(ours.bias)
    rng = np.random.default_rng(1)
    x = paddle.to_tensor(rng.normal(size=shape).astype(np.float32))
    out_shape = theirs(x).shape
    upstream = paddle.to_tensor(rng.normal(size=out_shape).astype(np.float32))
    a, b = _forward_and_grads(ours, x, upstream), _forward_and_grads(theirs, x, upstream)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for mine, paddles in zip(a[2], b[2]):
        np.testing.assert_array_equal(mine, paddles)
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_add_channel_bias_adds_each_channel_s_value():
    x = paddle.zeros([2, 3, 2, 2])
    out = add_channel_bias(x, paddle.to_tensor([1.0, 2.0, 3.0])).numpy()
    assert out.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(out[:, :, 0, 0], [[1, 2, 3], [1, 2, 3]])
    assert np.all(out == out[:, :, :1, :1])


@pytest.mark.parametrize("padding,stride,norm", [("same", 1, "batch"), (1, 2, "none"),
                                                 (0, 2, "batch")])
def test_conditioned_block_is_the_block_on_appended_condition_maps(padding, stride, norm):
    """A conditioned ConvBN on (x, cond) = the same weights on x with cond's K constant maps
    appended: output, the input's and every weight's gradient, within float rounding; also for
    a condition that is not one-hot (the response is linear in cond)."""
    from paddle_gan.blocks import append_condition_maps

    paddle.seed(3)
    kernel = 5 if padding == "same" else 4
    block = ConvBN(11, 16, kernel, stride=stride, padding=padding, norm=norm,
                   condition_channels=10)
    plain = ConvBN(11, 16, kernel, stride=stride, padding=padding, norm=norm)
    plain.set_state_dict(block.state_dict())
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.standard_normal((6, 1, 28, 28)).astype("float32"),
                         stop_gradient=False)
    cond = paddle.to_tensor(rng.random((6, 10)).astype("float32"))
    results = []
    for out in (block(x, cond), plain(append_condition_maps(x, cond))):
        (out * out).sum().backward()
        results.append((out.numpy(), x.grad.numpy().copy(),
                        {n: p.grad.numpy().copy() for n, p in
                         (("w", (block if not results else plain).conv.weight),)}))
        x.clear_gradient()
    (out_a, dx_a, dw_a), (out_b, dx_b, dw_b) = results
    np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-5)
    # float32 sums of 6 x 16 x 28 x 28 terms in another order: compare on each gradient's scale
    for a, b in ((dx_a, dx_b), (dw_a["w"], dw_b["w"])):
        assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


def test_conditioned_block_refuses_a_missing_condition_and_a_plain_one_a_condition():
    block = ConvBN(3, 4, 3, condition_channels=2)
    with pytest.raises(ValueError, match="conditioned"):
        block(paddle.zeros([1, 1, 5, 5]))
    with pytest.raises(ValueError, match="no condition"):
        ConvBN(3, 4, 3)(paddle.zeros([1, 3, 5, 5]), paddle.zeros([1, 2]))
