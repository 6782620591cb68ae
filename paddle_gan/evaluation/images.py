"""The image-GAN evaluator: samples vs the held-out real images in a feature space.

Metrics (JSON keys): fid, kid, kid_std (unbiased MMD^2 with the cubic kernel, mean and std
over 100 subsets), inception_score (+ inception_score_std), precision and recall (k-NN
manifolds, k=3, on equally many real and generated samples), classes_covered and class_kl
(classes predicted with confidence >= 0.5 at least once; KL of the predicted-class histogram to
uniform). Metrics that need class probabilities are None in a feature space without a
classifier.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Optional

import numpy as np
from scipy.linalg import LinAlgWarning

from paddle_gan.errors import UserError
from paddle_gan.evaluation import EvalContext, EvalResult, fixed_subset, register_evaluator
from paddle_gan.evaluation.features import FeatureExtractor, choose_extractor
from paddle_gan.evaluation.memorisation import RealScoreProbe
from paddle_gan.io.runs import eval_latents, generate, latent_dim_of, sample_run
from paddle_gan.evaluation.training import TrainingMetrics, register_training_evaluator
from paddle_gan.metrics import class_coverage, fid, inception_score, kid, precision_recall

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3
COVERAGE_THRESHOLD = 0.5
#: Metric keys every image evaluation reports, in table order.
METRIC_KEYS = ("fid", "kid", "kid_std", "inception_score", "inception_score_std", "precision",
               "recall", "classes_covered", "class_kl")


#: random streams of the subsets: the equal-size features of precision / recall, real images
EQUAL_SIZE_STREAM = 31337
REAL_SUBSET_STREAM = 4242


def _equal_size(a: np.ndarray, b: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Subsample the larger of two feature sets (fixed seed) to the size of the smaller."""
    n = min(len(a), len(b))
    return (fixed_subset(a, n, seed, EQUAL_SIZE_STREAM),
            fixed_subset(b, n, seed, EQUAL_SIZE_STREAM))


def image_metrics(real_feats: np.ndarray, fake_feats: np.ndarray,
                  fake_probs: Optional[np.ndarray], seed: int = 0,
                  kid_subsets: int = KID_SUBSETS) -> dict[str, Optional[float]]:
    """Every image metric of generated features against real ones (None where not defined).

    Args:
        real_feats: [N_r, D] features of the reference images.
        fake_feats: [N_f, D] features of the evaluated images.
        fake_probs: [N_f, K] class probabilities of the evaluated images, or None (no
            classifier: inception_score, classes_covered and class_kl are None).
        seed: seed of KID's subsets, the precision/recall subsample and the IS shuffle.
        kid_subsets: KID's number of subsets.

    Returns:
        {key: value} for every key of METRIC_KEYS, in that order.

    Raises UserError when the metrics reject the inputs (e.g. non-finite samples).
    """
    try:
        with warnings.catch_warnings():  # a collapsed generator's covariance is singular: the
            warnings.simplefilter("ignore", LinAlgWarning)  # fid guard handles it, quietly
            out: dict[str, Optional[float]] = {"fid": fid(real_feats, fake_feats)}
        out["kid"], out["kid_std"] = kid(real_feats, fake_feats, num_subsets=kid_subsets,
                                         subset_size=KID_SUBSET_SIZE, seed=seed)
        out["inception_score"] = out["inception_score_std"] = None
        out["classes_covered"] = out["class_kl"] = None
        if fake_probs is not None:
            # The score's splits are contiguous chunks: shuffle (fixed seed) so that data
            # stored by class (e.g. real images with --real) do not make each chunk one class.
            order = np.random.default_rng([seed, 99]).permutation(len(fake_probs))
            splits = min(10, len(fake_probs))
            out["inception_score"], out["inception_score_std"] = inception_score(
                fake_probs[order], splits)
            covered, kl = class_coverage(fake_probs, threshold=COVERAGE_THRESHOLD)
            out["classes_covered"], out["class_kl"] = int(covered), float(kl)
        real_pr, fake_pr = _equal_size(real_feats, fake_feats, seed)
        out["precision"], out["recall"] = precision_recall(real_pr, fake_pr, k=PR_K)
    except ValueError as exc:
        raise UserError(f"cannot compute the metrics: {exc}") from None
    return {k: out[k] for k in METRIC_KEYS}


def extractor_for(ctx: EvalContext) -> FeatureExtractor:
    """The feature space for this run's data (see `choose_extractor`)."""
    data = ctx.held_out
    return choose_extractor(data.name, data.samples.shape[1], ctx.options.inception_weights,
                            ctx.options.batch_size, ctx.options.trust_checkpoint)


def evaluate_images(ctx: EvalContext) -> EvalResult:
    """Score the run's generator (or, with options.real, real training images) against the
    held-out images."""
    opts, say = ctx.options, ctx.say
    timing: dict[str, float] = {}
    started = time.perf_counter()
    extractor = extractor_for(ctx)  # fails fast on a bad --inception-weights
    reference = ctx.held_out
    if opts.real:
        samples = fixed_subset(ctx.train_data.samples, opts.num_samples, opts.seed,
                               REAL_SUBSET_STREAM)
        source = f"real training images ({len(samples)} of {len(ctx.train_data)})"
    else:
        tick = time.perf_counter()
        samples = np.clip(sample_run(ctx.run, reference, opts.num_samples, opts.seed,
                                     opts.batch_size), 0.0, 1.0)
        timing["generate"] = time.perf_counter() - tick
        source = f"{len(samples)} generated samples (latent seed {opts.seed})"
    if not np.all(np.isfinite(samples)):
        raise UserError(f"{ctx.run.checkpoint.path}: the generator produced non-finite values")
    say(f"scoring {source} against {len(reference)} held-out images "
        f"({reference.note or reference.name}) in {extractor.name} features")
    tick = time.perf_counter()
    real_feats, _ = extractor.extract(reference.samples)
    fake_feats, fake_probs = extractor.extract(samples)
    timing["features"] = time.perf_counter() - tick
    tick = time.perf_counter()
    metrics = image_metrics(real_feats, fake_feats, fake_probs, seed=opts.seed,
                            kid_subsets=opts.kid_subsets)
    timing["metrics"] = time.perf_counter() - tick
    timing["total"] = time.perf_counter() - started
    info = {
        "feature_space": extractor.name,
        "feature_note": extractor.note,
        "samples": source,
        "num_samples": int(len(samples)),
        "num_real": int(len(reference)),
        "real_data": reference.note or reference.name,
        "precision_recall_size": int(min(len(samples), len(reference))),
        "kid_subsets": opts.kid_subsets,
        "seconds": {k: round(v, 2) for k, v in timing.items()},
    }
    return EvalResult(metrics, info)


# --------------------------------------------------------------------------- during training
#: Generated samples and (at most) held-out images per evaluation during training.
EVAL_SAMPLES = 1000
EVAL_REAL = 1000
#: KID subsets during training (fewer than offline: it runs often).
EVAL_KID_SUBSETS = 20


def image_training_metrics(cfg: Any, trainer: Any) -> TrainingMetrics:
    """FID, KID, Inception Score and classes covered of EVAL_SAMPLES fixed-latent samples
    against up to EVAL_REAL fixed held-out images, in the run's feature space; and D's mean
    score on EVAL_REAL training and as many held-out images (`RealScoreProbe`)."""
    from paddle_gan.models import prepare_data

    held_out = prepare_data(cfg, "test")
    extractor = choose_extractor(held_out.name, held_out.samples.shape[1])
    real_feats, _ = extractor.extract(fixed_subset(held_out.samples, EVAL_REAL, cfg.seed,
                                                        REAL_SUBSET_STREAM))
    num_classes = held_out.num_classes if cfg.conditional else 0
    z, labels = eval_latents(cfg.seed, EVAL_SAMPLES, latent_dim_of(trainer.G, cfg), num_classes)
    real_scores = RealScoreProbe(trainer.data, held_out, EVAL_REAL, cfg.seed,
                                 getattr(trainer.G, "output_range", (0.0, 1.0)), num_classes)

    def compute(trainer: Any) -> dict[str, float]:
        sampler = trainer.sampler
        was_training = sampler.training
        sampler.eval()
        try:
            samples = np.clip(generate(sampler, z, labels, num_classes), 0.0, 1.0)
        finally:
            if was_training:
                sampler.train()
        feats, probs = extractor.extract(samples)
        found = image_metrics(real_feats, feats, probs, cfg.seed, EVAL_KID_SUBSETS)
        keys = ("fid", "kid", "inception_score", "classes_covered", "precision", "recall")
        values = {k: float(found[k]) for k in keys if found[k] is not None}
        values.update(real_scores(trainer.D))  # is D memorising its training images?
        return values

    return TrainingMetrics(compute, "fid")


register_evaluator("images", evaluate_images)
register_training_evaluator("images", image_training_metrics)
