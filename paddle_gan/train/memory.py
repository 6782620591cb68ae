"""One memory budget for the whole run, checked before the networks are built.

The networks are traced once as a static graph (no weight or activation is allocated): the
trace gives every parameter's shape and every intermediate tensor's shape at the run's batch
size. The estimate is a lower bound of what a training step holds:
- every parameter STATE_COPIES times (the weights, their gradients, Adam's two moments), and
- G's forward at the batch size and D's at twice it (real and fake), ACTIVATION_COPIES times
  (the backward pass keeps every forward tensor and makes its gradient).
The gradient penalty's second-order pass, the optimizer's temporaries and a CycleGAN step's
second direction and reconstructions are left out, so a run refused here cannot fit.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Optional

from paddle_gan.errors import UserError

BYTES_PER_FLOAT = 4
#: copies of each parameter during training: the weights, their gradients, Adam's two moments
STATE_COPIES = 4
#: copies of each forward activation during a step: the tensor (kept for the backward pass) and
#: its gradient
ACTIVATION_COPIES = 2
GIB = 2 ** 30
#: where the machine's memory is read (MemTotal), and a container's limit (cgroup v2, v1)
MEMINFO = "/proc/meminfo"
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


@dataclass(frozen=True)
class MemoryEstimate:
    """Floats a training step holds at least: `parameters` of G and D, `activations` of one
    G forward at the batch size and one D forward at twice it."""

    parameters: int
    activations: int
    batch_size: int

    @property
    def state_bytes(self) -> int:
        return self.parameters * STATE_COPIES * BYTES_PER_FLOAT

    @property
    def activation_bytes(self) -> int:
        return self.activations * ACTIVATION_COPIES * BYTES_PER_FLOAT

    @property
    def total_bytes(self) -> int:
        return self.state_bytes + self.activation_bytes

    def describe(self) -> str:
        """'about 271.3 GiB (G and D: 216,682,358 parameters with gradients and Adam moments,
        3.2 GiB; activations of a step at batch 4096: 268.1 GiB)'."""
        return (f"about {gib(self.total_bytes)} (G and D: {self.parameters:,} parameters with "
                f"gradients and Adam moments, {gib(self.state_bytes)}; activations of a step at "
                f"batch {self.batch_size}: {gib(self.activation_bytes)})")


def gib(size: float) -> str:
    """A byte count in GiB with one decimal ('3.2 GiB'; '0.001 GiB' below 0.1)."""
    value = size / GIB
    return f"{value:.1f} GiB" if value >= 0.1 else f"{value:.3g} GiB"


def _numel(value: Any) -> int:
    """Elements of a traced tensor; 0 for one with an unknown (-1) dimension or that is no
    dense tensor (a shape list, a random generator's state)."""
    try:
        dims = [int(d) for d in value.shape]
    except ValueError:
        return 0
    return math.prod(dims) if all(d > 0 for d in dims) else 0


#: traced operations that hold no activation: the inputs and the parameters themselves
_NOT_ACTIVATIONS = ("pd_op.data", "builtin.parameter", "builtin.set_parameter")


@contextlib.contextmanager
def _native_stderr_silenced():
    """File descriptor 2 pointed at the null device: tracing a slice (`x[:, 0]`) or a constant
    makes Paddle's static graph print a glog warning ("not support input out tensor") from
    native code, past Python's sys.stderr. Python exceptions are unaffected."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def estimate_memory(cfg: Any, spec: Any) -> MemoryEstimate:
    """Trace `cfg`'s networks for data `spec` (paddle_gan.models.DataSpec) as a static graph
    and count their parameters and the activations of a step at `cfg.batch_size`.

    ValueError from the model builder (a size the networks cannot take) passes through."""
    import paddle

    from paddle_gan.models import build_models

    batch = cfg.batch_size
    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        program = paddle.static.Program()
        with paddle.static.program_guard(program, paddle.static.Program()), \
                paddle.utils.unique_name.guard(), _native_stderr_silenced():
            generator, discriminator = build_models(cfg, spec)
            cond = (lambda n, name: paddle.static.data(name, [n, spec.num_classes], "float32")
                    ) if spec.num_classes else (lambda n, name: None)
            latent = getattr(generator, "latent_dim", None)
            g_input = [batch, latent] if latent else [batch, *spec.shape]  # CycleGAN: images
            generator(paddle.static.data("g_in", g_input, "float32"), cond(batch, "g_cond"))
            discriminator(paddle.static.data("d_in", [2 * batch, *spec.shape], "float32"),
                          cond(2 * batch, "d_cond"))
        block = program.global_block()
        parameters = sum(_numel(p) for p in block.all_parameters())
        activations = sum(_numel(value) for op in block.ops
                          if op.name() not in _NOT_ACTIVATIONS for value in op.results())
    finally:
        if was_dynamic:
            paddle.disable_static()
    return MemoryEstimate(parameters, activations, batch)


def machine_memory() -> Optional[int]:
    """Bytes of memory this process may use: the machine's (MemTotal), or a container's limit
    when lower; None where neither can be read."""
    sizes = []
    try:
        with open(MEMINFO, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    sizes.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for path in CGROUP_LIMITS:
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit():
            sizes.append(int(text))
    return min(sizes) if sizes else None


def check_memory(cfg: Any, spec: Any) -> MemoryEstimate:
    """The run's estimate (`estimate_memory`); UserError naming the estimate and the limit when
    it is above `cfg.max_memory` GiB or, without it, the machine's memory."""
    estimate = estimate_memory(cfg, spec)
    if cfg.max_memory is not None:
        limit, whose = cfg.max_memory * GIB, f"--max-memory {cfg.max_memory:g} GiB"
        advice = "raise --max-memory"
    else:
        advice = "pass --max-memory GIB if the machine has more"
        limit, whose = machine_memory(), "this machine's memory"
        if limit is None:
            return estimate
        whose = f"{whose} ({gib(limit)})"
    if estimate.total_bytes > limit:
        raise UserError(f"the run needs {estimate.describe()}, more than {whose}; lower "
                        f"--batch-size, --width, --depth, --n-blocks or --image-size (or "
                        f"{advice})")
    return estimate


def check_run_memory(cfg: Any, data: Any) -> MemoryEstimate:
    """`check_memory` of `cfg` on its loaded `data` (paddle_gan.data.ArrayData), before any
    network is built: every tool that trains calls it (train, soak, the step benchmark). A
    size the networks cannot take (ValueError from the model builder) is a UserError too."""
    from paddle_gan.models import data_spec

    try:
        return check_memory(cfg, data_spec(cfg, data))
    except ValueError as exc:
        raise UserError(str(exc)) from None
