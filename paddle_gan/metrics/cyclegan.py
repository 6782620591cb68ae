"""CycleGAN evaluation: cycle reconstruction, digit preservation and FID to the target domain.

The classifier is passed in as two callables so this module depends on no particular network:
`classify(images) -> probs [N, K]` and `features(images) -> feats [N, D]`, both on float images
[N, C, H, W] in [0, 1]. For the built-in MNIST style task use the suite's LeNet
(paddle_gan.metrics.classifier.classifier_outputs); for folder data an Inception feature
function when local weights exist.

Domain-B images are mapped back to A's style with `data.undo_b` (e.g. inverted -> ordinary
digits) before they reach the classifier, since it was trained on ordinary digits.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from paddle_gan.data.unpaired import UnpairedData
from paddle_gan.metrics.distances import fid

ImageFn = Callable[[np.ndarray], np.ndarray]


def _accuracy(classify: ImageFn, images: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    predicted = np.argmax(np.asarray(classify(images)), axis=1)
    return int((predicted == labels).sum()), len(labels)


def evaluate_translation(generators, data: UnpairedData, classify: Optional[ImageFn] = None,
                         features: Optional[ImageFn] = None, batch_size: int = 100
                         ) -> dict[str, float]:
    """Metrics of a trained GeneratorPair (anything with `translate(images, direction)`).

    Always: cycle_l1_A = mean |F(G(a)) - a|, cycle_l1_B = mean |G(F(b)) - b| in [0, 1] pixel
    units, and cycle_l1 (their mean over all images of both domains).
    With `classify` and labels in both domains: digit_preservation_AtoB = accuracy of
    classify(undo_b(G(a))) against a's labels, digit_preservation_BtoA = accuracy of
    classify(F(b)) against b's labels, digit_preservation (over both), and the classifier's
    accuracy on the untranslated images (classifier_accuracy_real: the ceiling).
    With `features`: fid_AtoB = FID(G(a), real B) and fid_BtoA = FID(F(b), real A) in the
    classifier's feature space (both B sets after undo_b).
    """
    a, b = data.samples, data.samples_b
    fake_b = generators.translate(a, "AtoB", batch_size)
    fake_a = generators.translate(b, "BtoA", batch_size)
    rec_a = generators.translate(fake_b, "BtoA", batch_size)
    rec_b = generators.translate(fake_a, "AtoB", batch_size)
    err_a, err_b = np.abs(rec_a - a).mean(), np.abs(rec_b - b).mean()
    out = {"cycle_l1_A": float(err_a), "cycle_l1_B": float(err_b),
           "cycle_l1": float((err_a * len(a) + err_b * len(b)) / (len(a) + len(b)))}
    if classify is not None and data.labels is not None and data.labels_b is not None:
        right_ab, n_a = _accuracy(classify, data.undo_b(fake_b), data.labels)
        right_ba, n_b = _accuracy(classify, fake_a, data.labels_b)
        real_a, _ = _accuracy(classify, a, data.labels)
        real_b, _ = _accuracy(classify, data.undo_b(b), data.labels_b)
        out.update(digit_preservation_AtoB=right_ab / n_a, digit_preservation_BtoA=right_ba / n_b,
                   digit_preservation=(right_ab + right_ba) / (n_a + n_b),
                   classifier_accuracy_real=(real_a + real_b) / (n_a + n_b))
    if features is not None:
        out["fid_AtoB"] = fid(features(data.undo_b(fake_b)), features(data.undo_b(b)))
        out["fid_BtoA"] = fid(features(fake_a), features(a))
    return out


def evaluate_run(checkpoint: str, classify: Optional[ImageFn] = None,
                 features: Optional[ImageFn] = None, split: str = "test",
                 say: Callable[[str], None] = print) -> dict[str, float]:
    """`evaluate_translation` of a run folder / checkpoint on its data set's `split`."""
    from paddle_gan.models import prepare_data
    from paddle_gan.io.translate import load_generators

    cfg, generators = load_generators(checkpoint, warn=say)
    data = prepare_data(cfg, split)
    return evaluate_translation(generators, data, classify, features)
