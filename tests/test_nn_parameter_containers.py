"""ParameterList and ParameterDict as PyTorch users expect: the same operations, key names, wrapping and training.

Each comparison does the same steps to an nnlab container and a torch one and compares what torch users
look at: the parameter names, the state-dict keys and the values.
"""

from collections import OrderedDict

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")
tnn = torch.nn


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for shape in shapes]


# --------------------------------------------------------------------- ParameterList
def test_list_operations_name_parameters_as_torch():
    values = _arrays((3, 2), (2,), (4,), (1,))
    ours, theirs = nn.ParameterList(values[:2]), tnn.ParameterList([torch.tensor(v) for v in values[:2]])
    for container, wrap in ((ours, np.asarray), (theirs, torch.tensor)):
        container.append(wrap(values[2]))
        container += [wrap(values[3])]
        container.extend([])
        container[1] = wrap(values[1] * 2)  # replaced in place: its name "1" keeps its position
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["0", "1", "2", "3"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert isinstance(a, nn.Parameter) and a.requires_grad
        np.testing.assert_array_equal(a.data, b.detach().numpy())
    np.testing.assert_array_equal(ours[-1].data, values[3])
    part = ours[1:3]
    assert type(part) is nn.ParameterList and [n for n, _ in part.named_parameters()] == ["0", "1"]
    assert part[0] is ours[1]  # a slice holds the same Parameters, as torch's
    assert [n for n, _ in theirs[1:3].named_parameters()] == ["0", "1"]


def test_list_wraps_tensors_and_arrays_and_keeps_parameters():
    shared = nn.Parameter(np.ones(2))
    t64 = nnlab.tensor(np.ones(3), dtype=np.float64)
    params = nn.ParameterList([shared, t64, np.zeros((2, 2)), np.arange(3)])
    assert params[0] is shared  # a Parameter goes in as it is (shared with whoever else holds it)
    assert isinstance(params[1], nn.Parameter) and params[1].dtype == np.float64  # its floating dtype kept
    assert params[2].dtype == np.float64 and params[3].dtype == np.float32  # integers: nnlab's Parameter rule
    t64.data[0] = 5.0
    assert params[1].data[0] == 1.0  # a copy of the Tensor's values
    with pytest.raises(TypeError, match="ParameterList holds Parameters .* got list"):
        params.append([1.0, 2.0])
    with pytest.raises(TypeError, match="ParameterList.extend takes an iterable of parameters, got ndarray"):
        params.extend(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="ParameterList.extend takes an iterable of parameters, got int"):
        params.extend(3)
    with pytest.raises(IndexError, match="ParameterList index 4 is out of range for 4 parameters"):
        params[4]
    with pytest.raises(TypeError, match="ParameterList indices are integers or slices, got str"):
        params["0"] = np.zeros(1)
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        params(np.zeros(2))
    assert repr(nn.ParameterList([np.zeros((3, 2), np.float32)])) == (
        "ParameterList(\n  (0): Parameter containing: [float32 of size 3x2]\n)")


def test_list_extended_by_itself_doubles():
    params = nn.ParameterList(_arrays((2,), (3,)))
    params += params
    assert len(params) == 4 and params[2] is params[0]
    assert len(list(params.parameters())) == 2  # a shared parameter once, as named_parameters in torch


# --------------------------------------------------------------------- ParameterDict
def test_dict_orders_and_names_as_torch():
    a, b, c = _arrays((2,), (3,), (1, 2))
    plain = {"right": a, "left": b}  # a plain dict: added in sorted key order (torch's update)
    ours = nn.ParameterDict(plain)
    theirs = tnn.ParameterDict({k: torch.tensor(v) for k, v in plain.items()})
    assert list(ours) == list(theirs) == ["left", "right"]
    ordered = OrderedDict([("z", a), ("y", b)])  # an OrderedDict and pairs keep their order
    assert list(nn.ParameterDict(ordered)) == ["z", "y"] == list(nn.ParameterDict(list(ordered.items())))
    ours.update([("mid", c)])
    theirs.update([("mid", torch.tensor(c))])
    ours["left"] = b * 2  # replaced: keeps its position
    theirs["left"] = torch.tensor(b * 2)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["left", "right", "mid"]
    for (k, p), (j, q) in zip(ours.items(), theirs.items()):
        assert k == j and isinstance(p, nn.Parameter)
        np.testing.assert_array_equal(p.data, q.detach().numpy())
    assert list(ours.keys()) == list(theirs.keys()) and len(ours) == 3 and "mid" in ours and "up" not in ours
    assert [p.shape for p in ours.values()] == [tuple(q.shape) for q in theirs.values()]
    assert list(reversed(ours)) == ["mid", "right", "left"]


def test_dict_removal_and_lookup():
    a, b, c = _arrays((2,), (3,), (4,))
    params = nn.ParameterDict(OrderedDict([("a", a), ("b", b), ("c", c)]))
    popped = params.pop("b")
    np.testing.assert_array_equal(popped.data, b)
    assert list(params) == ["a", "c"] and not hasattr(params, "b")
    key, last = params.popitem()
    assert key == "c" and last.shape == (4,) and list(params.state_dict()) == ["a"]
    assert params.get("zz") is None and params.get("a") is params["a"]
    assert params.setdefault("d", np.ones(2)) is params["d"] and params.setdefault("d", np.zeros(5)).shape == (2,)
    copy = params.copy()
    assert list(copy) == ["a", "d"] and copy["a"] is params["a"]
    del params["a"]
    params.clear()
    assert len(params) == 0 and list(params.named_parameters()) == [] and list(copy) == ["a", "d"]
    with pytest.raises(KeyError):
        params["a"]
    with pytest.raises(KeyError):
        del params["a"]
    with pytest.raises(KeyError, match="ParameterDict is empty"):
        params.popitem()


def test_dict_refuses_keys_state_dicts_could_not_name():
    params = nn.ParameterDict()
    with pytest.raises(TypeError, match="ParameterDict keys are strings, got int 3"):
        params[3] = np.zeros(1)
    with pytest.raises(TypeError, match="ParameterDict keys are strings, got int 1"):
        nn.ParameterDict({1: np.zeros(1), "a": np.zeros(1)})
    with pytest.raises(ConfigError, match="key 'a.b' must be non-empty and contain no '.'"):
        params["a.b"] = np.zeros(1)
    with pytest.raises(ConfigError, match="key 'keys' is already an attribute of ParameterDict"):
        params["keys"] = np.zeros(1)
    with pytest.raises(TypeError, match="ParameterDict holds Parameters .* got float"):
        params["a"] = 1.0
    with pytest.raises(TypeError, match="element #0 must be a \\(key, value\\) pair, got ndarray"):
        params.update([np.zeros(2)])
    with pytest.raises(ValueError, match="element #1 has length 3; 2 is required"):
        params.update([("a", np.zeros(1)), ("b", np.zeros(1), 3)])
    with pytest.raises(TypeError, match="takes a mapping or an iterable of \\(key, value\\) pairs, got int"):
        params.update(5)
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        params()
    assert repr(nn.ParameterDict({"w": np.zeros(4, np.float64)})) == (
        "ParameterDict(\n  (w): Parameter containing: [float64 of size 4]\n)")


# ------------------------------------------------------------- inside a module of one's own
class _Mixture(nn.Module):
    """A module of one's own: per-expert weights in a ParameterList, named scales in a ParameterDict."""

    def __init__(self, n_in=3, experts=2):
        super().__init__()
        self.n_in, self.experts = n_in, experts
        rng = np.random.default_rng(0)
        self.weights = nn.ParameterList([rng.normal(size=(n_in,)).astype(np.float32) for _ in range(experts)])
        self.scales = nn.ParameterDict({"out": np.ones(1, np.float32), "gate": np.full(experts, 0.5, np.float32)})
        self.blocks = nn.ModuleList([nn.ParameterList([np.zeros(2, np.float32)])])

    def forward(self, x):
        x = x if isinstance(x, nnlab.Tensor) else nnlab.tensor(x)
        mixed = sum(self.scales["gate"][i] * (x @ w) for i, w in enumerate(self.weights))
        return (mixed * self.scales["out"]).reshape(-1, 1)

    def spec_args(self):
        return {"n_in": self.n_in, "experts": self.experts}

    @classmethod
    def state_shapes(cls, args):
        return {**{f"weights.{i}": (args["n_in"],) for i in range(args["experts"])},
                "scales.gate": (args["experts"],), "scales.out": (1,), "blocks.0.0": (2,)}


class _TorchMixture(tnn.Module):
    def __init__(self, n_in=3, experts=2):
        super().__init__()
        self.weights = tnn.ParameterList([torch.zeros(n_in) for _ in range(experts)])
        self.scales = tnn.ParameterDict({"out": torch.ones(1), "gate": torch.zeros(experts)})
        self.blocks = tnn.ModuleList([tnn.ParameterList([torch.zeros(2)])])


def test_key_names_inside_a_module_equal_torchs():
    ours, theirs = _Mixture(), _TorchMixture()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "weights.0", "weights.1", "scales.gate", "scales.out", "blocks.0.0"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    fresh = _Mixture()
    fresh.load_state_dict({k: v.detach().numpy() * 2 for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(fresh.weights[1].data, ours.weights[1].data * 2)
    assert fresh.double().weights[0].dtype == np.float64 and fresh.scales["gate"].dtype == np.float64


def test_an_optimizer_over_a_parameter_list_follows_torchs_steps_and_learns():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(32, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3
    start = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    ours, theirs = nn.ParameterList(start), tnn.ParameterList([torch.tensor(v) for v in start])
    opt_o = nnlab.optim.SGD(ours, lr=0.1, momentum=0.9)  # the list itself, as torch takes it
    opt_t = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    losses = []
    for _ in range(150):
        opt_o.zero_grad()
        opt_t.zero_grad()
        w, b = ours
        loss_o = ((nnlab.tensor(X) @ w + b - nnlab.tensor(y)) ** 2).mean()
        loss_t = ((torch.tensor(X) @ theirs[0] + theirs[1] - torch.tensor(y)) ** 2).mean()
        loss_o.backward()
        loss_t.backward()
        opt_o.step()
        opt_t.step()
        losses.append(loss_o.item())
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(ours[0].data, [1.0, -2.0, 0.5], atol=1e-2)
    with pytest.raises(ConfigError, match="got the model \\(ParameterDict\\) itself; pass model.parameters\\(\\)"):
        nnlab.optim.SGD(nn.ParameterDict({"a": np.zeros(2)}), lr=0.1)  # its iteration gives keys, as a dict's


@pytest.fixture
def registered(monkeypatch):
    """``_Mixture`` registered for one test: the registry other tests list (layer_types) stays as it was."""
    monkeypatch.setattr(nn.spec, "_REGISTRY", dict(nn.spec._REGISTRY))
    nn.register(_Mixture)


def test_a_registered_module_holding_parameter_containers_saves_and_loads(tmp_path, registered):
    model = _Mixture(3, 3)
    for p in model.parameters():
        p.data[...] = np.random.default_rng(p.size).normal(size=p.shape)
    nnlab.save(model, tmp_path / "mix.safetensors")
    loaded = nnlab.load(tmp_path / "mix.safetensors")
    assert type(loaded) is _Mixture and type(loaded.weights) is nn.ParameterList and len(loaded.weights) == 3
    assert list(loaded.state_dict()) == list(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    spec = nn.to_spec(model)
    with pytest.raises(ConfigError, match="_Mixture needs weights.3 of shape \\(3,\\), the stored one is missing"):
        nn.spec.check_state_shapes({**spec, "args": {**spec["args"], "experts": 4}},
                                   {k: v.shape for k, v in model.state_dict().items()})


def test_unregistered_uses_are_refused_at_save_by_name(tmp_path):
    with pytest.raises(ConfigError, match="cannot describe _Mixture: not a registered layer type .*nnlab.nn.register"):
        nnlab.save(_Mixture(), tmp_path / "mix.safetensors")
    for container in (nn.ParameterList([np.zeros(2)]), nn.ParameterDict({"a": np.zeros(2)})):
        name = type(container).__name__
        with pytest.raises(ConfigError, match=f"cannot describe {name}: not a registered layer type"):
            nnlab.save(container, tmp_path / "params.safetensors")
    assert list(tmp_path.iterdir()) == []
    assert "ParameterList" not in nn.layer_types() and "ParameterDict" not in nn.layer_types()

