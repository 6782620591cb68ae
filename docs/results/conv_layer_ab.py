"""Every convolution call of a training step timed on Paddle's own kernel and on oneDNN.

For each row (a config), one iteration of the suite's own step (train/steps.py's d_step and
g_step) is run with forward hooks on every `Conv2D` of G and D, recording each call: the layer,
its input's shape, and which gradients the step's backward asks of it (the input's, in a G step
through D or in D's later layers; the weights', unless the network is frozen or under
`no_grad`). Each distinct call is then timed as a forward and that backward on a copy of the
layer, Paddle's own convolution (A) against a one-layer oneDNN program (`CompiledConv`, B), in
alternating rounds; medians. Writes docs/results/conv_layer_ab.md.

    python docs/results/conv_layer_ab.py [ROW ...]
"""
import copy
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import paddle_gan  # noqa: E402,F401  (CPU settings before Paddle loads)
import numpy as np  # noqa: E402
import paddle  # noqa: E402

from paddle_gan.config import CONFIG_DIR, make_config  # noqa: E402
from paddle_gan.models import prepare_data  # noqa: E402
from paddle_gan.perf.benchmark import bare_iteration, first_batch  # noqa: E402
from paddle_gan.perf.torch_reference import REFERENCE_ROWS, alternate  # noqa: E402
from paddle_gan.runtime import setup_runtime, usable_cores  # noqa: E402
from paddle_gan.stamp import code_commit, describe_machine, machine  # noqa: E402
from paddle_gan.train.run import build_trainer  # noqa: E402
from paddle_gan.train.speed import CompiledConv, onednn_flag  # noqa: E402

start = time.perf_counter()
threads = usable_cores()
setup_runtime("cpu", threads)
wanted = sys.argv[1:] or ["quickstart", "seed w32 gan", "dcgan mnist"]


def recorded_calls(trainer, batch):
    """(net, layer name, layer, input shape, input grad, weight grad) of one iteration."""
    calls, handles = [], []
    for net_name, net in (("G", trainer.G), ("D", trainer.D)):
        names = {id(layer): name for name, layer in net.named_sublayers()}
        for layer in [sub for sub in net.sublayers() if isinstance(sub, paddle.nn.Conv2D)]:
            def hook(layer, inputs, output, net_name=net_name, names=names):
                x = inputs[0]
                weight_grad = paddle.is_grad_enabled() and not layer.weight.stop_gradient
                input_grad = paddle.is_grad_enabled() and not x.stop_gradient
                if weight_grad or input_grad or not paddle.is_grad_enabled():
                    calls.append((net_name, names[id(layer)], layer, tuple(x.shape), input_grad,
                                  weight_grad))
            handles.append(layer.register_forward_post_hook(hook))
    bare_iteration(trainer, batch)
    for handle in handles:
        handle.remove()
    unique = {}
    for call in calls:
        unique.setdefault((call[0], call[1], call[3], call[4], call[5]), call)
    return list(unique.values())


def timed(layer, shape, input_grad, weight_grad, on_onednn):
    layer = copy.deepcopy(layer)
    if on_onednn:
        layer.forward = CompiledConv(layer)
    for param in layer.parameters():
        param.stop_gradient = not weight_grad
    x = paddle.randn(list(shape))
    x.stop_gradient = not input_grad
    backward = input_grad or weight_grad

    def run():
        with onednn_flag(on_onednn):
            if backward:
                out = layer(x)
                out.sum().backward()
                layer.clear_gradients()
                x.clear_gradient()
            else:
                with paddle.no_grad():
                    layer(x)
    return run


lines = []
for name, config, extra in REFERENCE_ROWS:
    if name not in wanted:
        continue
    cfg = make_config({"dataset": "mnist5k", "threads": threads, "onednn": False, **extra},
                      os.path.join(CONFIG_DIR, config) if config else None)
    trainer = build_trainer(cfg, prepare_data(cfg), "/tmp/conv_layer_ab", "cpu")
    for net, layer_name, layer, shape, input_grad, weight_grad in recorded_calls(
            trainer, first_batch(trainer)):
        grads = "+".join(g for g, on in (("dx", input_grad), ("dW", weight_grad)) if on)
        native, onednn = alternate(timed(layer, shape, input_grad, weight_grad, False),
                                   timed(layer, shape, input_grad, weight_grad, True),
                                   rounds=6, per_round=5, warmup=3)
        a, b = float(np.median(native)) * 1e3, float(np.median(onednn)) * 1e3
        row = (f"| {name} | {net}.{layer_name} | {layer._in_channels} -> {layer._out_channels}, "
               f"k{layer._kernel_size[0]} s{layer._stride[0]} | {list(shape)} | "
               f"{grads or 'forward only'} | {a:.2f} | {b:.2f} | **{b / a:.2f}** |")
        print(row, flush=True)
        lines.append(row)

command = "python docs/results/conv_layer_ab.py" + (" " + " ".join(
    f"'{w}'" for w in sys.argv[1:]) if sys.argv[1:] else "")
text = (f"<!-- generated by `{command}`; do not edit by hand -->\n"
        f"- command: `{command}`\n- commit: {code_commit()}\n"
        f"- machine: {describe_machine(machine())}, {threads} threads, "
        f"load {os.getloadavg()[0]:.2f}\n"
        f"- wall time: {time.perf_counter() - start:.0f} s\n\n"
        "Each convolution call of one training iteration (one D step and one G step on the "
        "row's first batch), as a forward and the backward the step asks of it, on a copy of "
        "the layer: Paddle's own kernel (A) against a one-layer oneDNN program (B); medians "
        "of 6 alternating rounds of 5 calls.\n\n"
        "| row | layer | channels, kernel, stride | input | gradients | Paddle ms | oneDNN ms "
        "| oneDNN / Paddle |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")
with open(os.path.join(ROOT, "docs", "results", "conv_layer_ab.md"), "w",
          encoding="utf-8") as handle:
    handle.write(text)
print(text)
