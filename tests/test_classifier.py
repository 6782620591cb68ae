"""The shipped MNIST feature classifier: weights, stated accuracy, resizing, training pieces."""
import json
import os

import numpy as np
import pytest

from paddle_gan.errors import UserError
from paddle_gan.metrics import classifier as clf
from paddle_gan.metrics.classifier_train import round_trip, shift_batch


@pytest.fixture(scope="module")
def held_out():
    from paddle_gan.data.mnist import load_subset

    images, labels = load_subset("test")
    return (images.astype(np.float32) / 255.0)[:, None], labels


def test_shipped_files_are_small_and_documented():
    assert os.path.getsize(clf.WEIGHTS_PATH) < 1_000_000
    info = clf.read_info()
    for key in ("held_out_accuracy", "held_out_accuracy_resized_32", "command", "seed", "data"):
        assert key in info, key
    assert info["held_out_accuracy"] >= 0.97
    assert info["command"].startswith("python tools/train_classifier.py")
    with np.load(clf.WEIGHTS_PATH, allow_pickle=False) as archive:  # no pickled objects inside
        assert all(archive[k].dtype == np.float32 for k in archive.files)


def test_stated_accuracy_on_the_fixed_held_out_500(held_out):
    images, labels = held_out
    assert len(images) == 500 and np.bincount(labels).tolist() == [50] * 10
    info = clf.read_info()
    _, probs = clf.classifier_outputs(images)
    accuracy = float(np.mean(probs.argmax(1) == labels))
    assert abs(accuracy - info["held_out_accuracy"]) <= 0.01
    _, probs32 = clf.classifier_outputs(round_trip(images)[:, :, :, :])  # 28 -> 32 -> 28
    accuracy32 = float(np.mean(probs32.argmax(1) == labels))
    assert abs(accuracy32 - info["held_out_accuracy_resized_32"]) <= 0.01


def test_outputs_shapes_probabilities_and_the_one_resize(held_out):
    from paddle_gan.data import resize_images

    images = resize_images(held_out[0][:12], 32)  # as the seed model's data
    feats, probs = clf.classifier_outputs(images, batch_size=5)
    assert feats.shape == (12, 128) and feats.dtype == np.float32
    assert probs.shape == (12, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert (feats < 0).any()  # before the ReLU
    # identical to resizing by hand to 28 and running the network
    import paddle

    model = clf.load_classifier()
    by_hand = model.features(paddle.to_tensor(resize_images(images, 28))).numpy()
    np.testing.assert_allclose(feats, by_hand, rtol=1e-5, atol=1e-5)
    # batch size does not change the result
    feats_all, _ = clf.classifier_outputs(images, batch_size=500)
    np.testing.assert_allclose(feats, feats_all, rtol=1e-5, atol=1e-6)


def test_rejects_colour_images():
    with pytest.raises(ValueError, match="one-channel"):
        clf.classifier_input(np.zeros((2, 3, 32, 32), np.float32))


def test_damaged_or_foreign_weights_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="damaged"):
        clf.load_classifier(str(bad))
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3, np.float32))
    with pytest.raises(UserError, match="do not fit"):
        clf.load_classifier(str(other))
    with pytest.raises(UserError, match="missing"):
        clf.load_classifier(str(tmp_path / "absent.npz"))


def test_save_and_load_round_trip(tmp_path):
    import paddle

    paddle.seed(1)
    model = clf.MnistClassifier()
    model.eval()
    path = str(tmp_path / "w.npz")
    clf.save_weights(model, path, {"held_out_accuracy": 0.5})
    assert json.load(open(clf.sidecar_path(path)))["held_out_accuracy"] == 0.5
    loaded = clf.load_classifier(path)
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(clf.classifier_outputs(x, model=loaded)[0],
                               clf.classifier_outputs(x, model=model)[0], rtol=1e-6)


def test_shift_batch_moves_pixels_and_fills_black():
    image = np.zeros((1, 1, 5, 5), np.float32)
    image[0, 0, 2, 2] = 1.0

    class FixedRng:
        def integers(self, low, high, size):
            return np.array([[0, 2]])  # window start (dy, dx) in the padded image

    out = shift_batch(image, FixedRng(), shift=1)
    # padded by 1, the pixel sits at (3, 3); the window from (0, 2) puts it at (3, 1)
    expected = np.zeros((5, 5), np.float32)
    expected[3, 1] = 1.0
    np.testing.assert_array_equal(out[0, 0], expected)
    assert shift_batch(image, np.random.default_rng(0), 0) is image


def test_exported_from_the_metrics_package():
    import paddle_gan.metrics as metrics

    assert metrics.classifier_outputs is clf.classifier_outputs
    assert {"MnistClassifier", "load_classifier", "classifier_outputs"} <= set(metrics.__all__)
