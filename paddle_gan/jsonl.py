"""Append-only JSON-lines logs (train_log.jsonl, sessions.jsonl) that survive a cut write.

A process killed in the middle of a write leaves a last line without its newline. The next
record then starts on a fresh line (it never glues onto the broken one), and readers skip any
line that is not a JSON object.
"""
from __future__ import annotations

import json
import os
from typing import Any


def append_record(path: str, doc: Any, sort_keys: bool = False) -> None:
    """Append `doc` as one JSON line to `path` (created if missing), after a newline when the
    file's last line was cut short; one write call."""
    line = (json.dumps(doc, sort_keys=sort_keys) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)
    finally:
        os.close(fd)


def read_records(path: str) -> list[dict]:
    """Every JSON object line of `path`, in order; [] for a missing file. Lines that are not a
    JSON object (a record cut short, a blank line) are skipped."""
    if not os.path.isfile(path):
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                records.append(doc)
    return records
