"""Activity regularization: the L1 and KL sparsity penalties, their gradients, and fit counting them in its loss."""

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn, optim
from nnlab.errors import ConfigError
from nnlab.nn.sparsity import activity_penalty, hidden_unit_statistics
from nnlab.train import fit

RNG = np.random.default_rng(0)
A = RNG.uniform(0.05, 0.95, size=(6, 4))


def kl_reference(a, rho, beta):
    rho_hat = a.mean(axis=0)
    return beta * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))


def test_penalties_equal_the_formulas():
    layer = nn.ActivityRegularization(l1=0.3, kl_target=0.2, kl_weight=0.7)
    value = float(layer.penalty_of(nnlab.tensor(A, dtype=np.float64)).data)
    assert value == pytest.approx(0.3 * np.abs(A).sum() / 6 + kl_reference(A, 0.2, 0.7), rel=1e-12)


@pytest.mark.parametrize("settings", [{"l1": 0.3}, {"kl_target": 0.1, "kl_weight": 2.0},
                                      {"l1": 0.1, "kl_target": 0.3, "kl_weight": 0.5}])
def test_penalty_gradients_pass_gradcheck(settings):
    layer = nn.ActivityRegularization(**settings)
    assert nnlab.gradcheck(lambda a: layer.penalty_of(a), [nnlab.tensor(A - 0.5 * ("l1" in settings and
                                                                                   "kl_target" not in settings),
                                                                        requires_grad=True, dtype=np.float64)])


def test_kl_matches_torch_kl_of_bernoullis():
    torch = pytest.importorskip("torch")
    rho, a = 0.1, torch.tensor(A, requires_grad=True)
    rho_hat = a.mean(dim=0)
    p = torch.distributions.Bernoulli(probs=torch.full_like(rho_hat, rho))
    q = torch.distributions.Bernoulli(probs=rho_hat)
    theirs = torch.distributions.kl_divergence(p, q).sum()
    theirs.backward()
    x = nnlab.tensor(A, requires_grad=True, dtype=np.float64)
    ours = nn.ActivityRegularization(kl_target=rho, kl_weight=1.0).penalty_of(x)
    ours.backward()
    assert float(ours.data) == pytest.approx(theirs.item(), rel=1e-10)
    np.testing.assert_allclose(x.grad, a.grad.numpy(), rtol=1e-8)


def test_fit_minimizes_and_reports_the_penalized_loss_and_evaluation_leaves_it_out():
    X = RNG.standard_normal((32, 5)).astype(np.float32)
    y = RNG.integers(0, 3, 32)
    nnlab.seed(0)
    reg = nn.ActivityRegularization(l1=0.5)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), reg, nn.Linear(8, 3))
    plain = float(losses.cross_entropy(model(nnlab.tensor(X)), y).data)
    penalty = float(activity_penalty(model).data)
    assert penalty > 0
    h = fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.0), (X, y), val_data=(X, y),
            epochs=1, batch_size=32, verbose=0)
    assert h["loss"][0] == pytest.approx(plain + penalty, rel=1e-5)
    assert h["val_loss"][0] == pytest.approx(plain, rel=1e-5)
    model.eval()
    model(nnlab.tensor(X))
    assert activity_penalty(model) is None


def test_training_with_l1_makes_codes_sparser():
    X = RNG.standard_normal((200, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    fractions = []
    for l1 in (0.0, 0.05):
        nnlab.seed(1)
        hidden = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.ActivityRegularization(l1=l1))
        model = nn.Sequential(hidden, nn.Linear(32, 2))
        fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=0.01), (X, y), epochs=15, verbose=0,
            seed=1)
        fractions.append(hidden_unit_statistics(nnlab.train.predict(hidden, X))["fraction_near_zero"])
    assert fractions[1] > fractions[0] + 0.1


def test_bad_settings():
    with pytest.raises(ConfigError, match="kl_weight needs kl_target"):
        nn.ActivityRegularization(kl_weight=1.0)
    with pytest.raises(ConfigError, match="kl_target"):
        nn.ActivityRegularization(kl_target=1.0, kl_weight=1.0)
