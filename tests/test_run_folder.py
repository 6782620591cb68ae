"""The run folder's lock: two runs never share an --output; a dead run's lock is taken over."""
import os
import subprocess
import sys

import pytest

from paddle_gan.errors import UserError
from paddle_gan.train.run import run_training
from paddle_gan.train.run_folder import LOCK_FILE, RunLock


def test_a_live_holder_is_named_and_refused(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(str(holder.pid))
        with pytest.raises(UserError, match=rf"in use by another run \(pid {holder.pid}\)"):
            RunLock(str(tmp_path)).acquire()
        assert (tmp_path / LOCK_FILE).read_text() == str(holder.pid)  # left alone
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holders_lock_is_taken_over_and_released(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(str(dead.pid))
    with RunLock(str(tmp_path)) as lock:
        assert lock.holder() == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_training_refuses_a_folder_another_run_holds_before_writing(make_tiny_config, tmp_path):
    cfg = make_tiny_config(max_steps=2)
    os.makedirs(cfg.output)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(os.path.join(cfg.output, LOCK_FILE), "w") as handle:
            handle.write(str(holder.pid))
        with pytest.raises(UserError, match="in use by another run"):
            run_training(cfg, say=lambda _: None)
        assert sorted(os.listdir(cfg.output)) == [LOCK_FILE]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    run_training(cfg, say=lambda _: None)  # the holder is gone: the run goes ahead
    assert not os.path.exists(os.path.join(cfg.output, LOCK_FILE))


def test_the_output_checks_know_every_file_of_a_run_and_of_an_export():
    """cli.check_output_file (and the standalone generate.py) refuse to write over a run's or an
    export's files by name; their lists are the layout's own."""
    from paddle_gan.cli import EXPORT_FILES, RUN_FILES, RUN_FOLDERS, generate
    from paddle_gan.io.export import EXPORT_PREFIX, GENERATE_SCRIPT, INFO_FILE
    from paddle_gan.io.init_weights import TUTORIAL_FILES
    from paddle_gan.train.run_folder import LAYOUT, LOCK_FILE

    assert set(RUN_FOLDERS) == {name for name, folder in LAYOUT.items() if folder}
    assert set(RUN_FILES) == ({name for name, folder in LAYOUT.items() if not folder}
                              | {LOCK_FILE} | set(TUTORIAL_FILES))
    assert EXPORT_FILES[0] == INFO_FILE
    assert set(EXPORT_FILES) == {INFO_FILE, GENERATE_SCRIPT, *(
        EXPORT_PREFIX + suffix for suffix in (".json", ".pdmodel", ".pdiparams"))}
    assert (generate.RUN_FILES, generate.RUN_FOLDERS, generate.EXPORT_FILES) == (
        RUN_FILES, RUN_FOLDERS, EXPORT_FILES)


def _start_together(run_dir, barrier, results):
    """One of the runs starting at once: wait for the others, then try the lock and hold it."""
    import time

    from paddle_gan.train import run_folder

    # the slowest liveness check: a takeover that were not atomic would let every racer in
    run_folder._alive = lambda pid: time.sleep(0.2) or False
    barrier.wait()
    try:
        lock = RunLock(run_dir)
        lock.acquire()
    except UserError:
        results.put("refused")
        return
    results.put("trained")
    time.sleep(1.0)
    lock.release()


def test_of_runs_starting_together_over_a_stale_lock_exactly_one_wins(tmp_path):
    import multiprocessing

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(str(dead.pid))
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    racers = [context.Process(target=_start_together, args=(str(tmp_path), barrier, results))
              for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in racers)
    assert outcomes == ["refused"] * 3 + ["trained"], outcomes
    assert not (tmp_path / LOCK_FILE).exists()  # the winner released it


def test_a_held_lock_is_refused_even_to_the_process_that_holds_it(tmp_path):
    """The kernel's lock decides, not the pid in the file: a file naming this process is taken
    over when nothing holds it, and a second lock of this very process is refused."""
    (tmp_path / LOCK_FILE).write_text(str(os.getpid()))
    with RunLock(str(tmp_path)) as lock:
        assert lock.holder() == os.getpid()
        with pytest.raises(UserError, match=rf"in use by another run \(pid {os.getpid()}\)"):
            RunLock(str(tmp_path)).acquire()  # a second run, even in this very process
