"""Weight and gradient histograms of the networks for VisualDL's Histogram tab.

Every `cfg.histogram_every` steps the trainer's networks (`trainer.modules()`: G and D) write
one histogram per trainable parameter, `<net>/weights/<parameter>`, and the gradients of the
latest update of that network, `<net>/grads/<parameter>`. Gradients only exist between a
network's backward pass and its optimizer step, so the trainer calls `capture_grads` there; it
copies them only when a histogram is due (D: this step; G, updated every k steps: within the k
steps before the next histogram), so other steps pay nothing.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

#: buckets per histogram (VisualDL's default is 10, too coarse to see a distribution's shape)
BUCKETS = 30


class HistogramWriter:
    """Writes the histograms every `every` steps (a trainer step callback).

    Args:
        every: steps between histograms (> 0).
        buckets: buckets per histogram.
    """

    def __init__(self, every: int, buckets: int = BUCKETS) -> None:
        if every < 1:
            raise ValueError(f"histogram interval must be at least 1, got {every}")
        self.every = every
        self.buckets = buckets
        self.grads: dict[str, dict[str, np.ndarray]] = {}

    def wanted(self, step: int, window: int = 1) -> bool:
        """Whether gradients computed at 1-based `step` are the latest ones of their network at
        the next histogram step, for a network updated every `window` steps."""
        next_due = -(-step // self.every) * self.every
        return next_due - step < window

    def capture_grads(self, step: int, net: str, layer: Any, window: int = 1) -> None:
        """Keep a copy of `layer`'s gradients (call after backward, before the optimizer step)
        if they will be shown: `step` is the 1-based step being computed."""
        if not self.wanted(step, window):
            return
        self.grads[net] = {name: p.grad.numpy().copy() for name, p in layer.named_parameters()
                           if p.trainable and p.grad is not None}

    def write(self, monitor: Any, step: int, modules: dict[str, Any]) -> int:
        """Histograms of every module's trainable weights and of the captured gradients at
        `step`; returns how many were written. Captured gradients are dropped afterwards."""
        count = 0
        for net, layer in modules.items():
            for name, p in layer.named_parameters():
                if p.trainable:
                    monitor.histogram(f"{net}/weights/{name}", step, p.numpy(), self.buckets)
                    count += 1
        for net, grads in self.grads.items():
            for name, values in grads.items():
                monitor.histogram(f"{net}/grads/{name}", step, values, self.buckets)
                count += 1
        self.grads = {}
        return count

    def on_step(self, trainer: Any) -> None:
        """Trainer step callback: write when `trainer.step` is a multiple of `every`."""
        if trainer.step % self.every == 0:
            self.write(trainer.monitor, trainer.step, trainer.modules())


def maybe_histogram_writer(cfg: Any) -> Optional[HistogramWriter]:
    """A HistogramWriter when `cfg.histogram_every` is set (> 0), else None."""
    every = getattr(cfg, "histogram_every", 0)
    return HistogramWriter(every) if every else None
