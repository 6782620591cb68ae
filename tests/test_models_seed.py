import numpy as np
import paddle
import pytest

from paddle_gan.models import DataSpec, build_models, get_model
from paddle_gan.models.seed import PixelShuffleGenerator, StridedDiscriminator


def test_generator_shapes_and_range_at_tiny_width():
    g = PixelShuffleGenerator(width=4)
    out = g(paddle.randn([3, 100]))
    assert out.shape == [3, 1, 32, 32]
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_generator_intermediate_sizes_follow_the_tutorial():
    g = PixelShuffleGenerator(width=4)
    x = paddle.randn([2, 1, 10, 10])
    sizes = []
    for layer in g.net:
        x = layer(x)
        sizes.append(list(x.shape[1:]))
    assert sizes == [[4, 10, 10], [64, 8, 8], [4, 32, 32], [4, 32, 32], [1, 32, 32], [1, 32, 32]]


def test_discriminator_sizes_32_14_5_1_and_logits():
    d = StridedDiscriminator(width=8)
    x = paddle.rand([5, 1, 32, 32])
    sizes = []
    for layer in d.net:
        x = layer(x)
        sizes.append(x.shape[2])
    assert sizes == [14, 5, 1, 1]
    out = d(paddle.rand([5, 1, 32, 32]))
    assert out.shape == [5]


def test_full_width_channel_counts_are_the_tutorials():
    g, d = PixelShuffleGenerator(z_input="reshape"), StridedDiscriminator()
    assert [n for n, _ in g.named_parameters() if "project" in n] == []
    g_convs = [p.shape for n, p in g.named_parameters() if n.endswith("conv.weight")]
    assert g_convs == [[128, 1, 5, 5], [2048, 128, 3, 3], [128, 128, 5, 5]]
    assert list(g.net[4].weight.shape) == [1, 128, 5, 5]
    d_convs = [p.shape for n, p in d.named_parameters() if n.endswith("conv.weight")]
    assert d_convs == [[64, 1, 5, 5], [128, 64, 5, 5], [128, 128, 5, 5]]
    dense = PixelShuffleGenerator()  # the default adds one Linear(100, 100) before the reshape
    tutorial_names = {n for n, _ in g.named_parameters()}
    extra = [(n, list(p.shape)) for n, p in dense.named_parameters() if n not in tutorial_names]
    assert sorted(extra) == [("project.bias", [100]), ("project.weight", [100, 100])]


def test_no_norm_critic_supports_double_gradient():
    d = StridedDiscriminator(width=8, norm="none")
    x = paddle.rand([2, 1, 32, 32])
    x.stop_gradient = False
    (grad,) = paddle.grad(d(x).sum(), x, create_graph=True)
    (grad ** 2).sum().backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in d.parameters())


def test_registry_builds_the_seed_pair_and_rejects_other_sizes():
    class Cfg:
        model, width, activation, d_norm, latent_dim = "seed", 4, "leaky_relu", "batch", 100
        g_input = "reshape"

    g, d = build_models(Cfg, DataSpec((1, 32, 32)))
    assert isinstance(g, PixelShuffleGenerator) and isinstance(d, StridedDiscriminator)
    assert get_model("seed").image_size(28) == 32
    with pytest.raises(ValueError, match="32x32"):
        build_models(Cfg, DataSpec((1, 28, 28)))


def test_conditional_pair_sees_the_class_in_both_networks():
    class Cfg:
        model, width, activation, d_norm, latent_dim = "seed", 4, "leaky_relu", "none", 100
        g_input = "reshape"

    paddle.seed(1)
    g, d = build_models(Cfg, DataSpec((1, 32, 32), num_classes=10))
    assert list(g.net[0].conv.weight.shape) == [4, 1 + 10, 5, 5]  # noise map + 10 class maps
    assert list(d.net[0].conv.weight.shape) == [2, 1 + 10, 5, 5]  # image + 10 class maps
    g.eval()
    z = paddle.randn([1, 100]).tile([2, 1])
    cond = paddle.nn.functional.one_hot(paddle.to_tensor([3, 7]), 10)
    images = g(z, cond)
    assert images.shape == [2, 1, 32, 32]
    assert np.abs(images.numpy()[0] - images.numpy()[1]).max() > 1e-6
    same = paddle.to_tensor(np.repeat(images.numpy()[:1], 2, axis=0))
    scores = d(same, cond).numpy()
    assert abs(scores[0] - scores[1]) > 1e-7


def _interior_shift_error(g: PixelShuffleGenerator) -> float:
    """Largest difference, away from the borders, between G of a noise map shifted one cell to
    the right and G's image shifted four pixels (one cell after PixelShuffle(4)) to the right."""
    g.eval()  # batch norm with fixed statistics: each sample on its own
    paddle.seed(3)
    grid = paddle.randn([2, 1, 10, 11])
    z, z_shifted = grid[:, :, :, :10], grid[:, :, :, 1:]  # z_shifted[j] = z[j + 1]
    out = g(paddle.reshape(z, [2, 100]))
    out_shifted = g(paddle.reshape(z_shifted, [2, 100]))
    # An output pixel sees +-1 cell of the 8x8 map, a cell +-3 noise values: only cells 3 and 4
    # (pixels 12..19) see no padding, so out_shifted's cell 3 is compared with out's cell 4.
    rows = slice(12, 20)
    return float((out_shifted[:, :, rows, 12:16] - out[:, :, rows, 16:20]).abs().max())


def test_tutorial_input_makes_the_generator_shift_equivariant_inside():
    """Why the tutorial's generator draws strokes, not digits: z is reshaped into a 10x10 map of
    independent values and only convolutions follow, so inside the border the image of a
    shifted noise map is the shifted image. The centre of the image cannot depend on where it
    is, and a digit is a centred shape. A dense layer or coordinate maps remove the symmetry."""
    paddle.seed(0)
    assert _interior_shift_error(PixelShuffleGenerator(width=4, z_input="reshape")) < 1e-5
    paddle.seed(0)
    assert _interior_shift_error(PixelShuffleGenerator(width=4, z_input="dense")) > 1e-3
    paddle.seed(0)
    assert _interior_shift_error(PixelShuffleGenerator(width=4, z_input="coords")) > 1e-3
