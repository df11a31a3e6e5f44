"""torch's remaining activations against PyTorch 2.13: LogSigmoid, Softmin, Hardshrink, Softshrink, Tanhshrink,
Threshold, GLU, RReLU and F.prelu (forward, backward, gradcheck, dtypes, errors, seeded slopes, model files, ONNX)."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# (id, nnlab function, torch function): each applied to the same input
FUNCTIONS = [
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("hardshrink", F.hardshrink, TF.hardshrink),
    ("hardshrink-1.2", lambda x: F.hardshrink(x, 1.2), lambda t: TF.hardshrink(t, 1.2)),
    ("softshrink", F.softshrink, TF.softshrink),
    ("softshrink-0", lambda x: F.softshrink(x, lambd=0.0), lambda t: TF.softshrink(t, 0.0)),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink),
    ("threshold", lambda x: F.threshold(x, 0.3, -2.0), lambda t: TF.threshold(t, 0.3, -2.0)),
    ("softmin-1", lambda x: F.softmin(x, dim=1), lambda t: TF.softmin(t, dim=1)),
    ("softmin-0", lambda x: F.softmin(x, 0), lambda t: TF.softmin(t, 0)),
    ("softmin-T", lambda x: F.softmin(x, -1, temperature=2.0), lambda t: TF.softmin(t / 2.0, -1)),
    ("glu", F.glu, TF.glu),
    ("glu-0", lambda x: F.glu(x, 0), lambda t: TF.glu(t, 0)),
    ("glu-1", lambda x: F.glu(x, dim=1), lambda t: TF.glu(t, dim=1)),
    ("rrelu-eval", F.rrelu, TF.rrelu),
    ("rrelu-eval-bounds", lambda x: F.rrelu(x, 0.05, 0.5, training=False),
     lambda t: TF.rrelu(t, 0.05, 0.5, training=False)),
    ("prelu-shared", lambda x: F.prelu(x, nnlab.tensor([0.2], dtype=x.dtype)),
     lambda t: TF.prelu(t, torch.tensor([0.2], dtype=t.dtype))),
    ("prelu-channels", lambda x: F.prelu(x, nnlab.tensor([0.1, -0.3, 0.5, 2.0], dtype=x.dtype)),
     lambda t: TF.prelu(t, torch.tensor([0.1, -0.3, 0.5, 2.0], dtype=t.dtype))),
]


def _input(dtype, shape=(4, 4, 6)):
    x = np.random.default_rng(0).normal(0, 2, shape)
    # the kinks themselves: ±λ of the shrinks, threshold's 0.3, and 0
    x.flat[:7] = [0.5, -0.5, 1.2, -1.2, 0.3, 0.0, -0.0]
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, ours, theirs", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_forward_and_gradient_match_torch(name, ours, theirs, dtype):
    x = _input(dtype)
    xn = nnlab.tensor(x, dtype=dtype, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xn), theirs(xt)
    assert y.dtype == dtype and tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    y.backward(nnlab.tensor(g, dtype=dtype))
    yt.backward(torch.from_numpy(g))
    assert xn.grad.dtype == dtype
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_eval_is_exactly_torch(dtype):
    x = _input(dtype)
    for lower, upper in ((1 / 8, 1 / 3), (0.0, 0.7), (0.25, 0.25)):
        xn, xt = nnlab.tensor(x, dtype=dtype, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, yt = F.rrelu(xn, lower, upper), TF.rrelu(xt, lower, upper, training=False)
        np.testing.assert_array_equal(y.data, yt.detach().numpy())
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_array_equal(xn.grad, xt.grad.numpy())
        layer, tlayer = nn.RReLU(lower, upper).eval(), torch.nn.RReLU(lower, upper).eval()
        np.testing.assert_array_equal(layer(x).data, tlayer(torch.from_numpy(x)).numpy())


def test_logsigmoid_is_finite_and_exact_for_large_inputs():
    for dtype in (np.float32, np.float64):
        x = np.array([-1e4, -1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0, 1e4], dtype=dtype)
        xn = nnlab.tensor(x, dtype=dtype, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        y = F.logsigmoid(xn)
        assert np.isfinite(y.data).all() and y.dtype == dtype
        np.testing.assert_allclose(y.data, TF.logsigmoid(xt).detach().numpy(), rtol=1e-6, atol=1e-44)  # subnormals
        assert y.data[0] == dtype(-1e4)  # log σ(x) → x far below 0
        y.sum().backward()
        TF.logsigmoid(xt).sum().backward()
        np.testing.assert_allclose(xn.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-30)


# float64 gradchecks, inputs kept away from the kinks (central differences straddle them otherwise)
GRADCHECKS = [
    ("logsigmoid", F.logsigmoid), ("hardshrink", lambda x: F.hardshrink(x, 0.4)),
    ("softshrink", lambda x: F.softshrink(x, 0.4)), ("tanhshrink", F.tanhshrink),
    ("threshold", lambda x: F.threshold(x, 0.3, 5.0)), ("softmin", lambda x: F.softmin(x, 1, beta=0.7)),
    ("glu", lambda x: F.glu(x, 1)), ("rrelu-eval", lambda x: F.rrelu(x, 0.1, 0.6)),
    ("rrelu-train", lambda x: F.rrelu(x, 0.1, 0.6, training=True, rng=3)),  # the same slopes at every evaluation
    ("prelu", lambda x: F.prelu(x, nnlab.tensor([0.1, 0.2, 0.3, 0.4], dtype=np.float64))),
]


@pytest.mark.parametrize("name, fn", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck_float64(name, fn):
    x = np.random.default_rng(2).normal(0, 1.5, (3, 4, 2))
    for kink in (0.0, 0.3, 0.4, -0.4):
        x[np.abs(x - kink) < 0.05] += 0.1
    xt = nnlab.tensor(x, dtype=np.float64, requires_grad=True)
    assert nnlab.gradcheck(fn, [xt])


def test_prelu_weight_gradient_matches_torch():
    x = _input(np.float64)
    w = np.array([0.1, -0.3, 0.5, 2.0])
    xn, wn = nnlab.tensor(x, dtype=np.float64, requires_grad=True), nnlab.tensor(w, dtype=np.float64, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.prelu(xn, wn).sum().backward()
    TF.prelu(xt, wt).sum().backward()
    np.testing.assert_allclose(wn.grad, wt.grad.numpy(), rtol=1e-12)
    assert nnlab.gradcheck(lambda a: F.prelu(xn.detach(), a), [wn])


# (nnlab layer, torch layer)
LAYERS = [
    (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    (lambda: nn.Softmin(dim=1), lambda: torch.nn.Softmin(dim=1)),
    (lambda: nn.Hardshrink(0.7), lambda: torch.nn.Hardshrink(0.7)),
    (lambda: nn.Softshrink(), lambda: torch.nn.Softshrink()),
    (lambda: nn.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
    (lambda: nn.Threshold(-0.5, 4.0), lambda: torch.nn.Threshold(-0.5, 4.0)),
    (lambda: nn.GLU(dim=2), lambda: torch.nn.GLU(dim=2)),
    (lambda: nn.RReLU(0.2, 0.3).eval(), lambda: torch.nn.RReLU(0.2, 0.3).eval()),
]


@pytest.mark.parametrize("ours, theirs", LAYERS, ids=[repr(f[1]()) for f in LAYERS])
def test_layers_match_torch_modules(ours, theirs):
    x = _input(np.float32)
    layer, tlayer = ours(), theirs()
    xn, xt = nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = layer(xn), tlayer(xt)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL[np.float32])
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), **TOL[np.float32])
    flops, shape = layer._count_flops(x.shape)
    assert shape == tuple(yt.shape) and flops > 0


def test_integer_input_computes_in_float32():
    x = nnlab.tensor(np.array([-3, -1, 0, 2, 5]), dtype=np.int64)
    for fn in (F.logsigmoid, F.hardshrink, F.softshrink, F.tanhshrink, lambda t: F.threshold(t, 1, 0),
               F.softmin, lambda t: F.rrelu(t, training=True, rng=0), lambda t: F.glu(t[:4])):
        assert fn(x).dtype == np.float32


# ---------------------------------------------------------------- RReLU training mode
def _train_rrelu(x, lower, upper, **kwargs):
    xn = nnlab.tensor(x, dtype=np.float64, requires_grad=True)
    y = F.rrelu(xn, lower, upper, training=True, **kwargs)
    y.sum().backward()
    return y.data, xn.grad


def test_rrelu_training_slopes_lie_in_bounds_and_are_the_gradient():
    x = np.random.default_rng(0).normal(0, 1, (200, 50))
    x[x == 0] = 1.0
    y, grad = _train_rrelu(x, 0.1, 0.4, rng=0)
    negative = x < 0
    slopes = y[negative] / x[negative]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.4
    assert abs(slopes.mean() - 0.25) < 0.005 and slopes.std() > 0.08  # U(0.1, 0.4): std 0.087
    assert np.unique(slopes).size > 0.99 * slopes.size  # one slope per element
    np.testing.assert_allclose(grad[negative], slopes, rtol=1e-12)
    np.testing.assert_array_equal(y[~negative], x[~negative])
    np.testing.assert_array_equal(grad[~negative], 1.0)


def test_rrelu_training_is_torch_in_distribution():
    """torch draws its own numbers: the same law (x above 0 kept, a·x with a in [lower, upper] below)."""
    x = torch.tensor(np.random.default_rng(0).normal(0, 1, (200, 50)), requires_grad=True)
    y = TF.rrelu(x, 0.1, 0.4, training=True)
    y.sum().backward()
    negative = (x < 0).numpy()
    theirs = (y / x).detach().numpy()[negative]
    ours, _ = _train_rrelu(x.detach().numpy(), 0.1, 0.4, rng=5)
    ours = ours[negative] / x.detach().numpy()[negative]
    assert theirs.min() >= 0.1 and theirs.max() <= 0.4
    np.testing.assert_allclose(x.grad.numpy()[negative], theirs, rtol=1e-12)
    assert abs(ours.mean() - theirs.mean()) < 0.01 and abs(ours.std() - theirs.std()) < 0.01


def test_rrelu_float32_slopes_stay_in_bounds():
    x = -np.ones((100, 100), dtype=np.float32)
    y = F.rrelu(nnlab.tensor(x), 0.125, 1 / 3, training=True, rng=1)
    assert y.dtype == np.float32
    assert (-y.data >= np.float32(0.125)).all() and (-y.data <= np.float32(1 / 3)).all()


def test_rrelu_same_seed_gives_same_slopes():
    x = np.random.default_rng(0).normal(0, 1, (30, 8))
    a, _ = _train_rrelu(x, 0.1, 0.3, rng=7)
    b, _ = _train_rrelu(x, 0.1, 0.3, rng=np.random.default_rng(7))
    c, _ = _train_rrelu(x, 0.1, 0.3, rng=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    nnlab.seed(3)
    first = [nn.RReLU()(x).data for _ in range(2)]  # the global generator, as Dropout without rng
    nnlab.seed(3)
    again = [nn.RReLU()(x).data for _ in range(2)]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # each call draws new slopes
    layer, twin = nn.RReLU(rng=4), nn.RReLU(rng=4)
    np.testing.assert_array_equal(layer(x).data, twin(x).data)
    layer.reseed(9), twin.reseed(9)
    np.testing.assert_array_equal(layer(x).data, twin(x).data)


def test_rrelu_functional_default_is_eval_and_layer_follows_mode():
    x = nnlab.tensor([[-2.0, 1.0]])
    assert F.rrelu(x).data[0, 0] == np.float32(-2.0) * np.float32((1 / 8 + 1 / 3) / 2)
    layer = nn.RReLU(0.1, 0.3, rng=0)
    assert layer.training and layer(x).data[0, 0] != np.float32(-0.4)
    assert layer.eval()(x).data[0, 0] == np.float32(-0.4)


# ---------------------------------------------------------------- errors
ERRORS = [
    (lambda: F.hardshrink(nnlab.tensor([1.0]), -0.1), r"hardshrink: lambd must be a finite number >= 0, got -0.1"),
    (lambda: F.softshrink(nnlab.tensor([1.0]), float("nan")), r"softshrink: lambd must be a finite number >= 0"),
    (lambda: nn.Hardshrink(-1), r"Hardshrink: lambd must be a finite number >= 0, got -1"),
    (lambda: nn.Softshrink("0.5"), r"Softshrink: lambd must be a finite number >= 0, got '0.5'"),
    (lambda: F.threshold(nnlab.tensor([1.0]), float("inf"), 0.0), r"threshold: threshold must be a finite number"),
    (lambda: nn.Threshold(0.0, None), r"Threshold: value must be a finite number, got None"),
    (lambda: F.glu(nnlab.tensor(np.ones((2, 5)))), r"glu: .*dim -1 .*even size, but it has size 5 .*\(2, 5\)"),
    (lambda: F.glu(nnlab.tensor(np.ones((3, 4))), 0), r"glu: .*dim 0 .*but it has size 3"),
    (lambda: nn.GLU(1)(np.ones((2, 7, 2))), r"glu: .*dim 1 .*size 7"),
    (lambda: nn.GLU(1)._count_flops((2, 7)), r"GLU: .*dim 1 .*size 7"),
    (lambda: F.glu(nnlab.tensor(1.0)), r"glu: .*0-d tensor"),
    (lambda: nn.GLU(dim=1.0), r"GLU: dim must be an integer, got 1.0"),
    (lambda: F.rrelu(nnlab.tensor([1.0]), 0.5, 0.2), r"rrelu: upper must be a finite number >= 0.5, got 0.2"),
    (lambda: nn.RReLU(-0.1), r"RReLU: lower must be a finite number >= 0, got -0.1"),
    (lambda: F.rrelu(nnlab.tensor([1.0]), training=1), r"rrelu: training must be true or false, got 1"),
    (lambda: nn.Softmin(dim=1, temperature=0), r"Softmin: temperature must be a finite number > 0"),
    (lambda: F.softmin(nnlab.tensor([1.0]), beta=-1.0), r"softmin: beta must be a finite number > 0"),
    (lambda: F.prelu(nnlab.tensor(np.ones((2, 3))), nnlab.tensor(np.ones((3, 1)))), r"prelu: weight must be 1-D"),
    (lambda: F.prelu(nnlab.tensor(np.ones((2, 3))), nnlab.tensor(np.ones(2))),
     r"num_parameters=2 .*input shape \(2, 3\) has 3 channels"),
    (lambda: F.prelu(nnlab.tensor(np.ones(3)), nnlab.tensor(np.ones(1), dtype=np.float64)),
     r"prelu: input is float32 but weight is float64"),
]


@pytest.mark.parametrize("make, message", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_glu_dim_out_of_range_names_the_range():
    with pytest.raises(np.exceptions.AxisError, match=r"glu: axis 2 is out of range for a 2-d tensor"):
        F.glu(nnlab.tensor(np.ones((2, 4))), 2)


# ---------------------------------------------------------------- model files and ONNX
def _model():
    return nn.Sequential(nn.Linear(6, 8, rng=0), nn.LogSigmoid(), nn.Hardshrink(0.1), nn.Softshrink(0.05),
                         nn.Tanhshrink(), nn.Threshold(-0.01, 0.5), nn.RReLU(0.05, 0.2), nn.GLU(), nn.Linear(4, 3, rng=1),
                         nn.Softmin(dim=1, beta=2.0))


def test_model_file_round_trip(tmp_path):
    model = _model()
    nnlab.save(model, tmp_path / "m.nnlab")
    loaded = nnlab.load(tmp_path / "m.nnlab")
    assert [repr(m) for m in loaded] == [repr(m) for m in model]
    x = np.random.default_rng(0).normal(0, 1, (5, 6)).astype(np.float32)
    model.eval(), loaded.eval()
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    assert nn.to_spec(loaded)["layers"][6] == {"type": "RReLU", "args": {"lower": 0.05, "upper": 0.2}}


def test_onnx_export_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from nnlab.onnx import export
    from nnlab.train import predict

    model = _model()
    model.train()  # export traces eval mode whatever the model's mode: RReLU's mean slope
    export(model, tmp_path / "m.onnx", input_shape=(6,))
    assert model.training
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(0, 3, (9, 6)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], predict(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [nn.LogSigmoid(), nn.Softmin(dim=1), nn.GLU(dim=1), nn.Threshold(2.0, -3.0),
                                   nn.Hardshrink(1.0), nn.Softshrink(1.0), nn.RReLU()])
def test_onnx_large_values_and_layouts(tmp_path, layer):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from nnlab.onnx import export
    from nnlab.train import predict

    model = nn.Sequential(nn.Unflatten(1, (4, 3)), layer, nn.Flatten())  # (N, 4, 3): GLU halves axis 1
    export(model, tmp_path / "m.onnx", input_shape=(12,))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).normal(0, 1, (5, 12)).astype(np.float32)
    x[0] = [-500, -100, -1, -1.0, 1.0, 2.0, 100, 500, 0, 1e4, -1e4, 3]  # ±λ, the threshold, far tails
    got, expected = session.run(None, {"input": x})[0], predict(model, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_onnx_export_of_glu_on_an_odd_axis_is_refused_by_name(tmp_path):
    pytest.importorskip("onnx")
    from nnlab.onnx import export

    with pytest.raises(ConfigError, match=r"inputs of shape \(5,\).*GLU: .*dim -1 .*size 5"):
        export(nn.Sequential(nn.GLU()), tmp_path / "m.onnx", input_shape=(5,))
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------- the names configs use
def test_cli_and_sklearn_names_build_the_new_layers():
    from nnlab.cli.build import activation_module
    from nnlab.sklearn._base import ACTIVATIONS

    for name, cls in (("logsigmoid", nn.LogSigmoid), ("hardshrink", nn.Hardshrink), ("softshrink", nn.Softshrink),
                      ("tanhshrink", nn.Tanhshrink), ("rrelu", nn.RReLU)):
        settings = {"activation": name, "activation_alpha": None, "prelu_per_channel": False, "activation_args": {}}
        assert type(activation_module(type("M", (), settings)(), 4)) is cls
        assert ACTIVATIONS[name] is cls
    settings = {"activation": "softshrink", "activation_alpha": None, "prelu_per_channel": False,
                "activation_args": {"lambd": 0.25}}
    assert activation_module(type("M", (), settings)(), 4).lambd == 0.25


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_rrelu_slopes_follow_random_state():
    from nnlab.sklearn import NNClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(0, 1, (40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    fits = [NNClassifier((5,), activation="rrelu", max_iter=3, random_state=seed).fit(X, y).predict_proba(X)
            for seed in (0, 0)]
    np.testing.assert_array_equal(fits[0], fits[1])
