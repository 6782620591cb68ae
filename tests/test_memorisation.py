"""paddle_gan.evaluation.memorisation: D's mean score on training vs held-out images."""
import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.data import ArrayData
from paddle_gan.evaluation.memorisation import RealScoreProbe


def _data(n, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    samples = (rng.random((n, 1, 4, 4)) * 0.5 + offset).astype(np.float32)
    return ArrayData(samples, (np.arange(n) % 10).astype(np.int64), 10, "random")


class MeanPixel(nn.Layer):
    """Scores an image by its mean pixel; a batch norm in front, to watch its statistics."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2D(1)

    def forward(self, x, cond=None):
        return self.norm(x).mean(axis=[1, 2, 3])  # [N]


class Recogniser(nn.Layer):
    """A discriminator that has memorised its training images: +1 for those, -1 for others."""

    def __init__(self, memory):
        super().__init__()
        self.memory = memory.reshape(len(memory), -1)

    def forward(self, x, cond=None):
        flat = x.numpy().reshape(len(x), -1)
        seen = [np.any(np.all(np.isclose(self.memory, row), axis=1)) for row in flat]
        return paddle.to_tensor(np.where(seen, 1.0, -1.0).astype(np.float32))  # [N]


class ClassTimesPixels(nn.Layer):
    """Scores an image by its condition's class times its pixel sum (pairs matter)."""

    def forward(self, x, cond=None):
        return cond.argmax(axis=1).astype("float32") * x.sum(axis=[1, 2, 3])  # [N]


def test_scores_are_the_mean_over_the_chosen_images_in_ds_input_range():
    train, held_out = _data(40, 0), _data(12, 1, offset=0.5)
    probe = RealScoreProbe(train, held_out, n=10, seed=3, value_range=(-1.0, 1.0))
    D = MeanPixel()
    D.eval()  # identity-like batch norm (running mean 0, variance 1)
    scores = probe(D)
    eps = D.norm._epsilon
    for name, data in (("train", train), ("held_out", held_out)):
        images, _ = probe.sets[name]
        assert images.shape[0] == 10
        # every chosen image is one of the set's, mapped from [0, 1] to [-1, 1]
        chosen = (images.numpy() + 1.0) / 2.0
        assert all(np.any(np.all(np.isclose(data.samples.reshape(len(data), -1), row), axis=1))
                   for row in chosen.reshape(10, -1))
        expected = images.numpy().mean() / np.sqrt(1.0 + eps)
        np.testing.assert_allclose(scores[f"d_score_{name}"], expected, rtol=1e-5)


def test_a_memorising_discriminator_shows_as_a_gap():
    train, held_out = _data(30, 0), _data(30, 1)
    probe = RealScoreProbe(train, held_out, n=20, seed=0, value_range=(0.0, 1.0))
    scores = probe(Recogniser(train.samples))
    assert scores == {"d_score_train": 1.0, "d_score_held_out": -1.0}


def test_the_probe_leaves_d_in_its_mode_with_its_statistics():
    probe = RealScoreProbe(_data(20, 0), _data(20, 1), n=8, seed=0, value_range=(-1.0, 1.0))
    D = MeanPixel()
    D.train()
    before = {k: v.numpy().copy() for k, v in D.state_dict().items()}
    assert any("mean" in k for k in before)  # the running statistics are in the state
    probe(D)
    assert D.training
    for key, value in D.state_dict().items():
        np.testing.assert_array_equal(before[key], value.numpy())


def test_a_conditional_discriminator_gets_each_images_own_class():
    train, held_out = _data(50, 0), _data(50, 1)
    probe = RealScoreProbe(train, held_out, n=10, seed=5, value_range=(0.0, 1.0),
                           num_classes=10)
    scores = probe(ClassTimesPixels())
    rng = np.random.default_rng([5, 8080])
    picked = np.sort(rng.choice(50, 10, replace=False))
    expected = (train.labels[picked] * train.samples[picked].sum(axis=(1, 2, 3))).mean()
    np.testing.assert_allclose(scores["d_score_train"], expected, rtol=1e-5)
