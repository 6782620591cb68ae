"""The 2-D evaluator (`tools/eval.py` on a `--model toy` run): the mode-coverage protocol.

Protocol (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): 2,500 generated samples;
a sample is high quality if it lies within 3 sigma of its nearest mode; a mode is recovered
if it is the nearest mode of at least one high-quality sample.

Metrics (JSON keys):
* Gaussian mixtures (ring, grid): `modes` (recovered, of `num_modes`), `hq_percent`,
  `reverse_kl` (KL of the high-quality samples' mode histogram to uniform, nats), and `swd`
  (sliced Wasserstein distance to as many held-out real points).
* Image densities: `js` (Jensen-Shannon divergence, nats, between the 64x64 histogram of the
  samples and the density; points outside the unit square count against it),
  `outside_percent` and `swd`.
* Conditional runs add `class_match_percent` (mixtures: samples whose nearest mode is their
  class's mode) or `class_js` (image classes: mean over classes of each class's JS).

Conditional samples draw their classes with the target's class probabilities, so the marginal
is comparable with the unconditional target.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from paddle_gan.data.toy2d import ImageClassTarget, Mixture, dataset_target, target_density
from paddle_gan.errors import UserError
from paddle_gan.evaluation import EvalContext, EvalResult, fixed_subset, register_evaluator
from paddle_gan.io.runs import (build_generator, eval_latents, generate,
                                           latent_dim_of, load_run)
from paddle_gan.evaluation.training import TrainingMetrics, register_training_evaluator
from paddle_gan.metrics.toy2d import density_metrics, mode_metrics, sliced_wasserstein

#: The protocol's number of generated samples.
PROTOCOL_SAMPLES = 2500
#: Histogram cells per axis for the image-density JS.
JS_BINS = 64
#: Generated samples per evaluation during training (`--eval-every`).
TRAINING_SAMPLES = 2500


def class_probabilities(target: Any) -> Optional[np.ndarray]:
    """The target's class probabilities (uniform over a mixture's modes), None if unlabelled."""
    if isinstance(target, Mixture):
        return np.full(target.num_classes, 1.0 / target.num_classes)
    if isinstance(target, ImageClassTarget):
        return np.asarray(target.class_probs, dtype=np.float64)
    return None


def eval_inputs(seed: int, n: int, latent_dim: int, target: Any, conditional: bool
                ) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Evaluation latents [n, latent_dim] and, for conditional runs, classes drawn with the
    target's class probabilities."""
    z, _ = eval_latents(seed, n, latent_dim, 0)
    probs = class_probabilities(target) if conditional else None
    if probs is None:
        return z, None
    rng = np.random.default_rng([seed, 8_080_808])
    return z, rng.choice(len(probs), size=n, p=probs).astype(np.int64)


def point_metrics(samples: np.ndarray, target: Any, real: np.ndarray,
                  labels: Optional[np.ndarray] = None, seed: int = 0) -> dict[str, float]:
    """The protocol's metrics of generated `samples` [N, 2] for `target` (see the module doc).

    real: held-out real points for the sliced Wasserstein distance.
    labels: the class each sample was generated for (conditional runs) or None.
    Raises UserError for non-finite samples.
    """
    if not np.all(np.isfinite(samples)):
        raise UserError("the generator produced non-finite points")
    out: dict[str, float] = {}
    if isinstance(target, Mixture):
        out.update(mode_metrics(samples, target.centers, target.sigma))
        out["num_modes"] = target.num_classes
        if labels is not None:
            d2 = ((samples[:, None, :] - target.centers[None, :, :]) ** 2).sum(axis=-1)
            out["class_match_percent"] = float(100.0 * np.mean(np.argmin(d2, axis=1) == labels))
    else:
        out.update(density_metrics(samples, target_density(target), bins=JS_BINS))
        if labels is not None and isinstance(target, ImageClassTarget):
            per_class = [density_metrics(samples[labels == c], image, bins=JS_BINS)["js"]
                         for c, image in enumerate(target.images) if np.any(labels == c)]
            out["class_js"] = float(np.mean(per_class))
    out["swd"] = sliced_wasserstein(samples, real, seed=seed)
    return out


#: the random stream of the real points a run is scored against
REAL_POINTS_STREAM = 6_060_606


def real_points(points: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` of the real points (all when there are not more), chosen with a fixed seed."""
    return fixed_subset(points, n, seed, REAL_POINTS_STREAM)


def evaluate_toy_run(checkpoint: str, num_samples: int = PROTOCOL_SAMPLES, seed: int = 0
                     ) -> dict[str, float]:
    """The protocol's metrics for a 2-D run folder or checkpoint file."""
    from paddle_gan.models import prepare_data

    run = load_run(checkpoint, warn=lambda _: None)
    held_out = prepare_data(run.cfg, "test")
    return _score_generator(run, held_out, num_samples, seed)[0]


def _score_generator(run: Any, held_out: Any, n: int, seed: int
                     ) -> tuple[dict[str, float], np.ndarray]:
    if held_out.samples.ndim != 2:
        raise UserError(f"{run.checkpoint.path}: not a 2-D run (data of shape "
                        f"{list(held_out.samples.shape[1:])})")
    target = dataset_target(run.cfg.dataset)
    generator = build_generator(run, held_out)
    num_classes = held_out.num_classes if run.cfg.conditional else 0
    z, labels = eval_inputs(seed, n, latent_dim_of(generator, run.cfg), target, bool(num_classes))
    samples = generate(generator, z, labels, num_classes)
    real = real_points(held_out.samples, n, seed)
    return point_metrics(samples, target, real, labels, seed), samples


def evaluate_points(ctx: EvalContext) -> EvalResult:
    """Score the run's generator (or, with options.real, real training points: the floor)."""
    opts = ctx.options
    n = opts.num_samples
    target = dataset_target(ctx.run.cfg.dataset)
    if opts.real:
        samples = real_points(ctx.train_data.samples, n, opts.seed + 1)
        metrics = point_metrics(samples, target, real_points(ctx.held_out.samples, n, opts.seed),
                                seed=opts.seed)
        source = f"{len(samples)} real training points"
    else:
        metrics, samples = _score_generator(ctx.run, ctx.held_out, n, opts.seed)
        source = f"{len(samples)} generated points (latent seed {opts.seed})"
    ctx.say(f"scoring {source} against {ctx.run.cfg.dataset} "
            f"({'mode coverage' if isinstance(target, Mixture) else 'density histogram'})")
    info = {"samples": source, "num_samples": int(len(samples)),
            "protocol": f"{PROTOCOL_SAMPLES} samples, high quality within 3 sigma"
            if isinstance(target, Mixture) else f"JS on a {JS_BINS}x{JS_BINS} histogram"}
    if isinstance(target, Mixture) and len(samples) != PROTOCOL_SAMPLES:
        info["protocol_note"] = (f"the published protocol uses {PROTOCOL_SAMPLES} samples; "
                                 f"these used {len(samples)}")
    return EvalResult(dict(metrics), info)


def point_training_metrics(cfg: Any, trainer: Any) -> TrainingMetrics:
    """The protocol metrics on fixed latents every `eval_every` steps; the best run has the
    lowest sliced Wasserstein distance to held-out points."""
    from paddle_gan.models import prepare_data

    target = dataset_target(cfg.dataset)
    real = real_points(prepare_data(cfg, "test").samples, TRAINING_SAMPLES, cfg.seed)
    num_classes = trainer.num_classes
    z, labels = eval_inputs(cfg.seed, TRAINING_SAMPLES, latent_dim_of(trainer.G, cfg), target,
                            bool(num_classes))

    def compute(trainer: Any) -> dict[str, float]:
        sampler = trainer.sampler
        was_training = sampler.training
        sampler.eval()
        try:
            samples = generate(sampler, z, labels, num_classes)
        finally:
            if was_training:
                sampler.train()
        return {k: float(v) for k, v in point_metrics(samples, target, real, labels,
                                                      cfg.seed).items()}

    return TrainingMetrics(compute, "swd")


register_evaluator("points", evaluate_points)
register_training_evaluator("points", point_training_metrics)
