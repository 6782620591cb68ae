"""Training-step benchmark behind `tools/benchmark.py`.

For every (model, loss, batch size) it times one *iteration* = k discriminator steps + one
generator step (k from the config; the tool's default is 1) in two loops:

- **bare**: the trainer's own D and G step functions (`paddle_gan.train.steps`) called in a
  plain loop on one batch already in memory as a float32 tensor, nothing else;
- **suite**: `GanTrainer.fit()` as `tools/train.py` runs it: batches sliced from the data set,
  per-step seeding, the trainer's statistics, logging (VisualDL, progress bar), step callbacks.

Each loop runs `warmup` iterations, then `iters` timed ones; the table shows the median. The
machine's sgemm throughput is measured with Paddle in the same process, just before each loop,
so utilisation = achieved GFLOP/s / sgemm GFLOP/s compares like with like even on a busy machine.
Model FLOPs come from the layers (`paddle_gan.flops`), counted on one dynamic-graph iteration.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import platform
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from paddle_gan.errors import UserError

LOOPS = ("bare", "suite")


# --------------------------------------------------------------------------- measurements
def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if platform.system() == "Darwin" else peak / 1024.0


def current_rss_mb() -> float:
    """The process's resident set size now, in MB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def load_average() -> float:
    """The 1-minute load average (0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """float32 n x n x n matrix product throughput of Paddle here (median of `repeats`)."""
    import paddle

    a = paddle.rand([n, n], dtype="float32")
    b = paddle.rand([n, n], dtype="float32")
    paddle.matmul(a, b)  # warm-up: thread pool, kernel choice
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        c = paddle.matmul(a, b)
        _synchronize(c)
        times.append(time.perf_counter() - start)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


def _synchronize(tensor: Any) -> None:
    """Wait for the device (GPU kernels run asynchronously; CPU ones have finished)."""
    import paddle

    if not tensor.place.is_cpu_place():
        paddle.device.synchronize()


# --------------------------------------------------------------------------- the bare loop
def bare_iteration(trainer: Any, batch: Any, runtime: Any = None) -> None:
    """k discriminator updates and one generator update: the trainer's own step functions
    (`paddle_gan.train.steps`) and objective on one batch already in memory, without the loop
    around them (no seeding, no statistics, no data handling, no logging). `runtime` replaces
    the trainer's step runtime (the FLOP counter needs the dynamic-graph forwards)."""
    from paddle_gan.train.steps import d_step, g_step

    runtime = runtime or trainer.runtime
    args = (trainer.nets, trainer.objective, runtime, batch)
    with runtime.context():
        for _ in range(trainer.cfg.k):
            d_step(*args)
        stats, _ = g_step(*args)
    _synchronize(stats["g_loss"])


def first_batch(trainer: Any) -> Any:
    """The first batch of epoch 0 as the trainer's objective takes it."""
    _, samples, labels = next(iter(trainer.batches.epoch(0)))
    return trainer.to_batch(samples, labels)


def iteration_flops(trainer: Any, batch: Any) -> Any:
    """FLOPs of one iteration, counted on the dynamic-graph networks (a compiled forward hides
    its layers from forward hooks). Runs one real iteration (it updates the weights)."""
    from paddle_gan.flops import FlopCounter

    dynamic = dataclasses.replace(trainer.runtime, g_forward=None, d_forward=None)
    with FlopCounter({"G": trainer.G, "D": trainer.D}) as counter:
        bare_iteration(trainer, batch, dynamic)
    return counter.report


@dataclass
class LoopTiming:
    """Times of the measured iterations of one loop, and what the machine did meanwhile."""

    times: list[float]
    sgemm_gflops: float
    load_before: float
    load_after: float
    rss_before_mb: float
    rss_after_mb: float
    rss_samples_mb: list[float] = field(default_factory=list)  # 11 evenly spaced, for trends
    cpu_times: list[float] = field(default_factory=list)  # process CPU seconds per iteration

    @property
    def median(self) -> float:
        return float(np.median(self.times))


def time_bare(trainer: Any, batch: Any, iters: int, warmup: int,
              sgemm_n: int) -> LoopTiming:
    """Warm-up, then `iters` timed bare iterations."""
    sgemm = sgemm_gflops(sgemm_n)
    load = load_average()
    trainer.G.train()
    trainer.D.train()
    for _ in range(warmup):
        bare_iteration(trainer, batch)
    rss = [current_rss_mb()]
    times, cpu = [], []
    for _ in range(iters):
        start, start_cpu = time.perf_counter(), time.process_time()
        bare_iteration(trainer, batch)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        rss.append(current_rss_mb())
    return LoopTiming(times, sgemm, load, load_average(), rss[0], rss[-1], _spread(rss), cpu)


def _spread(values: list[float], count: int = 11) -> list[float]:
    """`count` evenly spaced entries of `values` (first and last included)."""
    if len(values) <= count:
        return list(values)
    return [values[round(i * (len(values) - 1) / (count - 1))] for i in range(count)]


class _IterationClock:
    """Step callback: a timestamp whenever an iteration (k steps ending in a G step) ends."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.stamps: list[float] = []
        self.cpu: list[float] = []
        self.rss: list[float] = []

    def __call__(self, trainer: Any) -> None:
        if trainer.step % self.k == 0:
            self.stamps.append(time.perf_counter())
            self.cpu.append(time.process_time())
            self.rss.append(current_rss_mb())


def time_suite(cfg: Any, data: Any, iters: int, warmup: int, sgemm_n: int,
               run_dir: str) -> LoopTiming:
    """`GanTrainer.fit()` for warmup + iters iterations in `run_dir`; times the last `iters`."""
    from paddle_gan.train.run import build_trainer

    steps = (warmup + iters) * cfg.k
    run_cfg = dataclasses.replace(cfg, max_steps=steps, epochs=max(cfg.epochs, 10 ** 6),
                                  output=run_dir, k_schedule="constant")
    trainer = build_trainer(run_cfg, data, run_dir, _device(cfg))
    clock = _IterationClock(run_cfg.k)
    trainer.step_callbacks.append(clock)
    sgemm = sgemm_gflops(sgemm_n)
    load = load_average()
    with contextlib.redirect_stdout(io.StringIO()):  # the trainer's summary lines
        trainer.fit()
    index = warmup - 1  # the timestamp that ends the last warm-up iteration
    times = [float(t) for t in np.diff(clock.stamps[index:])]
    cpu = [float(t) for t in np.diff(clock.cpu[index:])]
    return LoopTiming(times, sgemm, load, load_average(), clock.rss[index], clock.rss[-1],
                      _spread(clock.rss[index:]), cpu)


def _device(cfg: Any) -> str:
    from paddle_gan.runtime import cuda_available

    return "gpu" if cfg.device == "gpu" or (cfg.device == "auto" and cuda_available()) else "cpu"


# --------------------------------------------------------------------------- one case
@dataclass
class BenchRow:
    """One (model, loss, batch size, loop) line of the table."""

    model: str
    loss: str
    batch_size: int
    width: int
    k: int
    loop: str
    speed: str
    s_per_iter: float
    img_per_s: float
    gflop_per_iter: float
    achieved_gflops: float
    sgemm_gflops: float
    utilisation: float
    overhead: Optional[float]
    peak_rss_mb: float
    rss_growth_mb: float
    load_avg: float
    cpu_s_per_iter: float = 0.0
    times: list[float] = field(default_factory=list)
    rss_samples_mb: list[float] = field(default_factory=list)


def benchmark_case(cfg: Any, loops: Sequence[str], iters: int, warmup: int, sgemm_n: int,
                   keep_dir: Optional[str] = None) -> list[BenchRow]:
    """Bench one resolved config in the requested loops; rows in `loops` order."""
    from paddle_gan.train.run import build_trainer
    from paddle_gan.models import prepare_data

    if iters < 1 or warmup < 1:
        raise UserError("--iters and --warmup must be at least 1")
    data = prepare_data(cfg)
    scratch = keep_dir or tempfile.mkdtemp(prefix="paddle_gan_bench_")
    try:
        trainer = build_trainer(cfg, data, os.path.join(scratch, "bare"), _device(cfg))
        batch = first_batch(trainer)
        flops = iteration_flops(trainer, batch)
        plan = trainer.speed
        timings: dict[str, LoopTiming] = {}
        if "bare" in loops:
            timings["bare"] = time_bare(trainer, batch, iters, warmup, sgemm_n)
        del trainer
        if "suite" in loops:
            timings["suite"] = time_suite(cfg, data, iters, warmup, sgemm_n,
                                          os.path.join(scratch, "suite"))
    finally:
        if keep_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    gflop = flops.total / 1e9
    for loop in loops:
        timing = timings[loop]
        seconds = timing.median
        achieved = gflop / seconds
        overhead = None
        if loop == "suite" and "bare" in timings:
            overhead = seconds / timings["bare"].median
        rows.append(BenchRow(
            model=cfg.model, loss=cfg.loss, batch_size=cfg.batch_size, width=cfg.width, k=cfg.k,
            loop=loop, speed=plan.describe(), s_per_iter=seconds,
            img_per_s=cfg.batch_size * cfg.k / seconds, gflop_per_iter=gflop,
            achieved_gflops=achieved, sgemm_gflops=timing.sgemm_gflops,
            utilisation=achieved / timing.sgemm_gflops, overhead=overhead,
            peak_rss_mb=peak_rss_mb(), rss_growth_mb=timing.rss_after_mb - timing.rss_before_mb,
            load_avg=max(timing.load_before, timing.load_after),
            cpu_s_per_iter=float(np.median(timing.cpu_times)), times=timing.times,
            rss_samples_mb=timing.rss_samples_mb))
    return rows


# --------------------------------------------------------------------------- the whole run
def check_cases_memory(cases: Sequence[Any]) -> None:
    """The memory budget of every case (`--max-memory`, else the machine's), checked as
    tools/train.py checks a run's, before the first case is measured: a case that cannot fit
    is one line, not a MemoryError after the cases before it ran."""
    from paddle_gan.models import prepare_data
    from paddle_gan.train.memory import check_run_memory

    for cfg in cases:
        check_run_memory(cfg, prepare_data(cfg))


def run_benchmark(base: Any, models: Sequence[str], losses: Sequence[str],
                  batch_sizes: Sequence[int], loops: Sequence[str], iters: int, warmup: int,
                  sgemm_n: int = 2048, make: Optional[Callable[..., Any]] = None,
                  say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every (model, loss, batch size) combination; returns the JSON-ready result.

    `make(model=, loss=, batch_size=)` builds each case's resolved config (the tool passes one
    that re-applies the user's flags, so per-loss defaults such as k are filled per case).
    """
    import paddle

    from paddle_gan.runtime import setup_runtime

    for loop in loops:
        if loop not in LOOPS:
            raise UserError(f"--loops: unknown loop {loop!r}; choose from {', '.join(LOOPS)}")
    cases = [make(model=model, loss=loss, batch_size=batch_size) if make else
             dataclasses.replace(base, model=model, loss=loss, batch_size=batch_size)
             for model in models for loss in losses for batch_size in batch_sizes]
    runtime = setup_runtime(base.device, base.threads)
    check_cases_memory(cases)
    say(f"runtime: {runtime.describe()}; paddle {paddle.__version__}; load average "
        f"{load_average():.2f}")
    rows: list[BenchRow] = []
    for cfg in cases:
        say(f"benchmarking {cfg.model} / {cfg.loss} / batch {cfg.batch_size} (width {cfg.width}, "
            f"k {cfg.k}): {warmup} warm-up + {iters} timed iterations per loop ...")
        rows.extend(benchmark_case(cfg, loops, iters, warmup, sgemm_n))
    from paddle_gan.stamp import code_commit, machine

    return {
        "machine": {**machine(), "commit": code_commit(),
                    "threads": runtime.threads, "device": runtime.device,
                    "mkl_cpu_type": runtime.mkl_cpu_type, "sgemm_size": sgemm_n},
        "iters": iters, "warmup": warmup,
        "rows": [dataclasses.asdict(row) for row in rows],
    }


COLUMNS = (("model", "model", "{}"), ("loss", "loss", "{}"), ("batch", "batch_size", "{}"),
           ("loop", "loop", "{}"), ("s/iter", "s_per_iter", "{:.3f}"),
           ("cpu s/iter", "cpu_s_per_iter", "{:.3f}"),
           ("img/s", "img_per_s", "{:.1f}"), ("GFLOP/iter", "gflop_per_iter", "{:.1f}"),
           ("GFLOP/s", "achieved_gflops", "{:.1f}"), ("sgemm", "sgemm_gflops", "{:.0f}"),
           ("util", "utilisation", "{:.0%}"), ("overhead", "overhead", "{:+.1%}"),
           ("peak RSS MB", "peak_rss_mb", "{:.0f}"), ("load", "load_avg", "{:.1f}"))


def format_table(result: dict[str, Any]) -> str:
    """The rows as an aligned text table (overhead = suite / bare - 1)."""
    header = [title for title, _, _ in COLUMNS]
    lines = []
    for row in result["rows"]:
        cells = []
        for _, key, fmt in COLUMNS:
            value = row[key]
            if key == "overhead":
                cells.append("" if value is None else fmt.format(value - 1.0))
            else:
                cells.append(fmt.format(value))
        lines.append(cells)
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines]
    speeds = sorted({row["speed"] for row in result["rows"]})
    out.append("speed options: " + "; ".join(speeds))
    cores = result.get("machine", {}).get("cores", 0)
    busiest = max((row["load_avg"] for row in result["rows"]), default=0.0)
    if cores and busiest > cores + 0.5:
        out.append(f"note: load average up to {busiest:.1f} on {cores} cores while measuring: "
                   f"other processes shared the CPU, so times are pessimistic and noisy (the "
                   f"ratios util and overhead less so)")
    return "\n".join(out)
