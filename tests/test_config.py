import os

import pytest

from paddle_gan.config import (CONFIG_DIR, TrainConfig, architecture_differences, load_yaml,
                               make_config)
from paddle_gan.errors import UserError


def test_per_loss_defaults_come_from_the_table():
    cfg = make_config({"loss": "wgangp"})
    assert (cfg.k, cfg.lr_g, cfg.gp_lambda, cfg.d_norm) == (5, 2e-4, 10.0, "none")
    cfg = make_config({"loss": "wgan"})
    assert (cfg.optimizer, cfg.lr_d, cfg.weight_clip, cfg.k, cfg.k_schedule) == \
        ("rmsprop", 5e-5, 0.01, 5, "wgan")
    for loss in ("gan", "lsgan"):
        cfg = make_config({"loss": loss})
        assert (cfg.k, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.d_norm) == \
            (1, 1e-3, 1e-3, 0.5, 0.999, "none")
        assert (cfg.label_smoothing, cfg.g_ema, cfg.lr_decay) == (0.9, 0.999, "linear")
        assert cfg.output.endswith(f"seed_{loss}")
    cfg = make_config({"loss": "minimax"})
    assert (cfg.k, cfg.lr_g, cfg.label_smoothing, cfg.g_ema, cfg.lr_decay) == \
        (1, 2e-4, 1.0, 0.0, "none")


def test_models_and_configs_keep_their_own_smoothing_average_and_decay():
    # the gan / lsgan defaults' smoothing, weight average and decay reach no model that sets
    # its own (cyclegan, toy) and no config file
    cyc = make_config({"model": "cyclegan"})
    assert (cyc.loss, cyc.lr_g, cyc.label_smoothing, cyc.g_ema, cyc.lr_decay) == \
        ("lsgan", 2e-4, 1.0, 0.0, "none")
    toy = make_config({"model": "toy", "loss": "gan"})
    assert (toy.label_smoothing, toy.g_ema, toy.lr_decay) == (1.0, 0.0, "linear")
    horse = make_config({}, os.path.join(CONFIG_DIR, "dcgan_cifar10_horse.yaml"))
    assert (horse.lr_g, horse.label_smoothing, horse.g_ema, horse.lr_decay) == \
        (2e-4, 0.9, 0.0, "none")
    mlp = make_config({}, os.path.join(CONFIG_DIR, "mlp_gan_mnist.yaml"))
    assert (mlp.lr_g, mlp.label_smoothing, mlp.g_ema, mlp.lr_decay) == (5e-4, 1.0, 0.999, "linear")


#: the tutorial's five losses, each with a preset in configs/tutorial/ (a loss added later needs none)
TUTORIAL_LOSSES = ("gan", "minimax", "lsgan", "wgan", "wgangp")


@pytest.mark.parametrize("loss", TUTORIAL_LOSSES)
def test_each_tutorial_preset_keeps_the_tutorials_settings(loss):
    cfg = make_config({}, os.path.join(CONFIG_DIR, "tutorial", f"{loss}.yaml"))
    assert (cfg.model, cfg.loss, cfg.dataset, cfg.epochs) == ("seed", loss, "mnist", 100)
    if loss in ("gan", "minimax", "lsgan"):
        assert (cfg.k, cfg.d_norm, cfg.lr_g, cfg.lr_d, cfg.beta1) == (3, "batch", 2e-4, 2e-4, 0.5)
        assert (cfg.label_smoothing, cfg.g_ema, cfg.lr_decay) == (1.0, 0.0, "none")
    if loss == "wgangp":
        assert (cfg.k, cfg.gp_lambda, cfg.lr_g, cfg.lr_d, cfg.beta1) == (5, 10.0, 1e-4, 1e-4, 0.5)


def test_yaml_then_flags_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("loss: lsgan\nlr-g: 2e-4\nk: 1\nwidth: 32\n")
    cfg = make_config({"width": 16}, str(path))
    assert cfg.loss == "lsgan" and cfg.lr_g == 2e-4 and cfg.k == 1 and cfg.width == 16


@pytest.mark.parametrize("text, message", [
    ("lossy: gan\n", "unknown key 'lossy'"),
    ("width: wide\n", "width: expected int"),
    ("k: 1.5\n", "k: expected int"),
    ("- a\n- b\n", "must hold a mapping"),
    ("loss: [unclosed\n", "not valid YAML"),
    ("progress: maybe\n", "progress: expected bool"),
])
def test_bad_yaml_is_one_line_user_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")) as info:
        make_config({}, str(path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("overrides, message", [
    ({"loss": "no_such_loss"}, "loss"),
    ({"model": "nope"}, "model"),
    ({"batch_size": 0}, "batch_size"),
    ({"lr_g": -1.0}, "lr_g"),
    ({"beta1": 1.5}, "beta1"),
    ({"label_smoothing": 0.0}, "label_smoothing"),
    ({"d_norm": "layer"}, "d_norm"),
    ({"epochs": -2}, "epochs"),
])
def test_bad_values_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        make_config(overrides)


def _fields_of(base):
    from dataclasses import fields

    from paddle_gan.config import _base_type

    return [f.name for f in fields(TrainConfig) if _base_type(f.name) is base]


@pytest.mark.parametrize("name", _fields_of(float))
@pytest.mark.parametrize("value", [1e39, -1e39, float("inf"), float("nan")])
def test_every_float_must_be_finite_as_the_kernels_float32(name, value):
    """1e39 is a finite float64 and an inf float32: refused, naming the key, for every float
    setting (whatever other range it has)."""
    with pytest.raises(UserError, match=rf"^{name}: must be finite as a float32"):
        make_config({name: value})


@pytest.mark.parametrize("name", [n for n in _fields_of(int) if n != "threads"])
def test_every_count_is_bounded(name):
    """Every int setting has an upper bound (threads: the usable cores, its own test)."""
    with pytest.raises(UserError, match=rf"^{name}: "):
        make_config({name: 10 ** 40})


@pytest.mark.parametrize("overrides, message", [
    ({"lr_g": 1.5}, r"lr_g: must be in \(0, 1\], got 1.5"),
    ({"lr_d": 1e-46}, r"lr_d: must be in \(0, 1\], got 1e-46 \(0 in float32\)"),
    ({"clip_grad": 1e-50}, r"clip_grad: must be positive, got 1e-50 \(0 in float32\)"),
    ({"gp_lambda": 10001.0}, r"gp_lambda: must be in \[0, 10,000\]"),
    ({"lambda_cyc": -1.0}, r"lambda_cyc: must be in \[0, 10,000\]"),
    ({"lambda_identity": 2e4}, r"lambda_identity: must be in \[0, 10,000\]"),
    ({"pool_size": 10 ** 6}, r"pool_size: at most 100,000"),
    ({"decay_epochs": 10 ** 8}, r"decay_epochs: at most 10,000,000"),
    ({"n_blocks": 65}, r"n_blocks: at most 64"),
])
def test_rates_weights_and_sizes_have_bounds(overrides, message):
    with pytest.raises(UserError, match=message):
        make_config(overrides)


def test_the_bounds_themselves_are_accepted():
    cfg = make_config({"lr_g": 1.0, "lr_d": 1e-8, "gp_lambda": 1e4, "lambda_cyc": 0.0,
                       "pool_size": 10 ** 5, "clip_grad": 3e38})
    assert (cfg.lr_g, cfg.gp_lambda, cfg.pool_size) == (1.0, 1e4, 10 ** 5)


@pytest.mark.parametrize("text, message", [
    ("max_steps: 5\nmax-steps: 6\n", "key 'max-steps' given twice (also as 'max_steps'), line 2"),
    ("width: 4\nk: 1\nwidth: 8\n", "key 'width' given twice, line 3"),
    ("width: " + "9" * 5000 + "\n", "a value cannot be read (Exceeds the limit"),
    ("width: " + "[" * 5000 + "]" * 5000 + "\n", "is nested too deeply to be a config"),
    ("width: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "is nested too deeply to be a config"),
    ("output: [a, b]\n", "output: expected str, got a list"),
    ("trust_checkpoint: false\n", "trust_checkpoint is a command-line flag only"),
])
def test_yaml_a_config_may_not_be(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_yaml(str(path))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_yaml(str(tmp_path / "none.yaml"))


def test_every_field_is_documented():
    from dataclasses import fields

    for f in fields(TrainConfig):
        assert f.metadata.get("help"), f"{f.name} has no help text"


def test_architecture_differences_names_changed_keys():
    a, b = make_config({"loss": "gan"}), make_config({"loss": "lsgan", "max_steps": 9})
    assert architecture_differences(a, b) == ["loss"]


def test_shipped_configs_load():
    import glob
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = glob.glob(os.path.join(root, "paddle_gan", "configs", "**", "*.yaml"), recursive=True)
    assert len(paths) >= 5
    for path in paths:
        make_config({}, path)


def test_g_input_belongs_to_the_seed_model_and_defaults_to_dense():
    assert make_config({"loss": "gan"}).g_input == "dense"
    assert make_config({"loss": "gan", "g_input": "reshape"}).g_input == "reshape"
    with pytest.raises(UserError, match="g_input: only the seed model"):
        make_config({"model": "dcgan", "g_input": "reshape"})


def test_a_stored_config_without_g_input_was_trained_with_the_reshape_input():
    from paddle_gan.config import from_dict, to_dict

    stored = to_dict(make_config({"loss": "gan"}))
    assert from_dict(stored).g_input == "dense"
    del stored["g_input"]  # a run stored before the setting existed
    assert from_dict(stored).g_input == "reshape"


def test_a_stored_config_without_smoothing_average_or_decay_had_them_off():
    from paddle_gan.config import from_dict, to_dict

    stored = to_dict(make_config({"loss": "gan"}))
    assert from_dict(stored).g_ema == 0.999
    for key in ("label_smoothing", "g_ema", "lr_decay"):
        del stored[key]  # a run stored before the settings existed
    restored = from_dict(stored)
    assert (restored.label_smoothing, restored.g_ema, restored.lr_decay) == (1.0, 0.0, "none")


def test_a_stored_config_of_another_model_without_g_input_resumes_unchanged():
    from paddle_gan.config import architecture_differences, from_dict, to_dict

    current = make_config({"model": "dcgan"})
    stored = to_dict(current)
    del stored["g_input"]  # a DCGAN run stored before the setting existed
    assert architecture_differences(from_dict(stored), current) == []
