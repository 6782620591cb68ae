"""Evaluation during training: `--eval-every N` scores the generator every N steps on a fixed
subset of the held-out data with fixed latents (so values are comparable along the run) and
logs them to VisualDL (`eval/<metric>`) and train_log.jsonl; `--keep-best` also keeps the
checkpoint with the lowest FID as checkpoints/best.npz (never pruned, resumable).

A kind of run provides a factory in TRAINING_EVALUATORS: `(cfg, trainer) -> TrainingMetrics`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.config import to_dict
from paddle_gan.errors import UserError

BEST_CHECKPOINT = "best.npz"


@dataclass
class TrainingMetrics:
    """compute(trainer) -> metric values; lower `best_key` is better (for --keep-best)."""

    compute: Callable[[Any], dict[str, float]]
    best_key: str = "fid"


TRAINING_EVALUATORS: dict[str, Callable[[Any, Any], TrainingMetrics]] = {}


def register_training_evaluator(kind: str, factory: Callable[[Any, Any], TrainingMetrics]) -> None:
    TRAINING_EVALUATORS[kind] = factory


def best_path(run_dir: str) -> str:
    return os.path.join(run_dir, ckpt_io.CHECKPOINT_DIR, BEST_CHECKPOINT)


def _stored_best(run_dir: str, key: str, step: int) -> float:
    """The value recorded in an existing best.npz written at or before `step` (a resumed run),
    else +inf (none, unreadable, or left by another run: written after `step`)."""
    path = best_path(run_dir)
    if not os.path.isfile(path):
        return math.inf
    try:
        meta = ckpt_io.load_checkpoint(path).meta
    except UserError:
        return math.inf
    value = meta.get("eval", {}).get(key)
    if value is None or int(meta.get("step", step + 1)) > step:
        return math.inf
    return float(value)


class TrainingEvaluator:
    """Called by the trainer every `cfg.eval_every` steps; logs and keeps the best checkpoint."""

    def __init__(self, cfg: Any, trainer: Any, metrics: TrainingMetrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.best: Optional[float] = None  # read at the first call, after a resume loaded

    def __call__(self, trainer: Any) -> dict[str, float]:
        if not getattr(trainer, "writes_files", True):  # data parallel: rank 0 evaluates
            return {}
        pos = trainer.position
        values = self.metrics.compute(trainer)
        trainer.monitor.scalars(pos.step, {f"eval/{k}": v for k, v in values.items()})
        trainer.monitor.record({"step": pos.step, "epoch": pos.epoch,
                                "train_seconds": round(pos.train_seconds, 3), "eval": values})
        shown = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        note = ""
        score = values.get(self.metrics.best_key)
        if self.best is None:
            self.best = _stored_best(trainer.run_dir, self.metrics.best_key, pos.step)
        if self.cfg.keep_best and score is not None and score < self.best:
            self.best = score
            path = best_path(trainer.run_dir)
            meta = {"step": pos.step, "epoch": pos.epoch, "batch": pos.batch,
                    "config": to_dict(trainer.cfg),
                    "kind": getattr(trainer, "checkpoint_kind", "gan"), "eval": values}
            ckpt_io.save_checkpoint(path, trainer.modules(), trainer.optimizers(), meta)
            note = f" (best so far: saved {path})"
        trainer.monitor.line(f"eval at step {pos.step}: {shown}{note}")
        return values


def training_kind(trainer: Any) -> str:
    """The trainer's checkpoint kind, or "images" / "points" for the standard GAN trainer."""
    stored = getattr(trainer, "checkpoint_kind", "gan")
    if stored != "gan":
        return stored
    return "images" if trainer.data.samples.ndim == 4 else "points"


def make_training_evaluator(cfg: Any, trainer: Any) -> TrainingEvaluator:
    """The evaluator for this trainer's kind of data; UserError when there is none."""
    from paddle_gan.discovery import import_modules

    import_modules("paddle_gan.evaluation")
    kind = training_kind(trainer)
    if kind not in TRAINING_EVALUATORS:
        raise UserError(f"eval_every: no evaluation during training for {kind} runs yet")
    return TrainingEvaluator(cfg, trainer, TRAINING_EVALUATORS[kind](cfg, trainer))


def maybe_training_evaluator(cfg: Any, trainer: Any) -> Optional[TrainingEvaluator]:
    """The trainer's evaluator when cfg.eval_every is set, else None (the hook in gan.py)."""
    if not getattr(cfg, "eval_every", None):
        return None
    return make_training_evaluator(cfg, trainer)
