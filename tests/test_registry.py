"""The registries: one discovery mechanism, a model's particulars in its own entry, and no
shared module that branches on a model's or a loss's name."""
from __future__ import annotations

import ast
import os
import sys

import pytest

from conftest import ROOT
from paddle_gan import models
from paddle_gan.config import from_dict, make_config, to_dict
from paddle_gan.discovery import import_modules
from paddle_gan.errors import UserError
from paddle_gan.losses import LOSSES
from paddle_gan.models import ModelEntry, get_model, model_names

PACKAGE = os.path.join(ROOT, "paddle_gan")


# --------------------------------------------------------------------------- discovery
def _package(root, name: str, modules: dict[str, str]) -> None:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("FOUND = []\n")
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(text)


def test_discovery_imports_every_module_of_the_package(tmp_path, monkeypatch):
    register = "from discovery_probe_ok import FOUND\nFOUND.append(__name__)\n"
    _package(tmp_path, "discovery_probe_ok", {"first": register, "second": register})
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import_modules("discovery_probe_ok")
        assert sorted(sys.modules["discovery_probe_ok"].FOUND) == [
            "discovery_probe_ok.first", "discovery_probe_ok.second"]
    finally:
        for name in [m for m in sys.modules if m.startswith("discovery_probe_ok")]:
            del sys.modules[name]


def test_discovery_does_not_swallow_a_missing_module(tmp_path, monkeypatch):
    """A module that imports something absent is an error, not a silently empty registry."""
    _package(tmp_path, "discovery_probe_broken", {"needs": "import no_such_module_anywhere\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
            import_modules("discovery_probe_broken")
    finally:
        for name in [m for m in sys.modules if m.startswith("discovery_probe_broken")]:
            del sys.modules[name]


def test_every_model_s_trainer_kind_has_a_trainer_and_a_plotter():
    from paddle_gan.train import get_trainer
    from paddle_gan.viz import get_plotter

    for name in model_names():
        kind = get_model(name).trainer
        assert get_trainer(kind).checkpoint_kind == kind, name
        assert callable(get_plotter(kind)), name


# --------------------------------------------------------------------------- a model's entry
def _fake_defaults(given, base):
    """Width 7; batch 3 under the Wasserstein loss, else 5 (a default that reads the loss)."""
    return dict(width=7, batch_size=3 if given.get("loss", base.loss) == "wgan" else 5)


def _fake_check(cfg) -> None:
    if cfg.width > 100:
        raise UserError("width: the fake model is at most 100 wide")


@pytest.fixture
def fake_model(monkeypatch):
    """A model registered for one test: mlp's networks with an entry of its own."""
    entry = ModelEntry(get_model("mlp").build, image_size=get_model("mlp").image_size,
                       defaults=_fake_defaults, settings=("lambda_identity",),
                       check=_fake_check, stored_defaults={"label_smoothing": 0.75})
    model_names()  # the real models first, so that discovery cannot overwrite the fake one
    monkeypatch.setitem(models.MODELS, "fake", entry)
    return "fake"


def test_a_model_s_defaults_fill_what_the_user_left_unset(fake_model):
    assert (make_config({"model": fake_model}).width,
            make_config({"model": fake_model}).batch_size) == (7, 5)
    assert make_config({"model": fake_model, "loss": "wgan"}).batch_size == 3
    assert make_config({"model": fake_model, "width": 9}).width == 9  # a flag wins
    cfg = make_config({"model": fake_model, "loss": "wgan"})
    assert (cfg.optimizer, cfg.k) == ("rmsprop", 5)  # the loss's defaults still apply


def test_a_model_s_own_settings_are_refused_by_every_other_model(fake_model):
    assert make_config({"model": fake_model, "lambda_identity": 0.1}).lambda_identity == 0.1
    with pytest.raises(UserError, match="lambda_identity: only the fake model reads it, got "
                                        "0.1 with model dcgan"):
        make_config({"model": "dcgan", "lambda_identity": 0.1})


def test_a_model_s_check_runs_on_its_configs_only(fake_model):
    with pytest.raises(UserError, match="the fake model is at most 100 wide"):
        make_config({"model": fake_model, "width": 128})
    assert make_config({"model": "mlp", "width": 128}).width == 128


def test_a_stored_config_lacking_a_setting_takes_the_model_s_stored_default(fake_model):
    stored = to_dict(make_config({"model": fake_model}))
    del stored["label_smoothing"]
    assert from_dict(stored).label_smoothing == 0.75
    other = to_dict(make_config({"model": "mlp"}))
    del other["label_smoothing"]
    assert from_dict(other).label_smoothing == 1.0  # the dataclass default


# --------------------------------------------------------------------------- no name branches
NAMED = ("model", "loss")


def _names_a_model_or_loss(node: ast.AST) -> bool:
    """Whether `node` reads a model or loss setting: x.model, model, x["loss"], x.get("loss")."""
    if isinstance(node, ast.Attribute):
        return node.attr in NAMED
    if isinstance(node, ast.Name):
        return node.id in NAMED
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value in NAMED
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        first = node.args[0] if node.args else None
        return (node.func.attr == "get" and isinstance(first, ast.Constant)
                and first.value in NAMED)
    return False


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in node.elts for s in _strings(element)]
    return []


def name_branches(names: set[str]) -> list[str]:
    """file:line of every comparison of a model or loss setting with one of `names`, and of
    every literal tuple / list / set of two or more of `names`, in the package (each line once,
    in file order)."""
    found: list[str] = []
    for folder, _, files in os.walk(PACKAGE):
        for file in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, file)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            where = os.path.relpath(path, ROOT)
            for node in ast.walk(tree):
                if isinstance(node, ast.Compare):
                    sides = [node.left, *node.comparators]
                    if (any(_names_a_model_or_loss(s) for s in sides)
                            and any(set(_strings(s)) & names for s in sides)):
                        found.append(f"{where}:{node.lineno}")
                    continue
                if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                    strings = _strings(node)
                    if len(strings) >= 2 and set(strings) <= names:
                        found.append(f"{where}:{node.lineno}")
    return sorted(set(found), key=lambda item: (item.rsplit(":", 1)[0],
                                                int(item.rsplit(":", 1)[1])))


def test_no_module_branches_on_a_model_or_loss_name():
    """What is particular to a model lives in its ModelEntry, to a loss in its LossSpec."""
    assert name_branches(set(model_names()) | set(LOSSES)) == []


def test_the_name_branch_finder_finds_planted_branches(tmp_path, monkeypatch):
    planted = tmp_path / "paddle_gan"
    planted.mkdir()
    (planted / "planted.py").write_text(
        'def f(cfg, values):\n'
        '    a = cfg.model == "dcgan"\n'
        '    b = values.get("loss") in ("gan", "lsgan")\n'
        '    c = values["model"] != "seed"\n'
        '    d = ("wgan", "wgangp")\n'
        '    e = cfg.kind == "gan"  # not a model or loss setting\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", str(planted))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    assert name_branches({"dcgan", "seed", "gan", "lsgan", "wgan", "wgangp"}) == [
        f"paddle_gan{os.sep}planted.py:{line}" for line in (2, 3, 4, 5)]
