"""Append-only logs after a cut write: the next record starts on a fresh line and readers skip
the broken one (train_log.jsonl through the monitor, sessions.jsonl, reproduce's FID curve)."""
import json

from paddle_gan.experiments.reproduce import fid_curve
from paddle_gan.jsonl import append_record, read_records
from paddle_gan.monitor import TRAIN_LOG
from paddle_gan.train.sessions import SESSIONS_FILE, read_sessions, record_session

CUT = '{"step": 4, "d_loss": 0.6'  # a record killed mid-write: no closing brace, no newline


def test_a_record_after_a_cut_line_starts_on_a_fresh_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 2}\n' + CUT)
    append_record(str(path), {"step": 6})
    assert path.read_text().splitlines() == ['{"step": 2}', CUT, '{"step": 6}']
    assert read_records(str(path)) == [{"step": 2}, {"step": 6}]


def test_a_whole_last_line_gets_no_blank_line(tmp_path):
    path = tmp_path / "log.jsonl"
    append_record(str(path), {"step": 1})
    append_record(str(path), {"step": 2})
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n'


def test_the_train_log_and_the_sessions_survive_a_cut_line(tmp_path):
    from paddle_gan.monitor import RunMonitor

    (tmp_path / TRAIN_LOG).write_text(json.dumps({"step": 2, "eval": {"fid": 80.0}}) + "\n" + CUT)
    (tmp_path / SESSIONS_FILE).write_text('{"start_step": 0}\n{"start_st')
    monitor = RunMonitor(str(tmp_path), 10, progress=False)
    monitor.record({"step": 6, "train_seconds": 1.5, "eval": {"fid": 70.0}})
    monitor.close()
    record_session(str(tmp_path), 6, "cpu", 1)
    assert fid_curve(str(tmp_path)) == [(2, 0.0, 80.0), (6, 1.5, 70.0)]
    assert [s["start_step"] for s in read_sessions(str(tmp_path))] == [0, 6]
