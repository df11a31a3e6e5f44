"""nn.LastStep and nn.FinalState: torch's out[:, -1] and cat([h_n[-2], h_n[-1]], 1) on the same weights, gradients
(only the selected part), float64 gradchecks, errors, a Sequential LSTM → LastStep → Linear through a model file,
the Sequential plan and hooks with a tuple between layers, and fit on a synthetic sequence task."""

import json

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")

KINDS = {"rnn": (nn.RNN, torch.nn.RNN), "lstm": (nn.LSTM, torch.nn.LSTM), "gru": (nn.GRU, torch.nn.GRU)}
F, H, T, N = 3, 4, 5, 2  # input size, hidden size, steps, rows


def _pair(kind, dtype=np.float32, **settings):
    ours_cls, theirs_cls = KINDS[kind]
    ours = ours_cls(F, H, rng=3, dtype=dtype, **settings)
    theirs = theirs_cls(F, H, **settings).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(p.data))
    return ours, theirs


def _torch_final_state(result, bidirectional):
    h_n = result[1][0] if isinstance(result[1], tuple) else result[1]
    return torch.cat([h_n[-2], h_n[-1]], -1) if bidirectional else h_n[-1]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("readout", ["last_step", "final_state"])
def test_value_and_gradients_match_torch(kind, num_layers, bidirectional, batch_first, readout):
    ours, theirs = _pair(kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    x = np.random.default_rng(1).normal(size=(N, T, F) if batch_first else (T, N, F)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xo = nnlab.tensor(x, requires_grad=True)
    if readout == "last_step":
        got, out = nn.LastStep(batch_first=batch_first)(ours(xo)), theirs(xt)[0]
        expected = out[:, -1] if batch_first else out[-1]
    else:
        got, expected = nn.FinalState()(ours(xo)), _torch_final_state(theirs(xt), bidirectional)
    assert got.shape == (N, (2 if bidirectional else 1) * H) and got.dtype == np.float32
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    weights = np.random.default_rng(2).normal(size=got.shape).astype(np.float32)
    (got * nnlab.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unbatched_sequences_match_torch(kind, bidirectional):
    ours, theirs = _pair(kind, bidirectional=bidirectional, batch_first=True)  # 2-D input: unbatched anyway
    x = np.random.default_rng(4).normal(size=(T, F)).astype(np.float32)
    result, their = ours(x), theirs(torch.tensor(x))
    last = nn.LastStep(batch_first=True)(result)
    np.testing.assert_allclose(last.data, their[0][-1].detach().numpy(), rtol=1e-5, atol=1e-6)
    final = nn.FinalState()(result)
    assert final.shape == last.shape == ((2 if bidirectional else 1) * H,)
    np.testing.assert_allclose(final.data, _torch_final_state(their, bidirectional).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_only_the_selected_part_gets_gradient():
    seq = nnlab.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)  # (N, T, D·H), batch first
    nn.LastStep(batch_first=True)(seq).sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[:, -1] = 1
    np.testing.assert_array_equal(seq.grad, expected)
    out = nnlab.tensor(np.zeros((3, 2, 4)), requires_grad=True)  # bidirectional, H = 2, two layers
    h_n = nnlab.tensor(np.arange(16.0).reshape(4, 2, 2), requires_grad=True)
    c_n = nnlab.tensor(np.ones((4, 2, 2)), requires_grad=True)
    final = nn.FinalState()((out, (h_n, c_n)))  # LSTM's tuple nests (h_n, c_n)
    np.testing.assert_array_equal(final.data, np.concatenate([h_n.data[-2], h_n.data[-1]], -1))
    final.sum().backward()
    assert out.grad is None and c_n.grad is None
    np.testing.assert_array_equal(h_n.grad, np.repeat([0.0, 0.0, 1.0, 1.0], 4).reshape(4, 2, 2))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("readout", [nn.LastStep, nn.FinalState])
def test_gradcheck_through_a_bidirectional_stack(kind, readout):
    layer = KINDS[kind][0](2, 3, num_layers=2, bidirectional=True, rng=1, dtype=np.float64)
    x = nnlab.tensor(np.random.default_rng(2).normal(size=(4, 2, 2)), dtype=np.float64, requires_grad=True)
    params = [p for _, p in layer.named_parameters()]
    pick = readout()
    assert nnlab.gradcheck(lambda x, *weights: pick(layer(x)), [x, *params])


def test_a_plain_sequence_tensor_and_float64_stay_as_given():
    seq = np.random.default_rng(0).normal(size=(T, N, 6))
    got = nn.LastStep()(seq)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.data, seq[-1])
    assert nn.LastStep()(nnlab.tensor(seq.astype(np.float32))).dtype == np.float32


def test_bad_inputs_and_arguments_are_named():
    with pytest.raises(ConfigError, match="LastStep: batch_first must be true or false, got 1"):
        nn.LastStep(batch_first=1)
    with pytest.raises(ConfigError, match=r"LastStep: expected a 3-D \(N, T, features\).*got shape \(4,\)"):
        nn.LastStep(batch_first=True)(np.zeros(4))
    with pytest.raises(ConfigError, match=r"LastStep: the sequence has no step to take, got shape \(0, 2, 3\)"):
        nn.LastStep()(np.zeros((0, 2, 3)))
    with pytest.raises(ConfigError, match=r"FinalState: expected a recurrent layer's tuple .* got Tensor; "
                                          r"LastStep also takes a plain sequence"):
        nn.FinalState()(nnlab.zeros(5, 2, 3))
    with pytest.raises(ConfigError, match=r"FinalState: output of shape \(5, 2, 9\) and h_n of shape \(1, 2, 4\) "
                                          r"are not a recurrent layer's"):
        nn.FinalState()((nnlab.zeros(5, 2, 9), nnlab.zeros(1, 2, 4)))


def test_repr_spec_and_flops():
    assert repr(nn.LastStep()) == "LastStep()" and repr(nn.LastStep(batch_first=True)) == "LastStep(batch_first=True)"
    model = nn.Sequential(nn.LSTM(8, 16, batch_first=True), nn.LastStep(batch_first=True), nn.FinalState())
    spec = nn.to_spec(model)
    assert [layer["type"] for layer in spec["layers"]] == ["LSTM", "LastStep", "FinalState"]
    assert spec["layers"][1]["args"] == {"batch_first": True} and spec["layers"][2]["args"] == {}
    assert nn.to_spec(nn.from_spec(json.loads(json.dumps(spec)))) == spec
    assert {"LastStep", "FinalState"} <= set(nn.layer_types())
    rows = nn.Sequential(nn.GRU(8, 16, batch_first=True), nn.LastStep(batch_first=True),
                         nn.Linear(16, 3)).flops_by_layer((4, 5, 8))
    assert [r["output_shape"] for r in rows] == [(4, 5, 16), (4, 16), (4, 3)] and rows[1]["flops"] == 0
    assert nn.FinalState()._count_flops((5, 16)) == (0, (16,))  # unbatched: the batch axis is not in question
    with pytest.raises(NotImplementedError, match="FinalState has no shape rule for a 3-D"):
        nn.FinalState()._count_flops((4, 5, 16))


def _classifier(rng=0):
    return nn.Sequential(nn.LSTM(8, 16, batch_first=True, bidirectional=True, rng=rng),
                         nn.LastStep(batch_first=True), nn.Linear(32, 3, rng=rng + 1))


def test_a_sequential_classifier_round_trips_through_a_model_file(tmp_path):
    model = _classifier()
    nnlab.save(model, tmp_path / "m.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    assert type(loaded[1]) is nn.LastStep and loaded[1].batch_first and repr(loaded) == repr(model)
    x = np.random.default_rng(0).normal(size=(6, 5, 8)).astype(np.float32)
    np.testing.assert_array_equal(nnlab.train.predict(loaded, x), nnlab.train.predict(model, x))
    with_state = nn.Sequential(nn.GRU(8, 16, num_layers=2, rng=0), nn.FinalState(), nn.Linear(16, 3, rng=1))
    nnlab.save(with_state, tmp_path / "g.safetensors")
    np.testing.assert_array_equal(nnlab.train.predict(nnlab.load(tmp_path / "g.safetensors"), x.swapaxes(0, 1)),
                                  nnlab.train.predict(with_state, x.swapaxes(0, 1)))


def test_the_sequential_plan_and_hooks_pass_the_tuple_on():
    # Linear → ReLU after the readout is a fused pair of Sequential's plan; the hook makes the plan run one at a time
    model = nn.Sequential(nn.GRU(8, 16, batch_first=True, rng=0), nn.LastStep(batch_first=True),
                          nn.Linear(16, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2))
    x = np.random.default_rng(0).normal(size=(4, 5, 8)).astype(np.float32)
    out, h_n = model[0](x)
    expected = model[4](model[3](model[2](out[:, -1])))
    np.testing.assert_allclose(model(x).data, expected.data, rtol=1e-6)
    seen = []
    handle = model[1].register_forward_hook(lambda m, args, result: seen.append(type(args[0]).__name__))
    np.testing.assert_allclose(model(x).data, expected.data, rtol=1e-6)
    handle.remove()
    assert seen == ["tuple"]


def test_fit_learns_a_sequence_class_with_gru_laststep_linear():
    # the class: which of three input channels has the largest sum over the sequence (chance: 1/3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 8, 3)).astype(np.float32)
    y = X.sum(axis=1).argmax(axis=1)
    nnlab.seed(0)
    model = nn.Sequential(nn.GRU(3, 16, batch_first=True, rng=0), nn.LastStep(batch_first=True),
                          nn.Linear(16, 3, rng=1))
    opt = nnlab.optim.Adam(model.parameters(), lr=0.02)
    nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, (X[:500], y[:500]), epochs=25, batch_size=32,
                    verbose=0, seed=0)
    accuracy = (nnlab.train.predict(model, X[500:]).argmax(-1) == y[500:]).mean()
    assert accuracy > 0.8, accuracy
