"""The loss comparison behind `tools/compare_losses.py`.

Trains the seed model once per (loss, seed) for the same number of GENERATOR updates (so the
discriminator steps differ: k * updates, k from each loss's defaults), evaluates every run with
the offline evaluator and prints a markdown table of mean +- std over the seeds. Runs and
evaluations already on disk are reused, so an interrupted comparison continues where it stopped.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.config import TrainConfig, make_config
from paddle_gan.errors import UserError
from paddle_gan.losses import LOSSES

#: every loss of the table, in its order
ALL_LOSSES = tuple(LOSSES)
EVAL_FILE = "eval.json"
#: Table columns: (JSON key, header, number format of mean and std).
COLUMNS = (("fid", "FID ↓", ".1f"), ("kid", "KID ↓", ".1f"), ("inception_score", "IS ↑", ".2f"),
           ("precision", "precision ↑", ".3f"), ("recall", "recall ↑", ".3f"),
           ("classes_covered", "classes ↑", ".1f"), ("class_kl", "class KL ↓", ".3f"))


@dataclass
class ComparisonSpec:
    """What to compare: every loss in `losses` x every seed, `g_updates` generator updates each.

    overrides: further TrainConfig keys for every run (e.g. {"lr_g": 1e-4}).
    """

    out_dir: str
    losses: tuple[str, ...] = ALL_LOSSES
    seeds: tuple[int, ...] = (0, 1, 2)
    g_updates: int = 1000
    width: int = 32
    batch_size: int = 64
    dataset: str = "mnist5k"
    num_samples: int = 5000
    overrides: dict[str, Any] = field(default_factory=dict)


def steps_for_updates(cfg: TrainConfig, updates: int) -> int:
    """D steps that include `updates` G steps under the config's k schedule (k x updates for a
    constant k; more under the WGAN schedule's long critic phases)."""
    from paddle_gan.train.schedule import CriticSchedule

    schedule = CriticSchedule.from_config(cfg)
    steps = updates * cfg.k
    while schedule.g_steps_before(steps) < updates:
        steps += 1
    return steps


def run_config(spec: ComparisonSpec, loss: str, seed: int) -> TrainConfig:
    """The config of one run: the D steps of g_updates G steps, epochs high enough not to bind."""
    values = dict(model="seed", loss=loss, dataset=spec.dataset, width=spec.width,
                  batch_size=spec.batch_size, seed=seed, epochs=1_000_000, save_every=10,
                  progress=False, log_every=500, scalar_every=10,
                  output=os.path.join(spec.out_dir, f"{loss}_seed{seed}"))
    values.update(spec.overrides)
    values["max_steps"] = steps_for_updates(make_config(values), spec.g_updates)
    return make_config(values)


def final_step(run_dir: str) -> Optional[int]:
    """The step of the run folder's last checkpoint (None: no checkpoint)."""
    found = ckpt_io.list_checkpoints(run_dir)
    return ckpt_io.step_in_name(found[-1]) if found else None


def check_reusable(cfg: TrainConfig) -> None:
    """Refuse a run folder whose stored config trains differently from `cfg` (a finished run
    would otherwise be reused as if it were this entry's)."""
    from paddle_gan.config import architecture_differences, from_dict, step_differences
    from paddle_gan.train.run import CONFIG_FILE

    path = os.path.join(cfg.output, CONFIG_FILE)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        stored = from_dict(json.load(handle))
    changed = architecture_differences(stored, cfg) + step_differences(stored, cfg)
    if stored.max_steps != cfg.max_steps:
        changed.append("max_steps")
    if changed:
        detail = ", ".join(f"{k} {getattr(stored, k)} -> {getattr(cfg, k)}" for k in changed)
        raise UserError(f"{cfg.output}: holds a run with other settings ({detail}); delete it "
                        f"or choose another --work folder")


def train_run(cfg: TrainConfig, say: Callable[[str], None]) -> None:
    """Train unless the run folder already reached cfg.max_steps; resumes a partial run.
    A folder holding a run of other settings is refused (UserError)."""
    from paddle_gan.train.run import run_training

    check_reusable(cfg)
    done = final_step(cfg.output)
    if done is not None and done >= cfg.max_steps:
        say(f"{cfg.output}: already trained ({done} steps)")
        return
    if done is not None:
        cfg.resume = "latest"
    run_training(cfg, say=say)


def evaluate_run(cfg: TrainConfig, num_samples: int, say: Callable[[str], None]) -> dict:
    """The run's eval.json, computed unless it exists for the run's final step."""
    from paddle_gan.evaluation import EvalOptions, evaluate, result_json, write_json

    path = os.path.join(cfg.output, EVAL_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
        if doc.get("step") == cfg.max_steps and doc.get("num_samples") == num_samples:
            return doc
    result, ctx = evaluate(cfg.output, EvalOptions(num_samples=num_samples), say=say)
    doc = result_json(result, ctx)
    write_json(doc, path)
    return doc


def mean_std(values: list[Optional[float]]) -> tuple[float, float]:
    """Mean and sample std (ddof 1; 0 for one value) of the non-None values (nan if none)."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return float("nan"), float("nan")
    std = float(present.std(ddof=1)) if present.size > 1 else 0.0
    return float(present.mean()), std


def markdown_table(results: dict[str, list[dict]], ks: dict[str, int], steps: dict[str, int]
                   ) -> str:
    """One row per loss: k, discriminator steps, and mean ± std over seeds of every column."""
    header = ["loss", "k", "D steps", "seeds"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for loss, docs in results.items():
        cells = [loss, str(ks[loss]), str(steps[loss]), str(len(docs))]
        for key, _, spec in COLUMNS:
            mean, std = mean_std([d.get(key) for d in docs])
            cells.append("n/a" if np.isnan(mean) else f"{mean:{spec}} ± {std:{spec}}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(spec: ComparisonSpec, results: dict[str, list[dict]], ks: dict[str, int],
                  steps: dict[str, int]) -> str:
    """table.md and results.json for the runs finished so far; returns the table."""
    table = markdown_table(results, ks, steps)
    summary = {loss: [{k: d.get(k) for k, _, _ in COLUMNS} | {"seed": d["config"]["seed"]}
                      for d in docs] for loss, docs in results.items()}
    with open(os.path.join(spec.out_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"spec": spec.__dict__, "k": ks, "runs": summary}, handle, indent=2)
    with open(os.path.join(spec.out_dir, "table.md"), "w", encoding="utf-8") as handle:
        handle.write(table + "\n")
    return table


def run_comparison(spec: ComparisonSpec, say: Callable[[str], None] = print) -> str:
    """Train and evaluate every (seed, loss), seeds outermost so that a partial comparison has
    every loss; rewrites results.json and table.md after each run, copies one sample grid per
    loss (its first seed's final grid) into spec.out_dir; returns the markdown table."""
    os.makedirs(spec.out_dir, exist_ok=True)
    results: dict[str, list[dict]] = {loss: [] for loss in spec.losses}
    ks: dict[str, int] = {}
    steps: dict[str, int] = {}
    table = ""
    for seed in spec.seeds:
        for loss in spec.losses:
            cfg = run_config(spec, loss, seed)
            ks[loss] = cfg.k
            steps[loss] = cfg.max_steps
            say(f"== {loss} seed {seed}: {spec.g_updates} G updates = {cfg.max_steps} D steps "
                f"(k={cfg.k}) -> {cfg.output}")
            train_run(cfg, say)
            doc = evaluate_run(cfg, spec.num_samples, say)
            say(f"   fid {doc['fid']:.4g} kid {doc['kid']:.4g} "
                f"classes {doc.get('classes_covered')}")
            results[loss].append(doc)
            if seed == spec.seeds[0]:
                grid = os.path.join(cfg.output, "samples", "final.png")
                if os.path.isfile(grid):
                    shutil.copyfile(grid, os.path.join(spec.out_dir, f"samples_{loss}.png"))
            table = write_results(spec, {k: v for k, v in results.items() if v}, ks, steps)
    return table
