"""CycleGAN's history of generated images (Shrivastava et al. 2017; CycleGAN section 4).

The discriminators see a mix of the newest fakes and fakes from earlier steps, which damps the
oscillation between G and D. The pool is a Layer whose stored images are persistable buffers,
so a checkpoint holds it and a resumed run continues with the same history.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn


class ImagePool(nn.Layer):
    """A buffer of up to `size` generated images.

    `query(images, rng)`: while the pool is filling, every image is stored and returned as it is;
    once it is full, each image is, with probability 1/2, swapped for a random stored image
    (which is returned, the new one taking its place), else returned unchanged.

    Args:
        size: images kept (the paper's 50); 0 disables the pool (query returns its input).
        shape: one image's shape (C, H, W).
    """

    def __init__(self, size: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.size = size
        # At least one slot so that the state dict has a fixed layout even when disabled.
        self.register_buffer("images", paddle.zeros([max(size, 1), *shape], dtype="float32"))
        self.register_buffer("count", paddle.zeros([1], dtype="int64"))

    @property
    def filled(self) -> int:
        """How many images are stored."""
        return int(self.count.numpy()[0])

    def query(self, images: paddle.Tensor, rng: np.random.Generator) -> paddle.Tensor:
        """Images [N, C, H, W] (detached) -> [N, C, H, W] mixing them with stored ones."""
        images = images.detach()
        if self.size == 0:
            return images
        count = self.filled
        out = []
        for i in range(images.shape[0]):
            image = images[i]
            if count < self.size:
                self.images[count] = image
                count += 1
                out.append(image)
            elif rng.random() < 0.5:
                slot = int(rng.integers(self.size))
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        self.count[0] = count
        return paddle.stack(out)  # [N, C, H, W]
