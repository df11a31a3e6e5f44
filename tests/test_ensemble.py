"""Bagging: bootstrap samples from seeded generators, voting, OOB, parallel jobs, one model file."""

import numpy as np
import pytest

import nnlab
from nnlab import datasets, nn
from nnlab.ensemble import Bagging, Ensemble, _softmax
from nnlab.errors import ConfigError
from nnlab.train import predict

X_ALL, Y_ALL = datasets.load("digits")
X = (X_ALL[:240] / 16.0).astype(np.float32)
Y = Y_ALL[:240]


def small(member):
    return nn.Sequential(nn.Linear(member.num_features, 16), nn.ReLU(), nn.Linear(16, 10))


def test_each_member_gets_its_own_seeded_bootstrap_sample():
    bag = Bagging(small, n_models=4, seed=5)
    plans, again = bag.plan(100, 8), bag.plan(100, 8)
    for (m, rows, cols), (m2, rows2, _) in zip(plans, again):
        np.testing.assert_array_equal(rows, rows2)
        assert m.seed == m2.seed and len(rows) == 100 and cols is None
        assert len(np.unique(rows)) < 100  # with replacement: some rows twice, some left out (~1/e)
    assert len({m.seed for m, _, _ in plans}) == 4
    assert not np.array_equal(plans[0][1], plans[1][1])
    no_replace = Bagging(small, n_models=2, replace=False, sample_fraction=0.5, feature_fraction=0.5).plan(100, 8)
    assert all(len(np.unique(rows)) == 50 and len(cols) == 4 for _, rows, cols in no_replace)


def test_results_are_identical_whatever_n_jobs():
    kwargs = dict(n_models=3, epochs=2, lr=0.01, feature_fraction=0.75, seed=1)
    one = Bagging(small, n_jobs=1, **kwargs).fit(X, Y)
    two = Bagging(small, n_jobs=2, **kwargs).fit(X, Y)
    for a, b in zip(one.model.state_dict().values(), two.model.state_dict().values()):
        np.testing.assert_array_equal(a, b)
    assert one.oob_score == two.oob_score
    state = nnlab.random.get_rng().bit_generator.state
    Bagging(small, n_jobs=1, **kwargs).fit(X, Y)
    assert nnlab.random.get_rng().bit_generator.state == state  # training in-process leaves the global generator


def test_soft_hard_and_mean_voting_follow_their_definitions():
    rng = np.random.default_rng(0)
    members = [nn.Linear(4, 3, rng=i) for i in range(5)]
    x = rng.standard_normal((7, 4)).astype(np.float32)
    outs = [m(nnlab.tensor(x)).data for m in members]
    soft = predict(Ensemble(members, voting="soft"), x)
    np.testing.assert_allclose(np.exp(soft), np.mean([_softmax(o.copy()) for o in outs], axis=0), rtol=1e-5)
    hard = np.exp(predict(Ensemble(members, voting="hard"), x))
    votes = np.array([o.argmax(axis=1) for o in outs])
    for row in range(7):
        counts = np.bincount(votes[:, row], minlength=3) / 5
        np.testing.assert_allclose(hard[row], np.maximum(counts, 1e-12), rtol=1e-5)
    np.testing.assert_allclose(predict(Ensemble(members, voting="mean"), x), np.mean(outs, axis=0), rtol=1e-5)


def test_out_of_bag_score_uses_only_members_that_did_not_see_the_row():
    bag = Bagging(small, n_models=4, epochs=2, lr=0.01, n_jobs=1, seed=2).fit(X, Y)
    plans = bag.plan(*X.shape)
    probs = [_softmax(o.astype(np.float64)) for o in bag.model.member_outputs(X)]
    correct, counted = 0, 0
    for row in range(len(X)):
        judges = [k for k, (_, rows, _) in enumerate(plans) if row not in set(rows.tolist())]
        if judges:
            counted += 1
            correct += int(np.sum([probs[k][row] for k in judges], axis=0).argmax() == Y[row])
    assert bag.oob_score == pytest.approx(correct / counted)
    assert bag.oob_coverage == pytest.approx(counted / len(X))


def test_members_differ_in_settings_and_features_and_the_ensemble_is_one_model_file(tmp_path):
    bag = Bagging(small, n_models=3, feature_fraction=0.5, n_jobs=1, seed=3, lr=0.01,
                  member_settings=[{"epochs": 1}, {"epochs": 2}, {"epochs": 3, "lr": 0.02}]).fit(X, Y)
    assert [h.epochs_run for h in bag.histories] == [1, 2, 3]
    assert all(len(cols) == 32 for cols in bag.model.features)
    path = tmp_path / "bag.safetensors"
    bag.save(path)
    loaded = nnlab.load(path)
    assert isinstance(loaded, Ensemble) and loaded.features == bag.model.features
    np.testing.assert_array_equal(predict(loaded, X), predict(bag.model, X))
    assert loaded.metadata["ensemble"]["oob_score"] == bag.oob_score
    assert loaded.flops((1, 64)) == sum(m.flops((1, 32)) for m in loaded.members)


def test_regression_averages_outputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    bag = Bagging(lambda m: nn.Linear(3, 1), n_models=3, voting="mean", epochs=20, lr=0.05, n_jobs=1).fit(x, y)
    outs = bag.model.member_outputs(x)
    np.testing.assert_allclose(bag.predict(x), np.mean(outs, axis=0), rtol=1e-5)
    assert bag.oob_score < 0.1 * float(np.var(y))


def test_bad_arguments_name_themselves():
    with pytest.raises(ConfigError, match="n_models"):
        Bagging(small, n_models=0)
    with pytest.raises(ConfigError, match="voting"):
        Bagging(small, voting="max")
    with pytest.raises(ConfigError, match="unknown key"):
        Bagging(small, n_models=1, member_settings=[{"dropout": 0.5}]).plan(10, 2)
    with pytest.raises(ConfigError, match="fit"):
        Bagging(small).predict(X)


@pytest.mark.parametrize("voting", ["soft", "hard", "mean"])
def test_a_float64_ensemble_keeps_float64_inputs_and_outputs(voting):
    """Ensemble fed its members Tensor(x), a float32 copy: float64 members saw rounded inputs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3)) + 1.0 / 3.0  # float64 values float32 cannot hold
    members = [nn.Linear(3, 4, rng=i, dtype=np.float64) for i in range(2)]
    ensemble = Ensemble(members, voting=voting, features=[[0, 1, 2], [2, 0, 1]]).eval()
    out = ensemble(x).data
    assert out.dtype == np.float64
    expected = [members[0](x).data, members[1](x[:, [2, 0, 1]]).data]
    for got, want in zip(ensemble.member_outputs(x), expected):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
    if voting == "mean":
        np.testing.assert_array_equal(out, (expected[0] + expected[1]) / 2)
    elif voting == "soft":
        np.testing.assert_allclose(out, np.log((_softmax(expected[0].copy()) + _softmax(expected[1].copy())) / 2),
                                   rtol=1e-12, atol=1e-12)
    # a float32 ensemble still answers in float32
    assert Ensemble([nn.Linear(3, 4, rng=0)], voting=voting)(x).data.dtype == np.float32
