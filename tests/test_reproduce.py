"""tools/reproduce.py: the results files it writes, and the README tables copied from them."""
import json
import os
import re

import numpy as np

from conftest import ROOT
from paddle_gan.experiments import reproduce as rp

RESULTS_MARK = re.compile(r"<!-- results: (docs/results/[\w./-]+\.md) -->")


def first_table(text):
    """The lines of the first Markdown table in `text` (stripped)."""
    lines, started = [], False
    for line in text.splitlines():
        if line.strip().startswith("|"):
            lines.append(line.strip())
            started = True
        elif started:
            break
    return lines


def test_every_readme_quality_table_is_copied_from_its_results_file():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    marks = list(RESULTS_MARK.finditer(readme))
    assert marks, "the README names no results file"
    for mark in marks:
        path = os.path.join(ROOT, mark.group(1))
        assert os.path.isfile(path), mark.group(1)
        with open(path, encoding="utf-8") as handle:
            results = handle.read()
        assert "- command: `python tools/reproduce.py" in results
        assert "- machine: " in results and "- commit: " in results and "- wall time: " in results
        expected = first_table(results)
        assert expected and first_table(readme[mark.end():]) == expected, mark.group(1)


def test_a_tiny_reproduction_writes_stamped_tables_curves_and_grids(tmp_path, monkeypatch):
    entry = rp.Entry("tiny_gan", overrides=dict(model="seed", dataset="mnist5k", width=8,
                                                 batch_size=8, loss="gan", k=2), g_updates=2)
    monkeypatch.setitem(rp.TABLES, "tiny", (entry,))
    budget = rp.Budget("small", (0, 1), 1.0, None, 2, 50)
    path = rp.reproduce("tiny", budget, str(tmp_path / "results"), str(tmp_path / "work"),
                        command="python tools/reproduce.py --tables tiny", say=lambda _: None,
                        threads=1)
    text = open(path, encoding="utf-8").read()
    assert "- command: `python tools/reproduce.py --tables tiny`" in text
    table = first_table(text)
    assert table[0].startswith("| run | G updates | D steps | train min | seeds | FID")
    assert table[2].startswith("| tiny_gan | 2 | 4 | ") and "| 2 |" in table[2]
    assert "`python tools/train.py --model seed --dataset mnist5k --width 8" in text
    # each run names the code and CPU that trained it (runs may be reused across commits)
    from paddle_gan.stamp import code_commit, describe_machine, machine

    for seed in (0, 1):
        assert (f"- tiny_gan seed {seed}: {code_commit()} on {describe_machine(machine())}, "
                f"from step 0\n") in text
        # each run trained with the threads asked for, not every core
        sessions = os.path.join(tmp_path, "work", "small", f"tiny_gan_seed{seed}", "sessions.jsonl")
        assert [json.loads(line)["threads"] for line in open(sessions, encoding="utf-8")] == [1]
    doc = json.load(open(path[:-3] + ".json", encoding="utf-8"))
    assert len(doc["runs"]["tiny_gan"]) == 2 and doc["info"]["machine"]["cores"] >= 1
    curves = doc["curves"]["tiny_gan"]
    assert [[p[0] for p in c] for c in curves] == [[2, 4], [2, 4]]  # steps of the evaluations
    assert all(p[1] > 0 for c in curves for p in c)  # training seconds
    for suffix in ("_samples.png", "_fid_vs_time.png"):
        assert os.path.getsize(path[:-3] + suffix) > 1000


def tiny_table(monkeypatch):
    """A table "tiny" of two rows, gan and lsgan on the seed model at width 8, 2 G updates."""
    entry = rp.Entry("tiny_gan", overrides=dict(model="seed", dataset="mnist5k", width=8,
                                                 batch_size=8, loss="gan"), g_updates=2)
    other = rp.Entry("tiny_lsgan", overrides=dict(entry.overrides, loss="lsgan"), g_updates=2)
    monkeypatch.setitem(rp.TABLES, "tiny", (entry, other))
    return entry, other


def test_finished_only_tables_use_the_finished_seeds_and_train_nothing(tmp_path, monkeypatch):
    tiny_table(monkeypatch)
    work, out = str(tmp_path / "work"), str(tmp_path / "results")
    quiet = lambda _: None
    rp.reproduce("tiny", rp.Budget("small", (1,), 1.0, None, 1, 50), out, work, ["tiny_gan"],
                 say=quiet)
    path = rp.reproduce("tiny", rp.Budget("small", (0, 1), 1.0, None, 1, 50), out, work,
                        say=quiet, finished_only=True)
    assert sorted(os.listdir(os.path.join(work, "small"))) == ["tiny_gan_seed1"]  # none trained
    text = open(path, encoding="utf-8").read()
    table = first_table(text)
    assert len(table) == 3 and table[2].startswith("| tiny_gan | 2 | 2 | ")
    assert table[2].split(" | ")[4] == "1"  # the seeds column: only seed 1 had finished
    assert "tiny_lsgan" not in text and "where their run had finished" in text


def test_rerunning_some_rows_keeps_the_others_with_the_commit_that_measured_them(
        tmp_path, monkeypatch):
    entry, _ = tiny_table(monkeypatch)
    work, out = str(tmp_path / "work"), str(tmp_path / "results")
    quiet = lambda _: None
    budget = rp.Budget("small", (0,), 1.0, None, 1, 50)
    path = rp.reproduce("tiny", budget, out, work, say=quiet)
    earlier_table = first_table(open(path, encoding="utf-8").read())
    before = json.load(open(path[:-3] + ".json", encoding="utf-8"))
    assert before["grid_order"] == ["tiny_gan", "tiny_lsgan"]
    import matplotlib.image as mpimg

    picture = mpimg.imread(path[:-3] + "_samples.png")
    # the earlier file says another commit measured tiny_gan: the kept row must say so too
    before["row_commits"]["tiny_gan"] = "abc1234"
    json.dump(before, open(path[:-3] + ".json", "w", encoding="utf-8"))
    # tiny_lsgan re-run with other settings (its old run folder moved away)
    os.rename(os.path.join(work, "small", "tiny_lsgan_seed0"), str(tmp_path / "old_lsgan"))
    monkeypatch.setitem(rp.TABLES, "tiny", (entry, rp.Entry(
        "tiny_lsgan", overrides=dict(entry.overrides, loss="lsgan", k=2), g_updates=2)))
    rp.reproduce("tiny", budget, out, work, ["tiny_lsgan"], say=quiet)
    after = json.load(open(path[:-3] + ".json", encoding="utf-8"))
    text = open(path, encoding="utf-8").read()
    table = first_table(text)
    assert [line.split(" | ")[0] for line in table[2:]] == ["| tiny_gan", "| tiny_lsgan"]
    assert table[2] == earlier_table[2] and table[3] != earlier_table[3]
    assert after["runs"]["tiny_gan"] == before["runs"]["tiny_gan"]
    assert after["curves"]["tiny_gan"] == before["curves"]["tiny_gan"]
    assert after["runs"]["tiny_lsgan"] != before["runs"]["tiny_lsgan"]
    assert after["steps"] == {"tiny_gan": 2, "tiny_lsgan": 4}  # k 2: two D steps per update
    assert after["row_commits"]["tiny_gan"] == "abc1234"
    assert "not re-run by this command: tiny_gan (commit abc1234)" in text
    assert "- tiny_gan seed 0: " in text and "- tiny_lsgan seed 0: " in text
    # the kept row's samples panel is the earlier picture's left half, unchanged
    new_picture = mpimg.imread(path[:-3] + "_samples.png")
    assert new_picture.shape == picture.shape and after["grid_order"] == before["grid_order"]
    half = picture.shape[1] // 2
    assert np.array_equal(new_picture[:, :half], picture[:, :half])
    # rows of another budget are never mixed in
    rp.reproduce("tiny", rp.Budget("small", (0,), 1.0, None, 1, 60), out, work, ["tiny_lsgan"],
                 say=quiet)
    assert [line.split(" | ")[0] for line in first_table(open(path).read())[2:]] == ["| tiny_lsgan"]


def test_run_config_gives_every_loss_the_same_generator_updates(tmp_path):
    entry = rp.Entry("x", overrides=dict(rp.SEED_MODEL, loss="gan"), g_updates=3000)
    cfg = rp.run_config(entry, rp.BUDGETS["full"], 2, str(tmp_path))
    assert (cfg.max_steps, cfg.seed, cfg.eval_every, cfg.width) == (3000, 2, 300, 32)
    critic = rp.Entry("y", overrides=dict(rp.SEED_MODEL, loss="wgangp"), g_updates=3000)
    assert rp.run_config(critic, rp.BUDGETS["full"], 0, str(tmp_path)).max_steps == 15000
    clipped = rp.Entry("z", overrides=dict(rp.SEED_MODEL, loss="wgan"), g_updates=3000)
    # the WGAN schedule: 100 critic steps for the first 25 G steps and every 500th, else 5
    expected = 25 * 100 + 5 * (3000 - 25) + 95 * 5  # G steps 500, 1000, ..., 2500 take 100
    assert rp.run_config(clipped, rp.BUDGETS["full"], 0, str(tmp_path)).max_steps == expected
    small = rp.run_config(entry, rp.BUDGETS["small"], 0, str(tmp_path))
    assert small.max_steps == rp.BUDGETS["small"].max_steps
    assert small.output != cfg.output


def test_reproduce_tool_rejects_unknown_tables_in_one_line():
    from conftest import run_tool

    done = run_tool("tools/reproduce.py", "--tables", "nope", "--out", "/tmp/x")
    assert done.returncode == 2
    assert done.stderr.strip() == "reproduce.py: error: --tables: unknown nope; choose from quickstart, losses, models"


def test_every_entry_of_every_table_resolves_to_a_valid_run(tmp_path):
    names = []
    for table, entries in rp.TABLES.items():
        for entry in entries:
            cfg = rp.run_config(entry, rp.BUDGETS["full"], 0, str(tmp_path))
            assert cfg.max_steps >= 1000 and cfg.dataset == "mnist5k", (table, entry.name)
            names.append(entry.name)
    assert len(names) == len(set(names))  # a run folder per row
