"""The run's memory budget: the static trace counts what the built networks hold, scales with
the batch, and the machine's memory is read as the smaller of the machine's and a container's."""
import numpy as np
import pytest

from paddle_gan.config import make_config
from paddle_gan.errors import UserError
from paddle_gan.models import build_models, data_spec, prepare_data
from paddle_gan.train import memory
from paddle_gan.train.memory import check_memory, estimate_memory

#: the smallest run of every registered model (a model added to the registry needs a line here)
TINY_RUNS = {
    "seed": dict(dataset="mnist5k", width=4),
    "dcgan": dict(dataset="mnist5k", width=4),
    "mlp": dict(dataset="mnist5k", width=8),
    "toy": dict(dataset="ring", width=8, depth=2, num_points=1000),
    "cyclegan": dict(dataset="mnist_style", width=4, n_blocks=1, image_size=16),
}


def _tiny(model, **overrides):
    cfg = make_config({"model": model, "batch_size": 8, **TINY_RUNS[model], **overrides})
    return cfg, data_spec(cfg, prepare_data(cfg))


def test_every_registered_model_has_a_tiny_run():
    from paddle_gan.models import model_names

    assert set(model_names()) == set(TINY_RUNS)


@pytest.mark.parametrize("model", sorted(TINY_RUNS))
def test_the_trace_counts_the_parameters_of_the_built_networks(model):
    cfg, spec = _tiny(model)
    generator, discriminator = build_models(cfg, spec)
    built = sum(int(np.prod(p.shape)) for net in (generator, discriminator)
                for p in net.parameters())
    assert estimate_memory(cfg, spec).parameters == built


@pytest.mark.parametrize("model", sorted(TINY_RUNS))
def test_the_activations_grow_with_the_batch(model):
    cfg, spec = _tiny(model)
    small = estimate_memory(cfg, spec).activations
    large = estimate_memory(make_config({**vars(cfg), "batch_size": 16}), spec).activations
    assert small > 0 and large >= 1.9 * small


def test_the_trace_leaves_paddle_in_dynamic_mode_and_the_initial_weights_alone():
    import paddle

    cfg, spec = _tiny("seed")
    paddle.seed(1)
    before = build_models(cfg, spec)[0].state_dict()
    estimate_memory(cfg, spec)
    assert paddle.in_dynamic_mode()
    paddle.seed(1)
    after = build_models(cfg, spec)[0].state_dict()
    assert list(before) == list(after)
    for key in before:
        np.testing.assert_array_equal(before[key].numpy(), after[key].numpy())


def test_a_run_above_the_limit_names_the_estimate_and_the_limit():
    cfg, spec = _tiny("seed", max_memory=0.001)
    with pytest.raises(UserError, match=r"the run needs about .* GiB \(G and D: 13,958 "
                                        r"parameters.*more than --max-memory 0.001 GiB"):
        check_memory(cfg, spec)
    check_memory(make_config({**vars(cfg), "max_memory": 1.0}), spec)


def test_the_machines_memory_is_the_smaller_of_meminfo_and_the_containers_limit(tmp_path,
                                                                                monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       2048 kB\nMemFree:        1024 kB\n")
    limit = tmp_path / "memory.max"
    limit.write_text("1048576\n")
    monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
    monkeypatch.setattr(memory, "CGROUP_LIMITS", (str(limit), str(tmp_path / "none")))
    assert memory.machine_memory() == 1048576
    limit.write_text("max\n")  # cgroup v2 without a limit
    assert memory.machine_memory() == 2048 * 1024
    cfg, spec = _tiny("seed")
    with pytest.raises(UserError, match=r"more than this machine's memory \(0.00195 GiB\)"):
        check_memory(cfg, spec)
