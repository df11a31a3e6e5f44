"""nnlab.sklearn beyond the estimator checks: scikit-learn's tools, MLP's semantics, pickles, nnlab's own options."""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings

import joblib
import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnlab  # noqa: E402
from nnlab.sklearn import NNClassifier, NNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0)
    return X, y


def small(cls=NNClassifier, **kw):
    settings = dict(hidden_layer_sizes=(16,), learning_rate_init=0.02, max_iter=30, random_state=0)
    return cls(**{**settings, **kw})


def test_pipeline_gridsearch_and_parallel_cross_validation(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), small())
    search = GridSearchCV(pipe, {"nnclassifier__hidden_layer_sizes": [(4,), (16,)]}, cv=3).fit(X, y)
    assert search.best_params_["nnclassifier__hidden_layer_sizes"] in [(4,), (16,)]
    assert search.score(X, y) > 0.7
    serial = cross_val_score(pipe, X, y, cv=3)
    parallel = cross_val_score(pipe, X, y, cv=3, n_jobs=2)  # each worker unpickles the estimator
    np.testing.assert_allclose(parallel, serial)
    assert serial.mean() > 0.6


def _globals(payload: bytes) -> set:
    """Every module.name a pickle stream refers to (the classes it would import when loaded)."""
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(io.BytesIO(payload)):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
        elif op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
    return names


@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_pickle_and_joblib_go_through_the_model_file(cls, blobs, tmp_path):
    X, y = blobs
    est = small(cls, batch_norm=True).fit(X, y)
    payload = pickle.dumps(est)
    referenced = _globals(payload)
    assert any(name.startswith("nnlab.sklearn") for name in referenced)
    assert not [name for name in referenced if name.startswith(("nnlab.nn", "nnlab.tensor", "nnlab.optim"))]
    state = est.__getstate__()
    assert state["model_"]["nnlab-model-file"][8:9] == b"{"  # safetensors: header size, then the JSON header
    back = pickle.loads(payload)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    joblib.dump(est, tmp_path / "est.joblib")
    again = joblib.load(tmp_path / "est.joblib")
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.loss_curve_ == est.loss_curve_ and again.n_features_in_ == 6


def test_module_parameter_wraps_an_nnlab_module_and_is_never_trained_itself(blobs):
    X, y = blobs
    module = nnlab.nn.Sequential(nnlab.nn.Linear(6, 8, rng=1), nnlab.nn.Tanh(), nnlab.nn.Linear(8, 3, rng=2))
    before = {k: v.copy() for k, v in module.state_dict().items()}
    clf = NNClassifier(module=module, learning_rate_init=0.02, max_iter=20, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.6
    assert all(np.array_equal(v, module.state_dict()[k]) for k, v in before.items())
    assert isinstance(clf.model_[1], nnlab.nn.Tanh) and clf.model_ is not module
    assert clone(clf).module is not module and not hasattr(clone(clf), "model_")  # clone copies the parameter
    back = pickle.loads(pickle.dumps(clf))  # the module parameter travels as a model file too
    assert isinstance(back.module, nnlab.nn.Sequential)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    factory = NNRegressor(module=lambda n_in, n_out: nnlab.nn.Linear(n_in, n_out), max_iter=5).fit(X, y)
    assert isinstance(factory.model_, nnlab.nn.Linear) and factory.n_outputs_ == 1


def test_stopping_rule_stops_where_mlpclassifier_stops(blobs):
    # tol so large that no later epoch counts as an improvement: MLP stops after n_iter_no_change + 2 epochs.
    X, y = blobs
    ours = small(tol=1e9, n_iter_no_change=4, max_iter=50).fit(X, y)
    theirs = MLPClassifier(hidden_layer_sizes=(16,), tol=1e9, n_iter_no_change=4, max_iter=50, random_state=0).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 6  # the first epoch always improves on best_loss_ = inf
    assert len(ours.loss_curve_) == 6 and ours.best_loss_ == min(ours.loss_curve_)


def test_early_stopping_records_validation_scores_and_keeps_the_best(blobs):
    X, y = blobs
    clf = small(early_stopping=True, n_iter_no_change=3, max_iter=60).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    with pytest.raises(ValueError, match="early_stopping"):
        clf.partial_fit(X, y)


def test_early_stopping_stratifies_as_mlp_classifier_does(monkeypatch):
    """Only binary labels are stratified (MLPClassifier: n_outputs_ == 1); 3 classes in 20 rows fit, as MLP's do."""
    from nnlab.sklearn import _base

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 3)), np.arange(20) % 3  # validation_fraction 0.1: 2 rows, fewer than the classes
    settings = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=5, random_state=0)
    assert len(MLPClassifier(**settings).fit(X, y).validation_scores_) == 5
    assert len(NNClassifier(**settings).fit(X, y).validation_scores_) == 5
    seen, split = [], _base.train_test_split
    monkeypatch.setattr(_base, "train_test_split", lambda *a, stratify=None, **k: (
        seen.append(stratify is not None), split(*a, stratify=stratify, **k))[1])
    NNClassifier(**settings).fit(X, y)
    NNClassifier(**settings).fit(X, y % 2)
    NNRegressor(**settings).fit(X, y.astype(float))
    assert seen == [False, True, False]


def test_partial_fit_and_warm_start_continue_training(blobs):
    X, y = blobs
    clf = small()
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[:120], y[:120], classes=[0, 1, 2])
    assert len(clf.loss_curve_) == 3 and clf.n_iter_ == 1 and clf.t_ == 360
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    warm = small(warm_start=True, max_iter=5).fit(X, y)
    first = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.loss_curve_[:5] == first and len(warm.loss_curve_) == 10
    cold = small(max_iter=5).fit(X, y).fit(X, y)
    assert cold.loss_curve_ == first  # without warm_start a second fit starts over: same seed, same run


def test_warm_start_and_partial_fit_refuse_other_classes_as_mlpclassifier(blobs):
    X, y = blobs
    for ours, theirs in ((small(warm_start=True, max_iter=3), MLPClassifier(warm_start=True, max_iter=3)),
                         (small(max_iter=3), MLPClassifier(max_iter=3))):
        for clf in (ours, theirs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
                if clf.warm_start:
                    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
                        clf.fit(X[y < 2], y[y < 2])
                else:
                    clf.fit(X[y < 2], y[y < 2])  # a cold refit starts over with the new classes
                    assert clf.classes_.tolist() == [0, 1]
    ours, theirs = small(), MLPClassifier()
    for clf in (ours, theirs):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        clf.partial_fit(X, y, classes=[2, 1, 0])  # the same labels in another order
        with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
            clf.partial_fit(X, y, classes=[0, 1, 2, 3])



def test_a_refused_partial_fit_leaves_no_classes_behind(blobs):
    X, y = blobs
    clf = small(max_iter=3)
    with pytest.raises(ValueError, match="could not convert"):  # a bad X after the classes were read
        clf.partial_fit(np.full(X.shape, "x"), y, classes=[0, 1, 2, 3, 4])
    clf.fit(X, y)  # fit takes y's classes, not the failed call's five
    assert clf.classes_.tolist() == [0, 1, 2] and clf.predict_proba(X[:2]).shape == (2, 3)
    clf = small()
    with pytest.raises(ValueError, match=r"y holds labels \[2\] not in classes_ \[0, 1\]"):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "classes_")  # still unfitted: the next first call needs classes again
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)


def test_a_module_of_the_wrong_output_width_is_refused_naming_it(blobs):
    X, y = blobs
    # the fit loop had read the mismatch as labels: "value 2 at row ... is outside 0..1 (2 classes)", even for a
    # regressor, whose y holds no labels
    clf = small(module=nnlab.nn.Sequential(nnlab.nn.Linear(6, 2, rng=0)))
    with pytest.raises(ValueError, match=r"module gives 2 outputs per row, but y has 3 classes \[0, 1, 2\]"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")
    reg = small(NNRegressor, module=lambda n_in, n_out: nnlab.nn.Sequential(nnlab.nn.Linear(n_in, 2, rng=0)))
    with pytest.raises(ValueError, match=r"module gives 2 outputs per row, but y has 1 target\(s\) per row"):
        reg.fit(X, y.astype(float))
    reg.fit(X, np.column_stack([y, -y]).astype(float))  # two targets: the width it has


@pytest.mark.parametrize("smoothing", [1.5, -0.1, "0.1"])
def test_a_bad_label_smoothing_is_refused_before_a_network_is_built(blobs, smoothing):
    X, y = blobs
    clf = small(label_smoothing=smoothing)
    with pytest.raises(ValueError, match="NNClassifier: label_smoothing must be"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")  # the loss had refused it at the first batch, after model_ was set
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize("settings", [{"solver_kwargs": {"bogus": 1}}, {"solver": "sgd", "solver_kwargs": {"lr": -1}},
                                      {"schedule": "cosine_decay", "schedule_kwargs": {"bogus": 1}}])
def test_a_refused_optimizer_or_schedule_setting_leaves_the_estimator_unfitted(blobs, settings):
    X, y = blobs
    clf = small(**settings)
    with pytest.raises(ValueError, match="bogus|lr must be"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")  # model_ had been set before the optimizer refused its settings
    with pytest.raises(NotFittedError):
        clf.predict(X)

def test_string_labels_proba_and_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = small().fit(frame, labels)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    proba = clf.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(frame), atol=1e-12)
    assert set(clf.predict(frame)) <= {"cat", "dog", "eel"}


@pytest.mark.parametrize("solver", nnlab.optim.names())
def test_every_nnlab_optimizer_is_a_solver(solver, blobs):
    X, y = blobs
    clf = small(solver=solver, max_iter=3).fit(X, y)
    assert type(clf._optimizer).__name__.lower().replace("_", "") == solver.replace("_", "")
    assert np.isfinite(clf.loss_curve_).all()


def test_nnlab_options_reach_the_network_and_the_loop(blobs):
    X, y = blobs
    clf = small(batch_norm=True, dropout_keep=0.8, activation="gelu", label_smoothing=0.1,
                schedule="cosine_decay", schedule_kwargs={"final": 0.0}, max_iter=4).fit(X, y)
    kinds = [type(m).__name__ for m in clf.model_]
    assert kinds == ["Linear", "BatchNorm", "GELU", "Dropout", "Linear"]
    assert clf._optimizer.lr < 0.02  # the cosine schedule lowered it
    sgd = small(solver="sgd", learning_rate="invscaling", power_t=0.5, max_iter=2).fit(X, y)
    assert sgd._optimizer.lr == pytest.approx(0.02 / (2 * len(X) + 1) ** 0.5)
    with pytest.raises(ValueError, match="solver"):
        small(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        small(hidden_layer_sizes=(0,)).fit(X, y)


def test_regressor_multioutput_and_one_target():
    X, Y = make_regression(n_samples=150, n_features=5, n_targets=2, noise=0.1, random_state=0)
    Y = Y / Y.std(axis=0)
    reg = small(NNRegressor, max_iter=80).fit(X, Y)
    assert reg.predict(X).shape == (150, 2) and reg.predict(X).dtype == np.float64 and reg.score(X, Y) > 0.8
    one = small(NNRegressor, max_iter=5).fit(X, Y[:, :1])
    assert one.predict(X).shape == (150,)


def test_import_nnlab_does_not_load_scikit_learn():
    import subprocess
    import sys

    code = "import sys, nnlab; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_digits_accuracy_is_mlp_like():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = NNClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=10, random_state=0).fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.85


@pytest.mark.parametrize("activation, factor", [("relu", 6.0), ("logistic", 2.0)])
def test_default_init_draws_weights_and_biases_as_mlp_does(activation, factor):
    # MLPClassifier._init_coef: U(±sqrt(factor / (fan_in + fan_out))) for coefs AND intercepts
    X, y = make_classification(n_samples=60, n_features=40, n_informative=5, n_classes=3, random_state=0)
    clf = NNClassifier(hidden_layer_sizes=(200,), activation=activation, max_iter=1, learning_rate_init=1e-9,
                       random_state=0).fit(X, y)
    first, last = clf.model_[0], clf.model_[-1]
    for layer, (fan_in, fan_out) in ((first, (40, 200)), (last, (200, 3))):
        bound = np.sqrt(factor / (fan_in + fan_out))
        for values in (layer.weight.data, layer.bias.data):
            assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(layer.weight.data).max() > 0.95 * bound  # the whole interval is used
        assert np.count_nonzero(layer.bias.data) == fan_out
    zero_bias = NNClassifier(hidden_layer_sizes=(8,), weight_init="xavier_uniform", max_iter=1,
                             learning_rate_init=1e-9, random_state=0)
    assert np.abs(zero_bias.fit(X, y).model_[0].bias.data).max() < 1e-6  # nnlab's initializers: zero biases
