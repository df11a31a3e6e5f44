"""nn.RNN, nn.LSTM, nn.GRU: PyTorch's outputs and gradients with copied weights, gradchecks, errors, specs, fit."""

import json

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError
from recurrent_helpers import close, torch_pair

torch = pytest.importorskip("torch")

KINDS = {"rnn_tanh": (nn.RNN, torch.nn.RNN, {}), "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTM, torch.nn.LSTM, {}), "gru": (nn.GRU, torch.nn.GRU, {})}


def _pair(kind, dtype, *args, **kw):
    return torch_pair(KINDS, kind, dtype, *args, **kw)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, num_layers, batch_first, bias, with_h0", [
    ((3, 5, 7, 2), 1, False, True, False),
    ((4, 6, 5, 3), 2, True, True, True),
    ((2, 3, 1, 1), 2, False, False, True),
    ((6, 8, 9, 4), 1, True, True, True),
])
def test_outputs_and_every_gradient_match_torch(kind, dtype, sizes, num_layers, batch_first, bias, with_h0):
    _compare(kind, dtype, sizes, num_layers, batch_first, bias, with_h0)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_layers, batch_first, with_h0", [(1, False, False), (2, True, True)])
def test_bidirectional_matches_torch(kind, dtype, num_layers, batch_first, with_h0):
    _compare(kind, dtype, (3, 4, 6, 2), num_layers, batch_first, True, with_h0, bidirectional=True)


def _compare(kind, dtype, sizes, num_layers, batch_first, bias, with_h0, bidirectional=False):
    n_in, hidden, T, N = sizes
    ours, theirs = _pair(kind, dtype, n_in, hidden, num_layers=num_layers, batch_first=batch_first, bias=bias,
                         bidirectional=bidirectional)
    rng = np.random.default_rng(sum(sizes))
    x = rng.normal(size=(N, T, n_in) if batch_first else (T, N, n_in)).astype(dtype)
    rows = num_layers * (2 if bidirectional else 1)
    states = [rng.normal(size=(rows, N, hidden)).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
    xo, xt = nnlab.tensor(x, dtype=dtype, requires_grad=True), torch.tensor(x, requires_grad=True)
    so = [nnlab.tensor(s, dtype=dtype, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    lstm = kind == "lstm"
    out_o, hn_o = ours(xo, (tuple(so) if lstm else so[0]) if with_h0 else None)
    out_t, hn_t = theirs(xt, (tuple(st) if lstm else st[0]) if with_h0 else None)
    finals_o, finals_t = (hn_o if lstm else (hn_o,)), (hn_t if lstm else (hn_t,))
    assert out_o.dtype == dtype and out_o.shape == tuple(out_t.shape)
    close(out_o, out_t, dtype)
    for a, b in zip(finals_o, finals_t):
        assert a.shape == tuple(b.shape)
        close(a, b, dtype)
    # a weighting of every output, so each gradient path (output, h_n, c_n) is exercised
    weights = [rng.normal(size=out_o.shape).astype(dtype)] + [rng.normal(size=f.shape).astype(dtype) for f in finals_o]
    loss_o = sum((t * nnlab.tensor(w, dtype=dtype)).sum() for t, w in zip((out_o, *finals_o), weights))
    loss_t = sum((t * torch.tensor(w)).sum() for t, w in zip((out_t, *finals_t), weights))
    loss_o.backward()
    loss_t.backward()
    close(xo.grad, xt.grad, dtype)
    if with_h0:
        for a, b in zip(so, st):
            close(a.grad, b.grad, dtype)
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        close(p.grad, getattr(theirs, name).grad, dtype)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unbatched_input_matches_torch(kind, bidirectional):
    ours, theirs = _pair(kind, np.float64, 3, 4, num_layers=2, bidirectional=bidirectional)
    x = np.random.default_rng(0).normal(size=(5, 3))
    out_o, hn_o = ours(nnlab.tensor(x, dtype=np.float64))
    out_t, hn_t = theirs(torch.tensor(x))
    close(out_o, out_t, np.float64)
    for a, b in zip(hn_o if kind == "lstm" else (hn_o,), hn_t if kind == "lstm" else (hn_t,)):
        assert a.shape == (4 if bidirectional else 2, 4)
        close(a, b, np.float64)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (2, True)])
def test_gradcheck(kind, num_layers, bidirectional):
    cls, _, extra = KINDS[kind]
    layer = cls(2, 3, num_layers=num_layers, bidirectional=bidirectional, rng=1, dtype=np.float64, **extra)
    rng = np.random.default_rng(2)
    rows = num_layers * (2 if bidirectional else 1)
    x = nnlab.tensor(rng.normal(size=(4, 2, 2)), dtype=np.float64, requires_grad=True)
    h0 = nnlab.tensor(rng.normal(size=(rows, 2, 3)), dtype=np.float64, requires_grad=True)
    c0 = nnlab.tensor(rng.normal(size=(rows, 2, 3)), dtype=np.float64, requires_grad=True)
    params = [p for _, p in layer.named_parameters()]

    def loss(x, h0, c0, *weights):  # gradcheck perturbs the layer's own Parameters in place
        if kind == "lstm":
            out, (h, c) = layer(x, (h0, c0))
            return (out * out).sum() + (h * h * h).sum() + (c * c * c).sum()
        out, h = layer(x, h0)
        return (out * out).sum() + (h * h * h).sum()

    inputs = [x, h0, c0, *params] if kind == "lstm" else [x, h0, *params]
    assert nnlab.gradcheck(loss if kind == "lstm" else (lambda x, h0, *w: loss(x, h0, None)), inputs)


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_stays_float32_and_data_gets_no_input_gradient(kind):
    cls, _, extra = KINDS[kind]
    layer = cls(3, 4, rng=0, **extra)
    x = nnlab.tensor(np.ones((5, 2, 3)), dtype=np.float64)  # a float64 batch: computed in the layer's float32
    out, _ = layer(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad is None and layer.weight_hh_l0.grad.dtype == np.float32


def test_init_is_uniform_within_one_over_sqrt_hidden_and_seeded():
    a, b = nn.LSTM(3, 16, num_layers=2, rng=5), nn.LSTM(3, 16, num_layers=2, rng=5)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2, name
    assert a.weight_ih_l0.shape == (64, 3) and a.weight_ih_l1.shape == (64, 16) and a.bias_hh_l1.shape == (64,)
    assert nn.GRU(3, 5).weight_hh_l0.shape == (15, 5)
    assert [n for n, _ in nn.RNN(3, 5, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


def test_repr_is_torchs():
    for args, kw in [((10, 20), {}), ((3, 4), {"num_layers": 2, "dropout": 0.5}), ((3, 4), {"bias": False,
                     "batch_first": True}),
                     ((3, 4), {"bidirectional": True})]:
        for ours, theirs in [(nn.RNN, torch.nn.RNN), (nn.LSTM, torch.nn.LSTM), (nn.GRU, torch.nn.GRU)]:
            assert repr(ours(*args, **kw)) == repr(theirs(*args, **kw))


def test_errors():
    with pytest.raises(ConfigError, match=r"input_size: expected 3, got input of shape \(5, 2, 4\)"):
        nn.RNN(3, 4)(np.zeros((5, 2, 4)))
    with pytest.raises(ConfigError, match=r"at least one step, got input of shape \(2, 0, 3\)"):
        nn.LSTM(3, 4, batch_first=True)(np.zeros((2, 0, 3)))
    with pytest.raises(ConfigError, match="2-D"):
        nn.GRU(3, 4)(np.zeros((5, 2, 1, 3)))
    with pytest.raises(ConfigError, match=r"hx of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        nn.RNN(3, 4)(np.zeros((5, 2, 3)), np.zeros((1, 3, 4)))
    with pytest.raises(ConfigError, match=r"c_0 of shape \(2, 2, 4\), got \(2, 2, 5\)"):
        nn.LSTM(3, 4, num_layers=2)(np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((2, 2, 5))))
    with pytest.raises(ConfigError, match=r"tuple \(h_0, c_0\)"):
        nn.LSTM(3, 4)(np.zeros((5, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ConfigError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ConfigError, match="dropout"):
        nn.GRU(3, 4, dropout=1.0)
    with pytest.raises(ConfigError, match="hidden_size"):
        nn.LSTM(3, 0)


def test_dropout_between_layers_only_in_training():
    layer = nn.GRU(3, 8, num_layers=2, dropout=0.5, rng=0)
    x = np.random.default_rng(0).normal(size=(4, 2, 3))
    first, second = layer(x)[0].data, layer(x)[0].data
    assert not np.allclose(first, second)  # fresh masks each call
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].data, layer(x)[0].data)
    one = nn.GRU(3, 8, num_layers=1, dropout=0.5, rng=0)  # no layer after the only one: no dropout
    np.testing.assert_array_equal(one(x)[0].data, one(x)[0].data)


@pytest.mark.parametrize("kind", list(KINDS))
def test_spec_save_load_flops(tmp_path, kind):
    cls, _, extra = KINDS[kind]
    layer = cls(3, 5, num_layers=2, batch_first=True, dropout=0.25, bias=False, bidirectional=True, rng=0, **extra)
    spec = nn.to_spec(layer)
    assert spec["args"]["batch_first"] is True and spec["args"]["dropout"] == 0.25
    rebuilt = nn.from_spec(json.loads(json.dumps(spec)))
    assert nn.to_spec(rebuilt) == spec and rebuilt.state_dict().keys() == layer.state_dict().keys()
    nnlab.save(layer, tmp_path / "m.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    assert type(loaded) is cls and repr(loaded) == repr(layer)
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer.eval(), loaded.eval()
    np.testing.assert_array_equal(loaded(x)[0].data, layer(x)[0].data)
    G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[kind]
    count, shape = layer._count_flops((2, 4, 3))
    assert shape == (2, 4, 10) and count == 2 * 8 * 2 * G * 5 * ((3 + 5) + (10 + 5))
    assert type(layer).state_shapes(spec["args"]) == {n: p.shape for n, p in layer.named_parameters()}


class LastStep(nn.Module):
    """A user's model: an LSTM over the sequence, a Linear on its last step's output."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 8, batch_first=True, rng=0)
        self.head = nn.Linear(8, 2, rng=1)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(x.shape[0], x.shape[1], 1))
        return self.head(out[:, -1])


def test_fit_learns_the_sign_of_a_sequence_sum():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(400, 9)).astype(np.float32)  # 9 signs: the sum is never zero
    y = (X.sum(axis=1) > 0).astype(np.int64)
    nnlab.seed(0)
    model = LastStep()
    opt = nnlab.optim.Adam(model.parameters(), lr=0.03)
    nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, (X, y), epochs=30, batch_size=32, verbose=0,
                    seed=0)
    accuracy = (model(nnlab.tensor(X)).data.argmax(-1) == y).mean()
    assert accuracy > 0.9, accuracy
