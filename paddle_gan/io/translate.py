"""Load a CycleGAN run's generators and translate image files (behind tools/translate.py)."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.atomic import atomic_write
from paddle_gan.config import TrainConfig, from_dict
from paddle_gan.errors import UserError
from paddle_gan.models import DataSpec, find_model
from paddle_gan.models.cyclegan import DIRECTIONS, GeneratorPair, build


def load_generators(target: str, warn: Callable[[str], None] = print
                    ) -> tuple[TrainConfig, GeneratorPair]:
    """(stored config, trained GeneratorPair) from a checkpoint file or a run folder.

    UserError when the checkpoint is not a CycleGAN run's or does not fit the stored config.
    """
    from paddle_gan.data.unpaired import domain_shape

    checkpoint = ckpt_io.resolve_checkpoint(target, warn=warn)
    stored = checkpoint.meta.get("config")
    if not isinstance(stored, dict):
        raise UserError(f"{checkpoint.path} has no stored config")
    cfg = from_dict(stored)
    entry = find_model(cfg.model)
    if entry is None or entry.build is not build:  # another model's networks
        raise UserError(f"{checkpoint.path} is a {cfg.model!r} run, not a cyclegan one")
    try:
        generators, _ = build(cfg, DataSpec(domain_shape(cfg)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ckpt_io.restore(checkpoint, {"G": generators}, {})
    generators.eval()
    return cfg, generators


def input_files(path: str) -> list[str]:
    """An image file, or the image files in a folder (sorted); UserError when there are none."""
    from paddle_gan.data.unpaired import IMAGE_EXTENSIONS, image_files

    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise UserError(f"--input {path}: no such file or folder")
    files = image_files(path)
    if not files:
        raise UserError(f"--input {path} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def output_names(files: list[str]) -> list[str]:
    """<stem>.png per input; the full file name + .png where two inputs share a stem."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    return [f"{stem}.png" if stems.count(stem) == 1 else f"{os.path.basename(f)}.png"
            for stem, f in zip(stems, files)]


def save_image(path: str, image: np.ndarray) -> None:
    """Float [C, H, W] in [0, 1] (C = 1 or 3) -> PNG file, written atomically (a failed write
    leaves the previous file at `path`, and no partial one)."""
    from PIL import Image

    pixels = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    atomic_write(path, lambda handle: picture.save(handle, format="PNG"))


def check_out_apart(inputs: str, out_dir: str) -> None:
    """UserError when `out_dir` is the input folder or lies inside it (the outputs would mix
    with, and could replace, the images being translated, and a second run would translate its
    own outputs), or when the output of an input file would be that file itself."""
    source = os.path.realpath(inputs)
    target = os.path.realpath(out_dir)
    if os.path.isdir(source) and (target == source or target.startswith(source + os.sep)):
        raise UserError(f"--out {out_dir} is inside --input {inputs}: choose a folder outside "
                        f"the input images")
    if os.path.isfile(source) and os.path.join(target, output_names([source])[0]) == source:
        raise UserError(f"--out {out_dir}: the output would replace --input {inputs}; choose "
                        f"another folder")


def translate_files(checkpoint: str, inputs: str, direction: str, out_dir: str,
                    batch_size: int = 16, say: Callable[[str], None] = print) -> list[str]:
    """Translate every image of `inputs` (a file or folder) with the run's generator for
    `direction` ("AtoB" or "BtoA"); one PNG per input in `out_dir`, at the run's image size
    (inputs are resized and centre-cropped as in training). Returns the written paths."""
    from paddle_gan.data.unpaired import domain_shape, read_images

    if direction not in DIRECTIONS:
        raise UserError(f"--direction must be AtoB or BtoA, got {direction!r}")
    files = input_files(inputs)
    check_out_apart(inputs, out_dir)
    cfg, generators = load_generators(checkpoint, warn=say)
    channels, size, _ = domain_shape(cfg)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out_dir}: {exc.strerror}") from None
    written = []
    names = output_names(files)
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        out = generators.translate(read_images(chunk, size, channels), direction)
        for name, image in zip(names[start:start + batch_size], out):
            path = os.path.join(out_dir, name)
            save_image(path, image)
            written.append(path)
    return written
