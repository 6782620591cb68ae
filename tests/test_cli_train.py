"""tools/train.py as a user runs it: a tiny run, and one clear line for each bad input."""
import pytest

from conftest import run_tool


def test_tiny_run_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = run_tool("tools/train.py", "--loss", "lsgan", "--dataset", "mnist5k", "--width", "4",
                    "--batch-size", "8", "--max-steps", "3", "--output", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "embedded 5k MNIST subset" in proc.stdout
    for name in ("config.json", "checkpoints/step_00000003.npz", "samples/final.png",
                 "generator.pdparams", "discriminator.pdparams", "train_log.jsonl"):
        assert (out / name).exists(), name
    # lsgan decays its learning rates over the run: a longer run moves that horizon, which a
    # resume refuses unless told
    longer = ("tools/train.py", "--loss", "lsgan", "--dataset", "mnist5k", "--width", "4",
              "--batch-size", "8", "--max-steps", "5", "--output", str(out), "--resume",
              "--no-progress")
    refused = run_tool(*longer)
    assert refused.returncode == 2 and "--allow-change lr_horizon" in refused.stderr, refused.stderr
    resumed = run_tool(*longer, "--allow-change", "lr_horizon")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout and (out / "checkpoints/step_00000005.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--loss", "no_such_loss"], "loss: unknown value 'no_such_loss'; choose from gan, minimax"),
    (["--width", "wide"], "width: expected int"),
    (["--batch-size", "0"], "batch_size: must be at least 1"),
    (["--lr-g", "-3"], "lr_g: must be in (0, 1], got -3.0"),
    (["--bogus-flag"], "unrecognized arguments: --bogus-flag"),
    (["--data-dir", "/nonexistent/mnist"], "--data-dir /nonexistent/mnist: no such folder"),
    (["--config", "/nonexistent.yaml"], "config file not found"),
    (["--model", "nope"], "model: unknown value 'nope'"),
    (["--dataset", "imagenet"], "dataset: unknown value 'imagenet'"),
    (["--device", "gpu"], "no CUDA"),
    (["--batch-size", "5000", "--dataset", "mnist5k"], "larger than the data set"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = run_tool("tools/train.py", *args, "--output", str(tmp_path / "r"), "--max-steps", "1",
                    timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_output_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    proc = run_tool("tools/train.py", "--output", str(target), "--max-steps", "1", timeout=120)
    assert proc.returncode == 2 and "is a file" in proc.stderr
    assert target.read_text() == "keep me"


def test_help_lists_the_interface_flags():
    proc = run_tool("tools/train.py", "--help", timeout=60)
    assert proc.returncode == 0
    for flag in ("--loss", "--model", "--dataset", "--epochs", "--max-steps", "--batch-size", "--k",
                 "--width", "--seed", "--output", "--config", "--resume", "--lr-g", "--lr-d",
                 "--device", "--log-every", "--sample-every", "--save-every", "--data-dir"):
        assert flag in proc.stdout, flag
