"""3. Activations: vanishing gradients with depth, sigmoid's one-sign gradients, ReLU vs tanh speed."""

from __future__ import annotations

import numpy as np

from .. import losses, nn
from ..tensor import as_tensor
from .base import Check, Claim, Experiment, SeedResult, at_least, less
from .common import digits_split, mlp, png, train

CLAIMS = (
    Claim("Saturated neurons cause the gradient to vanish", "001_c1cc0bdd94be0952.txt"),
    Claim("Essentially, either all the gradients at a layer are positive or all the gradients at a layer are negative",
          "001_c1cc0bdd94be0952.txt"),
    Claim("Also seems to help convergence (see 6x speedup vs tanh in Krizhevsky et al.)", "002_f454bcaa3b381492.txt"),
    Claim("When there are more layers in the network, the value of the product of derivative decreases until at some "
          "point the partial derivative of the loss function approaches a value close to zero",
          "004_2252f606abae7d36.txt"),
)
KINDS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout")
DEPTH, WIDTH = 8, 64


def setup(quick: bool) -> str:
    target, epochs = _race(quick)
    return (f"Standardized digits. Gradient norms: an MLP of {DEPTH} hidden layers of {WIDTH} units with each activation, "
            "the notes' 1/√n initialization for all, ‖∇W‖ of every layer on one batch of 256 at initialization. Sign "
            "test: one sample through a sigmoid and a tanh net; for each unit of the next layer, whether all its "
            "incoming weight gradients share one sign. Speed: 3 hidden layers of 64, plain SGD lr 0.05, batch 32, "
            f"He init for ReLU and Xavier for tanh, steps until the training loss is below {target} "
            f"(at most {epochs} epochs).")


def _race(quick):
    return (0.1, 15) if quick else (0.05, 40)


def _layer_grad_norms(model, X, y):
    model.zero_grad()
    losses.cross_entropy(model(as_tensor(X)), y).backward()
    norms = [float(np.linalg.norm(m.weight.grad)) for m in model if isinstance(m, nn.Linear | nn.Maxout)]
    model.zero_grad()
    return norms


def _same_sign_fraction(model, x, y):
    """Fraction of units in the 2nd affine layer whose incoming weight gradients (one sample) all share a sign."""
    model.zero_grad()
    losses.cross_entropy(model(as_tensor(x)), y).backward()
    G = model[2].weight.grad  # (inputs from layer 1, units of layer 2)
    nonzero = np.abs(G).max(axis=0) > 0
    same = (np.all(G >= 0, axis=0) | np.all(G <= 0, axis=0)) & nonzero
    model.zero_grad()
    return float(same.sum() / max(nonzero.sum(), 1))


def _steps_to(target, model, data, epochs, seed):
    seen = {"steps": 0, "reached": None}
    from ..train import Callback

    class Watch(Callback):
        def on_batch_end(self, batch, logs=None):
            seen["steps"] += 1

        def on_epoch_end(self, epoch, logs=None):
            if logs["loss"] < target and seen["reached"] is None:
                seen["reached"] = seen["steps"]
                self.stop_training = True

    train(model, data, "sgd", lr=0.05, epochs=epochs, batch_size=32, seed=seed, callbacks=[Watch()])
    return float(seen["reached"] if seen["reached"] is not None else np.inf)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), _ = digits_split(seed)
    rng = np.random.default_rng(seed)
    batch = rng.choice(len(X), 256, replace=False)
    numbers, profiles = {}, {}
    for kind in KINDS:
        model = mlp([64] + [WIDTH] * DEPTH + [10], kind, rng=seed)
        norms = _layer_grad_norms(model, X[batch], y[batch])
        profiles[kind] = norms
        numbers[f"{kind}_first_over_last_grad_norm"] = norms[0] / norms[-2]
    for kind in ("sigmoid", "tanh"):
        model = mlp([64, 32, 32, 10], kind, rng=seed)
        fractions = [_same_sign_fraction(model, X[i:i + 1], y[i:i + 1]) for i in batch[:20]]
        numbers[f"{kind}_same_sign_unit_fraction"] = float(np.mean(fractions))
    target, epochs = _race(quick)
    steps = {}
    for kind, init in (("relu", "he_normal"), ("tanh", "xavier_normal")):
        model = mlp([64, 64, 64, 64, 10], kind, weight_init=init, rng=seed)
        steps[kind] = _steps_to(target, model, (X, y), epochs, seed)
        numbers[f"{kind}_steps_to_target_loss"] = steps[kind]
    numbers["tanh_over_relu_steps"] = steps["tanh"] / steps["relu"]
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(6.5, 4)
        ax = fig.add_subplot()
        for kind, norms in profiles.items():
            ax.plot(range(1, len(norms) + 1), norms, marker="o", label=kind)
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_ylabel("‖∇W‖ at initialization")
        ax.legend(fontsize=8)
        figures[f"gradient norm per layer, {DEPTH} hidden layers"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        less(s, "sigmoid_first_over_last_grad_norm", "relu_first_over_last_grad_norm",
             "sigmoid's gradient vanishes towards the input more than ReLU's (first/last layer ‖∇W‖)"),
        Check(f"sigmoid: first-layer gradient < 1/10 of the last hidden layer's: "
              f"{s.text('sigmoid_first_over_last_grad_norm')}", s.mean("sigmoid_first_over_last_grad_norm") < 0.1),
        at_least(s, "sigmoid_same_sign_unit_fraction", 1.0, "sigmoid inputs: units whose incoming gradients share a sign"),
        less(s, "tanh_same_sign_unit_fraction", "sigmoid_same_sign_unit_fraction",
             "tanh (zero-centred) mixes signs, sigmoid does not"),
        less(s, "relu_steps_to_target_loss", "tanh_steps_to_target_loss", "ReLU reaches the target loss in fewer steps"),
        at_least(s, "tanh_over_relu_steps", 6.0, "the quoted 6× speed-up of ReLU over tanh"),
    ]


EXPERIMENT = Experiment("activations", "Activation functions: vanishing gradients, zero-centring, speed", CLAIMS, setup,
                        measure, judge)
