"""Regenerate the README's quality tables: `python tools/reproduce.py [--budget small]`.

Trains every documented command (the seed model with each loss's defaults; the quickstart, DCGAN
and MLP configs) for its step budget and every seed, scores each run offline, and writes
docs/results/<table>.md (+ .json, sample grids, FID-against-time curves), stamped with the
command, the commit, the machine and the wall time. Finished runs in --work are reused.
`--budget small` (one seed, 60 steps per run) is a smoke check of the whole pipeline.
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir, threads_value
from paddle_gan.errors import UserError


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_gan.experiments.reproduce import BUDGETS, TABLES, command_line, reproduce

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full",
                        help="full (the README's numbers) or small (a smoke check)")
    parser.add_argument("--tables", default=",".join(TABLES),
                        help=f"comma-separated tables ({','.join(TABLES)})")
    parser.add_argument("--entries", default=None,
                        help="only these rows (comma-separated names), e.g. gan,lsgan; the "
                             "table's other rows are kept from its results file")
    parser.add_argument("--seeds", default=None, help="override the budget's seeds, e.g. 0,1,2")
    parser.add_argument("--out", default="docs/results", metavar="DIR",
                        help="where the results files go (docs/results)")
    parser.add_argument("--work", default="work/runs/reproduce", metavar="DIR",
                        help="run folders (reused when finished)")
    parser.add_argument("--threads", type=threads_value, default=None,
                        help="CPU threads (all cores)")
    parser.add_argument("--finished-only", action="store_true",
                        help="train nothing: tables from the runs already finished in --work")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in tables if t not in TABLES]
    if unknown or not tables:
        raise UserError(f"--tables: unknown {', '.join(unknown) or '(none)'}; choose from "
                        f"{', '.join(TABLES)}")
    budget = BUDGETS[args.budget]
    if args.seeds:
        import dataclasses

        try:
            seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
        except ValueError:
            raise UserError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") \
                from None
        if not seeds or min(seeds) < 0:
            raise UserError("--seeds: give non-negative integers")
        budget = dataclasses.replace(budget, seeds=seeds)
    entries = None
    if args.entries is not None:
        entries = [e.strip() for e in args.entries.split(",") if e.strip()]
    known = sorted({entry.name for table in tables for entry in TABLES[table]})
    unknown = [e for e in entries or [] if e not in known]
    if unknown or entries == []:
        raise UserError(f"--entries: unknown {', '.join(unknown) or '(none)'} in the tables "
                        f"{', '.join(tables)}; choose from {', '.join(known)}")
    check_output_dir(args.out, "--out")
    check_output_dir(args.work, "--work")
    from paddle_gan.runtime import setup_runtime

    setup_runtime("auto", args.threads)
    for table in tables:
        names = entries and [e for e in entries if e in {x.name for x in TABLES[table]}]
        if entries and not names:
            continue
        reproduce(table, budget, args.out, args.work, names or None, command_line(argv),
                  threads=args.threads, finished_only=args.finished_only)
    return 0

