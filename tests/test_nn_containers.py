"""ModuleList, ModuleDict, Sequential's named submodules and the loss classes in nnlab.nn, as PyTorch users expect.

Each container test does the same steps to an nnlab container and a torch one
and compares what torch users look at: the submodule names, the state-dict
keys and the layers forward runs.
"""

from collections import OrderedDict

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn
from nnlab.errors import ConfigError, ModelFileError

torch = pytest.importorskip("torch")
tnn = torch.nn

KINDS = ("ReLU", "Tanh", "Sigmoid", "Identity")


def _both(kind):
    """The same layer in nnlab and in torch (a Linear(2, 2) for "Linear")."""
    if kind == "Linear":
        return nn.Linear(2, 2, rng=0), tnn.Linear(2, 2)
    return getattr(nn, kind)(), getattr(tnn, kind)()


def _pairs(kinds):
    return tuple(map(list, zip(*(_both(k) for k in kinds))))


def _same(ours, theirs):
    """The same names, layer types (in order) and state-dict keys."""
    assert list(ours._modules) == list(theirs._modules)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs)


def _copy_linear(ours, theirs):
    """torch's weights into an nnlab Linear (whose weight is stored (in, out))."""
    ours.weight.data[...] = theirs.weight.detach().numpy().T
    ours.bias.data[...] = theirs.bias.detach().numpy()


# -------------------------------------------------------------------- ModuleList
class _Net(nn.Module):
    def __init__(self, layers, blocks):
        super().__init__()
        self.layers = layers
        self.blocks = blocks

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.blocks["dec"](self.blocks["enc"](x))


class _TorchNet(tnn.Module):
    def __init__(self, layers, blocks):
        super().__init__()
        self.layers = layers
        self.blocks = blocks


def _nets():
    ours = _Net(nn.ModuleList([nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 4, rng=1)]),
                nn.ModuleDict({"enc": nn.Linear(4, 2, rng=2), "dec": nn.Linear(2, 1, rng=3)}))
    theirs = _TorchNet(tnn.ModuleList([tnn.Linear(2, 3), tnn.ReLU(), tnn.Linear(3, 4)]),
                       tnn.ModuleDict({"enc": tnn.Linear(4, 2), "dec": tnn.Linear(2, 1)}))
    return ours, theirs


def test_held_containers_name_parameters_and_state_as_torch():
    ours, theirs = _nets()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "layers.0.weight" in ours.state_dict() and "blocks.enc.weight" in ours.state_dict()
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert ours.layers[0] is ours.get_submodule("layers.0") and ours.blocks.enc is ours.blocks["enc"]
    ours.load_state_dict(ours.state_dict())
    assert ours(np.ones((2, 2), np.float32)).shape == (2, 1)


def test_module_list_operations_match_torch():
    ours_list, theirs_list = _pairs(KINDS[:2])
    ours, theirs = nn.ModuleList(ours_list), tnn.ModuleList(theirs_list)
    _same(ours, theirs)
    steps = [
        lambda m, lib: m.append(getattr(lib, "Sigmoid")()),
        lambda m, lib: m.extend([getattr(lib, "ReLU")(), getattr(lib, "Identity")()]),
        lambda m, lib: m.insert(0, lib.Linear(2, 2)),
        lambda m, lib: m.insert(2, getattr(lib, "Tanh")()),
        lambda m, lib: m.insert(len(m), getattr(lib, "ReLU")()),
        lambda m, lib: m.__delitem__(-1),
        lambda m, lib: m.__delitem__(slice(1, 5, 2)),
        lambda m, lib: m.__delitem__(0),
        lambda m, lib: m.__setitem__(-1, lib.Linear(2, 2)),
        lambda m, lib: m.__iadd__([getattr(lib, "Sigmoid")()]),
        lambda m, lib: m.pop(1),
    ]
    for step in steps:
        step(ours, nn)
        step(theirs, tnn)
        _same(ours, theirs)
    for index in (0, -1, -len(ours), len(ours) - 1):
        assert type(ours[index]).__name__ == type(theirs[index]).__name__
    for index in (slice(1, None), slice(None, None, -1), slice(-2, None), slice(5, 9)):
        part, expected = ours[index], theirs[index]
        assert type(part) is nn.ModuleList
        _same(part, expected)  # renumbered "0", "1", … as torch's
    _same(ours + ours[:1], theirs + theirs[:1])
    assert list(iter(ours)) == list(ours._modules.values())


def test_module_list_refuses_what_torch_refuses():
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index 1 is out of range for 1 modules"):
        layers[1]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        del layers[-2]
    with pytest.raises(TypeError, match="integers or slices, got str"):
        layers["0"]
    with pytest.raises(TypeError, match="ModuleList holds Modules, got int"):
        layers.append(1)
    with pytest.raises(TypeError, match="ModuleList holds Modules, got int"):
        nn.ModuleList([nn.ReLU(), 3])
    with pytest.raises(TypeError, match="an iterable of Modules, got int"):
        layers.extend(3)
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        layers(np.ones(2))
    layers += layers  # reads the modules before it appends: two, not a loop
    assert len(layers) == 2 and layers[0] is layers[1]


# -------------------------------------------------------------------- ModuleDict
def test_module_dict_operations_match_torch():
    o_enc, t_enc = _both("Linear")
    ours, theirs = nn.ModuleDict({"enc": o_enc}), tnn.ModuleDict({"enc": t_enc})
    steps = [
        lambda d, lib: d.update({"act": lib.Tanh(), "out": lib.Linear(2, 2)}),
        lambda d, lib: d.update([("skip", lib.Identity()), ("act", lib.ReLU())]),  # "act" replaced in place
        lambda d, lib: d.update(type(d)({"z": lib.Sigmoid()})),
        lambda d, lib: d.__setitem__("enc", lib.Linear(2, 2)),
        lambda d, lib: d.pop("skip"),
        lambda d, lib: d.__delitem__("z"),
    ]
    for step in steps:
        step(ours, nn)
        step(theirs, tnn)
        assert list(ours.keys()) == list(theirs.keys()) == list(ours) == list(iter(theirs))
        assert [type(m).__name__ for m in ours.values()] == [type(m).__name__ for m in theirs.values()]
        assert [(k, type(m).__name__) for k, m in ours.items()] == [(k, type(m).__name__) for k, m in theirs.items()]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert len(ours) == len(theirs)
    assert "enc" in ours and "skip" not in ours and 3 not in ours
    assert ours["act"] is ours.act and type(ours["act"]) is nn.ReLU
    ours.clear()
    assert len(ours) == 0 and list(ours.state_dict()) == [] and not hasattr(ours, "enc")


def test_module_dict_refuses_what_torch_refuses():
    blocks = nn.ModuleDict()
    with pytest.raises(KeyError):
        blocks["missing"]
    with pytest.raises(KeyError):
        del blocks["missing"]
    with pytest.raises(TypeError, match="a submodule name is a string, got int 1"):
        blocks[1] = nn.ReLU()
    for name in ("a.b", ""):
        with pytest.raises(ConfigError, match="must be non-empty and contain no '.'"):
            blocks[name] = nn.ReLU()
    for name in ("keys", "train", "forward"):  # torch: attribute already exists; it would hide the method
        with pytest.raises(ConfigError, match=f"name '{name}' is already an attribute of ModuleDict"):
            nn.ModuleDict({name: nn.ReLU()})
    with pytest.raises(TypeError, match="ModuleDict holds Modules, got int"):
        blocks["a"] = 3
    with pytest.raises(TypeError, match="element #0 must be a \\(name, Module\\) pair, got int"):
        blocks.update([1])
    with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
        blocks.update([("a", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="takes a mapping or an iterable"):
        blocks.update(3)
    assert len(blocks) == 0


# -------------------------------------------------------- Sequential's named layers
def _with_head():
    """An nnlab and a torch Sequential of two Linears and a ReLU, then ``model.head = Linear(...)``, same weights."""
    torch.manual_seed(0)
    theirs = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU())
    theirs.head = tnn.Linear(4, 2)
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    ours.head = nn.Linear(4, 2)
    _copy_linear(ours[0], theirs[0])
    _copy_linear(ours.head, theirs.head)
    return ours, theirs


def test_a_named_submodule_of_a_sequential_runs_after_the_layers_as_in_torch():
    ours, theirs = _with_head()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    _same(ours, theirs)
    assert ours[2] is ours.head and ours[-1] is ours.head and list(ours)[-1] is ours.head
    for index in (slice(1, None), slice(None, 2), slice(None, None, -1)):
        part, expected = ours[index], theirs[index]
        assert type(part) is nn.Sequential
        _same(part, expected)  # the names kept: "1", "head"
    head = nn.Linear(4, 3, rng=5)
    ours[-1] = head  # replaces the head, as torch's model[-1] = layer
    theirs[-1] = tnn.Linear(4, 3)
    assert ours.head is head and ours(x).shape == (5, 3)
    _same(ours, theirs)


def test_appending_and_deleting_around_a_named_layer_names_as_torch():
    ours, theirs = _with_head()
    ours.append(nn.Tanh())
    theirs.append(tnn.Tanh())
    _same(ours, theirs)  # "0", "1", "head", "3"
    del ours[0]
    del theirs[0]
    _same(ours, theirs)  # every layer numbered again: the head is "1" now
    assert not hasattr(ours, "head") and ours(np.ones((1, 4), np.float32)).shape == (1, 2)
    ours.insert(-1, nn.Sigmoid())
    theirs.insert(-1, tnn.Sigmoid())
    _same(ours, theirs)
    with pytest.raises(IndexError, match="index 5 is out of range for 4 layers"):
        ours.insert(5, nn.ReLU())


def test_a_sequential_of_an_ordered_dict_is_named_as_in_torch():
    names = [("conv", "Linear"), ("act", "Tanh"), ("out", "Linear")]
    ours = nn.Sequential(OrderedDict((n, _both(k)[0]) for n, k in names))
    theirs = tnn.Sequential(OrderedDict((n, _both(k)[1]) for n, k in names))
    _same(ours, theirs)
    assert ours.conv is ours[0]
    with pytest.raises(ConfigError, match="name 'forward' is already an attribute of Sequential"):
        nn.Sequential(OrderedDict(forward=nn.ReLU()))


def test_forward_sees_a_layer_written_into_modules_directly():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.ReLU())
    x = np.ones((1, 2), np.float32)
    model(x)  # the plan is made for these two layers
    model._modules["1"] = nn.Tanh()  # what some torch code does: forward must not run the old ReLU
    np.testing.assert_array_equal(model(x).data, np.tanh(model[0](x).data))


def test_a_sequential_with_a_named_layer_or_a_slice_saves_and_loads(tmp_path):
    ours, _ = _with_head()
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    for model, name in ((ours, "head.safetensors"), (ours[1:], "slice.safetensors")):
        nnlab.save(model, tmp_path / name)
        loaded = nnlab.load(tmp_path / name)
        assert list(loaded._modules) == list(model._modules)
        assert list(loaded.state_dict()) == list(model.state_dict())
        if name == "head.safetensors":
            np.testing.assert_array_equal(loaded(x).data, model.eval()(x).data)
    spec = nn.to_spec(ours)
    assert spec["names"] == ["0", "1", "head"] and "names" not in nn.to_spec(nn.Sequential(nn.ReLU()))
    for names in (["0", "0", "1"], ["0", "a.b", "1"], ["0", "1"], "012"):
        with pytest.raises(ConfigError, match="'names' must be 3 distinct non-empty strings"):
            nn.from_spec({**spec, "names": names})


# ------------------------------------------------- custom modules in model files
class _Registered(_Net):
    """A module of one's own that holds a ModuleList and a ModuleDict, described in specs by its children."""

    def spec_args(self):
        return {}

    def spec_children(self):
        return ["layers", "blocks"]

    @classmethod
    def spec_child_names(cls, args, count):
        return ["layers", "blocks"]

    @classmethod
    def from_children(cls, children):
        return cls(*children)


@pytest.fixture
def registered(monkeypatch):
    """``_Registered`` registered for one test: the registry other tests list stays as it was."""
    monkeypatch.setattr(nn.spec, "_REGISTRY", dict(nn.spec._REGISTRY))
    nn.register(_Registered)


def test_a_registered_module_holding_containers_saves_and_loads(tmp_path, registered):
    net, _ = _nets()
    model = _Registered(net.layers, net.blocks)
    nnlab.save(model, tmp_path / "net.safetensors")
    loaded = nnlab.load(tmp_path / "net.safetensors")
    assert type(loaded.layers) is nn.ModuleList and type(loaded.blocks) is nn.ModuleDict
    assert list(loaded.blocks) == ["enc", "dec"]
    x = np.random.default_rng(2).normal(size=(3, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def test_an_unregistered_module_is_refused_at_save_by_name(tmp_path):
    net, _ = _nets()
    with pytest.raises(ConfigError, match="cannot describe _Net: not a registered layer type .*nnlab.nn.register"):
        nnlab.save(net, tmp_path / "net.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_a_forged_module_dict_spec_is_refused_at_load(registered):
    model = _Registered(*_nets()[0]._modules.values())
    spec = nn.to_spec(model)
    spec["children"][1]["args"]["keys"] = ["enc"]
    with pytest.raises(ConfigError, match="ModuleDict needs 'keys', one name per module \\(2 modules\\)"):
        nn.spec.check_state_shapes(spec, {})


# ------------------------------------------------------------------------- losses
LOSS_CLASSES = [name for name in losses.__all__ if name.endswith("Loss") and name != "Loss"]


def test_every_loss_class_is_nnlab_losses_own_in_nnlab_nn():
    assert len(LOSS_CLASSES) >= 9
    for name in LOSS_CLASSES:
        assert getattr(nn, name) is getattr(losses, name) and name in nn.__all__


@pytest.mark.parametrize("name, target", [
    ("CrossEntropyLoss", "classes"), ("NLLLoss", "classes"), ("MSELoss", "values"), ("HuberLoss", "values"),
    ("SmoothL1Loss", "values"), ("BCELoss", "probabilities"), ("BCEWithLogitsLoss", "probabilities"),
    ("KLDivLoss", "probabilities"),
])
def test_loss_classes_from_nnlab_nn_give_torchs_values(name, target):
    rng = np.random.default_rng(3)
    out = rng.normal(size=(6, 4))
    if name in ("BCELoss",):
        out = 1 / (1 + np.exp(-out))
    if name in ("NLLLoss", "KLDivLoss"):
        out = out - np.log(np.exp(out).sum(axis=1, keepdims=True))
    y = {"classes": rng.integers(0, 4, 6), "values": rng.normal(size=(6, 4)),
         "probabilities": rng.dirichlet(np.ones(4), 6)}[target]
    kwargs = {"reduction": "batchmean"} if name == "KLDivLoss" else {}  # torch warns about its "mean"
    ours = getattr(nn, name)(**kwargs)(nnlab.tensor(out), y).item()
    theirs = getattr(tnn, name)(**kwargs)(torch.from_numpy(out), torch.from_numpy(y)).item()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
