"""A per-operator profile of the suite's own step: `tools/benchmark.py --profile N`.

Runs N iterations of `bare_iteration` (train/steps.py's d_step and g_step with the run's
StepRuntime, and G's weight average) under `paddle.profiler` and returns Paddle's operator
summary (time per operator and per backward node, calls, share of the total), so that a speed-up
starts from where the time goes.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any


def profile_iterations(cfg: Any, iterations: int, warmup: int = 5) -> str:
    """Paddle's operator summary of `iterations` iterations of `cfg`'s step (after `warmup`)."""
    import paddle.profiler as profiler

    from paddle_gan.models import prepare_data
    from paddle_gan.perf.torch_reference import our_iteration
    from paddle_gan.perf.benchmark import first_batch
    from paddle_gan.train.run import build_trainer

    with tempfile.TemporaryDirectory(prefix="paddle_gan_profile_") as scratch:
        trainer = build_trainer(cfg, prepare_data(cfg), scratch, "cpu")
        iteration = our_iteration(trainer, first_batch(trainer))
        for _ in range(warmup):
            iteration()
        prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU])
        prof.start()
        for _ in range(iterations):
            iteration()
            prof.step()
        prof.stop()
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            prof.summary(sorted_by=profiler.SortedKeys.CPUTotal, op_detail=False,
                         thread_sep=False, time_unit="ms")
    return f"speed plan: {trainer.speed.describe()}; {iterations} iterations\n" + text.getvalue()
