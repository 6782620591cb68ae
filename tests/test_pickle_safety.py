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


@pytest.mark.parametrize("name", NAMES)
def test_a_planted_pickle_never_runs(tmp_path, name, capsys, trained_run):
    marker = tmp_path / "PWNED"
    path = tmp_path / name
    with open(path, "wb") as handle:
        pickle.dump(Payload(str(marker)), handle)
    for tool, args in FLAGS:
        argv = [a.format(file=path, out=tmp_path / "run", run=trained_run) for a in args]
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
