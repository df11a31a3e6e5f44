"""The new losses' class forms, registry names, namespaces and errors; nn.CosineSimilarity and nn.PairwiseDistance.

The values and gradients against torch are tests/test_losses_margin_torch.py's.
"""

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as NF
from nnlab import losses, nn
from nnlab.errors import ConfigError, DataError
from nnlab.losses.base import registered

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(33)
X = RNG.standard_normal((5, 3))
Y = RNG.standard_normal((5, 3))
SIGNS = np.where(RNG.random((5, 3)) < 0.5, -1.0, 1.0)
LABELS = np.array([0, 2, 1, 1, 0])

# (registry name, class, function, target): the losses of (output, target), reachable by name
REGISTERED = [
    ("hinge_embedding", losses.HingeEmbeddingLoss, losses.hinge_embedding_loss, SIGNS),
    ("soft_margin", losses.SoftMarginLoss, losses.soft_margin_loss, SIGNS),
    ("multi_margin", losses.MultiMarginLoss, losses.multi_margin_loss, LABELS),
    ("multilabel_soft_margin", losses.MultiLabelSoftMarginLoss, losses.multilabel_soft_margin_loss, (SIGNS > 0) * 1.0),
    ("poisson_nll", losses.PoissonNLLLoss, losses.poisson_nll_loss, np.abs(Y).round()),
]
# the losses of more inputs: class forms called with all of them
MULTI_INPUT = [
    (losses.MarginRankingLoss, losses.margin_ranking_loss, (X[:, 0], Y[:, 0], SIGNS[:, 0])),
    (losses.CosineEmbeddingLoss, losses.cosine_embedding_loss, (X, Y, SIGNS[:, 0])),
    (losses.TripletMarginLoss, losses.triplet_margin_loss, (X, Y, X + 1.0)),
    (losses.GaussianNLLLoss, losses.gaussian_nll_loss, (X, Y, np.abs(Y) + 0.5)),
]
INPUTS = [(fn, (X, target)) for _, _, fn, target in REGISTERED] + [(fn, inputs) for _, fn, inputs in MULTI_INPUT]


def _x(a=X):
    return nnlab.tensor(a, dtype=np.float64)


@pytest.mark.parametrize("name, cls, fn, target", REGISTERED, ids=[r[0] for r in REGISTERED])
def test_registered_losses_by_name_class_and_function_agree(name, cls, fn, target):
    assert name in losses.names() and type(losses.get(name)) is cls and type(losses.get(cls.__name__)) is cls
    for reduction in ("mean", "sum", "none"):
        loss = losses.get(name, reduction=reduction)
        np.testing.assert_allclose(loss(_x(), target).numpy(), fn(_x(), target, reduction=reduction).numpy())
        assert losses.get(**loss.config).config == loss.config
    assert registered(fn)[0] is cls and registered(cls())[0] is cls
    assert getattr(nn, cls.__name__) is cls and getattr(NF, fn.__name__) is fn


def test_settings_of_the_class_forms_reach_their_functions():
    cases = [
        (losses.MultiMarginLoss(2, 0.5, [1.0, 2.0, 3.0], reduction="sum"),
         lambda: losses.multi_margin_loss(_x(), LABELS, 2, 0.5, [1.0, 2.0, 3.0], reduction="sum"), LABELS),
        (losses.HingeEmbeddingLoss(0.3), lambda: losses.hinge_embedding_loss(_x(), SIGNS, 0.3), SIGNS),
        (losses.PoissonNLLLoss(False, True, eps=0.5), lambda: losses.poisson_nll_loss(
            _x(np.abs(X)), np.abs(Y), False, True, eps=0.5), np.abs(Y)),
        (losses.MultiLabelSoftMarginLoss([1.0, 0.0, 2.0]), lambda: losses.multilabel_soft_margin_loss(
            _x(), SIGNS > 0, [1.0, 0.0, 2.0]), SIGNS > 0),
    ]
    for loss, expected, target in cases:
        x = _x(np.abs(X)) if isinstance(loss, losses.PoissonNLLLoss) else _x()
        assert loss(x, target).item() == pytest.approx(expected().item(), rel=1e-12)
    assert losses.PoissonNLLLoss(False, True, eps=0.5).config == {
        "name": "poisson_nll", "reduction": "mean", "log_input": False, "full": True, "eps": 0.5}


@pytest.mark.parametrize("cls, fn, inputs", MULTI_INPUT, ids=[m[0].__name__ for m in MULTI_INPUT])
def test_multi_input_losses_are_class_forms_outside_the_registry(cls, fn, inputs):
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(cls(reduction=reduction)(*map(_x, inputs)).numpy(),
                                   fn(*map(_x, inputs), reduction=reduction).numpy())
    assert registered(cls()) is None and "name" not in cls().config
    with pytest.raises(ConfigError, match="unknown loss"):
        losses.get(cls.__name__)
    assert getattr(nn, cls.__name__) is cls and getattr(NF, fn.__name__) is fn


def test_class_forms_take_torchs_settings():
    assert repr(losses.TripletMarginLoss(0.5, 1, 1e-3, True, reduction="sum")) == \
        "TripletMarginLoss(reduction='sum', margin=0.5, p=1.0, eps=0.001, swap=True)"
    assert losses.GaussianNLLLoss(full=True, eps=1e-3).config == {"reduction": "mean", "full": True, "eps": 1e-3}
    a, b, y = _x(X[:, 0]), _x(Y[:, 0]), SIGNS[:, 0]
    assert losses.MarginRankingLoss(0.2)(a, b, y).item() == pytest.approx(
        torch.nn.MarginRankingLoss(0.2)(torch.tensor(X[:, 0]), torch.tensor(Y[:, 0]), torch.tensor(y)).item())


def test_fit_takes_the_registered_names():
    rng = np.random.default_rng(0)
    Xtr = rng.standard_normal((64, 2)).astype(np.float32)
    y = (Xtr[:, 0] > 0).astype(np.int64)
    for name, target in (("multi_margin", y), ("soft_margin", (2.0 * y - 1).astype(np.float32)[:, None])):
        model = nn.Linear(2, 2 if name == "multi_margin" else 1)
        history = nnlab.train.fit(model, name, nnlab.optim.SGD(model.parameters(), lr=0.5), (Xtr, target), epochs=8,
                                  batch_size=16, verbose=0, seed=0)
        assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], name


@pytest.mark.parametrize("fn, inputs", INPUTS, ids=[f.__name__ for f, _ in INPUTS])
def test_a_bad_reduction_names_the_choices(fn, inputs):
    with pytest.raises(ConfigError, match=rf"{fn.__name__}: reduction must be one of mean, sum, none, got 'avg'"):
        fn(*map(_x, inputs), reduction="avg")


@pytest.mark.parametrize("cls", [c for _, c, _, _ in REGISTERED] + [c for c, _, _ in MULTI_INPUT], ids=str)
def test_a_class_form_refuses_a_bad_reduction(cls):
    with pytest.raises(ConfigError, match=rf"{cls.__name__}: reduction must be one of mean, sum, none, got 'avg'"):
        cls(reduction="avg")


@pytest.mark.parametrize("call, match", [
    (lambda: losses.hinge_embedding_loss(_x(), SIGNS[:2]), r"target shape \(2, 3\) does not match prediction shape \(5, 3\)"),
    (lambda: losses.soft_margin_loss(_x(), SIGNS.T), r"target shape \(3, 5\) does not match prediction shape \(5, 3\)"),
    (lambda: losses.multilabel_soft_margin_loss(_x(), SIGNS[:, :2]), r"\(5, 2\) does not match prediction shape \(5, 3\)"),
    (lambda: losses.multilabel_soft_margin_loss(_x(), SIGNS, [1.0, 2.0]),
     r"weight of shape \(2,\) does not broadcast to the input's shape \(5, 3\)"),
    (lambda: losses.poisson_nll_loss(_x(), Y[:, 0]), r"target shape \(5,\) does not match prediction shape \(5, 3\)"),
    (lambda: losses.gaussian_nll_loss(_x(), Y, np.ones((5, 2))),
     r"var of shape \(5, 2\) does not fit the input's shape \(5, 3\)"),
    (lambda: losses.gaussian_nll_loss(_x(), Y, np.ones((1, 1))), r"var of shape \(1, 1\) does not fit"),
    (lambda: losses.gaussian_nll_loss(_x(), Y, -np.ones((5, 1))), r"var must be >= 0, got \[-1.0, -1.0, -1.0\]"),
    (lambda: losses.gaussian_nll_loss(_x(), Y, -0.5), "var must be >= 0, got -0.5"),
    (lambda: losses.gaussian_nll_loss(_x(), Y[:1], 1.0), r"target shape \(1, 3\) does not match prediction shape"),
    (lambda: losses.margin_ranking_loss(_x(X[:, 0]), Y[:4, 0], SIGNS[:, 0]),
     r"margin_ranking_loss: the inputs must have one shape, got input1 \(5,\), input2 \(4,\), target \(5,\)"),
    (lambda: losses.cosine_embedding_loss(_x(), Y, SIGNS),
     r"labels of shape \(5, 3\) do not fit inputs of shape \(5, 3\) \(inputs \(N, D\) take labels \(N,\)"),
    (lambda: losses.cosine_embedding_loss(_x(), Y[:, :2], SIGNS[:, 0]),
     r"got input1 \(5, 3\), input2 \(5, 2\)"),
    (lambda: losses.triplet_margin_loss(_x(), Y, X[:, :2]),
     r"got anchor \(5, 3\), positive \(5, 3\), negative \(5, 2\)"),
    (lambda: losses.multi_margin_loss(_x(), [0, 1, 2, 3, 1]), r"class index 3 is out of range for 3 classes"),
    (lambda: losses.multi_margin_loss(_x(), LABELS[:3]), r"class targets of shape \(3,\) do not fit predictions"),
    (lambda: losses.multi_margin_loss(_x(), LABELS, weight=[1.0, 2.0]), "weight has 2 entries but the predictions have 3"),
    (lambda: losses.multi_margin_loss(_x(np.float64(1.0)), 0), "needs a class axis"),
    (lambda: losses.multilabel_soft_margin_loss(_x(np.float64(1.0)), 1.0), "needs a class axis"),
])
def test_data_mistakes_name_the_shapes_and_values(call, match):
    with pytest.raises(DataError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: losses.multi_margin_loss(_x(), LABELS, p=3), "multi_margin_loss: p must be one of 1, 2; got 3"),
    (lambda: losses.MultiMarginLoss(p=0), "MultiMarginLoss: p must be one of 1, 2; got 0"),
    (lambda: losses.hinge_embedding_loss(_x(), SIGNS, margin="1"), "margin must be a finite number, got '1'"),
    (lambda: losses.triplet_margin_loss(_x(), Y, Y, p=0), "triplet_margin_loss: p must be a number > 0, got 0"),
    (lambda: losses.triplet_margin_loss(_x(), Y, Y, swap=1), "swap must be true or false, got 1"),
    (lambda: losses.poisson_nll_loss(_x(), Y, log_input="no"), "log_input must be true or false"),
    (lambda: losses.PoissonNLLLoss(eps=-1.0), "PoissonNLLLoss: eps must be a finite number >= 0, got -1.0"),
    (lambda: losses.GaussianNLLLoss(full=1), "GaussianNLLLoss: full must be true or false, got 1"),
    (lambda: losses.get("multi_margin", weight="abc"), "weight must be a list of finite numbers >= 0"),
    (lambda: nn.CosineSimilarity(dim=1.5), "CosineSimilarity: dim must be an integer, got 1.5"),
    (lambda: nn.PairwiseDistance(keepdim="yes"), "PairwiseDistance: keepdim must be true or false"),
])
def test_setting_mistakes_name_the_setting_and_what_is_allowed(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.parametrize("module, theirs, ours", [
    (lambda: nn.CosineSimilarity(), lambda: torch.nn.CosineSimilarity(), NF.cosine_similarity),
    (lambda: nn.CosineSimilarity(dim=0, eps=0.5), lambda: torch.nn.CosineSimilarity(dim=0, eps=0.5), None),
    (lambda: nn.PairwiseDistance(), lambda: torch.nn.PairwiseDistance(), NF.pairwise_distance),
    (lambda: nn.PairwiseDistance(1.0, 0.1, True), lambda: torch.nn.PairwiseDistance(1.0, 0.1, True), None),
])
def test_distance_modules_are_their_functions_and_torchs(module, theirs, ours):
    a, b = nnlab.tensor(X, requires_grad=True, dtype=np.float64), nnlab.tensor(Y, requires_grad=True, dtype=np.float64)
    ta, tb = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True)
    got, expected = module()(a, b), theirs()(ta, tb)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    if ours is not None:
        np.testing.assert_array_equal(got.numpy(), ours(a, b).numpy())
    got.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-10)
    assert module()(nnlab.tensor(X.astype(np.float32)), Y.astype(np.float32)).dtype == np.float32
    assert repr(nn.PairwiseDistance()) == "PairwiseDistance(p=2.0, eps=1e-06, keepdim=False)"


def test_distance_modules_are_not_model_file_layers():
    """Two inputs: they live inside a user's Module, and the model file refuses them by name, as any unregistered module."""
    assert "CosineSimilarity" not in nn.layer_types() and "PairwiseDistance" not in nn.layer_types()
    with pytest.raises(ConfigError, match="PairwiseDistance"):
        nn.to_spec(nn.PairwiseDistance())
