"""Training of the MNIST feature classifier behind `tools/train_classifier.py`.

Deterministic: the seed fixes Paddle's initialisation and dropout, and a numpy generator fixes
the batch order and the augmentation. Augmentation: random shifts of up to `shift` pixels, and
for half of the images the 28 -> 32 -> 28 resize round trip that every image of the seed model's
32x32 runs goes through before the classifier sees it.
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_gan.metrics.classifier import MnistClassifier, classifier_input, classifier_outputs


@dataclass
class ClassifierData:
    """Train and held-out images (float32 [N, 1, 28, 28] in [0, 1]) with int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    note: str


def load_classifier_data(data_dir: Optional[str] = None) -> ClassifierData:
    """Full MNIST from `data_dir` (train 60k / test 10k), else the embedded subset (4,500 / 500)."""
    from paddle_gan.data.mnist import load_mnist

    source = "auto" if data_dir else "mnist5k"
    train_images, train_y, note = load_mnist(source, "train", data_dir)
    test_images, test_y, _ = load_mnist(source, "test", data_dir)
    scale = lambda images: (images.astype(np.float32) / 255.0)[:, None]  # noqa: E731
    return ClassifierData(scale(train_images), train_y, scale(test_images), test_y, note)


def round_trip(images: np.ndarray, size: int = 32) -> np.ndarray:
    """Resize [N, 1, 28, 28] up to `size` and back, as the seed model's data and samples are."""
    from paddle_gan.data import resize_images

    return classifier_input(resize_images(images, size))


def shift_batch(images: np.ndarray, rng: np.random.Generator, shift: int) -> np.ndarray:
    """Translate each image by a random offset in [-shift, shift]^2, filling with black."""
    if shift == 0:
        return images
    n, c, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
    offsets = rng.integers(0, 2 * shift + 1, size=(n, 2))
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return out


def accuracy(model: MnistClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of `images` whose argmax prediction equals `labels`."""
    _, probs = classifier_outputs(images, model=model)
    return float(np.mean(probs.argmax(axis=1) == labels))


def train_classifier(data: ClassifierData, epochs: int = 30, batch_size: int = 64,
                     lr: float = 2e-3, seed: int = 0, shift: int = 2,
                     say: Callable[[str], None] = print) -> tuple[MnistClassifier, dict]:
    """Train a MnistClassifier; returns it in eval mode and a dict of results for the sidecar.

    Adam with a cosine learning-rate decay over all steps; cross-entropy loss.
    """
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    model = MnistClassifier()
    steps_per_epoch = len(data.train_x) // batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=model.parameters())
    trip = round_trip(data.train_x)
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(data.train_x))
        use_trip = rng.random(len(data.train_x)) < 0.5
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x = np.where(use_trip[idx, None, None, None], trip[idx], data.train_x[idx])
            x = shift_batch(x, rng, shift)
            logits = model(paddle.to_tensor(x))  # [B, 10]
            loss = F.cross_entropy(logits, paddle.to_tensor(data.train_y[idx][:, None]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            total += float(loss)
        model.eval()
        if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
            acc = accuracy(model, data.test_x, data.test_y)
            say(f"epoch {epoch + 1}/{epochs}: loss {total / steps_per_epoch:.4f} "
                f"held-out accuracy {acc:.4f}")
    model.eval()
    results = {
        "held_out_accuracy": accuracy(model, data.test_x, data.test_y),
        "held_out_accuracy_resized_32": accuracy(model, round_trip(data.test_x), data.test_y),
        "train_accuracy": accuracy(model, data.train_x, data.train_y),
        "train_images": int(len(data.train_x)),
        "held_out_images": int(len(data.test_x)),
        "data": data.note,
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "shift": shift,
        "seconds": round(time.perf_counter() - started, 1),
        "paddle_version": paddle.__version__, "python": platform.python_version(),
        "architecture": f"MnistClassifier(channels=(16, 32), hidden={model.feature_dim})",
    }
    return model, results
