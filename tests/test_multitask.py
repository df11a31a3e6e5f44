"""Multi-task learning: nn.MultiHead, fit/evaluate/predict with dict targets and weighted losses, model files, CLI."""

import csv

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn, optim
from csv_helpers import write_kind_amount_csv
from nnlab.cli import main
from nnlab.errors import ConfigError, DataError, ModelFileError
from nnlab.train import MultiTaskLoss, evaluate, fit, predict


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    return X, {"sign": (X[:, 0] > 0).astype(np.int64), "size": (X ** 2).sum(axis=1, keepdims=True) / 4,
               "three": np.argmax(X[:, 1:], axis=1)}


def _model(seed=0):
    nnlab.seed(seed)
    return nn.MultiHead(nn.Sequential(nn.Linear(4, 8), nn.Tanh()),
                        {"sign": nn.Linear(8, 2), "size": nn.Linear(8, 1), "three": nn.Linear(8, 3)})


LOSSES = {"sign": losses.cross_entropy, "size": "mse", "three": losses.cross_entropy}


def test_fit_logs_each_task_and_minimizes_the_weighted_sum():
    X, y = _data()
    model = _model()
    loss = MultiTaskLoss(LOSSES, weights={"size": 0.5})
    history = fit(model, loss, optim.Adam(model.parameters(), lr=0.05), (X, y), val_data=_data(30, seed=1),
                  epochs=6, batch_size=20, metrics={"sign": "accuracy", "three": "accuracy"}, verbose=0)
    assert list(history.history) == [
        "loss", "loss_sign", "loss_size", "loss_three", "accuracy_sign", "accuracy_three",
        "val_loss", "val_loss_sign", "val_loss_size", "val_loss_three", "val_accuracy_sign", "val_accuracy_three",
        "lr"]
    for prefix in ("", "val_"):  # L = Σ w_k L_k, epoch by epoch
        expected = (np.array(history[f"{prefix}loss_sign"]) + 0.5 * np.array(history[f"{prefix}loss_size"])
                    + np.array(history[f"{prefix}loss_three"]))
        np.testing.assert_allclose(history[f"{prefix}loss"], expected, rtol=1e-5)
    assert history["loss_sign"][-1] < history["loss_sign"][0] and history["accuracy_sign"][-1] > 0.8
    logs = evaluate(model, loss, (X, y), metrics={"sign": "accuracy"})
    assert set(logs) == {"loss", "loss_sign", "loss_size", "loss_three", "accuracy_sign"}
    outputs = predict(model, X, batch_size=7)  # several batches
    assert {k: v.shape for k, v in outputs.items()} == {"sign": (60, 2), "size": (60, 1), "three": (60, 3)}
    np.testing.assert_allclose(logs["accuracy_sign"], (outputs["sign"].argmax(1) == y["sign"]).mean())


def test_a_task_of_weight_zero_leaves_its_head_alone_and_the_trunk_follows_the_others():
    X, y = _data()
    model = _model()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    fit(model, MultiTaskLoss(LOSSES, weights={"three": 0.0}), optim.SGD(model.parameters(), lr=0.1), (X, y),
        epochs=2, batch_size=20, metrics=None, verbose=0)
    after = dict(model.named_parameters())
    np.testing.assert_array_equal(after["heads.three.weight"].data, before["heads.three.weight"])
    assert not np.allclose(after["trunk.0.weight"].data, before["trunk.0.weight"])
    assert not np.allclose(after["heads.size.weight"].data, before["heads.size.weight"])


def test_multihead_model_file_round_trip_and_a_tampered_shape(tmp_path):
    X, _ = _data()
    model = _model()
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path)
    loaded = nnlab.load(path)
    assert loaded.tasks == ["sign", "size", "three"]
    for task, out in predict(model, X).items():
        np.testing.assert_array_equal(predict(loaded, X)[task], out)
    spec = nn.to_spec(model)
    assert spec["args"] == {"tasks": ["sign", "size", "three"]} and len(spec["children"]) == 4
    spec["children"][2]["args"]["out_features"] = 5
    with pytest.raises(ConfigError, match="layer 'heads.size': Linear needs weight of shape"):
        nn.spec.check_state_shapes(spec, {k: v.shape for k, v in model.state_dict().items()})


@pytest.mark.parametrize("make, error, message", [
    (lambda X, y: (X, {"sign": y["sign"], "size": y["size"]}), DataError, "targets name tasks"),
    (lambda X, y: (X, {**y, "three": y["three"] + 1}), DataError, "labels of task 'three'"),
    (lambda X, y: (X, {**y, "size": np.ones((len(X), 2))}), DataError, "task 'size' have shape"),
    (lambda X, y: (X, {**y, "sign": y["sign"][:10]}), DataError, "task 'sign'"),
])
def test_bad_multitask_data_is_refused_naming_the_task(make, error, message):
    X, y = _data()
    with pytest.raises(error, match=message):
        fit(_model(), LOSSES, optim.SGD(_model().parameters(), lr=0.1), make(X, y), epochs=1, verbose=0)


def test_losses_and_model_must_agree():
    X, y = _data()
    with pytest.raises(ConfigError, match="the losses name tasks"):
        fit(_model(), {"sign": "cross_entropy"}, optim.SGD(_model().parameters(), lr=0.1), (X, y), verbose=0)
    with pytest.raises(ConfigError, match="returns {task: output}"):
        plain = nn.Linear(4, 2)
        fit(plain, LOSSES, optim.SGD(plain.parameters(), lr=0.1), (X, y), verbose=0)
    with pytest.raises(ConfigError, match="weights for unknown task"):
        MultiTaskLoss(LOSSES, weights={"colour": 1.0})
    with pytest.raises(ConfigError, match="task name '2nd'"):
        nn.MultiHead(nn.Identity(), {"2nd": nn.Linear(4, 2)})


def test_cli_digits_with_digit_and_parity_heads(tmp_path, capsys):
    config = tmp_path / "mt.toml"
    config.write_text('[data]\nsource = "digits"\n[model]\nhidden = [32]\n[train]\nepochs = 2\n'
                      '[tasks.digit]\ntarget = "label"\n[tasks.parity]\ntarget = "parity"\nweight = 0.5\n')
    assert main(["train", str(config), "--quiet", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "test task digit: loss " in out and "test task parity: loss " in out and ", accuracy: " in out
    run = tmp_path / "runs" / "mt"
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) == 2 and {"loss_digit", "accuracy_parity", "val_accuracy_digit"} <= set(rows[0])
    model = nnlab.load(run / "model.safetensors")
    assert isinstance(model, nn.MultiHead) and model.metadata["tasks"]["parity"]["classes"] == [0, 1]
    X, labels = nnlab.datasets.load("digits")
    with open(tmp_path / "in.csv", "w") as f:
        f.write(",".join(f"p{i}" for i in range(64)) + "\n")
        f.writelines(",".join(str(v) for v in row) + "\n" for row in X[:30])
    assert main(["predict", str(run), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")]) == 0
    predicted = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert list(predicted[0])[:2] == ["digit", "digit_p_0"] and "parity_p_1" in predicted[0]
    assert np.mean([int(r["digit"]) == y for r, y in zip(predicted, labels)]) > 0.5
    assert main(["evaluate", str(run)]) == 2
    assert "pass --data FILE" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ('[tasks.a]\ntarget = "colour"\n', "take target = 'label' or 'parity'"),
    ('[tasks.a]\ntarget = "label"\n[ensemble]\nmethod = "bagging"\n', "cannot be combined with ensemble.method"),
    ('[data]\nsource = "csv"\npath = "x.csv"\ntarget = "y"\n[tasks.a]\ntarget = "y"\n', "remove data.target"),
    ('[data]\naugment_noise_std = 0.1\n[tasks.a]\ntarget = "label"\n', "remove data.augment_noise_std"),
    ('[data]\naugment_jitter = 1\n[tasks.a]\ntarget = "label"\n', "remove data.augment_jitter"),
])
def test_cli_bad_tasks_exit_2(tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["train", str(config), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_csv_with_a_class_column_and_a_numeric_column(tmp_path, capsys):
    write_kind_amount_csv(tmp_path / "data.csv", rows=80)
    config = tmp_path / "csv.toml"
    config.write_text(f'[data]\nsource = "csv"\npath = "{tmp_path / "data.csv"}"\n[model]\nhidden = [8]\n'
                      '[train]\nepochs = 3\n[tasks.kind]\ntarget = "kind"\n[tasks.amount]\ntarget = "amount"\n'
                      'loss = "mse"\nweight = 0.1\n')
    assert main(["train", str(config), "--quiet", "--runs-dir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "csv"
    assert nnlab.load(run / "model.safetensors").metadata["tasks"]["kind"]["classes"] == ["big", "small"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(tmp_path / "data.csv")]) == 0
    out = capsys.readouterr().out
    assert "evaluation task kind: loss " in out and "evaluation task amount: loss " in out
    (tmp_path / "in.csv").write_text("a,b,c\n1,0.5,0\n-1,0,0\n")
    assert main(["predict", str(run), str(tmp_path / "in.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "in.predictions.csv")))
    assert list(rows[0]) == ["kind", "kind_p_big", "kind_p_small", "amount"] and len(rows) == 2
    (tmp_path / "short.csv").write_text("a,b,c,kind\n1,2,3,big\n")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "short.csv")]) == 2
    assert "no target column 'amount'" in capsys.readouterr().err


def test_early_stopping_on_a_tasks_accuracy_maximizes_it_and_keeps_the_best_epoch():
    # A multi-task run logs <metric>_<task>; mode "auto" must read val_accuracy_sign as an accuracy (max).
    X, y = _data()
    model = _model()
    stop = nnlab.train.EarlyStopping(monitor="val_accuracy_sign", patience=2)
    assert stop.monitor.mode == "max" and nnlab.train.EarlyStopping(monitor="val_loss_sign").monitor.mode == "min"
    history = fit(model, MultiTaskLoss(LOSSES), optim.Adam(model.parameters(), lr=0.05), (X, y),
                  val_data=_data(30, seed=1), epochs=8, batch_size=20, metrics={"sign": "accuracy"},
                  callbacks=[stop], verbose=0)
    scores = history["val_accuracy_sign"]
    assert stop.best_epoch == int(np.argmax(scores)) and stop.monitor.best == max(scores)
    val_X, val_y = _data(30, seed=1)
    kept = evaluate(model, MultiTaskLoss(LOSSES), (val_X, val_y), metrics={"sign": "accuracy"})["accuracy_sign"]
    assert kept == max(scores)
