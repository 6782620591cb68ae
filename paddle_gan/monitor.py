"""What a run shows while it trains: VisualDL records, a progress bar, the summary line and a
machine-readable train_log.jsonl."""
from __future__ import annotations

import os
import sys
from typing import Optional

import numpy as np

from paddle_gan.jsonl import append_record

VISUALDL_DIR = "vdl"
TRAIN_LOG = "train_log.jsonl"


class RunMonitor:
    """Writes a run's scalars and images.

    Args:
        run_dir: the run folder; VisualDL writes under run_dir/vdl.
        total_steps: for the progress bar (None = unknown).
        progress: show a tqdm bar on stderr.
        initial_step: where the bar starts (resumed runs).
    """

    def __init__(self, run_dir: str, total_steps: Optional[int] = None, progress: bool = True,
                 initial_step: int = 0) -> None:
        from visualdl import LogWriter

        self.run_dir = run_dir
        self.writer = LogWriter(logdir=os.path.join(run_dir, VISUALDL_DIR))
        self.log_path = os.path.join(run_dir, TRAIN_LOG)
        self.scalar_tags: set[str] = set()  # VisualDL extras: the HParams metrics
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=initial_step, unit="step",
                            dynamic_ncols=True, file=sys.stderr, leave=True)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One VisualDL scalar per key at `step`."""
        for tag, value in values.items():
            self.writer.add_scalar(tag=tag, value=float(value), step=step)
        self.scalar_tags.update(values)

    def image(self, tag: str, step: int, picture: np.ndarray) -> None:
        """A uint8 [H, W, 3] picture to VisualDL."""
        self.writer.add_image(tag=tag, img=picture, step=step, dataformats="HWC")

    # VisualDL extras: histograms, hyper-parameters, flushing --------------------
    def histogram(self, tag: str, step: int, values: np.ndarray, buckets: int = 30) -> None:
        """A histogram of `values` (any shape) to VisualDL's Histogram tab."""
        self.writer.add_histogram(tag=tag, values=np.asarray(values, dtype=np.float64).ravel(),
                                  step=step, buckets=buckets)

    def hparams(self, values: dict, metrics: list[str]) -> None:
        """Hyper-parameters (str / int / float values) and the scalar tags that are this run's
        metrics, for VisualDL's HParams tab."""
        self.writer.add_hparams(hparams_dict=dict(values), metrics_list=list(metrics))

    def flush(self) -> None:
        """Write pending VisualDL records now (e.g. before reading the log back in-process)."""
        self.writer.flush()

    def record(self, values: dict) -> None:
        """Append one JSON line to train_log.jsonl."""
        append_record(self.log_path, values)

    def advance(self, steps: int, postfix: Optional[dict[str, float]] = None,
                epoch: Optional[int] = None) -> None:
        if self.bar is not None:
            self.bar.update(steps)
            if epoch is not None:
                self.bar.set_description(f"epoch {epoch}", refresh=False)
            if postfix:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def line(self, text: str) -> None:
        """Print a line without breaking the progress bar."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.writer.close()
