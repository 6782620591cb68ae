"""A finished run's hyper-parameters and final metrics for VisualDL's HParams tab.

`visualdl --logdir work/runs` shows one row per run folder: the hyper-parameters below and, as
metrics, the last logged value of every scalar the run wrote (d_loss, g_loss, the scores, gp /
wasserstein, and eval/fid etc. when `--eval-every` evaluated during training). VisualDL reads a
metric's value from the run's scalar of the same tag, so no value is duplicated here.
"""
from __future__ import annotations

from typing import Any, Iterable, Union

#: The config keys shown as hyper-parameters (values None are left out).
HPARAM_KEYS = ("model", "loss", "dataset", "conditional", "k", "optimizer", "lr_g", "lr_d",
               "beta1", "beta2", "weight_clip", "gp_lambda", "clip_grad", "label_smoothing",
               "batch_size", "width", "latent_dim", "activation", "d_norm", "d_batches",
               "d_head", "seed")

HParamValue = Union[str, int, float]


def _loss_uses(cfg: Any, key: str) -> bool:
    """False for a loss constant the run's loss ignores (weight_clip / gp_lambda are filled in
    for every loss)."""
    from paddle_gan.losses import LOSSES

    spec = LOSSES.get(cfg.loss)
    if spec is None:
        return True
    return {"weight_clip": spec.weight_clipping, "gp_lambda": spec.gradient_penalty}.get(key, True)


def hparam_values(cfg: Any, steps: int) -> dict[str, HParamValue]:
    """The run's hyper-parameters as VisualDL types (bools as "true"/"false"), plus `steps`;
    unset values and the constants of other losses (WGAN's clip for a WGAN-GP run) are left out."""
    values: dict[str, HParamValue] = {}
    for key in HPARAM_KEYS:
        value = getattr(cfg, key, None)
        if value is None or not _loss_uses(cfg, key):
            continue
        values[key] = ("true" if value else "false") if isinstance(value, bool) else value
    values["steps"] = int(steps)
    return values


def metric_tags(scalar_tags: Iterable[str]) -> list[str]:
    """The metrics to show: every scalar tag the run logged, losses first, eval/ metrics last."""
    tags = sorted(set(scalar_tags))
    return sorted(tags, key=lambda t: (t.startswith("eval/"), not t.endswith("loss"), t))


def write_hparams(trainer: Any) -> dict[str, HParamValue]:
    """Record the trainer's hyper-parameters with its scalar tags as metrics; returns them."""
    values = hparam_values(trainer.cfg, trainer.step)
    trainer.monitor.hparams(values, metric_tags(trainer.monitor.scalar_tags))
    return values
