"""11. Gaussian input noise equals an L2 penalty for a linear model: E[(ỹ − y)²] = E[(ŷ − y)²] + σ²Σwᵢ²."""

from __future__ import annotations

import numpy as np

from .. import losses, nn, optim
from ..tensor import as_tensor, no_grad
from .base import Check, Claim, Experiment, SeedResult, at_most
from .common import png

CLAIMS = (
    Claim("We can show that for a simple input output neural network, adding Gaussian noise to the input is equivalent "
          "to weight decay (L2 regularisation)", "001_c1cc0bdd94be0952.txt"),
    Claim("E[(ỹ − y)²] = (E[(ŷ − y)²] + σ² Σ wᵢ²) (same as L2 norm penalty)", "001_c1cc0bdd94be0952.txt"),
)
N, FEATURES, SIGMA = 500, 10, 0.5


def setup(quick: bool) -> str:
    return (f"A linear model ŷ = Σ wᵢxᵢ (nnlab Linear without bias, random w) on {N} random inputs of {FEATURES} "
            f"features with noisy linear targets. Monte Carlo: {_draws(quick)} draws of ε ~ N(0, σ²), σ = {SIGMA}, through "
            "nnlab's GaussianNoise layer; the mean of (ỹ − y)² against E[(ŷ − y)²] + σ²Σwᵢ². Training: gradient descent "
            f"(lr 0.05, {_steps(quick)} full-batch steps, fresh noise each step, the last half averaged) on the noisy "
            "loss, against the closed-form minimizer of MSE + σ²‖w‖² (ridge) and of plain MSE.")


def _draws(quick):
    return 2000 if quick else 20000


def _steps(quick):
    return 1500 if quick else 6000


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, FEATURES))
    true_w = rng.normal(size=FEATURES)
    y = X @ true_w + rng.normal(0, 0.5, N)
    model = nn.Sequential(nn.GaussianNoise(SIGMA, rng=seed), nn.Linear(FEATURES, 1, bias=False, rng=seed,
                                                                           dtype=np.float64))
    w = model[1].weight.data[:, 0]
    clean = float(np.mean((X @ w - y) ** 2))
    predicted = clean + SIGMA ** 2 * float(w @ w)
    samples = np.empty(_draws(quick))
    with no_grad():
        for i in range(len(samples)):
            samples[i] = np.mean((model(as_tensor(X)).data[:, 0] - y) ** 2)
    estimate = float(samples.mean())
    numbers = {"monte_carlo_noisy_mse": estimate, "clean_mse_plus_sigma2_w2": predicted, "clean_mse": clean,
               "monte_carlo_standard_error": float(samples.std() / np.sqrt(len(samples))),
               "relative_gap": abs(estimate - predicted) / predicted}
    # Training with noise: the minimizer of E[(ỹ − y)²] is ridge regression with λ = σ².
    learner = nn.Sequential(nn.GaussianNoise(SIGMA, rng=seed + 1),
                            nn.Linear(FEATURES, 1, bias=False, weight_init="zeros", dtype=np.float64))
    opt = optim.SGD(learner.parameters(), lr=0.05)
    iterates = []
    target = y[:, None]
    for step in range(_steps(quick)):
        opt.zero_grad()
        losses.mse_loss(learner(as_tensor(X)), target).backward()
        opt.step()
        if step >= _steps(quick) // 2:
            iterates.append(learner[1].weight.data[:, 0].copy())
    w_noise = np.mean(iterates, axis=0)
    A = X.T @ X / N
    b = X.T @ y / N
    w_ridge = np.linalg.solve(A + SIGMA ** 2 * np.eye(FEATURES), b)
    w_ols = np.linalg.solve(A, b)
    numbers["noise_trained_vs_ridge_relative_distance"] = float(np.linalg.norm(w_noise - w_ridge) / np.linalg.norm(w_ridge))
    numbers["ols_vs_ridge_relative_distance"] = float(np.linalg.norm(w_ols - w_ridge) / np.linalg.norm(w_ridge))
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(10, 3.6)
        ax = fig.add_subplot(1, 2, 1)
        ax.hist(samples, bins=50, color="steelblue")
        ax.axvline(predicted, color="red", label="E[(ŷ−y)²] + σ²Σw²")
        ax.axvline(clean, color="grey", linestyle=":", label="E[(ŷ−y)²]")
        ax.set_xlabel("mean (ỹ − y)² of one noise draw")
        ax.legend(fontsize=8)
        ax = fig.add_subplot(1, 2, 2)
        ax.plot(w_ridge, "o", label="ridge, λ = σ²")
        ax.plot(w_noise, "x", label="trained with input noise")
        ax.plot(w_ols, ".", label="no penalty")
        ax.set_xlabel("weight index")
        ax.legend(fontsize=8)
        figures["input noise as an L2 penalty"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    se = s.mean("monte_carlo_standard_error")
    gap = abs(s.mean("monte_carlo_noisy_mse") - s.mean("clean_mse_plus_sigma2_w2"))
    return [
        Check(f"Monte Carlo E[(ỹ − y)²] = {s.text('monte_carlo_noisy_mse', 5)} matches E[(ŷ − y)²] + σ²Σw² = "
              f"{s.text('clean_mse_plus_sigma2_w2', 5)} within 4 standard errors (gap {gap:.3g}, SE {se:.3g})",
              all(abs(a - b) <= 4 * e for a, b, e in zip(s.values("monte_carlo_noisy_mse"),
                                                          s.values("clean_mse_plus_sigma2_w2"),
                                                          s.values("monte_carlo_standard_error")))),
        Check(f"the noise term is not negligible: σ²Σw² = "
              f"{s.mean('clean_mse_plus_sigma2_w2') - s.mean('clean_mse'):.3g} ≫ SE {se:.3g}",
              s.mean("clean_mse_plus_sigma2_w2") - s.mean("clean_mse") > 20 * se),
        at_most(s, "noise_trained_vs_ridge_relative_distance", 0.05,
                "weights trained with input noise = ridge weights (relative distance)"),
        Check(f"…and ridge differs from no penalty by much more: {s.text('ols_vs_ridge_relative_distance')} vs "
              f"{s.text('noise_trained_vs_ridge_relative_distance')}",
              s.mean("ols_vs_ridge_relative_distance") > 3 * s.mean("noise_trained_vs_ridge_relative_distance")),
    ]


EXPERIMENT = Experiment("noise_l2", "Gaussian input noise is an L2 penalty (linear model)", CLAIMS, setup, measure,
                        judge)
