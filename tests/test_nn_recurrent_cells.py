"""nn.RNNCell, nn.LSTMCell, nn.GRUCell: PyTorch's outputs and gradients with copied weights, unrolled loops,
gradchecks, dtypes, errors, model files and the ONNX refusal."""

import json

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError
from nnlab.nn.shapes import row_output_shape
from recurrent_helpers import close, torch_pair

torch = pytest.importorskip("torch")

KINDS = {"rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {}),
         "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {}), "gru": (nn.GRUCell, torch.nn.GRUCell, {})}
LAYERS = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _pair(kind, dtype, *args, **kw):
    return torch_pair(KINDS, kind, dtype, *args, **kw)


def _states(kind, rng, shape, dtype):
    """A state as the cell takes it: one array, or the LSTM's pair."""
    return tuple(rng.normal(size=shape).astype(dtype) for _ in range(2 if kind == "lstm" else 1))


def _wrap(kind, states):
    return (tuple(states) if kind == "lstm" else states[0]) if states else None


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched, with_hx, bias", [
    (True, True, True), (True, False, True), (False, True, True), (False, False, True), (True, True, False),
    (False, True, False),
])
def test_outputs_and_every_gradient_match_torch(kind, dtype, batched, with_hx, bias):
    ours, theirs = _pair(kind, dtype, 3, 5, bias=bias)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3) if batched else (3,)).astype(dtype)
    hx = _states(kind, rng, (4, 5) if batched else (5,), dtype) if with_hx else ()
    xo, xt = nnlab.tensor(x, dtype=dtype, requires_grad=True), torch.tensor(x, requires_grad=True)
    so = [nnlab.tensor(s, dtype=dtype, requires_grad=True) for s in hx]
    st = [torch.tensor(s, requires_grad=True) for s in hx]
    out_o, out_t = ours(xo, _wrap(kind, so)), theirs(xt, _wrap(kind, st))
    outs_o, outs_t = (out_o, out_t) if kind == "lstm" else ((out_o,), (out_t,))
    assert isinstance(out_o, tuple) == (kind == "lstm")
    weights = [rng.normal(size=tuple(t.shape)).astype(dtype) for t in outs_t]
    for a, b in zip(outs_o, outs_t):
        assert a.dtype == dtype and a.shape == tuple(b.shape) == ((4, 5) if batched else (5,))
        close(a, b, dtype)
    # a weighting of each output, so every gradient path (h', and c' for the LSTM) is exercised
    sum((t * nnlab.tensor(w, dtype=dtype)).sum() for t, w in zip(outs_o, weights)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(outs_t, weights)).backward()
    close(xo.grad, xt.grad, dtype)
    for a, b in zip(so, st):
        close(a.grad, b.grad, dtype)
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        close(p.grad, getattr(theirs, name).grad, dtype)


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_unrolled_loop_matches_torch_and_the_sequence_layer(kind):
    """Six steps of a cell, each fed the last state: torch's cell in the same loop, and nnlab's own sequence
    layer with the cell's weights, give the same states and the same weight gradients."""
    dtype, T = np.float64, 6
    ours, theirs = _pair(kind, dtype, 3, 4)
    rng = np.random.default_rng(11)
    xs = rng.normal(size=(T, 2, 3))
    h0 = _states(kind, rng, (2, 4), dtype)
    state_o = _wrap(kind, [nnlab.tensor(s, dtype=dtype) for s in h0])
    state_t = _wrap(kind, [torch.tensor(s) for s in h0])
    hs_o, hs_t = [], []
    for x in xs:
        state_o, state_t = ours(nnlab.tensor(x, dtype=dtype), state_o), theirs(torch.tensor(x), state_t)
        hs_o.append(state_o[0] if kind == "lstm" else state_o)
        hs_t.append(state_t[0] if kind == "lstm" else state_t)
    for a, b in zip(hs_o, hs_t):
        close(a, b, dtype)
    (nnlab.stack(hs_o) ** 2).sum().backward()
    (torch.stack(hs_t) ** 2).sum().backward()
    for name, p in ours.named_parameters():
        close(p.grad, getattr(theirs, name).grad, dtype)
    layer = LAYERS[kind](3, 4, rng=0, dtype=dtype, **KINDS[kind][2])
    for name, p in ours.named_parameters():
        getattr(layer, name + "_l0").data[...] = p.data
    first = tuple(nnlab.tensor(s[None], dtype=dtype) for s in h0)
    out, _ = layer(nnlab.tensor(xs, dtype=dtype), first if kind == "lstm" else first[0])
    np.testing.assert_allclose(out.data, nnlab.stack(hs_o).data, rtol=1e-12, atol=1e-12)
    (out ** 2).sum().backward()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(getattr(layer, name + "_l0").grad, p.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batched", [True, False])
def test_gradcheck(kind, batched):
    cls, _, extra = KINDS[kind]
    cell = cls(2, 3, rng=1, dtype=np.float64, **extra)
    rng = np.random.default_rng(2)
    x = nnlab.tensor(rng.normal(size=(4, 2) if batched else (2,)), dtype=np.float64, requires_grad=True)
    h = nnlab.tensor(rng.normal(size=(4, 3) if batched else (3,)), dtype=np.float64, requires_grad=True)
    c = nnlab.tensor(rng.normal(size=(4, 3) if batched else (3,)), dtype=np.float64, requires_grad=True)
    params = [p for _, p in cell.named_parameters()]

    def loss(x, h, c, *weights):  # gradcheck perturbs the cell's own Parameters in place
        if kind == "lstm":
            h2, c2 = cell(x, (h, c))
            h3, c3 = cell(x * 0.5, (h2, c2))  # two steps: the gradient through a carried state
            return (h3 * h3 * h3).sum() + (c3 * c3).sum()
        return (cell(x * 0.5, cell(x, h)) ** 3).sum()

    if kind == "lstm":
        assert nnlab.gradcheck(loss, [x, h, c, *params])
    else:
        assert nnlab.gradcheck(lambda x, h, *w: loss(x, h, None), [x, h, *params])


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_stays_float32_and_data_gets_no_input_gradient(kind):
    cls, _, extra = KINDS[kind]
    cell = cls(3, 4, rng=0, **extra)
    x = nnlab.tensor(np.ones((5, 3)), dtype=np.float64)  # a float64 batch: computed in the cell's float32
    hx = np.zeros((5, 4))  # a float64 array as the state, too
    out = cell(x, (hx, hx) if kind == "lstm" else hx)
    for t in out if kind == "lstm" else (out,):
        assert t.dtype == np.float32
    (out[0] if kind == "lstm" else out).sum().backward()
    assert x.grad is None and cell.weight_hh.grad.dtype == np.float32


def test_init_is_torchs_uniform_and_seeded():
    a, b = nn.LSTMCell(3, 16, rng=5), nn.LSTMCell(3, 16, rng=5)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2, name
    assert a.weight_ih.shape == (64, 3) and a.weight_hh.shape == (64, 16) and a.bias_hh.shape == (64,)
    assert nn.GRUCell(3, 5).weight_hh.shape == (15, 5) and nn.RNNCell(3, 5).bias_ih.shape == (5,)
    assert [n for n, _ in nn.RNNCell(3, 5, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
    nnlab.seed(4)
    first = nn.GRUCell(2, 3).weight_ih.data.copy()
    nnlab.seed(4)
    np.testing.assert_array_equal(nn.GRUCell(2, 3).weight_ih.data, first)  # the global generator, seeded
    # the one-layer sequence layer draws the same values from the same generator: one init rule for both
    np.testing.assert_array_equal(nn.LSTM(3, 16, rng=5).weight_hh_l0.data, a.weight_hh.data)


def test_repr_is_torchs():
    for args, kw in [((10, 20), {}), ((3, 4), {"bias": False})]:
        for ours, theirs in [(nn.RNNCell, torch.nn.RNNCell), (nn.LSTMCell, torch.nn.LSTMCell),
                             (nn.GRUCell, torch.nn.GRUCell)]:
            assert repr(ours(*args, **kw)) == repr(theirs(*args, **kw))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


def test_errors_name_the_argument():
    with pytest.raises(ConfigError, match=r"RNNCell: expected input to be 1-D .* got input of shape \(5, 2, 3\)"):
        nn.RNNCell(3, 4)(np.zeros((5, 2, 3)))
    with pytest.raises(ConfigError, match=r"GRUCell: input.size\(-1\) must be equal to input_size: expected 3, "
                                          r"got input of shape \(2, 4\)"):
        nn.GRUCell(3, 4)(np.zeros((2, 4)))
    with pytest.raises(ConfigError, match=r"expected hx of shape \(2, 4\) for a batched input, got hx of shape "
                                          r"\(3, 4\)"):
        nn.RNNCell(3, 4)(np.zeros((2, 3)), np.zeros((3, 4)))
    with pytest.raises(ConfigError, match=r"expected hx of shape \(4,\) for an unbatched input, got hx of shape "
                                          r"\(1, 4\)"):
        nn.GRUCell(3, 4)(np.zeros(3), np.zeros((1, 4)))
    with pytest.raises(ConfigError, match=r"LSTMCell: expected hx\[1\] of shape \(2, 4\) for a batched input"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((2, 5))))
    with pytest.raises(ConfigError, match=r"LSTMCell: hx must be a pair \(h, c\), got ndarray"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ConfigError, match=r"hx must be a pair \(h, c\), got tuple of length 3"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), (np.zeros((2, 4)),) * 3)
    with pytest.raises(ConfigError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ConfigError, match="LSTMCell: hidden_size"):
        nn.LSTMCell(3, 0)
    with pytest.raises(ConfigError, match="GRUCell: input_size"):
        nn.GRUCell(2.0, 3)
    with pytest.raises(ConfigError, match="RNNCell: bias must be true or false, got 1"):
        nn.RNNCell(3, 4, bias=1)
    with pytest.raises(ConfigError, match="dtype must be floating"):
        nn.GRUCell(3, 4, dtype=np.int64)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_spec_save_load_flops(tmp_path, kind, bias):
    cls, _, extra = KINDS[kind]
    cell = cls(3, 5, bias=bias, rng=0, dtype=np.float64, **extra)
    spec = nn.to_spec(cell)
    assert spec["args"]["bias"] is bias and spec["args"]["dtype"] == "float64"
    assert spec["args"].get("nonlinearity", "tanh") == ("relu" if kind == "rnn_relu" else "tanh")
    rebuilt = nn.from_spec(json.loads(json.dumps(spec)))
    assert nn.to_spec(rebuilt) == spec and rebuilt.state_dict().keys() == cell.state_dict().keys()
    nnlab.save(cell, tmp_path / "cell.safetensors")
    loaded = nnlab.load(tmp_path / "cell.safetensors")
    assert type(loaded) is cls and repr(loaded) == repr(cell)
    x = np.random.default_rng(0).normal(size=(2, 3))
    for a, b in zip(*((loaded(x), cell(x)) if kind == "lstm" else ((loaded(x),), (cell(x),)))):
        np.testing.assert_array_equal(a.data, b.data)
    G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[kind]
    count, shape = cell._count_flops((2, 3))
    assert shape == (2, 5) and count == 2 * (2 * G * 5 * (3 + 5) + (2 * G * 5 if bias else 0))
    assert cls.state_shapes(spec["args"]) == {n: p.shape for n, p in cell.named_parameters()}
    with pytest.raises(ConfigError, match="expects \\(N, 3\\) or \\(3,\\) inputs, got input shape \\(2, 4\\)"):
        cell._count_flops((2, 4))


def test_a_model_file_with_an_edited_size_is_refused_before_building():
    spec = nn.to_spec(nn.GRUCell(3, 5))
    with pytest.raises(ConfigError, match="GRUCell needs weight_ih of shape \\(15, 4\\), the stored one has shape "
                                          "\\(15, 3\\)"):
        nn.spec.check_state_shapes({**spec, "args": {**spec["args"], "input_size": 4}},
                                   {"weight_ih": (15, 3), "weight_hh": (15, 5), "bias_ih": (15,), "bias_hh": (15,)})


def test_cells_in_a_sequential_save_with_the_sizes_chained(tmp_path):
    """A cell takes rows: a model file checks that the layers after it fit its hidden size."""
    model = nn.Sequential(nn.RNNCell(4, 3, rng=0), nn.GRUCell(3, 2, rng=1))
    nnlab.save(model, tmp_path / "m.safetensors")
    x = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_array_equal(nnlab.load(tmp_path / "m.safetensors")(x).data, model(x).data)
    assert row_output_shape(model) == (1, 2)
    with pytest.raises(ConfigError, match="layer '1': GRUCell expects \\(N, 4\\)"):
        row_output_shape(nn.Sequential(nn.RNNCell(4, 3), nn.GRUCell(4, 2)))


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_onnx_export_refuses_the_cells_by_name_with_the_reason(tmp_path, cls):
    pytest.importorskip("onnx")
    from nnlab.onnx import export

    with pytest.raises(ConfigError, match=f"{cls.__name__} at '0' cannot be exported: it is one step of a "
                                          "recurrence .* Export nn.RNN, nn.LSTM or nn.GRU over the whole sequence"):
        export(nn.Sequential(cls(3, 4)), tmp_path / "cell.onnx", input_shape=(3,))
    assert not (tmp_path / "cell.onnx").exists()


class _SignOfSum(nn.Module):
    """A user's model: a GRUCell looped over the sequence by hand, a Linear on its last state."""

    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(1, 8, rng=0)
        self.head = nn.Linear(8, 2, rng=1)

    def forward(self, x):
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t:t + 1], h)
        return self.head(h)


def test_fit_learns_the_sign_of_a_sequence_sum_with_a_hand_written_loop():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(300, 7)).astype(np.float32)  # 7 signs: the sum is never zero
    y = (X.sum(axis=1) > 0).astype(np.int64)
    model = _SignOfSum()
    opt = nnlab.optim.Adam(model.parameters(), lr=0.03)
    nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, (X, y), epochs=25, batch_size=32, verbose=0,
                    seed=0)
    accuracy = (model(nnlab.tensor(X)).data.argmax(-1) == y).mean()
    assert accuracy > 0.9, accuracy
