"""A tiny MNIST idx folder (random pixels, labels 0..9) for tests that need `--dataset mnist`
with `--data-dir`: it loads in milliseconds, where the embedded 5k subset takes ~2 s per load."""
import struct

import numpy as np


def write_mnist_folder(folder, train=64, test=20, seed=0):
    """Write the four idx files into `folder` (a pathlib.Path); returns it as a string."""
    rng = np.random.default_rng(seed)
    for images, labels, count in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte", train),
                                  ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test)):
        for name, array in ((images, rng.integers(0, 256, (count, 28, 28))),
                            (labels, np.arange(count) % 10)):
            header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
            header += struct.pack(f">{array.ndim}I", *array.shape)
            (folder / name).write_bytes(header + array.astype(np.uint8).tobytes())
    return str(folder)
