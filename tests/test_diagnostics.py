"""nnlab.diagnostics: the per-layer statistics callback, the initial-loss check, and every plot function's content."""

import math
import warnings

import numpy as np
import pytest

import nnlab
from nnlab import diagnostics as dg
from nnlab import losses, nn, optim
from nnlab.train import fit, lr_search


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def _model(activation=nn.ReLU, seed=0):
    return nn.Sequential(nn.Linear(4, 8, rng=seed), activation(), nn.Linear(8, 2, rng=seed + 1))


def test_layer_statistics_recorded_into_history_with_clear_keys():
    X, y = _data()
    model = _model()
    history = fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=3,
                  batch_size=16, callbacks=[dg.LayerStatistics(X[:32])], verbose=0)
    for key in ("diag/1_relu/dead_fraction", "diag/1_relu/saturated_fraction", "diag/1_relu/mean",
                "diag/1_relu/std", "diag/0.weight/grad_norm", "diag/0.weight/update_ratio", "diag/2.bias/grad_norm"):
        assert len(history[key]) == 3 and all(math.isfinite(v) for v in history[key]), key
    # The recorded numbers are the probe's: recompute the last epoch's mean and std by hand.
    hidden = np.maximum(X[:32] @ model[0].weight.data + model[0].bias.data, 0)
    assert history["diag/1_relu/mean"][-1] == pytest.approx(hidden.mean(), rel=1e-5)
    assert history["diag/1_relu/std"][-1] == pytest.approx(hidden.std(), rel=1e-5)
    assert dg.diagnostic_keys(history, "grad_norm") == ["diag/0.weight/grad_norm", "diag/0.bias/grad_norm",
                                                        "diag/2.weight/grad_norm", "diag/2.bias/grad_norm"]


def test_grad_norm_and_update_ratio_are_those_of_the_recorded_step():
    X, y = _data(16)
    model = _model()
    before = model[0].weight.data.copy()
    stats = dg.LayerStatistics(X, every=1)
    fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=1, batch_size=16,
        callbacks=[stats], verbose=0, shuffle=False)
    (step,) = stats.steps
    # Plain SGD: Δw = −η∇w, so ‖Δw‖ = η‖∇w‖.
    assert step["diag/0.weight/grad_norm"] == pytest.approx(np.linalg.norm(model[0].weight.grad), rel=1e-6)
    change = np.linalg.norm(model[0].weight.data - before)
    assert step["diag/0.weight/update_ratio"] == pytest.approx(change / np.linalg.norm(before), rel=1e-5)
    assert change == pytest.approx(0.5 * step["diag/0.weight/grad_norm"], rel=1e-5)


def test_dead_and_saturated_units_are_counted():
    X, _ = _data(50)
    relu = _model()
    relu[0].bias.data[:3] = -100.0  # three units below zero on every sample
    (row,) = dg.unit_outputs(relu, X)
    assert dg.unit_statistics(row[1], row[2])["dead_fraction"] == pytest.approx(3 / 8)
    sigmoid = _model(nn.Sigmoid)
    sigmoid[0].weight.data *= 1000.0
    (row,) = dg.unit_outputs(sigmoid, X)
    stats = dg.unit_statistics(row[1], row[2])
    assert stats["saturated_fraction"] > 0.9 and stats["dead_fraction"] == 0.0


def test_initial_loss_check_warns_when_far_from_log_k():
    X, y = _data()
    good = dg.check_initial_loss(nn.Linear(4, 2, weight_init="zeros"), X, y)
    assert good.ok and good.loss == pytest.approx(math.log(2)) and good.expected == pytest.approx(math.log(2))
    bad = nn.Linear(4, 2, rng=0)
    bad.weight.data *= 100.0
    with pytest.warns(RuntimeWarning, match="far from log K"):
        result = dg.check_initial_loss(bad, X, y)
    assert not result.ok and result.loss > math.log(2) + 3


def test_initial_loss_margin_is_in_nats_whatever_k():
    # He-initialized ReLU nets start with unit-scale logits: the same few nats over log K for 2 classes as
    # for 10 (a window of half log K, 0.35 nats for K = 2, flagged such healthy 2-class runs)
    rng = np.random.default_rng(0)
    for k in (2, 10):
        X, y = rng.normal(size=(256, 4)).astype(np.float32), rng.integers(0, k, 256)
        model = nn.Sequential(nn.Linear(4, 32, weight_init="he_normal", rng=1), nn.ReLU(),
                              nn.Linear(32, k, weight_init="he_normal", rng=2))
        check = dg.check_initial_loss(model, X, y, warn=False)
        assert check.ok and math.log(k) + 0.2 < check.loss < math.log(k) + 3, (k, check)
        assert not dg.check_initial_loss(model, X, y, margin=0.1, warn=False).ok  # the margin is the caller's
        model[2].weight.data *= 10.0
        check = dg.check_initial_loss(model, X, y, warn=False)
        assert not check.ok and check.loss > math.log(k) + 3 and "more than 3 nats off" in check.message()
    with pytest.raises(nnlab.errors.ConfigError, match="margin"):
        dg.check_initial_loss(model, X, y, margin=-1)


def test_initial_loss_check_normalizes_batchnorm_with_the_batch_and_restores_it():
    # raw pixel-like inputs (0..16) into a BatchNorm: its untrained running averages (0, 1) normalize nothing,
    # the first training batch's statistics do
    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 16, size=(128, 6)).astype(np.float32), rng.integers(0, 3, 128)
    model = nn.Sequential(nn.Linear(6, 16, weight_init="he_normal", rng=0), nn.BatchNorm(16), nn.ReLU(),
                          nn.Dropout(keep=0.5), nn.Linear(16, 3, weight_init="he_normal", rng=1))
    model.eval()
    with nnlab.no_grad():
        eval_loss = float(losses.cross_entropy(model(nnlab.tensor(X)), y).data)
    model.train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    check = dg.check_initial_loss(model, X, y, warn=False)
    assert eval_loss > math.log(3) + 3 and check.ok, (eval_loss, check)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())  # running stats put back
    assert model.training and model[3].training  # the modes are as they were
    # no dropout: the check is deterministic and draws nothing from the global generator
    nnlab.seed(5)
    first = dg.check_initial_loss(model, X, y, warn=False)
    drawn = nnlab.random.get_rng().random()
    nnlab.seed(5)
    assert dg.check_initial_loss(model, X, y, warn=False) == first and nnlab.random.get_rng().random() == drawn


# ------------------------------------------------------------------ plots: each checked for its content


def test_decision_surface_draws_the_regions_and_the_points():
    X, y = nnlab.datasets.moons(40)
    fig = dg.decision_surface(_model_2d(), X, y, resolution=30, title="moons")
    (ax,) = fig.axes
    assert ax.get_title() == "moons"
    assert len(ax.collections[-1].get_offsets()) == 40  # one marker per training point
    assert ax.get_xlim()[0] < X[:, 0].min() and ax.get_xlim()[1] > X[:, 0].max()


def _model_2d():
    return nn.Sequential(nn.Linear(2, 6, rng=0), nn.Tanh(), nn.Linear(6, 2, rng=1))


def test_hidden_activations_image_is_units_by_samples():
    X, _ = _data(20)
    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 5, rng=1), nn.Tanh(), nn.Linear(5, 2))
    fig = dg.hidden_activations(model, X)
    images = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert images == [(8, 20), (5, 20)]


def test_weight_images_tiles_one_image_per_unit_in_the_input_shape():
    layer = nn.Linear(64, 12, rng=0)
    (ax,) = dg.weight_images(layer, (8, 8), columns=4, title="filters").axes
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (3 * 9 - 1, 4 * 9 - 1) and ax.get_title() == "filters"  # 3 rows × 4 columns of 8×8
    unit5 = layer.weight.data[:, 5].reshape(8, 8)  # row 1, column 1
    np.testing.assert_allclose(mosaic[9:17, 9:17], unit5 / np.abs(unit5).max(), rtol=1e-6)


def test_activation_histograms_one_panel_per_hidden_layer():
    X, _ = _data(30)
    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 8, rng=1), nn.Sigmoid(), nn.Linear(8, 2))
    fig = dg.activation_histograms(model, X, bins=10)
    assert [ax.get_title() for ax in fig.axes] == ["1_relu", "3_sigmoid"]
    assert all(len(ax.patches) == 10 for ax in fig.axes)
    assert sum(p.get_height() for p in fig.axes[0].patches) == 30 * 8


def _history_with_diagnostics():
    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 8, rng=1), nn.Tanh(), nn.Linear(8, 2))
    return fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=4,
               batch_size=16, callbacks=[dg.LayerStatistics(X)], verbose=0)


def test_gradient_norms_and_diagnostics_over_epochs_one_line_per_layer():
    history = _history_with_diagnostics()
    fig = dg.gradient_norms(history)
    (ax,) = fig.axes
    assert len(ax.lines) == 3 and all(len(line.get_xdata()) == 4 for line in ax.lines)  # three weight matrices
    assert ax.get_yscale() == "log"
    panels = dg.diagnostics_over_epochs(history).axes
    assert [len(ax.lines) for ax in panels] == [2, 2, 2, 3]  # two hidden layers; three weights
    assert [len(ax.lines) for ax in dg.training_curves(history).axes] == [2, 2]


def test_confusion_matrix_image_writes_every_count():
    matrix = np.array([[3, 1], [0, 4]])
    (ax,) = dg.confusion_matrix_image(matrix).axes
    assert ax.images[0].get_array().shape == (2, 2)
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "3", "4"]


def test_confusion_matrices_one_titled_panel_per_task_with_a_tick_per_class():
    fig = dg.confusion_matrices({"digit": np.eye(10, dtype=int), "parity": np.array([[5, 1], [2, 6]])})
    digit, parity = fig.axes
    assert (digit.get_title(), parity.get_title()) == ("digit", "parity")
    assert list(parity.get_xticks()) == [0, 1] and len(digit.get_yticks()) == 10
    assert sorted(t.get_text() for t in parity.texts) == ["1", "2", "5", "6"]


def test_training_curves_of_a_multitask_history_draw_each_task_in_one_colour():
    from nnlab.train import MultiTaskLoss

    X, y = _data(64)
    model = nn.MultiHead(nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU()),
                         {"a": nn.Linear(8, 2, rng=1), "b": nn.Linear(8, 2, rng=2)})
    history = fit(model, MultiTaskLoss({"a": "cross_entropy", "b": "cross_entropy"}),
                  optim.SGD(model.parameters(), lr=0.1), (X, {"a": y, "b": 1 - y}), (X, {"a": y, "b": 1 - y}),
                  epochs=3, metrics={"a": ("accuracy",), "b": ("accuracy",)}, verbose=0)
    loss, accuracy = dg.training_curves(history, tasks=["a", "b"]).axes
    labels = [line.get_label() for line in loss.lines]
    assert labels == ["weighted sum train", "weighted sum validation", "a train", "a validation", "b train",
                      "b validation"]
    assert [line.get_label() for line in accuracy.lines] == labels[2:]  # no summed accuracy
    assert [line.get_color() for line in accuracy.lines] == [line.get_color() for line in loss.lines[2:]]
    np.testing.assert_allclose(loss.lines[3].get_ydata(), history["val_loss_a"])


def test_member_curves_and_member_scores_of_a_bagging_ensemble():
    from nnlab.ensemble import Bagging

    X, y = _data(60)
    bag = Bagging(lambda m: nn.Sequential(nn.Linear(m.num_features, 2, rng=m.seed)), n_models=3, epochs=4, lr=0.1,
                  n_jobs=1, seed=0).fit(X, y)
    loss, accuracy = dg.member_curves(bag.histories).axes
    assert len(loss.lines) == 4 and loss.lines[-1].get_label() == "mean"  # three members and their mean
    np.testing.assert_allclose(loss.lines[-1].get_ydata(), np.mean([h["loss"] for h in bag.histories], axis=0))
    scores = bag.member_scores(X, y)
    (ax,) = dg.member_scores(scores, 0.9).axes
    assert [p.get_height() for p in ax.patches] == scores and ax.lines[0].get_ydata()[0] == 0.9
    (ax,) = dg.member_scores([float("nan"), 0.5], 0.6).axes  # a diverged member leaves the axis finite
    assert np.isfinite(ax.get_ylim()).all()


def test_optimizer_trajectories_one_line_per_optimizer():
    paths = {"gd": np.array([[1.0, 1.0], [0.5, 0.5], [0.1, 0.1]]), "adam": np.array([[1.0, 1.0], [0.0, 0.2]])}
    (ax,) = dg.optimizer_trajectories(lambda x, y: x ** 2 + y ** 2, paths, (-2, 2, -2, 2)).axes
    assert [len(line.get_xdata()) for line in ax.lines] == [3, 2]
    assert ax.get_xlim() == (-2, 2)


def test_lr_search_curve_plots_coarse_and_fine_trials():
    X, y = _data(48)
    result = lr_search(lambda: _model(), (X, y), (X, y), losses.cross_entropy, epochs=1, coarse=(0.01, 0.1, 1.0))
    (ax,) = dg.lr_search_curve(result).axes
    coarse, fine, best = ax.lines
    assert len(coarse.get_xdata()) == 3 and len(fine.get_xdata()) == 3
    assert best.get_xdata()[0] == result.best_lr and ax.get_xscale() == "log"


def test_figure_png_is_a_png():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dg.figure_png(dg.training_curves({"loss": [1.0, 0.5]}))[:8] == b"\x89PNG\r\n\x1a\n"
