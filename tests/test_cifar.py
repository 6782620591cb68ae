"""Tests for CIFAR-10 loading (paddle_gan.data.cifar) from tiny archives in the real format."""
from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import time
import tracemalloc
from types import SimpleNamespace

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)

import numpy as np
import pytest

from paddle_gan.data import cifar
from paddle_gan.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_BATCH = 4
TEST_COUNT = 3


def _batch(seed: int, count: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"batch {seed}".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, count)],
        b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(count)],
    }


def _batches() -> dict[str, dict]:
    out = {f"data_batch_{i}": _batch(i, PER_BATCH) for i in range(1, 6)}
    out["test_batch"] = _batch(99, TEST_COUNT)
    out["data_batch_3"][b"labels"][0] = 7  # at least one horse in the train split
    return out


def _write_archive(path, batches: dict[str, object], protocol: int = 3) -> None:
    """A cifar-10-python.tar.gz with cifar-10-batches-py/<name> pickles (+ batches.meta)."""
    members = dict(batches)
    members.setdefault("batches.meta", {b"label_names": [n.encode() for n in cifar.CLASS_NAMES]})
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            raw = (content if isinstance(content, bytes)
                   else pickle.dumps(content, protocol=protocol))
            info = tarfile.TarInfo(f"{cifar.FOLDER_NAME}/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))


@pytest.fixture
def archive_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    batches = _batches()
    _write_archive(folder / cifar.ARCHIVE_NAME, batches)
    return folder, batches


def _cfg(data_dir, classes=None):
    return SimpleNamespace(data_dir=str(data_dir), classes=classes)


def _expected(batches: dict, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    images = np.concatenate([batches[n][b"data"] for n in names]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([batches[n][b"labels"] for n in names]).astype(np.int64)
    return images.astype(np.float32) / 255.0, labels


@pytest.mark.parametrize("split", ("train", "test"))
def test_loads_the_archive_splits(archive_dir, split):
    folder, batches = archive_dir
    data = cifar.load(_cfg(folder), split)
    images, labels = _expected(batches, cifar.SPLIT_BATCHES[split])
    assert data.samples.shape == ((5 * PER_BATCH if split == "train" else TEST_COUNT), 3, 32, 32)
    assert data.samples.dtype == np.float32 and data.labels.dtype == np.int64
    np.testing.assert_array_equal(data.samples, images)  # channel-major rows: R plane, G, B
    np.testing.assert_array_equal(data.labels, labels)
    assert data.num_classes == 10 and data.class_names[7] == "horse"
    assert data.name == "cifar10" and cifar.ARCHIVE_NAME in data.note


def test_extracted_folder_and_direct_file_give_the_same_data(archive_dir, tmp_path):
    folder, batches = archive_dir
    extracted = tmp_path / "extracted"
    with tarfile.open(folder / cifar.ARCHIVE_NAME) as archive:
        archive.extractall(extracted, filter="data")
    from_archive = cifar.load(_cfg(folder), "train")
    for source in (extracted, extracted / cifar.FOLDER_NAME, folder / cifar.ARCHIVE_NAME):
        other = cifar.load(_cfg(source), "train")
        np.testing.assert_array_equal(other.samples, from_archive.samples)
        np.testing.assert_array_equal(other.labels, from_archive.labels)


def test_new_numpy_pickle_protocols_load_too(tmp_path):
    batches = _batches()
    _write_archive(tmp_path / cifar.ARCHIVE_NAME, batches, protocol=5)
    data = cifar.load(_cfg(tmp_path), "test")
    np.testing.assert_array_equal(data.samples, _expected(batches, ["test_batch"])[0])


@pytest.mark.parametrize("classes, wanted", (("horse", [7]), ("7", [7]), ("7,horse", [7]),
                                             (" Horse , 0", [0, 7]), ("cat,dog,2", [2, 3, 5])))
def test_class_filter_by_name_and_index(archive_dir, classes, wanted):
    folder, batches = archive_dir
    images, labels = _expected(batches, cifar.SPLIT_BATCHES["train"])
    keep = np.isin(labels, wanted)
    data = cifar.load(_cfg(folder, classes), "train")
    names = [cifar.CLASS_NAMES[i] for i in wanted]
    assert data.num_classes == len(wanted) and data.class_names == names
    relabelled = np.array([wanted.index(v) for v in labels[keep]], dtype=np.int64)
    np.testing.assert_array_equal(data.labels, relabelled)  # 0..k-1 in class-index order
    np.testing.assert_array_equal(data.samples, images[keep])
    named = [data.class_names[v] for v in data.labels]
    assert named == [cifar.CLASS_NAMES[v] for v in labels[keep]]
    assert "classes " + ", ".join(names) in data.note


@pytest.mark.parametrize("classes", ("unicorn", "10", "horse,-1"))
def test_bad_class_is_a_one_line_error_listing_the_names(archive_dir, classes):
    folder, _ = archive_dir
    with pytest.raises(UserError) as info:
        cifar.load(_cfg(folder, classes), "train")
    message = str(info.value)
    assert "\n" not in message and "airplane" in message and "truck" in message


def test_class_with_no_images_in_the_split_is_an_error(tmp_path):
    batches = {name: {**b, b"labels": [0] * len(b[b"labels"])}
               for name, b in _batches().items()}
    _write_archive(tmp_path / cifar.ARCHIVE_NAME, batches)
    with pytest.raises(UserError, match="no images of horse"):
        cifar.load(_cfg(tmp_path, "horse"), "test")


def test_missing_file_offline_is_a_one_line_error(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cifar, "PADDLE_CACHE_FILE", str(tmp_path / "cache" / cifar.ARCHIVE_NAME))
    monkeypatch.setattr(cifar, "download_to_cache", lambda: calls.append(1))  # returns None
    with pytest.raises(UserError) as info:
        cifar.load(SimpleNamespace(data_dir=None, classes=None), "train")
    message = str(info.value)
    assert calls == [1]  # the download was tried once
    assert "\n" not in message and "--data-dir" in message and cifar.ARCHIVE_NAME in message


def test_paddle_cache_file_is_used_without_download(archive_dir, monkeypatch):
    folder, batches = archive_dir
    monkeypatch.setattr(cifar, "PADDLE_CACHE_FILE", str(folder / cifar.ARCHIVE_NAME))
    monkeypatch.setattr(cifar, "download_to_cache", lambda: pytest.fail("no download expected"))
    data = cifar.load(SimpleNamespace(data_dir=None, classes=None), "test")
    np.testing.assert_array_equal(data.labels, _expected(batches, ["test_batch"])[1])


def test_data_dir_without_the_file_is_a_one_line_error(tmp_path):
    for target in (tmp_path, tmp_path / "missing"):
        with pytest.raises(UserError) as info:
            cifar.load(_cfg(target), "train")
        assert "\n" not in str(info.value)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    batches = _batches()
    batches["data_batch_2"] = {b"data": batches["data_batch_2"][b"data"],
                               b"labels": [0] * PER_BATCH, b"x": _Evil(str(marker))}
    _write_archive(tmp_path / cifar.ARCHIVE_NAME, batches)
    with pytest.raises(UserError) as info:
        cifar.load(_cfg(tmp_path), "train")
    assert not marker.exists()
    assert "refusing to load global" in str(info.value) and "system" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(pickle.UnpicklingError):
        cifar.SafeUnpickler(io.BytesIO(pickle.dumps(_Evil(str(marker)))),
                            encoding="bytes").load()
    assert not marker.exists()


@pytest.mark.parametrize("content", (b"not a pickle", {b"data": [1, 2]}, [1, 2, 3]))
def test_wrong_batch_content_is_a_user_error(tmp_path, content):
    batches = _batches()
    batches["test_batch"] = content
    _write_archive(tmp_path / cifar.ARCHIVE_NAME, batches)
    with pytest.raises(UserError, match="test_batch"):
        cifar.load(_cfg(tmp_path), "test")


def test_not_an_archive_is_a_user_error(tmp_path):
    (tmp_path / cifar.ARCHIVE_NAME).write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(UserError, match="cannot read"):
        cifar.load(_cfg(tmp_path), "train")


def test_prepare_data_gives_each_model_its_size(archive_dir):
    from paddle_gan.config import make_config
    from paddle_gan.train.run import prepare_data

    folder, _ = archive_dir
    dcgan = prepare_data(make_config(dict(model="dcgan", dataset="cifar10", data_dir=str(folder),
                                          classes="horse")))
    assert dcgan.samples.shape[1:] == (3, 32, 32) and set(dcgan.labels) == {0}
    assert dcgan.class_names == ["horse"] and dcgan.num_classes == 1
    mlp = prepare_data(make_config(dict(model="mlp", dataset="cifar10", data_dir=str(folder))))
    assert mlp.samples.shape[1:] == (3, 28, 28)


def test_train_tool_exits_2_with_one_line_when_cifar_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--model", "dcgan",
           "--dataset", "cifar10", "--data-dir", str(empty), "--output", str(tmp_path / "run")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and cifar.ARCHIVE_NAME in lines[0], result.stderr


def test_conditional_dcgan_trains_on_a_class_subset(archive_dir, tmp_path):
    from paddle_gan.config import make_config
    from paddle_gan.train.run import build_trainer, prepare_data

    folder, _ = archive_dir
    cfg = make_config(dict(model="dcgan", dataset="cifar10", data_dir=str(folder),
                           classes="0,horse", conditional=True, width=4, batch_size=4, k=1, output=str(tmp_path)))
    data = prepare_data(cfg)
    assert data.num_classes == 2 and set(data.labels) <= {0, 1}
    trainer = build_trainer(cfg, data, str(tmp_path))
    stats = trainer.train_step(data.samples[:4], data.labels[:4])
    assert all(np.isfinite(float(v)) for v in stats.values())
    assert trainer.sample_fixed(4).shape == (4, 3, 32, 32)


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2's str opcodes (BINSTRING), as the CIFAR-10 files were written
    (protocol 2 by Python 2's cPickle)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def test_a_batch_pickled_as_the_original_files_loads(tmp_path):
    batch = _batch(5, PER_BATCH)
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(batch)
    (tmp_path / "test_batch").write_bytes(buffer.getvalue())
    images, labels, _ = cifar.load_cifar10("test", str(tmp_path))
    assert type(images) is np.ndarray
    assert np.array_equal(images.reshape(PER_BATCH, -1), batch[b"data"])
    assert labels.tolist() == batch[b"labels"]


_SIZE_2_62 = (2 ** 62).to_bytes(8, "little")
#: pickles that ask for far more memory than their bytes, each with what the refusal says
GREEDY_PICKLES = {
    "bytes(2**62) through a builtin": (b"\x80\x02cbuiltins\nbytes\n\x8a\x08" + _SIZE_2_62
                                       + b"\x85R.", "refusing to load global builtins.bytes"),
    "a BINBYTES8 of 2**62 bytes": (b"\x80\x04\x8e" + _SIZE_2_62 + b"xx.",
                                   "expected 4611686018427387904 bytes in a bytes8"),
    "a frame of 2**40 bytes": (b"\x80\x04\x95" + (2 ** 40).to_bytes(8, "little") + b"N.",
                               "declares a frame of 1,099,511,627,776 bytes"),
    "memo slot 2**31": (b"\x80\x02Nr" + (2 ** 31).to_bytes(4, "little") + b".",
                        "asks for memo slot 2,147,483,648"),
    "300,000 empty lists": (b"\x80\x02]" + b"]a" * 300_000 + b".",
                            "more than 200,000 opcodes"),
    "_reconstruct of 2**62 bytes": (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n\x8a\x08" + _SIZE_2_62
        + b"\x85U\x01b\x87R.", "asks for an array of 4,611,686,018,427,387,904 bytes"),
    "ndarray((2**34,), u1)": (b"\x80\x02cnumpy\nndarray\n\x8a\x05" + (2 ** 34).to_bytes(5, "little")
                              + b"\x85U\x02u1\x86R.", "asks for an array of 17,179,869,184 bytes"),
    "an object array": (pickle.dumps(np.array([None] * 3, dtype=object), protocol=3),
                        "refusing an array of Python objects"),
    "100 arrays of 100 MiB": (b"\x80\x02cnumpy\nndarray\nq\x00(" + b"h\x00J\x00\x00@\x06\x85"
                              + b"U\x02u1\x86R" + b"h\x00J\x00\x00@\x06\x85U\x02u1\x86R" * 99
                              + b"l.", "asks for an array of 104,857,600 bytes"),
}


@pytest.mark.parametrize("name", GREEDY_PICKLES)
def test_a_pickle_asking_for_huge_memory_is_refused_at_once(tmp_path, name):
    raw, expect = GREEDY_PICKLES[name]
    (tmp_path / "test_batch").write_bytes(raw)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(UserError) as info:
            cifar.load_cifar10("test", str(tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert expect in str(info.value) and "test_batch is not a CIFAR-10 batch" in str(info.value)
    assert "\n" not in str(info.value)
    # at most the arrays' budget (one 100 MiB array before the second is refused), never what
    # the pickle asks for
    assert peak < cifar.MAX_BATCH_BYTES + 2 ** 24, f"{name}: {peak:,} bytes allocated"
    assert time.perf_counter() - start < 5
