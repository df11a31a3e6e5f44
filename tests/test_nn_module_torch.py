"""PyTorch's Module methods: forward hooks (against torch), add_module, register_parameter, to, summary."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")


def _pair():
    ours = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for i in (0, 2):
            theirs[i].weight.copy_(torch.tensor(ours[i].weight.data.T))
            theirs[i].bias.copy_(torch.tensor(ours[i].bias.data))
    return ours, theirs


def test_forward_hooks_see_and_replace_what_torchs_do():
    ours, theirs = _pair()
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    seen = {}
    # the Linear + ReLU pair runs fused without hooks; with one, each layer's own output is seen
    h1 = ours[0].register_forward_hook(lambda m, args, out: seen.__setitem__("ours", out.data.copy()))
    t1 = theirs[0].register_forward_hook(lambda m, args, out: seen.__setitem__("theirs", out.detach().numpy()))
    h2 = ours[2].register_forward_hook(lambda m, args, out: out * 2)  # a returned value replaces the output
    t2 = theirs[2].register_forward_hook(lambda m, args, out: out * 2)
    p1 = ours[2].register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    tp = theirs[2].register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    out = ours(x)
    ref = theirs(torch.tensor(x))
    np.testing.assert_allclose(seen["ours"], seen["theirs"], rtol=1e-5, atol=1e-6)
    assert (seen["ours"] < 0).any()  # the Linear's output before the ReLU, not the fused pair's
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours[0].weight.grad, theirs[0].weight.grad.numpy().T, rtol=1e-5, atol=1e-5)
    for handle in (h1, h2, p1, t1, t2, tp):
        handle.remove()
    assert nn.Linear.__call__ is nn.Linear.forward  # no hook left: Linear's direct call again
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_hooks_on_a_subclass_and_its_parent_both_run():
    class Scaled(nn.Linear):
        pass

    calls = []
    layer, sub = nn.Linear(2, 2, rng=0), Scaled(2, 2, rng=0)
    with layer.register_forward_hook(lambda m, a, o: calls.append("parent")):
        with sub.register_forward_hook(lambda m, a, o: calls.append("sub")):
            layer(np.ones((1, 2))), sub(np.ones((1, 2)))
    layer(np.ones((1, 2))), sub(np.ones((1, 2)))
    assert calls == ["parent", "sub"]


def test_registration_by_name_as_torch():
    m = nn.Module()
    m.add_module("fc", nn.Linear(2, 3, rng=0))
    m.register_parameter("scale", nn.Parameter(np.ones(3)))
    t = torch.nn.Module()
    t.add_module("fc", torch.nn.Linear(2, 3))
    t.register_parameter("scale", torch.nn.Parameter(torch.ones(3)))
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert m.get_parameter("fc.bias").shape == (3,)
    for call, message in [(lambda: m.add_module("a.b", nn.ReLU()), "without '.'"),
                          (lambda: m.add_module("x", 3), "must be a Module"),
                          (lambda: m.register_parameter("train", nn.Parameter(np.ones(1))), "already has an attribute"),
                          (lambda: m.get_parameter("fc.gamma"), "no parameter 'gamma'")]:
        with pytest.raises(ConfigError, match=message):
            call()
    assert m.state_dict(keep_vars=True)["scale"] is m.scale.data


def test_to_cpu_and_dtype():
    layer = nn.Linear(2, 2, rng=0)
    assert layer.to("cpu") is layer and layer.cpu() is layer
    assert layer.to(np.float64).weight.dtype == np.float64
    assert layer.to("cpu", dtype="float32").weight.dtype == np.float32
    with pytest.raises(ConfigError, match="CPU only"):
        layer.to("cuda")


def test_summary_lists_layers_shapes_parameters_and_flops():
    lines = []
    nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).summary(print_fn=lines.append)
    text = lines[0]
    assert "(8,)" in text and "(3,)" in text and "total parameters: 67 (trainable 67)" in text
    conv = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten())
    with pytest.raises(ConfigError, match="give input_shape"):
        conv.summary()
    conv.summary(input_shape=(1, 10), print_fn=lines.append)
    assert "(2, 8)" in lines[1] and "(16,)" in lines[1]
