"""Rows of a results table kept from its earlier results when only some rows are re-run.

`tools/reproduce.py --entries gan,lsgan` trains and scores those rows only; the table's other
rows keep their numbers, FID curves, run listings and sample panels from the table's existing
`<stem>.json` and `<stem>_samples.png`, each marked with the commit that measured it. They are
kept only when that file was made with the same budget (step scale, step cap, samples of the
final evaluation): a table never mixes budgets.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

#: the budget fields two results files must share for their rows to sit in one table
SAME_BUDGET = ("name", "step_scale", "max_steps", "num_samples")


@dataclass
class CarriedRows:
    """Rows read back from an earlier results file: per row name, its per-seed metric dicts,
    FID curves, steps, G updates, the commit that measured it, its run listing lines and its
    sample panel (an RGB(A) array cut from the earlier samples picture; absent if none)."""

    runs: dict[str, list[dict]] = field(default_factory=dict)
    curves: dict[str, list[list[tuple[int, float, float]]]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    g_updates: dict[str, int] = field(default_factory=dict)
    commits: dict[str, str] = field(default_factory=dict)
    trained_with: list[str] = field(default_factory=list)
    panels: dict[str, np.ndarray] = field(default_factory=dict)


def row_of(trained_line: str) -> str:
    """The row name of a run listing line ('gan seed 0: ...' -> 'gan')."""
    return trained_line.split(" seed ", 1)[0]


def cut_panels(picture: str, order: Sequence[str], keep: Sequence[str]) -> dict[str, np.ndarray]:
    """The panels of `keep` from a samples picture whose len(order) equal-width panels are the
    rows `order`, left to right."""
    from paddle_gan.viz.plots import _pyplot

    if not order or not os.path.isfile(picture):
        return {}
    image = _pyplot().imread(picture)
    width = image.shape[1] / len(order)
    return {name: image[:, int(round(i * width)):int(round((i + 1) * width))]
            for i, name in enumerate(order) if name in keep}


def load_carried(stem: str, names: Sequence[str], budget: dict[str, Any],
                 say: Any = print) -> CarriedRows:
    """The rows `names` of the results file `stem`.json made with `budget` (nothing when the file
    is missing, holds none of them, or was made with another budget; `say` tells which)."""
    carried = CarriedRows()
    path = stem + ".json"
    if not names or not os.path.isfile(path):
        return carried
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    earlier = doc.get("budget", {})
    differing = [key for key in SAME_BUDGET if earlier.get(key) != budget.get(key)]
    if differing:
        say(f"   rows {', '.join(names)} not kept from {path}: made with another budget "
            f"({', '.join(differing)})")
        return carried
    keep = [name for name in names if doc.get("runs", {}).get(name)]
    commit = doc.get("info", {}).get("commit", "unknown")
    for name in keep:
        carried.runs[name] = doc["runs"][name]
        carried.curves[name] = [[tuple(p) for p in c] for c in doc.get("curves", {}).get(name, [])]
        carried.steps[name] = doc["steps"][name]
        carried.g_updates[name] = doc["g_updates"][name]
        carried.commits[name] = doc.get("row_commits", {}).get(name, commit)
    carried.trained_with = [line for line in doc.get("trained_with", []) if row_of(line) in keep]
    order = doc.get("grid_order", [name for name in doc.get("runs", {})])
    carried.panels = cut_panels(stem + "_samples.png", order, keep)
    return carried


def carried_note(carried: CarriedRows) -> str:
    """One Markdown paragraph naming the kept rows and the commits that measured them ('' when
    none are kept)."""
    if not carried.runs:
        return ""
    by_commit: dict[str, list[str]] = {}
    for name, commit in carried.commits.items():
        by_commit.setdefault(commit, []).append(name)
    parts = [f"{', '.join(names)} (commit {commit})" for commit, names in by_commit.items()]
    return (f"Rows kept from this table's earlier results, not re-run by this command: "
            f"{'; '.join(parts)}.\n\n")


def carried_seconds(carried: CarriedRows) -> dict[str, list[float]]:
    """Each kept row's training seconds per seed: the last point of its curves."""
    return {name: [c[-1][1] if c else float("nan") for c in curves]
            for name, curves in carried.curves.items()}


def as_dict(runs: dict[str, list[dict]], commits: dict[str, str], grid_order: list[str]) -> dict:
    """The JSON keys that let a later partial run keep these rows: who measured each row, and
    the left-to-right order of the samples picture."""
    return {"row_commits": {name: commits[name] for name in runs if name in commits},
            "grid_order": grid_order}


def panel_or_file(grid: Any) -> Optional[Any]:
    """A grid of the samples picture: a file path that exists, or a kept panel array."""
    if isinstance(grid, np.ndarray):
        return grid
    return grid if isinstance(grid, str) and os.path.isfile(grid) else None
