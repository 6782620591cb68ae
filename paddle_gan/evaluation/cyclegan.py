"""`tools/eval.py` for CycleGAN runs (checkpoint kind "cyclegan"): the metrics of
:func:`paddle_gan.metrics.cyclegan.evaluate_translation` on the data set's test split.

Built-in MNIST style task: digit preservation with the shipped MNIST classifier, cycle L1, and
FID to the target domain in that classifier's features (or Inception's with
--inception-weights). Folder data: cycle L1, and Inception FID when --inception-weights is given.
"""
from __future__ import annotations

import time
from typing import Optional

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.errors import UserError
from paddle_gan.evaluation import EvalContext, EvalResult, register_evaluator
from paddle_gan.evaluation.features import (FeatureExtractor, inception_extractor,
                                            mnist_extractor)
from paddle_gan.metrics.cyclegan import evaluate_translation
from paddle_gan.models import DataSpec
from paddle_gan.models.cyclegan import GeneratorPair, build


def load_generators_of(ctx: EvalContext, shape: tuple[int, ...]) -> GeneratorPair:
    """The run's GeneratorPair rebuilt from its config, weights restored, in eval mode."""
    try:
        generators, _ = build(ctx.run.cfg, DataSpec(tuple(shape)))
    except ValueError as exc:
        raise UserError(f"{ctx.run.checkpoint.path}: cannot rebuild its model: {exc}") from None
    ckpt_io.restore(ctx.run.checkpoint, {"G": generators}, {})
    generators.eval()
    return generators


def evaluate_cyclegan(ctx: EvalContext) -> EvalResult:
    """Translate the whole test split both ways and score it (--num-samples does not apply)."""
    opts = ctx.options
    if opts.real:
        raise UserError("--real does not apply to cyclegan runs (there is no sampler to compare)")
    started = time.perf_counter()
    data = ctx.held_out
    generators = load_generators_of(ctx, data.samples.shape[1:])
    classifier: Optional[FeatureExtractor] = mnist_extractor(opts.batch_size) if data.style_b else None
    if opts.inception_weights:
        feature_space = inception_extractor(opts.inception_weights, min(opts.batch_size, 50),
                                            opts.trust_checkpoint)
    else:
        feature_space = classifier  # None for folder data: no FID without Inception weights
    ctx.say(f"translating {len(data.samples)} A and {len(data.samples_b)} B test images "
            f"({data.note or data.name})")
    metrics = evaluate_translation(
        generators, data,
        classify=(lambda x: classifier.extract(x)[1]) if classifier else None,
        features=(lambda x: feature_space.extract(x)[0]) if feature_space else None,
        batch_size=opts.batch_size)
    info = {"feature_space": feature_space.name if feature_space else "none",
            "feature_note": (feature_space.note if feature_space else
                             "no FID: pass --inception-weights for Inception FID on folder data"),
            "real_data": data.note or data.name,
            "num_A": int(len(data.samples)), "num_B": int(len(data.samples_b)),
            "seconds": {"total": round(time.perf_counter() - started, 2)}}
    return EvalResult(metrics, info)


register_evaluator("cyclegan", evaluate_cyclegan)
