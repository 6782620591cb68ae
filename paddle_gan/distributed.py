"""Multi-process data parallel training.

`python -m paddle.distributed.launch --nproc_per_node N tools/train.py ...` starts N copies of
the tool; the launcher tells each its rank through environment variables (PADDLE_TRAINER_ID,
PADDLE_TRAINERS_NUM, PADDLE_LOCAL_SIZE). On CPU the processes talk over gloo, on GPU over NCCL;
`paddle.distributed.init_parallel_env()` picks the backend the launcher chose.

How a run is split:
- `--batch-size` stays the global batch: every process takes its contiguous 1/N slice of each
  batch of the shared epoch order (`ShardedBatches`), so an N-process step sees the same images
  as a one-process step and the position (step, epoch, batch) means the same in both. That is
  what lets a checkpoint move between N and 1 processes.
- Every process draws the whole batch's latents from the per-step seed and keeps its rows, so
  the N processes together use exactly the latents one process would.
- G and D run through `paddle.DataParallel`, which averages the gradients over the processes
  before each update; batch norm's running statistics are averaged after every step, so all
  processes hold the same weights and statistics (checkpoints store the unwrapped networks).
- Batch norm normalises each process's slice with that slice's statistics (no cross-process
  batch norm on CPU), so results match a one-process run up to that effect, as usual for data
  parallel training. The gradient penalty's mixing weights are drawn per process.
- Only rank 0 writes: the config, checkpoints, samples, VisualDL and train_log.jsonl, and prints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np

from paddle_gan.errors import UserError


@dataclass(frozen=True)
class ParallelContext:
    """This process's place in a launch: rank, number of processes, processes on this node."""

    rank: int = 0
    world: int = 1
    local_world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def default_threads(self, cores: int) -> int:
        """CPU threads per process when the user gave none: the node's cores shared out."""
        return max(1, cores // max(1, self.local_world))

    def shard_batches(self, batches: Any) -> Any:
        """This process's share of every batch (the batches themselves in a one-process run)."""
        return ShardedBatches(batches, self.rank, self.world) if self.active else batches

    def step_callbacks(self, networks: list[Any]) -> list[Any]:
        """Per-step callbacks a data-parallel run needs: the batch-norm statistics sync."""
        return [buffer_sync(networks, self.world)] if self.active else []

    def wrap(self, layer: Any) -> Any:
        """The forward a step calls for `layer`: a `paddle.DataParallel` wrapper (gradients
        averaged over the processes) when there is more than one process, else None."""
        if not self.active:
            return None
        import paddle

        return paddle.DataParallel(layer)


def launch_context(environ: Optional[dict[str, str]] = None) -> ParallelContext:
    """The context `paddle.distributed.launch` set up (rank 0 of 1 without the launcher)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("PADDLE_TRAINERS_NUM", "1"))
        rank = int(env.get("PADDLE_TRAINER_ID", "0"))
        local = int(env.get("PADDLE_LOCAL_SIZE", str(world)))
    except ValueError:
        raise UserError("PADDLE_TRAINERS_NUM / PADDLE_TRAINER_ID / PADDLE_LOCAL_SIZE must be "
                        "integers (start multi-process runs with paddle.distributed.launch)") \
            from None
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"launcher environment gives rank {rank} of {world} processes")
    return ParallelContext(rank, world, max(1, local))


def init_parallel(ctx: ParallelContext) -> None:
    """Join the process group (gloo on CPU, NCCL on GPU) when there is more than one process."""
    if not ctx.active:
        return
    import paddle.distributed as dist

    if not dist.is_initialized():
        dist.init_parallel_env()


class ShardedBatches:
    """This process's slice of every batch of an EpochBatches (same length, same positions).

    Args:
        batches: the shared batch order (an EpochBatches over the whole data set).
        rank, world: this process and the number of processes; the batch size must divide.
    """

    def __init__(self, batches: Any, rank: int, world: int) -> None:
        if batches.batch_size % world:
            raise UserError(f"batch_size {batches.batch_size} must be divisible by the "
                            f"{world} processes of a data-parallel run")
        self.inner = batches
        self.rank = rank
        self.world = world
        self.batch_size = batches.batch_size // world

    def __len__(self) -> int:
        return len(self.inner)

    def epoch(self, epoch: int, start: int = 0
              ) -> Iterator[tuple[int, np.ndarray, Optional[np.ndarray]]]:
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        for index, samples, labels in self.inner.epoch(epoch, start):
            yield index, samples[lo:hi], None if labels is None else labels[lo:hi]


class NullMonitor:
    """A RunMonitor that writes nothing (ranks > 0); any method is a no-op."""

    scalar_tags: frozenset = frozenset()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def buffer_sync(networks: list[Any], world: int):
    """A step callback averaging the networks' non-trainable parameters (batch norm's running
    statistics) over the processes, in one all-reduce."""
    import paddle
    import paddle.distributed as dist

    buffers = [p for net in networks for p in net.parameters() if not p.trainable]
    buffers += [b for net in networks for b in net.buffers()
                if b.dtype in (paddle.float32, paddle.float64)]

    def sync(trainer: Any) -> None:
        if not buffers:
            return
        with paddle.no_grad():
            flat = paddle.concat([paddle.reshape(b, [-1]).astype("float32") for b in buffers])
            dist.all_reduce(flat)
            flat = flat / world
            offset = 0
            for b in buffers:
                size = int(np.prod(b.shape)) if b.shape else 1
                b.set_value(paddle.reshape(flat[offset:offset + size], b.shape).astype(b.dtype))
                offset += size

    return sync
