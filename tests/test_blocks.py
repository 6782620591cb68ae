import numpy as np
import paddle
import pytest

from paddle_gan.blocks import ConvBN, Mish, ResidualBlock, flatten_batch, make_activation, one_hot


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
