"""Regenerate every quality table of the README: `python tools/reproduce.py`.

Each *entry* is one documented command (a loss of the seed model with its defaults, the DCGAN
and MLP configs, the quickstart), trained for a fixed number of steps on the embedded MNIST
subset for every seed, scored during training (`--eval-every`, 1,000 samples: the FID-against-
time curve) and at the end with the offline evaluator (5,000 samples, as `tools/eval.py`).
The results go to `docs/results/` (or --out):

- `<table>.md`: mean ± std over seeds per entry, stamped with the command, the commit, the
  machine (CPU model, cores, Paddle) and the wall time, and listing the commit and CPU of each
  run's training sessions (a reused run may have been trained by older code or another machine);
- `<table>_samples.png`: the final fixed-noise grid of every entry (first seed), one row each;
- `<table>_fid_vs_time.png`: FID (1,000 samples) against training seconds, one line per entry
  (mean over seeds);
- `<table>.json`: every number behind them.

Runs already finished in the work folder are reused (an interrupted reproduction continues).
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from paddle_gan.config import CONFIG_DIR, TrainConfig, make_config
from paddle_gan.errors import UserError
from paddle_gan.experiments.carried import (as_dict, carried_note, carried_seconds, load_carried,
                                            panel_or_file)
from paddle_gan.experiments.compare import (ALL_LOSSES, COLUMNS, evaluate_run, final_step,
                                            mean_std, steps_for_updates, train_run)
from paddle_gan.jsonl import read_records
from paddle_gan.monitor import TRAIN_LOG
from paddle_gan.stamp import code_commit, describe_machine, machine
from paddle_gan.train.schedule import CriticSchedule
from paddle_gan.train.sessions import describe_sessions


@dataclass(frozen=True)
class Entry:
    """One documented command: a config file and/or overrides, and its budget.

    name: the row's name. config: a YAML file under paddle_gan/configs (or None).
    overrides: further keys. g_updates: generator updates of the full budget (the D steps follow
    from the entry's k schedule: every loss gets the same number of G updates); 0 = the config's
    own max_steps (the quickstart: a fixed number of D steps).
    """

    name: str
    config: Optional[str] = None
    overrides: dict[str, Any] = field(default_factory=dict)
    g_updates: int = 3000

    def command(self) -> str:
        """The `tools/train.py` command a reader runs for this row (without seed/output)."""
        parts = ["python tools/train.py"]
        if self.config:
            parts.append(f"--config paddle_gan/configs/{self.config}")
        for key, value in self.overrides.items():
            parts.append(f"--{key.replace('_', '-')} {value}")
        return " ".join(parts)


SEED_MODEL = dict(model="seed", dataset="mnist5k", width=32, batch_size=64)
#: Every loss of the table with the seed model, each with its defaults (the README's loss
#: comparison).
LOSS_ENTRIES = tuple(Entry(loss, overrides=dict(SEED_MODEL, loss=loss)) for loss in ALL_LOSSES)
#: The README's first command.
QUICKSTART_ENTRIES = (
    Entry("quickstart", "quickstart.yaml", dict(dataset="mnist5k"), g_updates=0),
)
#: The model zoo's MNIST configs at the CPU-sized check (DCGAN at width 32). An MLP step costs
#: a few milliseconds, so the MLPs get about 30,000 D steps (the Wasserstein ones: 6,000 updates),
#: 9 to 29 minutes of one core each here; the DCGAN's 3,000 took 41.
ZOO_ENTRIES = (
    Entry("dcgan", "dcgan_mnist.yaml", dict(dataset="mnist5k", width=32)),
    Entry("mlp_gan", "mlp_gan_mnist.yaml", dict(dataset="mnist5k"), g_updates=30000),
    Entry("mlp_wgan", "mlp_wgan_mnist.yaml", dict(dataset="mnist5k"), g_updates=6000),
    Entry("mlp_wgangp", "mlp_wgangp_mnist.yaml", dict(dataset="mnist5k"), g_updates=6000),
)
TABLES = {"quickstart": QUICKSTART_ENTRIES, "losses": LOSS_ENTRIES, "models": ZOO_ENTRIES}


@dataclass(frozen=True)
class Budget:
    """How much of each entry to run: the full step budgets (scale 1) or a smoke check."""

    name: str
    seeds: tuple[int, ...]
    step_scale: float  # fraction of each entry's G updates
    max_steps: Optional[int]  # cap on D steps per run (the smoke check)
    eval_points: int  # evaluations during training (the FID-against-time curve)
    num_samples: int  # samples of the final evaluation


BUDGETS = {
    "full": Budget("full", (0, 1, 2), 1.0, None, 10, 5000),
    # one seed, a sixth of the G updates: what fits in one working session on 2 cores
    "quick": Budget("quick", (0,), 1.0 / 6.0, None, 5, 5000),
    "small": Budget("small", (0,), 1.0, 60, 2, 1000),
}


def run_config(entry: Entry, budget: Budget, seed: int, work_dir: str,
               threads: Optional[int] = None) -> TrainConfig:
    """The resolved config of one run of `entry`; `threads` (None: every core) is its CPU threads."""
    values: dict[str, Any] = dict(entry.overrides)
    config_file = os.path.join(CONFIG_DIR, entry.config) if entry.config else None
    base = make_config(dict(values), config_file)
    if entry.g_updates:
        updates = max(1, int(round(entry.g_updates * budget.step_scale)))
        steps = steps_for_updates(base, updates)
    else:
        steps = base.max_steps
    if not steps:
        raise UserError(f"reproduce: entry {entry.name} has no step budget")
    if budget.max_steps:
        steps = min(steps, budget.max_steps)
    values.update(seed=seed, max_steps=steps, epochs=1_000_000, progress=False,
                  log_every=max(1, steps // 10), scalar_every=10, histogram_every=0,
                  eval_every=max(1, steps // budget.eval_points), save_every=1_000_000,
                  output=os.path.join(work_dir, budget.name, f"{entry.name}_seed{seed}"),
                  threads=threads)
    return make_config(values, config_file)


def fid_curve(run_dir: str) -> list[tuple[int, float, float]]:
    """(step, training seconds, FID) of every evaluation during training, from train_log.jsonl."""
    points = []
    for doc in read_records(os.path.join(run_dir, TRAIN_LOG)):
        if isinstance(doc.get("eval"), dict) and "fid" in doc["eval"]:
            points.append((int(doc["step"]), float(doc.get("train_seconds", 0.0)),
                           float(doc["eval"]["fid"])))
    return points


def stamp(command: str, wall_seconds: float, train_seconds: float, info: dict[str, Any]) -> str:
    """The header every results file starts with."""
    return (f"<!-- generated by `{command}`; do not edit by hand -->\n"
            f"- command: `{command}`\n"
            f"- commit: {info['commit']} (of this command; each run's training is listed "
            f"below); date: {info['date']}\n"
            f"- machine: {describe_machine(info['machine'])}, {info['machine']['cores']} cores, "
            f"Paddle {info['machine']['paddle']}, Python {info['machine']['python']}\n"
            f"- wall time: {wall_seconds / 60:.1f} min for this command (runs already finished "
            f"in the work folder are reused); training time of the runs: "
            f"{train_seconds / 60:.1f} min in all (from their checkpoints; see the table)\n")


def write_results(stem: str, text: str, doc: dict[str, Any]) -> None:
    """Write a results table as `stem`.md (`text`) and its data as `stem`.json (`doc`)."""
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1)


def markdown_table(rows: dict[str, list[dict]], entries: Sequence[Entry], steps: dict[str, int],
                   g_updates: dict[str, int], seconds: dict[str, list[float]]) -> str:
    """One row per entry: steps, training minutes, and mean ± std over seeds of each metric."""
    header = ["run", "G updates", "D steps", "train min", "seeds"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        docs = rows.get(entry.name)
        if not docs:
            continue
        minutes = np.mean(seconds[entry.name]) / 60.0
        cells = [entry.name, str(g_updates[entry.name]), str(steps[entry.name]), f"{minutes:.1f}",
                 str(len(docs))]
        for key, _, spec in COLUMNS:
            mean, std = mean_std([d.get(key) for d in docs])
            cells.append("n/a" if np.isnan(mean) else f"{mean:{spec}} ± {std:{spec}}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def commands_table(entries: Sequence[Entry], steps: dict[str, int]) -> str:
    """Each row's command, so that every number can be regenerated by hand."""
    lines = ["| run | command |", "|---|---|"]
    for entry in entries:
        if entry.name in steps:
            lines.append(f"| {entry.name} | `{entry.command()} --max-steps {steps[entry.name]} "
                         f"--seed S` |")
    return "\n".join(lines)


def plot_fid_curves(curves: dict[str, list[list[tuple[int, float, float]]]], path: str,
                    title: str) -> None:
    """FID against training seconds, one line per entry (mean over seeds at each evaluation)."""
    from paddle_gan.viz.plots import _pyplot, finish_fid_plot

    fig, ax = _pyplot().subplots(figsize=(7, 4.5), dpi=110)
    for name, runs in curves.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        seconds = np.mean([[p[1] for p in r[:n]] for r in runs], axis=0)
        fid = np.mean([[p[2] for p in r[:n]] for r in runs], axis=0)
        ax.plot(seconds / 60.0, fid, marker="o", markersize=3, label=name)
    finish_fid_plot(fig, ax, "training time (min, this machine)", title, path)


def render_panel(grid: str, name: str) -> np.ndarray:
    """One entry's final grid with its name above, as an RGBA array (values in [0, 1]) of a
    fixed size, so that a picture's panels are equal-width slices."""
    from paddle_gan.viz.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2.6, 2.9), dpi=110)
    ax.imshow(plt.imread(grid))
    ax.set_title(name, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.canvas.draw()
    panel = np.asarray(fig.canvas.buffer_rgba(), dtype=np.float32) / 255.0
    plt.close(fig)
    return panel


def samples_picture(grids: dict[str, Any], path: str) -> list[str]:
    """The entries' final grids side by side, one equal-width panel each with its name above,
    one PNG; a grid is a file (drawn here) or a panel kept from an earlier picture. Returns the
    names drawn, left to right."""
    from paddle_gan.viz.plots import _pyplot

    panels = {}
    for name, grid in grids.items():
        grid = panel_or_file(grid)
        if grid is not None:
            panels[name] = render_panel(grid, name) if isinstance(grid, str) else grid
    if not panels:
        return []
    height = max(p.shape[0] for p in panels.values())
    padded = [np.pad(p[..., :4] if p.shape[-1] == 4 else np.dstack([p, np.ones(p.shape[:2])]),
                     ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=1.0)
              for p in panels.values()]
    tmp = path + ".tmp.png"
    _pyplot().imsave(tmp, np.clip(np.concatenate(padded, axis=1), 0.0, 1.0))
    os.replace(tmp, path)
    return list(panels)


def reproduce(table: str, budget: Budget, out_dir: str, work_dir: str,
              entries: Optional[Sequence[str]] = None, command: str = "",
              say: Callable[[str], None] = print, threads: Optional[int] = None,
              finished_only: bool = False) -> str:
    """Train, evaluate and write one results table; returns the path of its Markdown file.

    `threads` is each run's CPU threads (None: every usable core). With `finished_only`, nothing
    is trained: each row uses the seeds whose run already reached its budget in `work_dir`.
    With `entries`, the table's other rows are kept from its existing results file when it was
    made with the same budget (`paddle_gan.experiments.carried`)."""
    chosen = [e for e in TABLES[table] if entries is None or e.name in entries]
    if not chosen:
        raise UserError(f"--entries: none of {', '.join(entries or [])} is in table {table!r}")
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    rows: dict[str, list[dict]] = {}
    curves: dict[str, list[list[tuple[int, float, float]]]] = {}
    seconds: dict[str, list[float]] = {}
    steps: dict[str, int] = {}
    g_updates: dict[str, int] = {}
    grids: dict[str, str] = {}
    trained_with: list[str] = []  # each run's sessions: commit, CPU, start step
    for seed in budget.seeds:
        for entry in chosen:
            cfg = run_config(entry, budget, seed, work_dir, threads)
            steps[entry.name] = cfg.max_steps
            g_updates[entry.name] = CriticSchedule.from_config(cfg).g_steps_before(cfg.max_steps)
            say(f"== {table}/{entry.name} seed {seed}: {cfg.max_steps} steps -> {cfg.output}")
            reached = final_step(cfg.output) or 0
            if finished_only and reached < cfg.max_steps:
                say(f"   left out: not finished (step {reached})")
                continue
            train_run(cfg, say)
            doc = evaluate_run(cfg, budget.num_samples, say)
            curve = fid_curve(cfg.output)
            trained_with.append(f"{entry.name} seed {seed}: {describe_sessions(cfg.output)}")
            rows.setdefault(entry.name, []).append(doc)
            curves.setdefault(entry.name, []).append(curve)
            seconds.setdefault(entry.name, []).append(curve[-1][1] if curve else float("nan"))
            grids.setdefault(entry.name, os.path.join(cfg.output, "samples", "final.png"))
            say(f"   fid {doc['fid']:.4g} precision {doc.get('precision', float('nan')):.3f} "
                f"classes {doc.get('classes_covered')} kl {doc.get('class_kl', float('nan')):.3f}")
    wall = time.perf_counter() - start
    info = {"commit": code_commit(), "date": datetime.date.today().isoformat(), "machine": machine()}
    stem = os.path.join(out_dir, table if budget.name == "full" else f"{table}_{budget.name}")
    commits = {name: info["commit"] for name in rows}
    others = [e.name for e in TABLES[table] if e not in chosen]
    kept = load_carried(stem, others, budget.__dict__, say)
    if kept.runs:
        say(f"   rows kept from {stem}.json: {', '.join(kept.runs)}")
    rows.update(kept.runs)
    curves.update(kept.curves)
    steps.update(kept.steps)
    g_updates.update(kept.g_updates)
    seconds.update(carried_seconds(kept))
    commits.update(kept.commits)
    trained_with += kept.trained_with
    listed = [e for e in TABLES[table] if e.name in rows]  # table order
    rows = {e.name: rows[e.name] for e in listed}
    curves = {e.name: curves[e.name] for e in listed if e.name in curves}
    grids = {e.name: grids.get(e.name, kept.panels.get(e.name, "")) for e in listed}
    plot_fid_curves(curves, stem + "_fid_vs_time.png",
                    f"{table}: FID against training time ({info['machine']['cpu']})")
    grid_order = samples_picture(grids, stem + "_samples.png")
    trained = float(np.nansum([t for times in seconds.values() for t in times]))
    text = (stamp(command, wall, trained, info) + "\n"
            + markdown_table(rows, listed, steps, g_updates, seconds) + "\n\n"
            + carried_note(kept)
            + f"Seeds {', '.join(map(str, budget.seeds))}"
            + (" where their run had finished (the seeds column counts them; the runs are "
               "listed below)" if finished_only else "")
            + "; final scores on "
              f"{budget.num_samples} samples against the 500 held-out digits of the embedded "
              f"subset, in the shipped classifier's features (real vs real: FID ~5).\n\n"
            + commands_table(listed, {name: steps[name] for name in rows}) + "\n\n"
            + "Code and machine of each run's training sessions (commit on CPU, from step; "
              "`sessions.jsonl` of the run folder):\n\n"
            + "".join(f"- {line}\n" for line in trained_with) + "\n"
            + f"![samples]({os.path.basename(stem)}_samples.png)\n"
            + f"![FID against time]({os.path.basename(stem)}_fid_vs_time.png)\n")
    write_results(stem, text, {
        "info": info, "command": command, "wall_seconds": wall, "budget": budget.__dict__,
        "steps": steps, "g_updates": g_updates,
        "runs": {name: [{k: d.get(k) for k, _, _ in COLUMNS} for d in docs]
                 for name, docs in rows.items()},
        "curves": curves, "trained_with": trained_with, **as_dict(rows, commits, grid_order)})
    say(f"wrote {stem}.md (+ .json, _samples.png, _fid_vs_time.png)")
    return stem + ".md"


def command_line(argv: Sequence[str]) -> str:
    """How this reproduction was started, for the stamp."""
    return " ".join(["python tools/reproduce.py"] + [shlex.quote(a) for a in argv])

