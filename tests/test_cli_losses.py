"""The CLI's [loss] section names losses of the registry (issue 10): each builds the library's loss, settings checked."""

import numpy as np
import pytest

import nnlab
from nnlab import losses
from nnlab.cli.build import build_loss
from nnlab.cli.config import LossConfig, parse_config
from nnlab.data import one_hot
from nnlab.errors import ConfigError

RNG = np.random.default_rng(1)
OUT = RNG.standard_normal((8, 3)) * 2
LABELS = RNG.integers(0, 3, 8)

CASES = [
    ({"name": "cross_entropy", "label_smoothing": 0.1}, lambda o: losses.cross_entropy(o, LABELS, label_smoothing=0.1)),
    ({"name": "mse"}, lambda o: losses.mse_loss(o, one_hot(LABELS, 3))),
    ({"name": "euclidean"}, lambda o: losses.euclidean_loss(o, one_hot(LABELS, 3))),
    ({"name": "huber", "delta": 0.5}, lambda o: losses.huber_loss(o, one_hot(LABELS, 3), delta=0.5)),
    ({"name": "smooth_l1", "beta": 0.0}, lambda o: losses.smooth_l1_loss(o, one_hot(LABELS, 3), beta=0.0)),
    ({"name": "bce_with_logits"}, lambda o: losses.binary_cross_entropy_with_logits(o, one_hot(LABELS, 3))),
    ({"name": "l1"}, lambda o: losses.l1_loss(o, one_hot(LABELS, 3))),
    ({"name": "multi_margin"}, lambda o: losses.multi_margin_loss(o, LABELS)),
    ({"name": "multi_margin", "p": 2, "margin": 0.5}, lambda o: losses.multi_margin_loss(o, LABELS, p=2, margin=0.5)),
    ({"name": "multilabel_soft_margin"}, lambda o: losses.multilabel_soft_margin_loss(o, one_hot(LABELS, 3))),
]


@pytest.mark.parametrize("section, expected", CASES, ids=[str(sorted(c[0].items())) for c in CASES])
def test_each_configurable_loss_is_the_library_loss(section, expected):
    loss = build_loss(parse_config({"loss": section}), num_classes=3)
    got = loss(nnlab.tensor(OUT), LABELS).item()
    assert got == pytest.approx(expected(nnlab.tensor(OUT)).item(), rel=1e-6)


def test_every_configurable_name_is_a_registry_name():
    assert set(LossConfig.model_fields["name"].annotation.__args__) <= set(losses.names())


@pytest.mark.parametrize("section, match", [
    ({"name": "mse", "delta": 2.0}, "loss.delta = 2.0 has no effect with loss.name = 'mse'"),
    ({"name": "huber", "delta": 0.0}, "delta"),
    ({"name": "smooth_l1", "beta": -1.0}, "beta"),
    ({"name": "hinge"}, "hinge"),
    ({"name": "multi_margin", "p": 3}, r"loss\.p: Input should be 1 or 2"),
    ({"name": "multi_margin", "margin": -1.0}, "loss.margin"),
    ({"name": "mse", "margin": 2.0}, "loss.margin = 2.0 has no effect with loss.name = 'mse'"),
    ({"name": "cross_entropy", "p": 2}, "loss.p = 2 has no effect with loss.name = 'cross_entropy'"),
])
def test_bad_loss_sections(section, match):
    with pytest.raises(ConfigError, match=match):
        parse_config({"loss": section})


def test_predict_gives_each_class_its_own_sigmoid_for_a_bce_with_logits_model(tmp_path, monkeypatch):
    from nnlab import io as model_io
    from nnlab.cli import main

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    rows = "x0,x1,label\n" + "".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(X, y))
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "rows.csv").write_text("x0,x1\n" + "".join(f"{a:.4f},{b:.4f}\n" for a, b in X[:5]))
    monkeypatch.chdir(tmp_path)
    for loss in ("bce_with_logits", "multilabel_soft_margin", "cross_entropy", "multi_margin"):
        (tmp_path / f"{loss}.toml").write_text(
            f'[data]\nsource = "csv"\npath = "train.csv"\ntarget = "label"\n[model]\nhidden = [4]\n'
            f'[train]\nepochs = 2\n[loss]\nname = "{loss}"\n')
        assert main(["train", f"{loss}.toml", "--quiet"]) == 0
        assert main(["predict", f"runs/{loss}", "rows.csv", "-o", f"{loss}.csv"]) == 0
        got = np.loadtxt(f"{loss}.csv", delimiter=",", skiprows=1)[:, 1:]
        model = model_io.load(f"runs/{loss}/model.safetensors")
        model.eval()
        with nnlab.no_grad():
            logits = model(nnlab.tensor(model.preprocessing.transform(np.round(X[:5], 4).astype(np.float32)))).data
        sigmoid = loss in ("bce_with_logits", "multilabel_soft_margin")
        want = 1 / (1 + np.exp(-logits)) if sigmoid else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        np.testing.assert_allclose(got, want, atol=2e-6)


@pytest.mark.parametrize("section", [{"name": "multi_margin"}, {"name": "multi_margin", "p": 2},
                                     {"name": "multilabel_soft_margin"}, {"name": "l1"}])
def test_a_run_trained_with_each_new_loss_classifies(section):
    # the multi-class SVM loss and the others learn three separable blobs, as cross-entropy does
    from nnlab.cli.build import build_model
    from nnlab.train import fit

    rng = np.random.default_rng(3)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = rng.integers(0, 3, 300)
    X = (centers[y] + rng.standard_normal((300, 2)) * 0.5).astype(np.float32)
    cfg = parse_config({"model": {"hidden": [16]}, "loss": section})
    nnlab.seed(0)
    model = build_model(cfg, num_features=2, num_classes=3)
    fit(model, build_loss(cfg, 3, model), nnlab.optim.Adam(model.parameters(), lr=0.01), (X, y), epochs=20,
        batch_size=32, verbose=0, seed=0)
    model.eval()
    with nnlab.no_grad():
        accuracy = (model(nnlab.tensor(X)).data.argmax(1) == y).mean()
    assert accuracy > 0.95
