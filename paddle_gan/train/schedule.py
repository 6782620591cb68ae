"""When G trains (the k schedule) and how the learning rates move over a run.

Both are pure functions of the step, so a resumed run continues the same schedule.

- `constant` (every loss but wgan): D trains on every batch and G after every k-th D step
  (the tutorial's "train D k times, then G once").
- `wgan` (the WGAN reference code): 100 critic steps before each of the first 25 generator
  steps and before every 500th generator step, k steps otherwise, so the critic is near its
  optimum before G follows its gradient.
"""
from __future__ import annotations

import bisect
import math
from typing import Any

K_SCHEDULES = ("constant", "wgan")
LR_DECAYS = ("none", "linear", "cosine")
#: the WGAN reference code's schedule: 100 critic steps for the first 25 generator steps and
#: every 500th generator step
WGAN_LONG_CRITIC, WGAN_WARMUP_G_STEPS, WGAN_LONG_EVERY = 100, 25, 500


class CriticSchedule:
    """Which D steps end with a G step.

    Args:
        k: critic steps per generator step (the steady state).
        kind: "constant" or "wgan" (see the module docstring).
    """

    def __init__(self, k: int, kind: str = "constant") -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if kind not in K_SCHEDULES:
            raise ValueError(f"unknown k schedule {kind!r}; choose from {', '.join(K_SCHEDULES)}")
        self.k = k
        self.kind = kind
        self._ends: list[int] = []  # 1-based D step count at which G iteration i ends

    @classmethod
    def from_config(cls, cfg: Any) -> "CriticSchedule":
        return cls(cfg.k, getattr(cfg, "k_schedule", None) or "constant")

    def critic_steps(self, g_iteration: int) -> int:
        """D steps before the G step of 0-based generator iteration `g_iteration`."""
        if self.kind == "wgan" and (g_iteration < WGAN_WARMUP_G_STEPS
                                    or g_iteration % WGAN_LONG_EVERY == 0):
            return max(self.k, WGAN_LONG_CRITIC)
        return self.k

    def _extend(self, steps: int) -> None:
        while not self._ends or self._ends[-1] < steps:
            last = self._ends[-1] if self._ends else 0
            self._ends.append(last + self.critic_steps(len(self._ends)))

    def is_g_step(self, step: int) -> bool:
        """Whether 0-based D step `step` is followed by a G step."""
        if self.kind == "constant":
            return (step + 1) % self.k == 0
        self._extend(step + 1)
        index = bisect.bisect_left(self._ends, step + 1)
        return self._ends[index] == step + 1

    def g_steps_before(self, steps: int) -> int:
        """How many G steps the first `steps` D steps include."""
        if self.kind == "constant":
            return steps // self.k
        self._extend(steps)
        return bisect.bisect_right(self._ends, steps)

    def window(self, step: int) -> int:
        """D steps of the generator iteration that 0-based D step `step` belongs to."""
        return self.critic_steps(self.g_steps_before(step))


def lr_factor(kind: str, step: int, total: int) -> float:
    """Learning-rate multiplier at `step` (0-based) of a `total`-step run: 1 at the start,
    falling to 0 at the end (linear: 1 - t; cosine: (1 + cos(pi t)) / 2, with t = step / total).
    """
    if kind == "none" or total <= 0:
        return 1.0
    t = min(max(step / total, 0.0), 1.0)
    if kind == "linear":
        return 1.0 - t
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr_decay {kind!r}; choose from {', '.join(LR_DECAYS)}")
