"""What a run will cost: measured step time and the wall time to its end, said once early on.

After `WARMUP_STEPS` steps of this session (oneDNN program builds and first-call allocations
fall there) the trainer times the next `MEASURED_STEPS` and prints one line, e.g.
"step time 0.052 s (steps 5-25): about 2 min 36 s to step 3000"; a CPU run estimated at more
than `LONG_RUN_SECONDS` also gets a line naming the README's CPU-sized command, unless it is
no larger than that command already (a loaded machine, not the run's size, makes it long).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

WARMUP_STEPS = 5
MEASURED_STEPS = 20
LONG_RUN_SECONDS = 30 * 60
#: the README's first Train example: the tutorial's model at a size a 2-core CPU trains
CPU_SIZED_WIDTH = 32
CPU_SIZED_STEPS = 3000
CPU_SIZED_COMMAND = ("python tools/train.py --loss lsgan --dataset mnist5k "
                     f"--width {CPU_SIZED_WIDTH} --max-steps {CPU_SIZED_STEPS}")


def duration(seconds: float) -> str:
    """'1 h 05 min', '4 min 37 s' or '12 s'."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@dataclass
class CostEstimate:
    """Seconds per step measured over steps [first, last) of this session, and the steps left
    to `total` after `last`."""

    step_seconds: float
    first: int
    last: int
    total: int

    @property
    def seconds_to_end(self) -> float:
        return self.step_seconds * max(0, self.total - self.last)

    def lines(self, on_cpu: bool, width: int) -> list[str]:
        """The lines a run of base width `width` prints: the estimate, and on a CPU the
        CPU-sized command when the run is long and larger than that command."""
        lines = [f"step time {self.step_seconds:.3f} s (steps {self.first}-{self.last}): about "
                 f"{duration(self.seconds_to_end)} to step {self.total}"]
        larger = width > CPU_SIZED_WIDTH or self.total > CPU_SIZED_STEPS
        if on_cpu and larger and self.seconds_to_end > LONG_RUN_SECONDS:
            lines.append(f"this is a long run on a CPU; a run sized for one (README, Train): "
                         f"{CPU_SIZED_COMMAND}")
        return lines

    def record(self) -> dict[str, float]:
        """The estimate as train_log.jsonl keys."""
        return {"step_seconds": round(self.step_seconds, 5),
                "estimated_seconds_to_end": round(self.seconds_to_end, 1)}


class CostClock:
    """Watches a session's training time and returns the estimate once, when it is ready."""

    def __init__(self, start_step: int, total: int) -> None:
        self.first = start_step + WARMUP_STEPS
        self.last = self.first + MEASURED_STEPS
        self.total = total
        self._seconds_at_first: Optional[float] = None
        self.done = self.last >= total

    def tick(self, step: int, train_seconds: float) -> Optional[CostEstimate]:
        """Called after each step with the run's step count and training seconds so far."""
        if self.done:
            return None
        if step == self.first:
            self._seconds_at_first = train_seconds
        if step == self.last and self._seconds_at_first is not None:
            self.done = True
            per_step = (train_seconds - self._seconds_at_first) / MEASURED_STEPS
            return CostEstimate(per_step, self.first, self.last, self.total)
        return None
