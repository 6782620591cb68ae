"""A run's sessions: one line of `sessions.jsonl` per start or resume of its training.

Each line gives the step the session started from, the code's commit, the date, the device, the
thread count and the machine (`paddle_gan.stamp`), so that a number read from a run folder can
say which code and which CPU made it, even when the run was resumed on another day or machine.
"""
from __future__ import annotations

import datetime
import json
import os

from paddle_gan.stamp import code_commit, describe_machine, machine

SESSIONS_FILE = "sessions.jsonl"


def record_session(run_dir: str, start_step: int, device: str, threads: int) -> None:
    """Append this session's line to run_dir/sessions.jsonl."""
    doc = {"start_step": int(start_step), "commit": code_commit(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "device": device, "threads": int(threads), "machine": machine()}
    with open(os.path.join(run_dir, SESSIONS_FILE), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(doc, sort_keys=True) + "\n")


def read_sessions(run_dir: str) -> list[dict]:
    """Every recorded session of the run, oldest first ([] for runs made before sessions were
    recorded); an unreadable line (a write cut short) is skipped."""
    path = os.path.join(run_dir, SESSIONS_FILE)
    if not os.path.isfile(path):
        return []
    sessions = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                sessions.append(doc)
    return sessions


def describe_sessions(run_dir: str) -> str:
    """'<commit> on <cpu> (<flags>), from step <n>' per session, joined by '; ' ('not recorded'
    when the run predates the record)."""
    parts = [f"{s.get('commit', 'unknown')} on {describe_machine(s.get('machine', {}))}, "
             f"from step {s.get('start_step', '?')}" for s in read_sessions(run_dir)]
    return "; ".join(parts) if parts else "not recorded"
