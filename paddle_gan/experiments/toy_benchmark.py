"""The mode-coverage benchmark of `tools/benchmark_toy.py`: ring and grid, every loss, several
seeds, a fixed budget of generator iterations, scored with the VEEGAN / PacGAN protocol.

Each run is an ordinary training run (`run_training` with the target's config file,
`paddle_gan/configs/toy_<target>.yaml`, plus `--loss`, `--seed` and `--max-steps`), so any row
of the table can be reproduced with `tools/train.py` and scored with `tools/eval.py`. A run
folder that already holds its final checkpoint and result is reused, so an interrupted
benchmark continues where it stopped.
"""
from __future__ import annotations

import io
import json
import math
import os
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from paddle_gan.config import CONFIG_DIR
from paddle_gan.errors import UserError
from paddle_gan.losses import LOSSES

TARGETS = ("ring", "grid")
RESULT_FILE = "benchmark_result.json"

#: Published numbers (modes, % high quality) for the same protocol: VEEGAN (Srivastava et al.
#: 2017, Table 1), GDPP (Elfeki et al. 2019, Table 1), PacGAN (Lin et al. 2018, Table 3).
PUBLISHED: list[tuple[str, dict[str, tuple[float, float]]]] = [
    ("GAN (VEEGAN paper)", {"ring": (1.0, 99.3), "grid": (3.3, 0.5)}),
    ("VEEGAN", {"ring": (8.0, 52.9), "grid": (24.6, 40.0)}),
    ("GDPP", {"ring": (8.0, 71.7), "grid": (24.8, 68.5)}),
    ("PacGAN4", {"ring": (7.8, 95.9), "grid": (24.8, 93.6)}),
]


def config_file(target: str) -> str:
    """The benchmark's config file for a target."""
    return os.path.join(CONFIG_DIR, f"toy_{target}.yaml")


@dataclass
class RunResult:
    """One (target, loss, seed) run: protocol metrics and its cost."""

    target: str
    loss: str
    seed: int
    iterations: int  # generator iterations
    steps: int  # discriminator steps (iterations * k)
    metrics: dict[str, float]
    cpu_seconds: float
    wall_seconds: float
    run_dir: str

    @property
    def cpu_per_iteration(self) -> float:
        return self.cpu_seconds / max(1, self.iterations)


@dataclass
class BenchmarkSpec:
    """What to run: targets x losses x seeds, `iterations` generator iterations each."""

    targets: Sequence[str] = TARGETS
    losses: Sequence[str] = tuple(LOSSES)  # every loss of the table
    seeds: Sequence[int] = (0, 1, 2, 3, 4)
    iterations: int = 5_000
    output: str = os.path.join("work", "runs", "benchmark_toy")
    threads: Optional[int] = None
    overrides: dict[str, Any] = field(default_factory=dict)  # extra config keys for every run


def run_config(spec: BenchmarkSpec, target: str, loss: str, seed: int):
    """The resolved config of one benchmark run (config file + loss, seed, budget)."""
    from paddle_gan.config import make_config

    probe = make_config({"loss": loss, **spec.overrides}, config_file(target))
    values = {"loss": loss, "seed": seed, "max_steps": spec.iterations * probe.k,
              "output": os.path.join(spec.output, f"{target}_{loss}_s{seed}"),
              "progress": False, "frame_every": 0, "sample_every": 10**9,
              "threads": spec.threads, **spec.overrides}
    return make_config(values, config_file(target))


#: Config keys that do not change a run's result (ignored when reusing a finished run).
_VOLATILE_KEYS = ("resume", "threads", "progress", "device")


def _settings(cfg: Any) -> dict[str, Any]:
    from paddle_gan.config import to_dict

    return {k: v for k, v in to_dict(cfg).items() if k not in _VOLATILE_KEYS}


def _stored_result(run_dir: str, cfg: Any) -> Optional[RunResult]:
    """The finished run's result when it was made with exactly these settings, else None."""
    path = os.path.join(run_dir, RESULT_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    settings = doc.pop("settings", None)
    if settings != _settings(cfg):
        raise UserError(f"{run_dir} holds a benchmark run made with other settings: "
                        f"remove it or choose another --output")
    return RunResult(**doc)


def run_one(spec: BenchmarkSpec, target: str, loss: str, seed: int) -> RunResult:
    """Train (or reuse) one run and score its final generator with the protocol."""
    from paddle_gan import checkpoint as ckpt_io
    from paddle_gan.evaluation.points import evaluate_toy_run
    from paddle_gan.train.run import run_training

    cfg = run_config(spec, target, loss, seed)
    stored = _stored_result(cfg.output, cfg)
    if stored is not None:
        return stored
    if ckpt_io.list_checkpoints(cfg.output):  # an unfinished run: continue it
        cfg.resume = "latest"
    cpu, wall = time.process_time(), time.perf_counter()
    with redirect_stdout(io.StringIO()):
        run_training(cfg, say=lambda _: None)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    metrics = evaluate_toy_run(cfg.output, seed=0)
    result = RunResult(target, loss, seed, cfg.max_steps // cfg.k, cfg.max_steps, metrics,
                       cpu, wall, cfg.output)
    with open(os.path.join(cfg.output, RESULT_FILE), "w", encoding="utf-8") as handle:
        json.dump({**result.__dict__, "settings": _settings(cfg)}, handle, indent=2)
    return result


def run_benchmark(spec: BenchmarkSpec, say: Callable[[str], None] = print) -> list[RunResult]:
    """Every run of `spec`, in target / loss / seed order, reporting each as it finishes."""
    for target in spec.targets:
        if target not in TARGETS:
            raise UserError(f"--targets: {target!r} is not one of {', '.join(TARGETS)}")
    results = []
    for target in spec.targets:
        for loss in spec.losses:
            for seed in spec.seeds:
                r = run_one(spec, target, loss, seed)
                results.append(r)
                say(f"{target:4s} {loss:7s} seed {seed}: modes {r.metrics['modes']:>2d}, "
                    f"HQ {r.metrics['hq_percent']:5.1f}%, reverse KL {r.metrics['reverse_kl']:.3f}"
                    f"  ({r.cpu_per_iteration * 1000:.2f} ms CPU / iteration, "
                    f"{r.wall_seconds:.0f} s wall)")
    return results


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def summarize(results: list[RunResult]) -> dict[str, dict[str, dict[str, float]]]:
    """loss -> target -> mean / std of modes and hq_percent (and the CPU cost per iteration)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for r in results:
        table.setdefault(r.loss, {}).setdefault(r.target, {})
    for loss, per_target in table.items():
        for target in per_target:
            runs = [r for r in results if r.loss == loss and r.target == target]
            modes = _mean_std([r.metrics["modes"] for r in runs])
            hq = _mean_std([r.metrics["hq_percent"] for r in runs])
            per_target[target] = {
                "modes_mean": modes[0], "modes_std": modes[1], "hq_mean": hq[0], "hq_std": hq[1],
                "seeds": len(runs), "iterations": runs[0].iterations,
                "ms_cpu_per_iteration": 1000 * float(np.mean([r.cpu_per_iteration for r in runs])),
            }
    return table


def markdown_table(results: list[RunResult]) -> str:
    """Measured mean ± std (over seeds) beside the published numbers, as a markdown table."""
    summary = summarize(results)
    targets = [t for t in TARGETS if any(t in v for v in summary.values())]
    head = "| method | " + " | ".join(f"{t} modes | {t} % HQ" for t in targets) + " |"
    rule = "|---|" + "---:|---:|" * len(targets)
    lines = [head, rule]
    for loss, per_target in summary.items():
        cells = []
        for t in targets:
            s = per_target.get(t)
            cells += (["-", "-"] if s is None else
                      [f"{s['modes_mean']:.1f} ± {s['modes_std']:.1f}",
                       f"{s['hq_mean']:.1f} ± {s['hq_std']:.1f}"])
        seeds = max(s["seeds"] for s in per_target.values())
        lines.append(f"| {loss} (ours, {seeds} seeds) | " + " | ".join(cells) + " |")
    for name, numbers in PUBLISHED:
        cells = []
        for t in targets:
            modes, hq = numbers[t]
            cells += [f"{modes:g}", f"{hq:g}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_reached(results: list[RunResult]) -> list[str]:
    """Losses that reach the issue's target: 8/8 on the ring, >= 24.9/25 on the grid, and
    >= 95% high quality on both, averaged over seeds."""
    summary = summarize(results)
    reached = []
    for loss, per_target in summary.items():
        ring, grid = per_target.get("ring"), per_target.get("grid")
        if ring and grid and ring["modes_mean"] >= 8 and grid["modes_mean"] >= 24.9 \
                and ring["hq_mean"] >= 95 and grid["hq_mean"] >= 95:
            reached.append(loss)
    return reached


def results_json(results: list[RunResult]) -> dict[str, Any]:
    """Every run and the summary, JSON-ready (NaN written as null)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {"runs": [clean(r.__dict__) for r in results], "summary": clean(summarize(results)),
            "target_reached_by": target_reached(results),
            "published": {name: numbers for name, numbers in PUBLISHED}}
