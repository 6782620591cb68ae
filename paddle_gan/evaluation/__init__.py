"""Offline evaluation of a run: one evaluator per kind of run, chosen from the checkpoint.

The kind is the trainer's stored `kind` ("cyclegan", ...) or, for the standard GAN trainer,
"images" or "points" by the rank of the run's samples. An evaluator is a function
`(EvalContext) -> EvalResult`; a module of this package adds one with
`register_evaluator(kind, fn)` at import, and every module of the package is imported before a
look-up (`paddle_gan.discovery`), so `tools/eval.py` has no branch per kind.
"""
from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from paddle_gan.config import to_dict
from paddle_gan.data import ArrayData
from paddle_gan.data.provenance import describe, provenance
from paddle_gan.discovery import import_modules
from paddle_gan.errors import UserError
from paddle_gan.io.runs import LoadedRun, load_run, load_split


@dataclass
class EvalOptions:
    """What `tools/eval.py` was asked for.

    num_samples: generated samples to score (real training samples with `real`).
    batch_size: images per generator / feature-extractor pass.
    seed: seed of the evaluation latents.
    real: score real training data instead of the generator (the metrics' floor).
    inception_weights: local InceptionV3 state dict for Inception FID / IS.
    kid_subsets: KID's number of random subsets (the usual 100; fewer is faster, noisier).
    trust_checkpoint: allow a non-.npz inception_weights file (a pickle) to be loaded.
    """

    num_samples: int = 5000
    batch_size: int = 500
    seed: int = 0
    real: bool = False
    inception_weights: Optional[str] = None
    kid_subsets: int = 100
    trust_checkpoint: bool = False


@dataclass
class EvalResult:
    """Metrics (None where a metric does not apply) and facts about how they were computed."""

    metrics: dict[str, Optional[float]]
    info: dict[str, Any] = field(default_factory=dict)


class EvalContext:
    """A loaded run plus the options; data splits are loaded once, on first use."""

    def __init__(self, run: LoadedRun, options: EvalOptions,
                 say: Callable[[str], None] = print) -> None:
        self.run = run
        self.options = options
        self.say = say

    @functools.cached_property
    def held_out(self) -> ArrayData:
        """The data set's held-out split ("test"), prepared as for training."""
        return load_split(self.run, "test")

    @functools.cached_property
    def train_data(self) -> ArrayData:
        return load_split(self.run, "train")

    @functools.cached_property
    def kind(self) -> str:
        return run_kind(self.run, lambda: self.held_out.samples.ndim)


EVALUATORS: dict[str, Callable[[EvalContext], EvalResult]] = {}


def register_evaluator(kind: str, fn: Callable[[EvalContext], EvalResult]) -> None:
    """Make `fn` the evaluator of runs of `kind`."""
    EVALUATORS[kind] = fn


def fixed_subset(items: np.ndarray, n: int, seed: int, stream: int) -> np.ndarray:
    """`n` of `items` in their order, chosen from the random stream (seed, stream); all of them
    when there are not more."""
    if n >= len(items):
        return items
    rng = np.random.default_rng([seed, stream])
    return items[np.sort(rng.choice(len(items), n, replace=False))]


def run_kind(run: LoadedRun, sample_rank: Callable[[], int]) -> str:
    """"images" / "points" for the standard GAN trainer (by the samples' rank), else the
    trainer's stored kind."""
    if run.stored_kind != "gan":
        return run.stored_kind
    return "images" if sample_rank() == 4 else "points"


def get_evaluator(kind: str) -> Callable[[EvalContext], EvalResult]:
    import_modules(__name__)
    if kind not in EVALUATORS:
        known = ", ".join(sorted(EVALUATORS)) or "none"
        raise UserError(f"no evaluator for {kind} runs yet (evaluators exist for: {known})")
    return EVALUATORS[kind]


#: bounds of the evaluation's sizes: the samples' features are held in memory at once, and
#: KID's cost grows with its subsets
MAX_EVAL_SAMPLES = 100_000
MAX_EVAL_BATCH = 8192
MAX_KID_SUBSETS = 10_000


def evaluate(target: str, options: EvalOptions, say: Callable[[str], None] = print
             ) -> tuple[EvalResult, EvalContext]:
    """Evaluate a run folder or checkpoint file; returns the result and its context."""
    for flag, value, low, high in (("--num-samples", options.num_samples, 10, MAX_EVAL_SAMPLES),
                                   ("--batch-size", options.batch_size, 1, MAX_EVAL_BATCH),
                                   ("--kid-subsets", options.kid_subsets, 1, MAX_KID_SUBSETS)):
        if not low <= value <= high:
            raise UserError(f"{flag}: must be in {low:,}..{high:,}, got {value:,}")
    if options.inception_weights and not os.path.isfile(options.inception_weights):
        raise UserError(f"--inception-weights {options.inception_weights}: no such file (this "
                        f"tool never downloads; pass Paddle's inception_v3.pdparams)")
    return evaluate_run(load_run(target, warn=say), options, say)


def evaluate_run(run: LoadedRun, options: EvalOptions, say: Callable[[str], None] = print
                 ) -> tuple[EvalResult, EvalContext]:
    """Evaluate an already loaded run (its cached data splits are reused)."""
    ctx = EvalContext(run, options, say)
    return get_evaluator(ctx.kind)(ctx), ctx


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_json(result: EvalResult, ctx: EvalContext) -> dict[str, Any]:
    """The JSON document: metrics at top level, then how they were made, the step, config, the
    held-out set's record (`paddle_gan.data.provenance`) and the run's training data record."""
    run = ctx.run
    doc = {k: _finite_or_none(v) for k, v in result.metrics.items()}
    doc.update(result.info)
    doc.update(kind=ctx.kind, checkpoint=run.checkpoint.path, step=run.step,
               epoch=run.checkpoint.meta.get("epoch"), config=to_dict(run.cfg),
               held_out=provenance(ctx.held_out), train_data=run.checkpoint.meta.get("data"))
    return doc


def held_out_lines(doc: dict[str, Any]) -> list[str]:
    """The held-out set a result was scored against, and a note when it comes from another
    loader than the run's training data (e.g. the run trained on the embedded subset)."""
    lines = [f"held-out set: {describe(doc['held_out'])}"]
    trained = doc.get("train_data")
    if trained and trained.get("loader") != doc["held_out"]["loader"]:
        lines.append(f"note: the run trained on {describe(trained)}")
    return lines


def write_json(doc: dict[str, Any], path: str) -> None:
    """Write strict JSON (no NaN) atomically."""
    from paddle_gan.atomic import atomic_write

    text = json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"
    try:
        atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
        os.chmod(path, 0o644)
    except OSError as exc:
        raise UserError(f"--json {path}: cannot write it ({exc.strerror})") from None


def format_table(result: EvalResult, title: str = "") -> str:
    """Metrics as a two-column text table (n/a where a metric does not apply)."""
    rows = []
    for name, value in result.metrics.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            text = "n/a"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = f"{value:.4g}"
        rows.append((name, text))
    width = max([len(n) for n, _ in rows] + [6])
    lines = [title] if title else []
    lines += [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    lines += [f"{n:<{width}}  {t}" for n, t in rows]
    return "\n".join(lines)
