"""What an outside scikit-learn user probed in nnlab.sklearn and found missing: sample_weight, class_weight, loss_, ...

Each test names the scikit-learn behaviour it holds the estimators to (MLPClassifier
and MLPRegressor's where they have it, scikit-learn's other classifiers for
``class_weight``).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data  # noqa: E402
from sklearn.utils.validation import has_fit_parameter  # noqa: E402

from nnlab.sklearn import NNClassifier, NNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0)
    return X, y


def small(cls=NNClassifier, **kw):
    settings = dict(hidden_layer_sizes=(8,), learning_rate_init=0.02, max_iter=15, random_state=0)
    return cls(**{**settings, **kw})


def proba(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_fit_and_partial_fit_take_sample_weight(cls, data):
    X, y = data
    assert has_fit_parameter(cls(), "sample_weight")  # what scikit-learn's meta-estimators look for
    est = small(cls).fit(X, y, sample_weight=np.linspace(0.5, 2, len(y)))
    assert est.n_iter_ >= 1
    extra = {"classes": np.unique(y)} if cls is NNClassifier else {}
    est = small(cls).partial_fit(X, y, sample_weight=np.ones(len(y)), **extra)
    assert est.n_iter_ == 1


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_weights_of_one_are_the_unweighted_run_and_only_ratios_matter_without_alpha(cls, data):
    X, y = data
    plain = proba(small(cls, max_iter=3).fit(X, y), X)
    ones = proba(small(cls, max_iter=3).fit(X, y, sample_weight=np.ones(len(y))), X)
    np.testing.assert_allclose(ones, plain, rtol=0, atol=1e-5)  # float32 sums in another order
    w = np.random.default_rng(0).uniform(0.2, 3, len(y))
    a = proba(small(cls, alpha=0.0).fit(X, y, sample_weight=w), X)
    b = proba(small(cls, alpha=0.0).fit(X, y, sample_weight=7 * w), X)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_integer_weights_are_repeated_rows_as_in_mlp(cls, alpha):
    # MLP's loss Σwl/Σw + α/(2Σw)‖W‖²: weight k = the row k times, 0 = the row left out (one full batch here)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    w = rng.integers(0, 4, 30)
    kw = dict(alpha=alpha, dtype="float64", solver="sgd", learning_rate_init=0.1)
    weighted = small(cls, **kw).fit(X, y, sample_weight=w)
    repeated = small(cls, **kw).fit(X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(proba(weighted, X), proba(repeated, X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_sklearn_sample_weight_equivalence_check_passes_in_float64(cls):
    # in float32 it agrees to ~1e-6 and is an expected failure in test_sklearn_checks (rtol 1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_sample_weight_equivalence_on_dense_data(cls.__name__, small(cls, dtype="float64", max_iter=40))


def test_class_weight_balanced_and_dict_are_these_sample_weights():
    X, y = make_classification(n_samples=150, n_features=5, weights=[0.8, 0.2], random_state=0)
    labels = np.array(["common", "rare"])[y]
    balanced = small(class_weight="balanced").fit(X, labels)
    by_hand = small().fit(X, labels, sample_weight=compute_sample_weight("balanced", labels))
    np.testing.assert_array_equal(balanced.predict_proba(X), by_hand.predict_proba(X))
    as_dict = small(class_weight={"rare": 4.0}).fit(X, labels, sample_weight=np.full(len(y), 0.5))
    by_hand = small().fit(X, labels, sample_weight=np.where(labels == "rare", 4.0, 1.0) * 0.5)
    np.testing.assert_array_equal(as_dict.predict_proba(X), by_hand.predict_proba(X))
    # and it does what it is for: the rare class is given more probability
    plain = small().fit(X, labels)
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
    assert clone(balanced).class_weight == "balanced"
    assert pickle.loads(pickle.dumps(balanced)).class_weight == "balanced"


def test_sample_weight_reaches_the_estimator_through_a_pipeline(data):
    X, y = data
    w = np.linspace(0, 2, len(y))
    pipe = make_pipeline(StandardScaler(), small()).fit(X, y, nnclassifier__sample_weight=w)
    direct = small().fit(StandardScaler().fit_transform(X), y, sample_weight=w)
    np.testing.assert_array_equal(pipe.predict_proba(X), direct.predict_proba(StandardScaler().fit(X).transform(X)))


def test_early_stopping_splits_the_weights_and_weighs_the_validation_score(data, monkeypatch):
    X, y = data
    seen = []
    original = NNClassifier._validation_score

    def spy(self, X_val, y_val, sample_weight=None):
        seen.append(sample_weight)
        return original(self, X_val, y_val, sample_weight)

    monkeypatch.setattr(NNClassifier, "_validation_score", spy)
    w = np.arange(len(y)) % 3 + 1.0
    est = small(early_stopping=True, validation_fraction=0.25).fit(X, y, sample_weight=w)
    assert len(est.validation_scores_) == est.n_iter_
    assert seen[0] is not None and len(seen[0]) == 30 and set(seen[0]) <= {1.0, 2.0, 3.0}


@pytest.mark.parametrize("weights, match", [
    (lambda n: -np.ones(n), "Negative values"),
    (lambda n: np.ones(n + 1), "shape"),
    (lambda n: np.ones((n, 2)), "1D"),
    (lambda n: np.zeros(n), "non-zero"),
    (lambda n: np.full(n, np.nan), "NaN"),
])
def test_bad_sample_weights_are_refused_by_sklearns_rule_and_leave_the_estimator_unfitted(data, weights, match):
    X, y = data
    est = small()
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, sample_weight=weights(len(y)))
    assert not hasattr(est, "model_") and not hasattr(est, "classes_")


def test_weights_that_leave_one_class_are_refused_naming_the_class(data):
    X, y = data
    with pytest.raises(ValueError, match=r"two classes with weight > 0.*one class only \(2\)"):
        small().fit(X, y, sample_weight=(y == 2).astype(float))


@pytest.mark.parametrize("class_weight, error, match", [
    ({"nope": 2.0}, ValueError, "class_weight key 'nope' is not one of the classes"),
    ({0: -1.0}, ValueError, r"class_weight\[0\] must be a finite number >= 0"),
    ("auto", ValueError, "class_weight must be None, 'balanced' or a dict"),
])
def test_bad_class_weights_are_refused_naming_them(data, class_weight, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        small(class_weight=class_weight).fit(X, y)


def test_partial_fit_class_weight_dict_across_batches_and_balanced_refused(data):
    X, y = data
    est = small(class_weight={2: 3.0})
    est.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])  # a batch without class 2 is fine
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        small(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_loss_is_the_last_epochs_loss_as_in_mlp(cls, data):
    X, y = data
    est = small(cls).fit(X, y)
    assert est.loss_ == est.loss_curve_[-1]


def test_regressor_weights_average_over_several_targets():
    X, y = make_regression(n_samples=40, n_features=3, n_targets=2, random_state=0)
    y = y / 100
    w = np.random.default_rng(0).integers(0, 3, 40)
    kw = dict(dtype="float64", solver="sgd", learning_rate_init=0.05)
    weighted = small(NNRegressor, **kw).fit(X, y, sample_weight=w)
    repeated = small(NNRegressor, **kw).fit(X.repeat(w, axis=0), y.repeat(w, axis=0))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_coefs_and_intercepts_have_mlps_layout_and_give_the_predictions(cls, data):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = data
    est = small(cls, hidden_layer_sizes=(8, 4)).fit(X, y)
    mlp = (MLPClassifier if cls is NNClassifier else MLPRegressor)(hidden_layer_sizes=(8, 4), max_iter=5).fit(X, y)
    assert [c.shape for c in est.coefs_] == [c.shape for c in mlp.coefs_]
    assert [b.shape for b in est.intercepts_] == [b.shape for b in mlp.intercepts_]
    assert est.n_layers_ == mlp.n_layers_ == 4
    assert est.out_activation_ == mlp.out_activation_  # softmax (3 classes), identity
    a = X
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    out = a @ est.coefs_[-1] + est.intercepts_[-1]
    if cls is NNClassifier:
        out = np.exp(out - out.max(1, keepdims=True))
        np.testing.assert_allclose(est.predict_proba(X), out / out.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    else:
        np.testing.assert_allclose(est.predict(X), out.ravel(), rtol=1e-4, atol=1e-5)
    est.coefs_[0][:] = 0  # a copy: the fitted network is unchanged
    assert np.abs(est.coefs_[0]).sum() > 0


def test_mlp_attributes_need_a_fitted_built_in_mlp(data):
    from nnlab import nn

    X, y = data
    assert not hasattr(NNClassifier(), "coefs_")  # NotFittedError is an AttributeError
    est = NNClassifier(module=nn.Sequential(nn.Linear(5, 3)), max_iter=2).fit(X, y)
    with pytest.raises(AttributeError, match="with module= read the trained network from model_"):
        est.coefs_
    assert est.out_activation_ == "softmax"
