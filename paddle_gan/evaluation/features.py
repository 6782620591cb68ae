"""Feature spaces for image metrics: the shipped MNIST classifier, a local InceptionV3, or a
fixed random projection of the pixels when neither applies.

An extractor maps float images [N, C, H, W] in [0, 1] to (features [N, D], probs [N, K] or
None). `probs` feed the Inception Score and the class coverage; without a classifier those
metrics are not computed.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from paddle_gan.checkpoint import read_weights
from paddle_gan.errors import UserError

#: Length of the random-projection fallback features.
PROJECTION_DIM = 256
PROJECTION_SEED = 20240601
INCEPTION_SIZE = 299
#: The normalisation Paddle's ImageNet models were trained with (on [0, 1] pixels).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass
class FeatureExtractor:
    """A named feature space.

    name: the JSON `feature_space` value ("mnist_lenet", "inception_v3", "random_projection_256").
    extract: images [N, C, H, W] in [0, 1] -> (features [N, D], probs [N, K] or None).
    note: one line for the output saying what the numbers are comparable with.
    """

    name: str
    extract: Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]]
    note: str


def mnist_extractor(batch_size: int = 500) -> FeatureExtractor:
    """The shipped LeNet classifier: 128-d penultimate features and 10 class probabilities."""
    from paddle_gan.metrics.classifier import classifier_outputs, load_classifier, read_info

    model = load_classifier()
    accuracy = read_info().get("held_out_accuracy")
    stated = f"held-out accuracy {accuracy:.2%}" if isinstance(accuracy, float) else "untested"
    return FeatureExtractor(
        "mnist_lenet",
        lambda images: classifier_outputs(images, batch_size, model),
        f"features of the suite's MNIST classifier ({stated}); comparable within this suite "
        f"only, not with Inception FIDs")


def projection_extractor(dim: int = PROJECTION_DIM, seed: int = PROJECTION_SEED
                         ) -> FeatureExtractor:
    """Pixels flattened and multiplied by a fixed Gaussian matrix [C*H*W, dim] / sqrt(dim).

    A Johnson-Lindenstrauss projection: distances between images are kept up to a small
    relative error, so KID and precision/recall approximate their pixel-space values at a
    fraction of the cost, and FID's covariance stays well estimated with a few thousand samples.
    """

    def extract(images: np.ndarray) -> tuple[np.ndarray, None]:
        flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        rng = np.random.default_rng([seed, flat.shape[1]])
        matrix = rng.standard_normal((flat.shape[1], dim)).astype(np.float32) / np.sqrt(dim)
        return flat @ matrix, None

    return FeatureExtractor(
        f"random_projection_{dim}", extract,
        f"no classifier for this data set: pixels randomly projected to {dim} dimensions; "
        f"FID/KID/precision/recall comparable between runs of this data set only; Inception "
        f"Score and class coverage need --inception-weights")


def load_inception(path: str, trust: bool = False):
    """InceptionV3 (paddle.vision.models) with a local state dict; never downloads.

    Accepts an `.npz` of the state dict or, when the caller was given --trust-checkpoint,
    Paddle's `.pdparams` (paddle.load). The file is read once; its format is decided from those
    bytes (never by its name) and those bytes are loaded.
    UserError (one line) when the file is missing, unreadable or of another architecture.
    """
    if not os.path.isfile(path):
        raise UserError(f"--inception-weights {path}: no such file (this tool never downloads; "
                        f"pass Paddle's inception_v3.pdparams)")
    import paddle
    from paddle.vision.models import inception_v3

    from paddle_gan.io.init_weights import unpickle_weights

    weights = read_weights(path, "--inception-weights")  # checked and loaded: the same bytes
    if weights.is_zip:
        try:
            with np.load(io.BytesIO(weights.data), allow_pickle=False) as archive:
                state = {k: archive[k] for k in archive.files}
        except Exception as exc:  # a damaged zip raises many kinds
            raise UserError(f"--inception-weights {path}: cannot read it "
                            f"({type(exc).__name__})") from None
    else:
        state = unpickle_weights(weights, trust, "--inception-weights")
    if not isinstance(state, dict):
        raise UserError(f"--inception-weights {path}: not a state dict")
    model = inception_v3(pretrained=False, num_classes=1000, with_pool=True)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing or any(list(np.shape(state[k])) != list(own[k].shape) for k in own):
        raise UserError(f"--inception-weights {path}: not InceptionV3 weights "
                        f"({len(missing)} of {len(own)} tensors missing or of another shape)")
    model.set_state_dict({k: paddle.to_tensor(np.asarray(state[k])) for k in own})
    model.eval()
    return model


def inception_extractor(path: str, batch_size: int = 50, trust: bool = False) -> FeatureExtractor:
    """2048-d pool features and 1000 ImageNet probabilities of a local InceptionV3.

    Images are repeated to 3 channels if gray, resized bilinearly to 299x299 and normalised
    with the ImageNet mean / std, as Paddle's pretrained vision models expect.
    """
    import paddle
    import paddle.nn.functional as F

    model = load_inception(path, trust)

    def extract(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats, probs = [], []
        with paddle.no_grad():
            for start in range(0, len(images), batch_size):
                x = paddle.to_tensor(np.asarray(images[start:start + batch_size], np.float32))
                if x.shape[1] == 1:
                    x = paddle.concat([x, x, x], axis=1)  # [B, 3, H, W]
                x = F.interpolate(x, size=[INCEPTION_SIZE, INCEPTION_SIZE], mode="bilinear",
                                  align_corners=False)  # [B, 3, 299, 299]
                mean = paddle.to_tensor(IMAGENET_MEAN.reshape(1, 3, 1, 1))
                std = paddle.to_tensor(IMAGENET_STD.reshape(1, 3, 1, 1))
                x = (x - mean) / std
                for layer in [model.inception_stem, *model.inception_block_list]:
                    x = layer(x)  # [B, 2048, 8, 8] at the end
                pooled = paddle.reshape(model.avg_pool(x), [-1, 2048])  # [B, 2048]
                feats.append(pooled.numpy())
                logits = model.fc(model.dropout(pooled))  # eval dropout scales, as in forward
                probs.append(F.softmax(logits, axis=-1).numpy().astype(np.float64))
        p = np.concatenate(probs)
        return np.concatenate(feats), p / p.sum(axis=1, keepdims=True)

    return FeatureExtractor(
        "inception_v3", extract,
        f"InceptionV3 pool features from {path} (Paddle's ImageNet weights; FID/IS are close "
        f"to, but not identical with, the TF-Inception numbers in papers)")


def choose_extractor(dataset_name: str, channels: int, inception_weights: Optional[str] = None,
                     batch_size: int = 500, trust: bool = False) -> FeatureExtractor:
    """Inception when weights are given; else the MNIST classifier for one-channel MNIST
    data; else the random projection."""
    if inception_weights:
        return inception_extractor(inception_weights, min(batch_size, 50), trust)
    if dataset_name == "mnist" and channels == 1:
        return mnist_extractor(batch_size)
    return projection_extractor()
