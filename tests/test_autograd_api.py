"""nnlab.autograd.grad / backward, Tensor hooks, retain_grad, grad_fn and inference_mode against torch 2.x."""

import numpy as np
import pytest

import nnlab
from nnlab import _backprop, _hooks

torch = pytest.importorskip("torch")

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
W = np.array([[1.0, -2.0], [0.5, 0.0], [-1.5, 1.0]], dtype=np.float32)


def _graph(lib, requires_grad=True):
    """x (2, 3) and w (3, 2) leaves, h = exp(x) @ w (intermediate), loss = sum(h * h)."""
    x = lib.tensor(X, requires_grad=requires_grad)
    w = lib.tensor(W, requires_grad=requires_grad)
    h = lib.exp(x) @ w
    return x, w, h, (h * h).sum()


def _close(ours, theirs):
    assert ours is not None and theirs is not None
    got = ours.numpy() if isinstance(ours, nnlab.Tensor) else np.asarray(ours)
    np.testing.assert_allclose(got, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ grad
def test_grad_of_leaves_and_an_intermediate_matches_torch_and_leaves_dot_grad_alone():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    w.grad = np.full(W.shape, 7.0, dtype=np.float32)  # an earlier gradient: grad() must not add to it
    gx, gw, gh = nnlab.autograd.grad(loss, [x, w, h])
    for ours, theirs in zip((gx, gw, gh), torch.autograd.grad(tloss, [tx, tw, th])):
        _close(ours, theirs)
        assert isinstance(ours, nnlab.Tensor) and not ours.requires_grad and ours.dtype == np.float32
    assert x.grad is None and h.grad is None
    np.testing.assert_array_equal(w.grad, 7.0)


def test_grad_keeps_float64_and_accepts_one_tensor_for_outputs_and_inputs():
    x = nnlab.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (g,) = nnlab.autograd.grad((x * x * x).sum(), x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])


def test_grad_with_several_outputs_and_grad_outputs_matches_torch():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    up = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    ours = nnlab.autograd.grad([h, loss], [x, w], grad_outputs=[nnlab.tensor(up), None])
    theirs = torch.autograd.grad([th, tloss], [tx, tw], grad_outputs=[torch.tensor(up), None])
    for a, b in zip(ours, theirs):
        _close(a, b)


def test_grad_frees_the_graph_unless_retain_graph_then_backward_matches_torch():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    nnlab.autograd.grad(loss, [x], retain_graph=True)
    torch.autograd.grad(tloss, [tx], retain_graph=True)
    loss.backward()
    tloss.backward()
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)
    x, w, h, loss = _graph(nnlab)
    nnlab.autograd.grad(loss, [x])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_grad_runs_only_the_nodes_toward_the_inputs():
    x, w, h, loss = _graph(nnlab)
    nnlab.autograd.grad(loss, [h])  # h's own backward (exp, matmul) is not needed and stays
    assert h.grad_fn.name() != "ReleasedBackward"
    loss2 = (h * 2).sum()
    loss2.backward()
    np.testing.assert_allclose(w.grad, np.exp(X).T @ np.full((2, 2), 2.0), rtol=1e-6)


def test_grad_does_not_carry_out_a_pending_zero_of_a_parameter():
    layer = nnlab.nn.Linear(3, 2)
    opt = nnlab.optim.SGD(layer.parameters(), lr=0.1)
    layer(nnlab.tensor(X)).sum().backward()
    opt.zero_grad()
    gw, gb = nnlab.autograd.grad(layer(nnlab.tensor(X)).sum(), [layer.weight, layer.bias])
    np.testing.assert_allclose(gw.numpy(), X.T @ np.ones((2, 2)), rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(layer.weight.grad, 0.0)  # still the zeros zero_grad asked for
    np.testing.assert_array_equal(layer.bias.grad, 0.0)


def test_unused_inputs_as_torch():
    a, b = nnlab.tensor([1.0, 2.0], requires_grad=True), nnlab.tensor([1.0], requires_grad=True)
    ta, tb = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used in the graph"):
        nnlab.autograd.grad((a * 2).sum(), [a, b])
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used in the graph"):
        torch.autograd.grad((ta * 2).sum(), [ta, tb])
    ga, gb = nnlab.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    tga, tgb = torch.autograd.grad((ta * 2).sum(), [ta, tb], allow_unused=True)
    _close(ga, tga)
    assert gb is None and tgb is None
    _, gb = nnlab.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
    _, tgb = torch.autograd.grad((ta * 2).sum(), [ta, tb], materialize_grads=True)
    _close(gb, tgb)
    for lib, x, y in ((nnlab, a, b), (torch, ta, tb)):
        with pytest.raises(ValueError, match="allow_unused to be True or not passed"):
            lib.autograd.grad((x * 2).sum(), [x, y], allow_unused=False, materialize_grads=True)


@pytest.mark.parametrize("case", ["non_scalar", "input_no_grad", "output_no_grad", "shape", "empty_inputs"])
def test_grad_errors_are_torchs(case):
    def call(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        if case == "non_scalar":
            return lib.autograd.grad(a * 2, a)
        if case == "input_no_grad":
            return lib.autograd.grad((a * 2).sum(), lib.tensor([1.0]))
        if case == "output_no_grad":
            return lib.autograd.grad(lib.tensor(1.0), a)
        if case == "shape":
            return lib.autograd.grad(a * 2, a, lib.ones(3))
        return lib.autograd.grad((a * 2).sum(), [])

    with pytest.raises(RuntimeError) as theirs:
        call(torch)
    with pytest.raises(RuntimeError) as ours:
        call(nnlab)
    expected = str(theirs.value).split(". ")[0].replace("torch.Size([3])", "(3,)").replace("torch.Size([2])", "(2,)")
    assert expected in str(ours.value)


def test_create_graph_is_refused_clearly():
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="higher-order gradients"):
        nnlab.autograd.grad((a * a).sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        (a * a).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        nnlab.autograd.backward((a * a).sum(), create_graph=True)
    assert a.grad is None


def test_grad_refuses_what_is_not_a_tensor():
    a = nnlab.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        nnlab.autograd.grad((a * 2).sum(), [a, 3.0])


# -------------------------------------------------------------------------------------- backward
def test_autograd_backward_with_several_tensors_and_grad_tensors_matches_torch():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    up = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    nnlab.autograd.backward([h, loss], [nnlab.tensor(up), None])
    torch.autograd.backward([th, tloss], [torch.tensor(up), None])
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)


@pytest.mark.parametrize("how", ["function", "method"])
def test_backward_inputs_fills_only_those_a_non_leaf_too_as_torch(how):
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    if how == "function":
        nnlab.autograd.backward(loss, inputs=[w, h])
    else:
        loss.backward(inputs=[w, h])
    torch.autograd.backward(tloss, inputs=[tw, th])
    _close(w.grad, tw.grad)
    _close(h.grad, th.grad)
    assert x.grad is None and tx.grad is None


# ------------------------------------------------------------------------------------ retain_grad
def test_retain_grad_keeps_and_accumulates_a_non_leaf_gradient_as_torch():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    h.retain_grad()
    loss.retain_grad()
    th.retain_grad()
    tloss.retain_grad()
    assert h.retains_grad and th.retains_grad
    loss.backward(retain_graph=True)
    tloss.backward(retain_graph=True)
    _close(h.grad, th.grad)
    _close(loss.grad, tloss.grad)
    loss.backward()
    tloss.backward()
    _close(h.grad, th.grad)
    _close(x.grad, tx.grad)


def test_retain_grad_on_a_leaf_does_nothing_and_without_grad_is_refused():
    x = nnlab.tensor([1.0], requires_grad=True)
    x.retain_grad()
    assert not x.retains_grad and not torch.tensor([1.0], requires_grad=True).retains_grad
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        nnlab.tensor([1.0]).retain_grad()
    h = x * 2
    assert not h.retains_grad
    (h * 3).sum().backward()
    assert h.grad is None  # only a retained non-leaf keeps its gradient


def test_grad_fills_a_retained_intermediate_as_torch():
    x, w, h, loss = _graph(nnlab)
    tx, tw, th, tloss = _graph(torch)
    h.retain_grad()
    th.retain_grad()
    nnlab.autograd.grad(loss, [x])
    torch.autograd.grad(tloss, [tx])
    _close(h.grad, th.grad)
    assert x.grad is None


# ------------------------------------------------------------------------------------------ hooks
def _hooked(lib, log):
    x, w, h, loss = _graph(lib)
    x.register_hook(lambda g: log.append(("x", g.numpy().copy())) or g * 10)
    h.retain_grad()
    h.register_hook(lambda g: log.append(("h", g.numpy().copy())) or g * 2)
    return x, w, h, loss


def test_hooks_on_a_leaf_and_a_non_leaf_replace_the_gradient_as_torch():
    ours, theirs = [], []
    x, w, h, loss = _hooked(nnlab, ours)
    tx, tw, th, tloss = _hooked(torch, theirs)
    loss.backward()
    tloss.backward()
    assert [name for name, _ in ours] == [name for name, _ in theirs] == ["h", "x"]
    for (_, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    _close(h.grad, th.grad)  # retain_grad stores the hook's result: it runs last
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)


def test_hooks_run_in_grad_and_change_what_it_returns_as_torch():
    ours, theirs = [], []
    x, w, h, loss = _hooked(nnlab, ours)
    tx, tw, th, tloss = _hooked(torch, theirs)
    for inputs in ([0, 1], [1]):  # h's gradient before its hooks when x is behind it, after them alone
        got = nnlab.autograd.grad(loss, [(x, h)[i] for i in inputs], retain_graph=True)
        for a, b in zip(got, torch.autograd.grad(tloss, [(tx, th)[i] for i in inputs], retain_graph=True)):
            _close(a, b)
    assert [name for name, _ in ours] == [name for name, _ in theirs] == ["h", "x", "h"]
    assert x.grad is None
    _close(h.grad, th.grad)


def test_a_hook_sees_the_summed_gradient_once():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 3
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h * h + h).sum().backward()  # three uses of h: one call with their sum
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * np.array([3.0, 6.0]) + 1)


def test_a_removed_hook_is_not_called_and_an_ndarray_result_is_taken():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    x.register_hook(lambda g: np.asarray(g.numpy() + 1, dtype=np.float64))
    handle.remove()
    handle.remove()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert x.grad.dtype == np.float32
    with x.register_hook(lambda g: g * 0):
        pass  # the handle as a context manager removes the hook on exit
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_a_hook_on_a_parameter_changes_what_the_optimizer_sees():
    layer = nnlab.nn.Linear(3, 2)
    layer.bias.register_hook(lambda g: g * 0)
    before = layer.bias.data.copy()
    opt = nnlab.optim.SGD(layer.parameters(), lr=0.5)
    opt.zero_grad()
    layer(nnlab.tensor(X)).sum().backward()
    opt.step()
    np.testing.assert_array_equal(layer.bias.data, before)


def test_hook_errors_are_torchs():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        nnlab.tensor([1.0]).register_hook(print)
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 1).sum().backward()
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)


def test_without_hooks_backward_never_looks_for_them(monkeypatch):
    monkeypatch.setattr(_hooks, "registered", [0])

    def fail(*args):
        raise AssertionError("backward looked for hooks before any was registered")

    monkeypatch.setattr(_hooks, "run", fail)
    x, w, h, loss = _graph(nnlab)
    loss.backward()
    assert x.grad is not None


# ---------------------------------------------------------------------------------------- grad_fn
def test_grad_fn_names_the_op_and_is_none_for_leaves():
    x, w, h, loss = _graph(nnlab)
    assert x.grad_fn is None and x.is_leaf and nnlab.tensor([1.0]).grad_fn is None
    assert (x * 2).grad_fn.name() == "MulBackward" and "MulBackward" in repr((x * 2).grad_fn)
    assert h.grad_fn.name() == "MatmulBackward" and not h.is_leaf
    (fn, _), = h.grad_fn.next_functions[:1]
    assert fn.name() == "ExpBackward" and fn.next_functions[0][0].name() == "AccumulateGrad"
    assert fn.next_functions[0][0].variable is x
    tx = torch.tensor([1.0], requires_grad=True)
    assert [f is None for f, _ in (tx * 2).grad_fn.next_functions] == [
        f is None for f, _ in (nnlab.tensor([1.0], requires_grad=True) * 2).grad_fn.next_functions]
    assert h.grad_fn == h.grad_fn and hash(h.grad_fn) == hash(h.grad_fn)
    assert _backprop.released is not None


# -------------------------------------------------------------------------------- inference_mode
def test_inference_mode_as_context_manager_and_decorator():
    w = nnlab.tensor([1.0], requires_grad=True)
    with nnlab.inference_mode():
        assert not nnlab.is_grad_enabled() and not (w * 2).requires_grad
    assert nnlab.is_grad_enabled()

    @nnlab.inference_mode()
    def called():
        return nnlab.is_grad_enabled(), w * 2

    @nnlab.inference_mode
    def bare():
        return nnlab.is_grad_enabled()

    enabled, y = called()
    assert not enabled and not y.requires_grad and not bare() and nnlab.is_grad_enabled()
    with nnlab.no_grad(), nnlab.inference_mode(False):
        assert nnlab.is_grad_enabled()  # False records the graph, as torch's
    with torch.no_grad(), torch.inference_mode(False):
        assert torch.is_grad_enabled()
    with pytest.raises(TypeError, match="mode must be True or False"):
        nnlab.inference_mode("yes")


def test_autograd_reexports_the_grad_mode_switches():
    assert nnlab.autograd.no_grad is nnlab.no_grad and nnlab.autograd.enable_grad is nnlab.enable_grad
    assert nnlab.autograd.set_grad_enabled is nnlab.set_grad_enabled
    assert nnlab.autograd.inference_mode is nnlab.inference_mode
    with nnlab.autograd.no_grad():
        with nnlab.autograd.enable_grad():
            assert nnlab.is_grad_enabled()
        assert not nnlab.is_grad_enabled()
