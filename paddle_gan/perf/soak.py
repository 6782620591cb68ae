"""Soak test: many steps of a small model with logging every step, watching memory and
the size of what the run writes (behind `tools/soak.py`).

Every `sample_every` steps the process's resident memory (RSS), the VisualDL folder's size and
train_log.jsonl's size are recorded. After a warm-up (Paddle's allocator, caches and the first
frames settle), RSS must stay flat: the growth from the first post-warm-up sample to the end is
reported in percent and as a least-squares slope (MB per 1,000 steps). The logs grow by a fixed
amount per step (one scalar record per tag, one JSON line), which is reported in bytes per step.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from paddle_gan.monitor import TRAIN_LOG, VISUALDL_DIR, RunMonitor

CONSOLE_LOG = "console.log"
RESULT_FILE = "soak.json"


def rss_bytes() -> int:
    """Resident set size of this process (psutil, else /proc/self/status)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    raise RuntimeError("cannot measure RSS on this system")


def folder_bytes(path: str) -> int:
    """Size of the file `path`, or total size of the files under the folder (0 if missing)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


@dataclass
class SoakSample:
    """One measurement after `step` steps."""

    step: int
    seconds: float
    rss_mb: float
    vdl_bytes: int
    log_bytes: int


@dataclass
class SoakResult:
    """All samples and the verdict; `growth_pct` is RSS growth from warm-up to the end."""

    steps: int
    warmup_step: int
    samples: list[SoakSample] = field(default_factory=list)

    def _after_warmup(self) -> list[SoakSample]:
        return [s for s in self.samples if s.step >= self.warmup_step]

    @property
    def baseline_mb(self) -> float:
        return self._after_warmup()[0].rss_mb

    @property
    def final_mb(self) -> float:
        return self.samples[-1].rss_mb

    @property
    def peak_mb(self) -> float:
        return max(s.rss_mb for s in self._after_warmup())

    @property
    def growth_pct(self) -> float:
        return 100.0 * (self.final_mb - self.baseline_mb) / self.baseline_mb

    @property
    def slope_mb_per_1k(self) -> float:
        """Least-squares RSS slope after warm-up, MB per 1,000 steps."""
        after = self._after_warmup()
        if len(after) < 2:
            return 0.0
        steps = np.array([s.step for s in after], dtype=np.float64)
        rss = np.array([s.rss_mb for s in after], dtype=np.float64)
        return float(np.polyfit(steps, rss, 1)[0] * 1000.0)

    def bytes_per_step(self, attr: str) -> float:
        """Growth of `vdl_bytes` or `log_bytes` per step after warm-up."""
        after = self._after_warmup()
        span = after[-1].step - after[0].step
        return (getattr(after[-1], attr) - getattr(after[0], attr)) / span if span else 0.0

    def summary(self) -> str:
        last = self.samples[-1]
        rate = last.step / last.seconds if last.seconds else float("nan")
        return (f"soak: {last.step} steps in {last.seconds:.0f} s ({rate:.0f} steps/s); RSS after "
                f"warm-up (step {self.after_warmup_step}) {self.baseline_mb:.1f} MB, at the end "
                f"{self.final_mb:.1f} MB, peak {self.peak_mb:.1f} MB: growth "
                f"{self.growth_pct:+.2f}% (slope {self.slope_mb_per_1k:+.3f} MB per 1k steps); "
                f"VisualDL {last.vdl_bytes / 1e6:.2f} MB "
                f"({self.bytes_per_step('vdl_bytes'):.0f} B/step), train_log.jsonl "
                f"{last.log_bytes / 1e6:.2f} MB ({self.bytes_per_step('log_bytes'):.0f} B/step)")

    @property
    def after_warmup_step(self) -> int:
        return self._after_warmup()[0].step

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "warmup_step": self.warmup_step,
                "baseline_mb": self.baseline_mb, "final_mb": self.final_mb,
                "peak_mb": self.peak_mb, "growth_pct": self.growth_pct,
                "slope_mb_per_1k_steps": self.slope_mb_per_1k,
                "vdl_bytes_per_step": self.bytes_per_step("vdl_bytes"),
                "log_bytes_per_step": self.bytes_per_step("log_bytes"),
                "samples": [asdict(s) for s in self.samples]}


class FileMonitor(RunMonitor):
    """A RunMonitor whose console lines go to run_dir/console.log (10,000 summary lines would
    drown the soak's own report); everything else is the real monitor."""

    def __init__(self, run_dir: str, total_steps: int) -> None:
        super().__init__(run_dir, total_steps, progress=False)
        self._console = open(os.path.join(run_dir, CONSOLE_LOG), "a", encoding="utf-8")

    def line(self, text: str) -> None:
        self._console.write(text + "\n")
        self._console.flush()

    def close(self) -> None:
        super().close()
        self._console.close()


def run_soak(cfg: Any, sample_every: int = 100, warmup: int = 1000,
             say: Callable[[str], None] = print) -> SoakResult:
    """Train `cfg` (a fresh run folder) for cfg.max_steps steps, sampling every `sample_every`;
    UserError before anything is written when the run does not fit the memory budget
    (`cfg.max_memory`, else the machine's)."""
    from paddle_gan.train.memory import check_run_memory
    from paddle_gan.train.run import build_trainer
    from paddle_gan.models import prepare_data

    data = prepare_data(cfg)
    check_run_memory(cfg, data)  # before the run folder or any network
    os.makedirs(cfg.output, exist_ok=True)
    trainer = build_trainer(cfg, data, cfg.output,
                            monitor=FileMonitor(cfg.output, cfg.max_steps or 0))
    total = trainer.total_steps()
    result = SoakResult(total, warmup)
    start = time.perf_counter()

    def measure(t: Any) -> None:
        step = t.position.step
        if step % sample_every and step != total:
            return
        sample = SoakSample(step, time.perf_counter() - start, rss_bytes() / 2**20,
                            folder_bytes(os.path.join(cfg.output, VISUALDL_DIR)),
                            folder_bytes(os.path.join(cfg.output, TRAIN_LOG)))
        result.samples.append(sample)
        if step % (sample_every * 10) == 0 or step == total:
            say(f"step {step:6d}: RSS {sample.rss_mb:7.1f} MB, VisualDL "
                f"{sample.vdl_bytes / 1e3:8.1f} kB, train_log {sample.log_bytes / 1e3:8.1f} kB")

    trainer.step_callbacks.append(measure)
    try:
        trainer.fit()
    finally:
        trainer.monitor.close()
    with open(os.path.join(cfg.output, RESULT_FILE), "w", encoding="utf-8") as handle:
        json.dump(result.to_json(), handle, indent=1)
    return result
