"""Module system: registration, traversal, modes, state dicts, dtype conversion, FLOPs, seeding."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError


def _mlp(rng=0):
    return nn.Sequential(
        nn.Linear(4, 8, rng=rng), nn.BatchNorm(8), nn.ReLU(), nn.Dropout(keep=0.8, rng=rng), nn.Linear(8, 3, rng=rng + 1)
    )


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(3, 3, rng=0)
        self.left = nn.Sequential(self.shared, nn.Tanh())
        self.right = self.shared  # the same module reached twice
        self.scale = nn.Parameter([2.0])

    def forward(self, x):
        return (self.left(x) + self.right(x)) * self.scale


def test_parameters_registered_by_attribute_in_order():
    model = _mlp()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.gamma", "1.beta", "4.weight", "4.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert model.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3


def test_shared_module_and_parameter_yielded_once():
    model = TwoBranch()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "shared.weight", "shared.bias"]  # own parameters first, as PyTorch
    assert model.num_parameters() == 9 + 3 + 1
    assert [n for n, _ in model.named_modules()] == ["", "shared", "left", "left.1"]
    out = model(np.ones((2, 3)))
    out.sum().backward()
    assert model.shared.weight.grad is not None  # both uses accumulated into one array


def test_assignment_rules():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = np.zeros((2, 2))
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert list(layer.named_parameters()) == []


def test_call_runs_forward_and_subclasses_can_override():
    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    class Triple(Double):
        def forward(self, x):
            return x * 3

    class Logged(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def __call__(self, x):
            self.calls += 1
            return self.forward(x)

        def forward(self, x):
            return x

    class LoggedChild(Logged):
        def forward(self, x):
            return x + 1

    assert Double()(nnlab.tensor([1.0])).item() == 2
    assert Triple()(nnlab.tensor([1.0])).item() == 3
    m = LoggedChild()
    assert m(nnlab.tensor([1.0])).item() == 2 and m.calls == 1
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


def test_train_eval_recursive():
    model = _mlp()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError):
        model.train("no")


def test_apply_visits_children_before_parents_each_once_as_torch():
    inner = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Tanh())
    model = nn.Sequential(inner, nn.Linear(2, 1, rng=1), inner)  # the same module twice: visited once
    seen = []
    assert model.apply(seen.append) is model
    assert seen == [inner[0], inner[1], inner, model[1], model]  # torch.nn.Module.apply's post-order

    def init(m):  # the PyTorch idiom this exists for
        if isinstance(m, nn.Linear):
            m.weight.data[...] = 0.5
    model.apply(init)
    assert all((p.data == 0.5).all() for p in model.weight_parameters())


def test_a_sequential_layer_replaced_by_name_or_index_is_the_one_forward_runs():
    x = np.ones((2, 2), np.float32)
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
    model(x)  # forward has made its plan: it must be made again
    head = nn.Linear(3, 5, rng=2)
    setattr(model, "2", head)  # PyTorch's idiom, with names from named_children()
    assert model(x).shape == (2, 5) and model[2] is head and list(model)[2] is head
    np.testing.assert_array_equal(model(x).data, head(nn.ReLU()(model[0](x))).data)
    model[-2] = nn.Tanh()  # and torch's model[i] = layer
    np.testing.assert_array_equal(model(x).data, head(nn.Tanh()(model[0](x))).data)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError, match="index 3 is out of range for 3 layers"):
        model[3] = nn.ReLU()
    with pytest.raises(ConfigError, match="must be replaced by a Module, got int"):
        model[0] = 5



def test_a_sequential_layer_deleted_by_index_slice_or_name_leaves_forward_too():
    x = np.ones((2, 4), np.float32)
    model = nn.Sequential(nn.Linear(4, 4, rng=0), nn.ReLU(), nn.Linear(4, 4, rng=1), nn.Tanh(),
                          nn.Linear(4, 2, rng=2))
    first, middle, last = model[0], model[2], model[4]
    model(x)  # forward has made its plan: it must be made again
    del model[1:4:2]  # torch's del model[i] / model[a:b]: the rest are numbered 0.. again
    assert list(model) == [first, middle, last] and len(model) == 3
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    np.testing.assert_array_equal(model(x).data, last(middle(first(x))).data)
    delattr(model, "1")  # by name: forward had kept running the deleted layer
    assert list(model) == [first, last]
    np.testing.assert_array_equal(model(x).data, last(first(x)).data)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    model.append(nn.ReLU())
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range for 3 layers"):
        del model[3]
    with pytest.raises(TypeError, match="integers or slices, got str"):
        del model["0"]


def test_a_named_submodule_of_a_sequential_is_reassigned_and_deleted_as_any_attribute():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.ReLU())
    model.head = nn.Linear(2, 3, rng=1)  # not a layer: reassigning or deleting it had raised int('head')
    model.head = nn.Linear(2, 4, rng=2)
    assert model.head.out_features == 4 and len(model) == 3 and model[2] is model.head  # a layer, as in torch
    del model.head
    assert [name for name, _ in model.named_children()] == ["0", "1"] and not hasattr(model, "head")

def test_zero_grad():
    model = _mlp()
    model(np.ones((4, 4))).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not p.grad.any() for p, g in zip(model.parameters(), grads))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def _train_a_little(model, steps=3):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        out = model(rng.standard_normal((16, 4)))
        nnlab.losses.cross_entropy(out, rng.integers(0, 3, 16)).backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        model.zero_grad()


def test_state_dict_round_trip_gives_identical_outputs():
    model = _mlp(0)
    _train_a_little(model)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.gamma", "1.beta", "1.running_mean", "1.running_var", "4.weight", "4.bias"]
    assert not np.all(state["1.running_mean"] == 0)
    other = _mlp(5)
    other.load_state_dict(state)
    X = np.random.default_rng(9).standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.eval()(X).numpy(), other.eval()(X).numpy())


def test_state_dict_returns_copies():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    state["weight"][...] = 123.0
    assert not np.any(model.weight.data == 123.0)


def test_load_state_dict_copies_in_place_keeping_arrays_and_views():
    model = _mlp(0)
    arrays = [p.data for p in model.parameters()] + list(model.buffers())
    view = model[0].weight.data[:1]  # stands for an optimizer's view into the parameter
    source = _mlp(3)
    _train_a_little(source)
    model.load_state_dict(source.state_dict())
    assert all(a is b for a, b in zip(arrays, [p.data for p in model.parameters()] + list(model.buffers())))
    np.testing.assert_array_equal(view, source[0].weight.data[:1])
    assert model[0].weight.dtype == np.float32


def test_load_state_dict_casts_into_existing_dtype():
    model = nn.Linear(2, 2)
    model.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # float64 values
    assert model.weight.dtype == np.float32 and np.all(model.weight.data == 1)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.pop("4.bias"), "missing key\\(s\\) '4.bias'"),
        (lambda s: s.pop("1.running_var"), "missing key\\(s\\) '1.running_var'"),
        (lambda s: s.update({"5.weight": np.zeros(3)}), "unexpected key\\(s\\) '5.weight'"),
        (lambda s: s.update({"0.weight": np.zeros((8, 4))}), "'0.weight' has shape \\(8, 4\\).*\\(4, 8\\)"),
        (lambda s: s.update({"0.bias": np.array(["a"] * 8)}), "'0.bias'.*non-numeric"),
    ],
)
def test_load_state_dict_rejects_bad_keys_naming_them(change, match):
    model = _mlp(0)
    before = model.state_dict()
    state = _mlp(1).state_dict()
    change(state)
    with pytest.raises(ConfigError, match=match):
        model.load_state_dict(state)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing copied on failure


def test_load_state_dict_non_strict_reports_instead():
    model = nn.Linear(2, 2)
    state = {"weight": np.ones((2, 2)), "extra": np.zeros(1)}
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert np.all(model.weight.data == 1)
    with pytest.raises(ConfigError, match="shape"):
        model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)


def test_tied_weights_stored_once_in_state_dict():
    encoder = nn.Linear(5, 2, rng=0)
    model = nn.Sequential(encoder, nn.Sigmoid(), nn.TiedLinear(encoder))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.bias"]
    copy = nn.Sequential(e := nn.Linear(5, 2, rng=1), nn.Sigmoid(), nn.TiedLinear(e))
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy[2].weight.data, model[0].weight.data)


def test_seed_gives_identical_weights():
    nnlab.seed(0)
    a = _mlp_default()
    nnlab.seed(0)
    b = _mlp_default()
    nnlab.seed(1)
    c = _mlp_default()
    for (name, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def _mlp_default():
    return nn.Sequential(nn.Linear(4, 8, bias_init=nnlab.init.normal(0.1)), nn.ReLU(), nn.Maxout(8, 3, pieces=2))


def test_double_converts_parameters_and_buffers_in_place():
    nnlab.seed(0)
    model = _mlp_default().double()
    nnlab.seed(0)
    reference = _mlp_default()
    assert all(p.dtype == np.float64 for p in model.parameters())
    # drawn in float64 then cast, so the two dtypes hold the same numbers up to rounding
    np.testing.assert_allclose(model[0].weight.data, reference[0].weight.data, rtol=1e-7)
    bn = nn.BatchNorm(3).double()
    assert bn.running_var.dtype == np.float64 and bn._buffers["running_var"] is bn.running_var
    assert nn.Linear(2, 2, dtype=np.float64).float().weight.dtype == np.float32
    encoder = nn.Linear(3, 2)
    tied = nn.Sequential(encoder, nn.TiedLinear(encoder)).double()
    assert tied[1].weight is encoder.weight and tied[1].weight.dtype == np.float64


def test_flops_linear_counts_multiply_add_as_two():
    layer = nn.Linear(10, 5)
    assert layer.flops((1, 10)) == 2 * 10 * 5 + 5
    assert layer.flops((32, 10)) == 32 * (2 * 10 * 5 + 5)
    assert nn.Linear(10, 5, bias=False).flops(10) == 100


def test_flops_by_layer_breakdown_and_total():
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Residual(nn.Linear(100, 100)), nn.Linear(100, 10), nn.Softmax())
    rows = model.flops_by_layer((1, 784))
    assert [r["name"] for r in rows] == ["0", "1", "2.module", "2", "3", "4"]
    assert rows[0]["flops"] == 2 * 784 * 100 + 100 and rows[0]["output_shape"] == (1, 100)
    assert rows[1]["flops"] == 100
    assert rows[3]["type"] == "Residual" and rows[3]["flops"] == 100
    assert model.flops((1, 784)) == sum(r["flops"] for r in rows)
    with pytest.raises(ConfigError, match="expects 784"):
        model.flops((1, 100))


def test_flops_depend_on_mode_and_maxout_counts_pieces():
    drop = nn.Dropout(keep=0.5)
    assert drop.flops((2, 10)) == 20 and drop.eval().flops((2, 10)) == 0
    assert nn.Maxout(4, 3, pieces=2, bias=False).flops((1, 4)) == 2 * 4 * 6 + 3


def test_flops_of_custom_module_without_count_is_explained():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="Custom has no FLOP count"):
        Custom().flops((1, 3))


def test_repr_is_readable():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Residual(nn.ReLU()), nn.Dropout(keep=0.5)))
    assert text == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Residual(\n"
        "    (module): ReLU()\n"
        "  )\n"
        "  (2): Dropout(keep=0.5)\n"
        ")"
    )
    assert repr(nn.Parameter([1.0])).startswith("Parameter(")


def test_register_buffer_and_get_submodule():
    model = _mlp()
    assert model.get_submodule("1") is model[1]
    assert model.get_submodule("") is model
    with pytest.raises(ConfigError, match="'9'"):
        model.get_submodule("9")
    model[1].running_mean = np.full(8, 2.0, dtype=np.float32)  # reassigning a buffer keeps it registered
    assert model.state_dict()["1.running_mean"][0] == 2.0


def test_deepcopy_and_pickle_keep_ties_and_state():
    import copy
    import pickle

    encoder = nn.Linear(4, 3, rng=0)
    model = nn.Sequential(encoder, nn.BatchNorm(3), nn.TiedLinear(encoder))
    X = np.random.default_rng(0).standard_normal((5, 4))
    model(X)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone[2].weight is clone[0].weight and clone[0].weight is not encoder.weight
        np.testing.assert_array_equal(clone.eval()(X).numpy(), model.eval()(X).numpy())
        model.train()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 4)])
def test_sequential_runs_linear_then_relu_as_one_node_with_the_same_bits(dtype, shape):
    """Linear → ReLU runs as Linear.forward_relu (nn/container.py): layer by layer gives the same bits,
    for a data batch and for an input that needs its gradient, with leading batch axes."""
    rng = np.random.default_rng(4)
    X = rng.integers(-2, 3, shape).astype(dtype)  # exact zeros in the pre-activations, too
    results = []
    for planned in (True, False):
        nnlab.seed(5)
        model = nn.Sequential(nn.Linear(4, 5, dtype=dtype), nn.ReLU(), nn.Linear(5, 3, dtype=dtype), nn.ReLU())
        model[0].bias.data[:] = 0  # integer inputs and zero biases: some pre-activations are exactly 0
        model[0].weight.data[...] = np.round(model[0].weight.data * 2)
        x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
        if planned:
            out = model(x)
            assert [after for _, after in model.__dict__["_plan"]] == [model[1], model[3]]
        else:
            out = x
            for layer in model:
                out = layer(out)
        (out * out).sum().backward()
        results.append([out.data, x.grad] + [p.grad for p in model.parameters()])
    assert (results[0][0] == 0).any() and (results[0][0] > 0).any()
    for a, b in zip(*results):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
