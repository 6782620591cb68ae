"""The early cost estimate of a run (paddle_gan/train/estimate.py)."""
from paddle_gan.train.estimate import (CPU_SIZED_COMMAND, MEASURED_STEPS, WARMUP_STEPS,
                                       CostClock, CostEstimate, duration)


def test_duration_reads_like_a_person_would_say_it():
    assert [duration(s) for s in (0.4, 12, 277, 3600 + 5 * 60 + 1)] == [
        "0 s", "12 s", "4 min 37 s", "1 h 05 min"]


def test_the_clock_measures_after_the_warm_up_and_answers_once():
    clock = CostClock(start_step=100, total=1100)
    answers = []
    for step in range(101, 400):
        seconds = 7.0 if step <= 100 + WARMUP_STEPS else 7.0 + 0.5 * (step - 100 - WARMUP_STEPS)
        estimate = clock.tick(step, seconds)
        if estimate is not None:
            answers.append((step, estimate))
    assert len(answers) == 1
    step, estimate = answers[0]
    assert step == 100 + WARMUP_STEPS + MEASURED_STEPS
    assert abs(estimate.step_seconds - 0.5) < 1e-9
    assert abs(estimate.seconds_to_end - 0.5 * (1100 - step)) < 1e-6


def test_a_run_too_short_to_measure_says_nothing():
    clock = CostClock(start_step=0, total=WARMUP_STEPS + MEASURED_STEPS)
    assert all(clock.tick(step, float(step)) is None for step in range(1, 40))


def test_a_long_cpu_run_names_the_cpu_sized_command():
    long_run = CostEstimate(step_seconds=1.3, first=5, last=25, total=100_000)
    assert len(long_run.lines(on_cpu=False, width=32)) == 1
    lines = long_run.lines(on_cpu=True, width=32)
    assert "about 36 h 06 min to step 100000" in lines[0] and CPU_SIZED_COMMAND in lines[1]
    # the CPU-sized run itself on a loaded machine: long, but nothing smaller to suggest
    loaded = CostEstimate(step_seconds=1.0, first=5, last=25, total=3000)
    assert len(loaded.lines(on_cpu=True, width=32)) == 1
    assert CPU_SIZED_COMMAND in loaded.lines(on_cpu=True, width=128)[1]
    short = CostEstimate(step_seconds=0.05, first=5, last=25, total=3000)
    assert short.lines(on_cpu=True, width=128) == [
        "step time 0.050 s (steps 5-25): about 2 min 29 s to step 3000"]
    assert short.record() == {"step_seconds": 0.05, "estimated_seconds_to_end": 148.8}


def test_a_run_prints_and_logs_its_measured_step_time(make_tiny_config, capsys):
    import json
    import os

    from paddle_gan.train.run import run_training

    cfg = make_tiny_config(max_steps=40, log_every=100)
    run_training(cfg, say=print)
    out = capsys.readouterr().out
    assert f"(steps {WARMUP_STEPS}-{WARMUP_STEPS + MEASURED_STEPS}): about" in out
    assert "to step 40" in out and CPU_SIZED_COMMAND not in out
    records = [json.loads(line) for line in open(os.path.join(cfg.output, "train_log.jsonl"))]
    timed = [r for r in records if "step_seconds" in r]
    assert len(timed) == 1 and timed[0]["step"] == WARMUP_STEPS + MEASURED_STEPS
    assert timed[0]["step_seconds"] > 0
