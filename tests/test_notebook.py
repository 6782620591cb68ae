"""work/gan_tour.ipynb: stored without outputs, finds the repository from work/ or the root, and
executes top to bottom at the small size (PADDLE_GAN_NOTEBOOK_SMALL=1) without a cell error."""
import ast
import contextlib
import os
from pathlib import Path

import pytest

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "work", "gan_tour.ipynb")
nbformat = pytest.importorskip("nbformat", reason="nbformat is in requirements.txt")


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_without_outputs():
    nb = _notebook()
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) >= 10
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert nb.metadata.kernelspec.name == "python3"


def test_first_cell_finds_the_repository_from_work_or_the_root(tmp_path):
    tree = ast.parse(_notebook().cells[1].source)
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef)
                   and node.name == "find_repo_root"]
    namespace = {"Path": Path}  # the function alone, without the cell's heavy imports
    exec(compile(ast.Module([function], type_ignores=[]), NOTEBOOK, "exec"), namespace)
    find = namespace["find_repo_root"]
    root = Path(ROOT).resolve()
    assert find(root) == root
    assert find(root / "work") == root
    assert find(root / "work" / "runs" / "notebook") == root  # need not exist
    with pytest.raises(FileNotFoundError, match="no paddle_gan checkout"):
        find(Path(tmp_path))


def test_notebook_executes_at_the_small_size(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in requirements.txt")
    runs = tmp_path / "runs"
    monkeypatch.setenv("PADDLE_GAN_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PADDLE_GAN_NOTEBOOK_RUNS", str(runs))
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    nb = _notebook()
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.join(ROOT, "work")}})
    client.reset_execution_trackers()
    with contextlib.ExitStack() as stack:
        try:  # AI Studio's layout: the kernel starts in work/
            stack.enter_context(client.setup_kernel())
        except Exception as exc:  # no kernel here: not the notebook's fault
            pytest.skip(f"the Jupyter kernel cannot start: {type(exc).__name__}: {exc}")
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # CellExecutionError on any cell error
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    # the losses cell: values hand-computed for the scores it uses
    assert "gan      d_loss   1.4786   g_loss   1.0072" in text
    assert "lsgan    d_loss   3.8333   g_loss   3.4167" in text
    assert ("this notebook's 2,784,513, the library's PixelShuffleGenerator(z_input='reshape') "
            "2,784,513 (the same layers); its default adds a linear input layer: 2,794,613") in text
    # the shipped generator draws without training (section 7.1)
    assert "pretrained quickstart: dcgan, step 3000, FID 34.2, precision 0.81, recall 0.76" in text
    pictures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(pictures) >= 8
    tables = [out.data["text/markdown"] for out in outputs
              if "text/markdown" in out.get("data", {})]
    assert tables and "| real digits |" in tables[0]
    # every run went through the library into the notebook's run folder
    for name in ("gan", "lsgan", "wgan", "wgangp", "seed_gan", "toy_gan", "toy_wgangp"):
        assert (runs / name / "config.json").is_file(), name
        assert list((runs / name / "checkpoints").glob("step_*.npz")), name
    assert (runs / "gan_export" / "generator_info.json").is_file()
    assert (runs / "gan_generated.png").stat().st_size > 1000
