"""The suite's own MNIST feature extractor: a small LeNet-style CNN with shipped weights.

Inception weights cannot be downloaded offline, so MNIST runs are scored in the feature space
of this classifier (as many MNIST GAN papers do with a LeNet embedding): its 128-d penultimate
layer (before the ReLU) gives FID / KID / precision-recall features, its softmax the Inception Score and the class
coverage. The weights ship in ``weights/mnist_lenet.npz`` (loaded with ``allow_pickle=False``)
beside a JSON sidecar stating how they were trained and their held-out accuracy;
``tools/train_classifier.py`` reproduces them.

Images of any size are resized to 28x28 in one place, :func:`classifier_input`, so the seed
model's 32x32 samples and the real data (resized the same way) meet the network identically.
"""
from __future__ import annotations

import functools
import json
import os
from typing import Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_gan.blocks import ConvBN, flatten_batch
from paddle_gan.errors import UserError

CLASSIFIER_SIZE = 28
NUM_CLASSES = 10
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
WEIGHTS_PATH = os.path.join(WEIGHTS_DIR, "mnist_lenet.npz")


def sidecar_path(weights_path: str) -> str:
    """The JSON file beside a weights file (same stem, .json)."""
    return os.path.splitext(weights_path)[0] + ".json"


class MnistClassifier(nn.Layer):
    """LeNet-style CNN: ConvBN(5, same) 28 -> maxpool 14 -> ConvBN(5, valid) 10 -> maxpool 5
    -> Linear(c2*25 -> hidden) (the features) -> ReLU -> dropout -> Linear(hidden -> 10).

    The features are taken before the ReLU: units the ReLU silences on all of MNIST would give
    constant-zero columns and a singular covariance in FID.

    Args:
        channels: the two convolutions' channel counts.
        hidden: length of the feature vector.
        dropout: dropout before the last layer (training only).
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 128,
                 dropout: float = 0.3) -> None:
        super().__init__()
        c1, c2 = channels
        self.conv = nn.Sequential(
            ConvBN(1, c1, 5, padding="same", act="relu"),
            nn.MaxPool2D(2),
            ConvBN(c1, c2, 5, act="relu"),
            nn.MaxPool2D(2),
        )
        self.fc = nn.Linear(c2 * 25, hidden)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, NUM_CLASSES)
        self.feature_dim = hidden

    def features(self, x: paddle.Tensor) -> paddle.Tensor:
        """Images [N, 1, 28, 28] in [0, 1] -> features [N, hidden] (pre-activation)."""
        out = self.conv(x)  # [N, c2, 5, 5]
        return self.fc(flatten_batch(out))  # [N, hidden]

    def logits(self, feats: paddle.Tensor) -> paddle.Tensor:
        """Features [N, hidden] -> class logits [N, 10]."""
        return self.head(self.dropout(F.relu(feats)))  # [N, 10]

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.logits(self.features(x))  # [N, 10] logits


def classifier_input(images: np.ndarray) -> np.ndarray:
    """Float images [N, 1, H, W] in [0, 1] -> float32 [N, 1, 28, 28]; the one place that resizes.

    Raises ValueError for another channel count or rank.
    """
    from paddle_gan.data import resize_images

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"the MNIST classifier takes one-channel images [N, 1, H, W], "
                         f"got shape {images.shape}")
    return resize_images(np.clip(images, 0.0, 1.0), CLASSIFIER_SIZE)


def save_weights(model: MnistClassifier, path: str, info: dict) -> None:
    """Write the state dict as a compressed .npz (no pickle) and `info` as the JSON sidecar."""
    from paddle_gan.atomic import atomic_write

    arrays = {name: value.numpy() for name, value in model.state_dict().items()}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))
    text = json.dumps(info, indent=2, sort_keys=True) + "\n"
    atomic_write(sidecar_path(path), lambda handle: handle.write(text.encode("utf-8")))
    for written in (path, sidecar_path(path)):
        os.chmod(written, 0o644)  # shipped files: readable by everyone (mkstemp made them 0600)


def read_info(path: str = WEIGHTS_PATH) -> dict:
    """The JSON sidecar of a weights file (accuracy, training command, seed, ...)."""
    side = sidecar_path(path)
    if not os.path.isfile(side):
        raise UserError(f"classifier info {side} is missing: retrain with "
                        f"tools/train_classifier.py")
    with open(side, encoding="utf-8") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=4)
def load_classifier(path: str = WEIGHTS_PATH) -> MnistClassifier:
    """The trained classifier in eval mode (cached per path: treat it as read-only).

    Raises UserError when the file is missing, damaged or holds another architecture.
    """
    if not os.path.isfile(path):
        raise UserError(f"classifier weights {path} are missing: run tools/train_classifier.py")
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"classifier weights {path} are damaged ({type(exc).__name__}): "
                        f"retrain with tools/train_classifier.py") from None
    hidden = stored.get("fc.weight", np.zeros((0, 128))).shape[1]
    model = MnistClassifier(hidden=hidden)
    own = model.state_dict()
    if set(own) != set(stored) or any(list(own[k].shape) != list(stored[k].shape) for k in own):
        raise UserError(f"classifier weights {path} do not fit MnistClassifier: "
                        f"retrain with tools/train_classifier.py")
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in stored.items()})
    model.eval()
    return model


def classifier_outputs(images: np.ndarray, batch_size: int = 500,
                       model: Optional[MnistClassifier] = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and class probabilities of images [N, 1, H, W] in [0, 1].

    Args:
        images: one-channel images of any size (resized to 28x28 by `classifier_input`).
        batch_size: images per forward pass.
        model: a classifier (default: the shipped one).

    Returns:
        (features float32 [N, D], probs float64 [N, 10] with rows summing to 1).
    """
    model = model or load_classifier()
    was_training = model.training
    model.eval()
    feats, probs = [], []
    try:
        with paddle.no_grad():
            for start in range(0, len(images), batch_size):
                x = paddle.to_tensor(classifier_input(images[start:start + batch_size]))
                f = model.features(x)  # [B, D]
                feats.append(f.numpy())
                probs.append(F.softmax(model.logits(f), axis=-1).numpy().astype(np.float64))
    finally:
        if was_training:
            model.train()
    if not feats:
        raise ValueError("classifier_outputs needs at least one image")
    p = np.concatenate(probs)
    return np.concatenate(feats).astype(np.float32), p / p.sum(axis=1, keepdims=True)
