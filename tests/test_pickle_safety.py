"""No file is unpickled without --trust-checkpoint, whatever it is called: a planted pickle that
would create a file when loaded goes through every flag that reads weights, under many names,
and the file never appears."""
import os
import pickle

import pytest

from inprocess_tools import run_tool_main


class Payload:
    """Unpickling this creates `marker` (any code could run there instead)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


NAMES = ["inception_v3.pth", "weights.bin", "G.PDPARAMS", "generator.pdparams.bak", "noext",
         "looks_safe.npz", "step_00000009.npz", "model.pkl", "state.json", "archive.zip",
         "weights.pdparams", "discriminator.pdparams"]

FLAGS = [
    ("train", ["--init-from", "{file}", "--dataset", "mnist5k", "--width", "8", "--batch-size",
               "8", "--max-steps", "1", "--no-progress", "--output", "{out}"]),
    ("train", ["--resume", "{file}", "--dataset", "mnist5k", "--width", "8", "--batch-size", "8",
               "--max-steps", "1", "--no-progress", "--output", "{out}"]),
    ("eval", ["--checkpoint", "{file}", "--num-samples", "20"]),
    ("eval", ["--checkpoint", "{run}", "--inception-weights", "{file}", "--num-samples", "20"]),
    ("plot_samples", ["--checkpoint", "{file}", "--out", "{out}.png"]),
    ("export", ["--checkpoint", "{file}", "--out", "{out}_export"]),
    ("translate", ["--checkpoint", "{file}", "--input", "{image}", "--out", "{out}_translated"]),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A real run, so that tools get past loading it to the weights file."""
    from paddle_gan.config import make_config
    from paddle_gan.train.run import run_training

    out = tmp_path_factory.mktemp("pickle") / "run"
    run_training(make_config(dict(dataset="mnist5k", width=8, batch_size=8, max_steps=1,
                                  progress=False, output=str(out))), say=lambda _: None)
    return out


def plant(path, marker):
    """A pickle at `path` whose unpickling creates `marker`."""
    with open(path, "wb") as handle:
        pickle.dump(Payload(str(marker)), handle)


@pytest.mark.parametrize("name", NAMES)
def test_a_planted_pickle_never_runs(tmp_path, name, capsys, trained_run):
    from PIL import Image

    marker = tmp_path / "PWNED"
    path = tmp_path / name
    plant(path, marker)
    image = tmp_path / "input.png"
    Image.new("RGB", (8, 8)).save(image)
    for tool, args in FLAGS:
        argv = [a.format(file=path, out=tmp_path / "run", run=trained_run, image=image)
                for a in args]
        code = run_tool_main(tool, argv)
        err = capsys.readouterr().err
        assert not marker.exists(), (tool, argv)
        assert code == 2, (tool, argv, err)
        assert len([line for line in err.splitlines() if line.strip()]) == 1, err


def test_the_payload_does_run_when_unpickled(tmp_path):
    """The check above can fail: loading the planted file really creates the marker."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(Payload(str(marker))))
    assert marker.exists()


# ----------------------------------------------------------------- trust is a command-line act
#: cheap settings of a run, so that nothing trains for long even if a check were missing
TINY = ["--dataset", "mnist5k", "--width", "4", "--batch-size", "8", "--max-steps", "1",
        "--no-progress"]
#: every tool that reads a config file (`--config`), with flags that keep it short
CONFIG_TOOLS = [("train", TINY),
                ("benchmark", [*TINY, "--iters", "1", "--warmup", "1", "--sgemm-size", "64",
                               "--loops", "bare"])]
#: the config keys that take a weights file (a checkpoint, run folder or .pdparams)
WEIGHTS_KEYS = ("init_from", "resume")
#: ways a config file could try to grant trust
GRANTS = ["trust_checkpoint: true", "trust-checkpoint: yes", "trust_checkpoint: 'on'",
          "trust_checkpoint: 1"]


@pytest.mark.parametrize("grant", GRANTS)
@pytest.mark.parametrize("key", WEIGHTS_KEYS)
@pytest.mark.parametrize("tool, flags", CONFIG_TOOLS, ids=[t for t, _ in CONFIG_TOOLS])
def test_a_config_file_never_grants_trust(tmp_path, capsys, tool, flags, key, grant):
    """A config that names a planted pickle under a weights key and grants trust itself is
    refused in one line before any work: nothing is unpickled, nothing is written."""
    marker = tmp_path / "PWNED"
    for name in ("weights.pdparams", "looks_safe.npz", "noext"):
        plant(tmp_path / name, marker)
        config = tmp_path / "evil.yaml"
        config.write_text(f"{key}: {tmp_path / name}\n{grant}\n")
        code = run_tool_main(tool, [*flags, "--config", str(config),
                                    "--output", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert not marker.exists(), (tool, key, grant, name)
        assert code == 2, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "is a command-line flag only (--trust-checkpoint)" in lines[0]
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", WEIGHTS_KEYS)
def test_a_pickle_named_in_a_config_file_is_refused_without_the_flag(tmp_path, capsys, key):
    marker = tmp_path / "PWNED"
    plant(tmp_path / "weights.pdparams", marker)
    config = tmp_path / "c.yaml"
    config.write_text(f"{key}: {tmp_path / 'weights.pdparams'}\n")
    code = run_tool_main("train", [*TINY, "--config", str(config),
                                   "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists(), err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_a_config_files_cifar_batches_are_never_unpickled_freely(tmp_path, capsys):
    """data_dir of cifar10 reads pickled batches: through the restricted unpickler only."""
    marker = tmp_path / "PWNED"
    batches = tmp_path / "cifar" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        plant(batches / name, marker)
    config = tmp_path / "c.yaml"
    config.write_text(f"dataset: cifar10\ndata_dir: {tmp_path / 'cifar'}\nmodel: dcgan\n")
    code = run_tool_main("train", ["--width", "4", "--batch-size", "8", "--max-steps", "1",
                                   "--no-progress", "--config", str(config),
                                   "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists(), err
    assert "refusing to load global" in err


def test_trust_given_on_the_command_line_does_reach_the_config_files_weights(tmp_path, capsys):
    """The refusals above are the flag's doing: with --trust-checkpoint on the command line the
    init_from of a config file is unpickled (the payload runs; Paddle cannot use its result)."""
    marker = tmp_path / "PWNED"
    plant(tmp_path / "weights.pdparams", marker)
    config = tmp_path / "c.yaml"
    config.write_text(f"init_from: {tmp_path / 'weights.pdparams'}\n")
    code = run_tool_main("train", [*TINY, "--config", str(config), "--trust-checkpoint",
                                   "--output", str(tmp_path / "run")])
    assert marker.exists()
    assert code == 2 and "cannot read it" in capsys.readouterr().err


def test_trust_is_never_stored_nor_read_back_from_a_stored_config(tmp_path):
    """A run started with --trust-checkpoint stores no trust (config.json, checkpoints); a stored
    config that holds one (older versions wrote it) is read back without it, and a --resume of
    such a run does not trust anything."""
    import json

    from checkpoint_edits import rewrite
    from paddle_gan import checkpoint as ck
    from paddle_gan.config import from_dict, make_config
    from paddle_gan.train.run import run_training

    out = tmp_path / "run"
    values = dict(dataset="mnist5k", width=4, batch_size=8, max_steps=1, lr_decay="none",
                  progress=False, output=str(out))
    assert make_config(dict(values, trust_checkpoint=True)).trust_checkpoint
    run_training(make_config(dict(values, trust_checkpoint=True)), say=lambda _: None)
    stored = json.loads((out / "config.json").read_text())
    assert "trust_checkpoint" not in stored
    path = ck.checkpoint_path(str(out), 1)
    assert "trust_checkpoint" not in ck.load_checkpoint(path).meta["config"]
    assert from_dict({**stored, "trust_checkpoint": True}).trust_checkpoint is False
    # an older run's checkpoint and config.json that say trust_checkpoint: true
    rewrite(path, lambda arrays, meta: {**meta, "config": {**meta["config"],
                                                          "trust_checkpoint": True}})
    (out / "config.json").write_text(json.dumps({**stored, "trust_checkpoint": True}))
    said = []
    run_training(make_config(dict(values, max_steps=2, resume="latest")), say=said.append)
    assert f"resumed from {path} at step 1" in said
    assert "trust_checkpoint" not in json.loads((out / "config.json").read_text())


# ----------------------------------------------------------------- one read: checked = loaded
class SwapAfterFirstOpen:
    """Opening `path` a second time finds a pickle there (an attacker's swap after a check):
    counts the opens of `path` through open() and os.open()."""

    def __init__(self, monkeypatch, path, pickled):
        import builtins

        self.path, self.pickled, self.opens = os.path.realpath(path), pickled, 0
        real_open, real_os_open = builtins.open, os.open

        def counted(opener):
            def call(file, *args, **kwargs):
                if isinstance(file, (str, bytes, os.PathLike)) and \
                        os.path.realpath(os.fsdecode(file)) == self.path:
                    self.opens += 1
                    if self.opens == 2:
                        with real_open(self.path, "wb") as handle:
                            handle.write(self.pickled)
                return opener(file, *args, **kwargs)
            return call

        monkeypatch.setattr(builtins, "open", counted(real_open))
        monkeypatch.setattr(os, "open", counted(real_os_open))


def _payload_bytes(marker):
    return pickle.dumps(Payload(str(marker)))


def test_inception_weights_are_checked_and_loaded_from_one_read(tmp_path, monkeypatch):
    """An .npz needs no trust; were the file read again after that check, the second read
    would unpickle the swapped-in pickle without it."""
    import numpy as np

    from paddle_gan.errors import UserError
    from paddle_gan.evaluation.features import load_inception

    marker, path = tmp_path / "PWNED", tmp_path / "inception.npz"
    np.savez(path, x=np.zeros(2, np.float32))
    swap = SwapAfterFirstOpen(monkeypatch, path, _payload_bytes(marker))
    with pytest.raises(UserError, match="not InceptionV3 weights"):
        load_inception(str(path), trust=False)
    assert swap.opens == 1 and not marker.exists()


def test_init_from_weights_are_checked_and_loaded_from_one_read(tmp_path, monkeypatch,
                                                                trained_run):
    """--init-from ckpt.npz: the checkpoint loads from the bytes that were checked."""
    from paddle_gan import checkpoint as ck
    from paddle_gan.config import make_config
    from paddle_gan.io.init_weights import init_from
    from paddle_gan.train.run import build_trainer, prepare_data

    marker, path = tmp_path / "PWNED", tmp_path / "start.npz"
    path.write_bytes(open(ck.checkpoint_path(str(trained_run), 1), "rb").read())
    cfg = make_config(dict(dataset="mnist5k", width=8, batch_size=8, output=str(tmp_path / "r")))
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    swap = SwapAfterFirstOpen(monkeypatch, path, _payload_bytes(marker))
    assert init_from(str(path), {"G": trainer.G, "D": trainer.D}, False, say=lambda _: None) == [
        "G", "D"]
    assert swap.opens == 1 and not marker.exists()
