"""Every start and resume of a run records its code commit and machine (sessions.jsonl)."""
import json
import os
import subprocess

from conftest import ROOT, tiny_config
from paddle_gan import stamp
from paddle_gan.runtime import cpu_model
from paddle_gan.train.run import run_training
from paddle_gan.train.sessions import SESSIONS_FILE, describe_sessions, read_sessions


def test_a_run_records_each_session_with_its_start_step_commit_and_machine(tmp_path):
    run_dir = str(tmp_path / "run")
    run_training(tiny_config(tmp_path, max_steps=2, threads=1), say=lambda _: None)
    run_training(tiny_config(tmp_path, max_steps=4, threads=1, resume="latest"),
                 say=lambda _: None)
    sessions = read_sessions(run_dir)
    assert [s["start_step"] for s in sessions] == [0, 2]
    for session in sessions:
        assert session["commit"] == stamp.code_commit()
        assert session["machine"]["cpu"] == cpu_model()
        assert (session["device"], session["threads"]) == ("cpu", 1)
    commit, cpu = stamp.code_commit(), f"{cpu_model()} ({' '.join(stamp.vector_flags())})"
    assert describe_sessions(run_dir) == (f"{commit} on {cpu}, from step 0; "
                                          f"{commit} on {cpu}, from step 2")


def test_runs_without_a_record_and_cut_lines_are_described_plainly(tmp_path):
    assert read_sessions(str(tmp_path)) == []
    assert describe_sessions(str(tmp_path)) == "not recorded"
    line = json.dumps({"start_step": 0, "commit": "abc1234", "machine": {"cpu": "X"}})  # no flags
    with open(os.path.join(tmp_path, SESSIONS_FILE), "w", encoding="utf-8") as handle:
        handle.write(line + "\n" + line[:20])  # the second write was cut short
    assert describe_sessions(str(tmp_path)) == "abc1234 on X (flags not recorded), from step 0"


def test_the_machine_names_the_vector_flags_that_decide_kernel_speed(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel Xeon\n"
                       "flags\t\t: fpu sse2 avx2 avx512f fma amx_bf16 avx512_bf16 amx_tile\n")
    assert stamp.vector_flags(str(cpuinfo)) == ["amx_bf16", "amx_tile", "avx2", "avx512_bf16",
                                                "avx512f", "fma"]
    assert stamp.vector_flags(str(tmp_path / "missing")) == []
    assert stamp.machine()["cpu_flags"] == stamp.vector_flags()


def test_the_commit_is_the_checkouts_and_unknown_outside_a_checkout(tmp_path, monkeypatch):
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    assert stamp.code_commit().split("+")[0] == head
    # an installed package (no .git beside it) must not report the commit of a repository that
    # happens to enclose it, e.g. a user's project holding the virtual environment
    outer = tmp_path / "project"
    site_packages = outer / "venv" / "site-packages"
    site_packages.mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], cwd=outer, check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], cwd=outer, check=True)
    monkeypatch.setattr(stamp, "REPO_ROOT", str(site_packages))
    assert stamp.code_commit() == "unknown"
