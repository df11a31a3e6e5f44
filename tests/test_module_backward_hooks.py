"""Module backward hooks (register_full_backward_hook / register_full_backward_pre_hook) against torch 2.13."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.nn.module_torch import TorchModuleMethods

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-10, atol=1e-10)


def _pair():
    """The same float64 Linear+ReLU stack in nnlab and torch (nnlab's weight is (in, out), torch's (out, in))."""
    ours = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1), nn.ReLU(), nn.Linear(3, 2, rng=2))
    ours.double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3), torch.nn.ReLU(),
                                 torch.nn.Linear(3, 2)).double()
    with torch.no_grad():
        for i in (0, 2, 4):
            theirs[i].weight.copy_(torch.tensor(ours[i].weight.data.T))
            theirs[i].bias.copy_(torch.tensor(ours[i].bias.data))
    return ours, theirs


def _data():
    return np.random.default_rng(0).standard_normal((6, 4))


def _np(grads) -> list:
    """A hook's grad tuple (nnlab or torch tensors, arrays or None) as copies: the engines reuse gradient buffers."""
    return [None if g is None else np.array(g.detach().numpy() if isinstance(g, torch.Tensor) else getattr(g, "data", g))
            for g in grads]


@pytest.fixture(autouse=True)
def _remove_hooks_after(monkeypatch):
    """Every nnlab hook a test registers is removed after it: one left on a Linear would keep the class's hooked
    call for the tests after it."""
    kept = []
    add = TorchModuleMethods._add_hook
    monkeypatch.setattr(TorchModuleMethods, "_add_hook", lambda self, kind, hook: kept.append(add(self, kind, hook))
                        or kept[-1])
    yield
    for h in kept:
        h.remove()


def _assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(_np(ours), _np(theirs)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, **TOL)


def _backward_both(ours, theirs, x=None, requires_grad=False):
    """Run ``(out ** 2).sum()`` backward through both models; returns the input tensors."""
    x = _data() if x is None else x
    xo = nnlab.tensor(x, requires_grad=True, dtype=np.float64) if requires_grad else x
    xt = torch.tensor(x, requires_grad=requires_grad)
    (ours(xo) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    return xo, xt


def _assert_param_grads_equal(ours, theirs):
    for i in (0, 2, 4):
        np.testing.assert_allclose(ours[i].weight.grad, theirs[i].weight.grad.numpy().T, **TOL)
        np.testing.assert_allclose(ours[i].bias.grad, theirs[i].bias.grad.numpy(), **TOL)


def test_hooks_on_an_inner_layer_see_torchs_grad_input_and_grad_output():
    ours, theirs = _pair()
    seen = {"ours": [], "theirs": []}
    for key, model in (("ours", ours), ("theirs", theirs)):
        model[2].register_full_backward_pre_hook(lambda m, go, key=key: seen[key].append(("pre", _np(go))))
        model[2].register_full_backward_hook(lambda m, gi, go, key=key: seen[key].append(("full", _np(gi), _np(go))))
    _backward_both(ours, theirs)
    assert [s[0] for s in seen["ours"]] == [s[0] for s in seen["theirs"]] == ["pre", "full"]  # once each, in order
    (_, pre_o), (_, gi_o, go_o) = seen["ours"]
    (_, pre_t), (_, gi_t, go_t) = seen["theirs"]
    _assert_same(pre_o, pre_t)
    _assert_same(go_o, go_t)
    _assert_same(gi_o, gi_t)
    assert gi_o[0].any() and not go_o[0].all()  # the ReLU after the layer zeroed some of grad_output
    _assert_param_grads_equal(ours, theirs)


def test_a_returned_grad_input_changes_the_gradients_upstream_as_torchs():
    ours, theirs = _pair()
    baseline = _pair()[0]
    (baseline(_data()) ** 2).sum().backward()
    for model in (ours, theirs):
        model[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    _backward_both(ours, theirs)
    _assert_param_grads_equal(ours, theirs)
    np.testing.assert_allclose(ours[0].weight.grad, 3 * baseline[0].weight.grad, **TOL)  # upstream: scaled
    np.testing.assert_allclose(ours[2].weight.grad, baseline[2].weight.grad, **TOL)  # the layer's own: not


def test_a_pre_hook_replacing_grad_output_changes_the_layers_own_weight_grad_as_torchs():
    ours, theirs = _pair()
    baseline = _pair()[0]
    (baseline(_data()) ** 2).sum().backward()
    seen = {}
    for key, model in (("ours", ours), ("theirs", theirs)):
        model[2].register_full_backward_pre_hook(lambda m, go: (go[0] * -2 + 1,))
        model[2].register_full_backward_hook(lambda m, gi, go, key=key: seen.__setitem__(key, _np(go)))
    _backward_both(ours, theirs)
    _assert_param_grads_equal(ours, theirs)
    _assert_same(seen["ours"], seen["theirs"])  # the full hook sees the replaced grad_output
    assert not np.allclose(ours[2].weight.grad, baseline[2].weight.grad)


def test_the_first_layer_fed_a_data_array_gets_grad_input_none():
    ours, theirs = _pair()
    seen = {}
    for key, model in (("ours", ours), ("theirs", theirs)):
        model[0].register_full_backward_hook(lambda m, gi, go, key=key: seen.__setitem__(key, (gi, _np(go))))
    _backward_both(ours, theirs)
    assert seen["ours"][0] == seen["theirs"][0] == (None,)
    _assert_same(seen["ours"][1], seen["theirs"][1])
    _assert_param_grads_equal(ours, theirs)
    h = ours[0].register_full_backward_hook(lambda m, gi, go: (go[0],))  # no input requires grad: None only
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"):
        (ours(_data()) ** 2).sum().backward()
    h.remove()


def test_an_input_that_requires_grad_gets_the_hooks_grad_input_as_torchs():
    ours, theirs = _pair()
    for model in (ours, theirs):
        model[0].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
    xo, xt = _backward_both(ours, theirs, requires_grad=True)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    _assert_param_grads_equal(ours, theirs)


def test_remove_stops_the_calls():
    ours, _ = _pair()
    calls = []
    full = ours[2].register_full_backward_hook(lambda m, gi, go: calls.append("full"))
    pre = ours[2].register_full_backward_pre_hook(lambda m, go: calls.append("pre"))
    (ours(_data()) ** 2).sum().backward()
    assert calls == ["pre", "full"]
    full.remove()
    (ours(_data()) ** 2).sum().backward()
    assert calls == ["pre", "full", "pre"]
    pre.remove()
    (ours(_data()) ** 2).sum().backward()
    assert calls == ["pre", "full", "pre"]
    assert nn.Linear.__call__ is nn.Linear.forward  # no hook left: Linear's direct call again, nothing to pay


def test_a_hooked_layer_in_sequential_is_not_fused_and_gives_the_unfused_result():
    ours, theirs = _pair()
    x = _data()
    (ours(x) ** 2).sum().backward()
    fused = [p.grad.copy() for p in ours.parameters()]
    assert (ours[0], ours[1]) in ours._plan  # without hooks the Linear + ReLU pairs run as one step
    ours.zero_grad()
    seen = {}
    ours[0].register_full_backward_hook(lambda m, gi, go: seen.__setitem__("go", go[0].data.copy()))
    theirs[0].register_full_backward_hook(lambda m, gi, go: seen.__setitem__("torch", go[0].numpy().copy()))
    out = ours(x)
    assert (ours[0], None) in ours._plan and (ours[2], ours[3]) in ours._plan  # only the hooked layer runs alone
    h = x
    for layer in ours:  # the same layers one at a time
        h = layer.forward(h)
    np.testing.assert_allclose(out.data, h.data, **TOL)
    (out ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    for p, g in zip(ours.parameters(), fused):
        np.testing.assert_allclose(p.grad, g, **TOL)
    np.testing.assert_allclose(seen["go"], seen["torch"], **TOL)  # the Linear's own grad_output, before the ReLU
    assert (seen["go"] == 0).any()


@pytest.mark.parametrize("kind", ["full", "pre"])
def test_a_returned_tuple_of_the_wrong_arity_or_shape_is_refused_as_torch(kind):
    ours, theirs = _pair()
    x = _data()
    for wrong, error, words in (((None, None), RuntimeError, "invalid number of grad_"),
                                ((np.ones(3),), RuntimeError, "has changed the size of value")):
        for model, xs in ((ours, x), (theirs, torch.tensor(x))):
            hook = wrong if model is ours else tuple(None if w is None else torch.tensor(w) for w in wrong)
            if kind == "full":
                h = model[2].register_full_backward_hook(lambda m, gi, go, hook=hook: hook)
            else:
                h = model[2].register_full_backward_pre_hook(lambda m, go, hook=hook: hook)
            with pytest.raises(error, match=words):
                (model(xs) ** 2).sum().backward()
            h.remove()
    h = ours[2].register_full_backward_hook(lambda m, gi, go: gi[0])  # a tensor, not a tuple: named
    with pytest.raises(TypeError, match="must return None or a tuple of grad_input"):
        (ours(x) ** 2).sum().backward()
    h.remove()


class _Ours(nn.Module):
    def forward(self, a, b, k):
        return a * 2, b * k, a.detach()


class _Theirs(torch.nn.Module):
    def forward(self, a, b, k):
        return a * 2, b * k, a.detach()


def test_several_inputs_and_outputs_follow_torchs_none_and_zeros():
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(3)
    seen = {}
    for key, module, make in (("ours", _Ours(), lambda v, g: nnlab.tensor(v, requires_grad=g, dtype=np.float64)),
                              ("theirs", _Theirs(), lambda v, g: torch.tensor(v, requires_grad=g))):
        calls = seen[key] = []
        module.register_full_backward_pre_hook(lambda m, go, calls=calls: calls.append(_np(go)))
        module.register_full_backward_hook(lambda m, gi, go, calls=calls: calls.append((_np(gi), _np(go))))
        ta, tb, tc = make(a, True), make(b, True), make(c, False)
        out = module(ta, tb, 3.0)
        (out[0] * out[0]).sum().backward()  # out[1] unused, out[2] needs no grad
        calls.append(_np((ta.grad, tb.grad)))
        module(ta, tc, 3.0)[0].sum().backward()  # c does not require grad
    ours, theirs = seen["ours"], seen["theirs"]
    assert len(ours) == len(theirs) == 5
    assert ours[0][1] is None and ours[0][2] is None  # grad_output: None for the unused and the detached output
    _assert_same(ours[0], theirs[0])
    _assert_same(ours[3], theirs[3])
    for call in (1, 4):
        _assert_same(ours[call][0], theirs[call][0])  # grad_input: zeros for b (unreached) and c; None for k
        _assert_same(ours[call][1], theirs[call][1])
    assert ours[1][0][2] is None and not ours[1][0][1].any() and not ours[4][0][1].any()
    _assert_same(ours[2], theirs[2])  # a.grad, and b.grad: the hook's zeros, as torch


def test_an_output_used_twice_calls_the_hooks_once_per_backward():
    ours, theirs = _pair()
    counts = {"ours": [], "theirs": []}
    for key, model in (("ours", ours), ("theirs", theirs)):
        model[4].register_full_backward_pre_hook(lambda m, go, key=key: counts[key].append(_np(go)))
        model[4].register_full_backward_hook(lambda m, gi, go, key=key: counts[key].append(_np(gi)))
    x = _data()
    yo, yt = ours(x), theirs(torch.tensor(x))
    lo, lt = yo.sum() + (yo * yo).sum(), yt.sum() + (yt * yt).sum()
    lo.backward(retain_graph=True)
    lt.backward(retain_graph=True)
    lo.backward()
    lt.backward()
    assert len(counts["ours"]) == len(counts["theirs"]) == 4
    for o, t in zip(counts["ours"], counts["theirs"]):
        _assert_same(o, t)
    _assert_param_grads_equal(ours, theirs)
