"""Writes that leave the old file or the new one: a failure injected in the middle of a picture,
plot, translated image or export leaves what was there before and no temporary debris."""
import errno
import hashlib
import json
import os

import numpy as np
import pytest
from PIL import Image

from paddle_gan.atomic import atomic_folder, atomic_write
from paddle_gan.errors import UserError


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def half_written_save(self, fp, *args, **kwargs):
    """Pillow's save that writes a few bytes and then fails (the disk fills up)."""
    if hasattr(fp, "write"):
        fp.write(b"\x89PNG half")
    else:
        with open(fp, "wb") as handle:
            handle.write(b"\x89PNG half")
    disk_full()


def digest(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                out[name] = hashlib.sha256(handle.read()).hexdigest()
        else:
            out[name] = "folder"
    return out


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "x.bin"
    atomic_write(str(path), lambda handle: handle.write(b"old"))

    def fails(handle):
        handle.write(b"new but incomplete")
        disk_full()

    with pytest.raises(OSError):
        atomic_write(str(path), fails)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def _picture():
    return np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)


def _save_png(path):
    from paddle_gan.viz import save_png

    save_png(path, _picture())


def _save_frame(path):
    from paddle_gan.viz.frames import save_picture

    save_picture(path, _picture())


def _save_translation(path):
    from paddle_gan.io.translate import save_image

    save_image(path, np.random.default_rng(1).random((3, 16, 16)).astype(np.float32))


def _save_figure(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from paddle_gan.viz import save_figure

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    try:
        save_figure(fig, path, dpi=50)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("write", [_save_png, _save_frame, _save_translation, _save_figure],
                         ids=["sample grid", "2-D frame", "translated image", "plot"])
def test_a_failed_picture_write_keeps_the_previous_picture(write, tmp_path, monkeypatch):
    path = str(tmp_path / "final.png")
    write(path)
    before = digest(tmp_path)
    with Image.open(path) as image:
        image.load()  # a complete PNG
    monkeypatch.setattr(Image.Image, "save", half_written_save)
    with pytest.raises(OSError):
        write(path)
    assert digest(tmp_path) == before  # the old picture, no temporary file


def test_atomic_folder_leaves_nothing_on_failure_and_fills_a_new_folder(tmp_path):
    target = tmp_path / "export"
    with pytest.raises(OSError):
        with atomic_folder(str(target)) as folder:
            (tmp_path / "export_probe").write_text(folder)
            open(os.path.join(folder, "generator.json"), "w").write("{}")
            disk_full()
    assert sorted(os.listdir(tmp_path)) == ["export_probe"]
    with atomic_folder(str(target)) as folder:
        open(os.path.join(folder, "a.txt"), "w").write("a")
    assert digest(target) == {"a.txt": hashlib.sha256(b"a").hexdigest()}
    assert sorted(os.listdir(tmp_path)) == ["export", "export_probe"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from conftest import tiny_config
    from tiny_mnist import write_mnist_folder
    from paddle_gan.train.run import run_training

    base = tmp_path_factory.mktemp("atomic")
    cfg = tiny_config(base, width=4, max_steps=1, dataset="mnist",
                      data_dir=write_mnist_folder(base))
    run_training(cfg, say=lambda text: None)
    return cfg.output


def test_a_failed_export_leaves_no_folder_and_keeps_an_earlier_export(tiny_run, tmp_path,
                                                                       monkeypatch):
    import paddle_gan.io.export as export

    def half_export(generator, latent_dim, num_classes, out_dir):
        open(os.path.join(out_dir, "generator.pdiparams"), "wb").write(b"half")
        disk_full()

    monkeypatch.setattr(export, "save_generator", half_export)
    new = tmp_path / "new_export"
    with pytest.raises(UserError, match="No space left on device"):
        export.export_generator(tiny_run, str(new), say=lambda text: None)
    assert os.listdir(tmp_path) == []
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / export.INFO_FILE).write_text(json.dumps({"format": 1}))
    (earlier / "generator.pdiparams").write_bytes(b"the weights of the earlier export")
    before = digest(earlier)
    with pytest.raises(UserError, match="No space left on device"):
        export.export_generator(tiny_run, str(earlier), say=lambda text: None)
    assert digest(earlier) == before and os.listdir(tmp_path) == ["earlier"]


def test_generate_keeps_the_previous_picture_when_a_write_fails(tmp_path):
    from inprocess_tools import load_tool

    write_atomically = load_tool("generate").write_atomically
    path = str(tmp_path / "grid.png")
    write_atomically(path, lambda tmp: open(tmp, "wb").write(b"old grid"))

    def fails(tmp):
        open(tmp, "wb").write(b"half a grid")
        disk_full()

    with pytest.raises(OSError):
        write_atomically(path, fails)
    assert digest(tmp_path) == {"grid.png": hashlib.sha256(b"old grid").hexdigest()}


def test_an_interrupted_folders_leftovers_are_swept_by_the_next_one(tmp_path):
    """A kill inside atomic_folder leaves its temporary folder; the next call for the same
    path removes it, and leaves the temporary folders of other paths alone."""
    from paddle_gan.atomic import TEMP_PREFIX, atomic_folder

    out = tmp_path / "export"
    killed = tmp_path / f"{TEMP_PREFIX}export-abc123"
    (killed / "half").mkdir(parents=True)
    other = tmp_path / f"{TEMP_PREFIX}another-abc123"
    other.mkdir()
    with atomic_folder(str(out)) as folder:
        with open(os.path.join(folder, "file"), "w") as handle:
            handle.write("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["export", other.name])
    assert (out / "file").read_text() == "x"
