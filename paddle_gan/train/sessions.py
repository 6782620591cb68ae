"""A run's sessions: one line of `sessions.jsonl` per start or resume of its training.

Each line gives the step the session started from, the code's commit, the date, the device, the
thread count and the machine (`paddle_gan.stamp`), so that a number read from a run folder can
say which code and which CPU made it, even when the run was resumed on another day or machine.
"""
from __future__ import annotations

import datetime
import os

from paddle_gan.jsonl import append_record, read_records

from paddle_gan.stamp import code_commit, describe_machine, machine

SESSIONS_FILE = "sessions.jsonl"


def record_session(run_dir: str, start_step: int, device: str, threads: int) -> None:
    """Append this session's line to run_dir/sessions.jsonl."""
    doc = {"start_step": int(start_step), "commit": code_commit(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "device": device, "threads": int(threads), "machine": machine()}
    append_record(os.path.join(run_dir, SESSIONS_FILE), doc, sort_keys=True)


def read_sessions(run_dir: str) -> list[dict]:
    """Every recorded session of the run, oldest first ([] for runs made before sessions were
    recorded); an unreadable line (a write cut short) is skipped."""
    return read_records(os.path.join(run_dir, SESSIONS_FILE))


def describe_sessions(run_dir: str) -> str:
    """'<commit> on <cpu> (<flags>), from step <n>' per session, joined by '; ' ('not recorded'
    when the run predates the record)."""
    parts = [f"{s.get('commit', 'unknown')} on {describe_machine(s.get('machine', {}))}, "
             f"from step {s.get('start_step', '?')}" for s in read_sessions(run_dir)]
    return "; ".join(parts) if parts else "not recorded"
