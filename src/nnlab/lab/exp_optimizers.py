"""7. Optimizers on 2-D surfaces: trajectories and steps to converge for GD, momentum, Nesterov, Adagrad, RMSProp, Adam."""

from __future__ import annotations

import numpy as np

from .. import optim
from ..nn import Parameter
from .base import Check, Claim, Experiment, SeedResult, less
from .common import png

CLAIMS = (
    Claim("It takes a lot of time to navigate regions having a gentle slope … Even in the regions having gentle slopes, "
          "momentum based gradient descent is able to take large steps because the momentum carries it along",
          "001_c1cc0bdd94be0952.txt"),
    Claim("Nesterov Accelerated Gradient Descent - Look before you leap", "001_c1cc0bdd94be0952.txt"),
    Claim("Adagrad decays the learning rate very aggressively (as the denominator grows) … To avoid this why not decay "
          "the denominator and prevent its rapid growth", "001_c1cc0bdd94be0952.txt"),
    Claim("Saddle points, unlike local minima, are easily escapable", "004_2252f606abae7d36.txt"),
)


# Each surface works on NumPy arrays (for the contour plot) and on nnlab Tensors (for the gradients).
def bowl(x, y):
    """An elliptic bowl, 20× steeper along y."""
    return 0.5 * (x * x + 20 * y * y)


def saddle(x, y):
    """A saddle at the origin between the minima (±1, 0)."""
    return 0.25 * (x * x - 1) * (x * x - 1) + 0.5 * y * y


def plateau(x, y):
    """A wide plateau with a gentle slope down to a well at the origin."""
    return 1 - 1 / (1 + 0.1 * (x * x + 10 * y * y))


SURFACES = {  # name -> (function, start, extent, converged when f is below)
    "bowl": (bowl, (-4.0, 1.0), (-5, 2, -1.5, 1.5), 1e-3),
    "saddle": (saddle, (1e-3, 1.5), (-1.6, 1.6, -1.8, 1.8), 1e-3),
    "plateau": (plateau, (9.0, 1.0), (-2, 10, -2, 2), 0.05),  # 0.05: inside the well (|x| < 0.73)
}
OPTIMIZERS = {
    "GD": lambda p: optim.SGD(p, lr=0.04),
    "momentum": lambda p: optim.SGD(p, lr=0.04, momentum=0.9),
    "Nesterov": lambda p: optim.SGD(p, lr=0.04, momentum=0.9, nesterov=True),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "RMSProp": lambda p: optim.RMSProp(p, lr=0.1),
    "Adam": lambda p: optim.Adam(p, lr=0.1),
}


def setup(quick: bool) -> str:
    return ("Three surfaces: an elliptic bowl ½(x² + 20y²), a saddle ¼(x² − 1)² + ½y² started next to the saddle "
            "point, and a plateau 1 − 1/(1 + 0.1(x² + 10y²)) started far out on its gentle slope; each seed jitters "
            "the start by N(0, 0.05²). GD and momentum (γ = 0.9) and Nesterov at lr 0.04, Adagrad and RMSProp "
            f"(β = 0.9) both at lr 0.1 so that only their denominators differ, Adam lr 0.1, float64, at most {_steps(quick)} steps; converged when f < 0.001 (bowl, saddle) or "
            "f < 0.05 (plateau: inside the well). "
            "Oscillation: sign changes of y (the steep direction) on the bowl.")


def _steps(quick):
    return 600 if quick else 3000


def run_path(surface, start, make_optimizer, steps, tolerance):
    """The visited points (steps+1, 2) and the step at which f fell below ``tolerance`` (inf if never)."""
    p = Parameter(np.array(start), dtype="float64")
    opt = make_optimizer([p])
    path = [p.data.copy()]
    converged = np.inf
    for t in range(steps):
        opt.zero_grad()
        value = surface(p[0], p[1])
        if float(value.data) < tolerance:
            converged = t
            break
        value.backward()
        opt.step()
        path.append(p.data.copy())
    return np.array(path), float(converged)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    rng = np.random.default_rng(seed)
    numbers, paths = {}, {}
    for sname, (surface, start, _, tolerance) in SURFACES.items():
        jitter = np.array(start) + rng.normal(0, 0.05, 2) * (np.array(start) != 1e-3)
        for oname, make in OPTIMIZERS.items():
            path, converged = run_path(surface, jitter, make, _steps(quick), tolerance)
            paths[(sname, oname)] = path
            numbers[f"{sname}_{oname}_steps"] = converged
            if sname == "bowl":
                y = path[:, 1]
                numbers[f"bowl_{oname}_y_sign_changes"] = float((np.sign(y[1:]) != np.sign(y[:-1])).sum())
            if sname == "plateau" and oname in ("Adagrad", "RMSProp"):
                lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
                numbers[f"plateau_{oname}_step_length_ratio"] = float(lengths[min(99, len(lengths) - 1)] / lengths[0])
    figures = {}
    if draw:
        from ..diagnostics import optimizer_trajectories
        from ..diagnostics.plots import _figure

        fig = _figure(15, 4.4)
        for i, (sname, (surface, _, extent, _)) in enumerate(SURFACES.items()):
            optimizer_trajectories(surface, {o: paths[(sname, o)] for o in OPTIMIZERS}, extent, title=sname,
                                   ax=fig.add_subplot(1, 3, i + 1))
        figures["optimizer trajectories"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        less(s, "plateau_momentum_steps", "plateau_GD_steps", "plateau: momentum crosses the gentle slope in fewer steps"),
        less(s, "bowl_Nesterov_y_sign_changes", "bowl_momentum_y_sign_changes",
             "bowl: Nesterov oscillates less than momentum (sign changes of y)"),
        less(s, "plateau_Adagrad_step_length_ratio", "plateau_RMSProp_step_length_ratio",
             "plateau: Adagrad's steps shrink faster (step 100 / step 1 length)"),
        less(s, "plateau_RMSProp_steps", "plateau_Adagrad_steps", "plateau: RMSProp converges in fewer steps than Adagrad"),
        Check(f"saddle: gradient descent escapes (converges to a minimum) within the budget: {s.text('saddle_GD_steps')} "
              "steps", bool(np.isfinite(s.mean("saddle_GD_steps")))),
        less(s, "saddle_momentum_steps", "saddle_GD_steps", "saddle: momentum escapes faster than GD"),
    ]


EXPERIMENT = Experiment("optimizers", "Optimizers on 2-D loss surfaces", CLAIMS, setup, measure, judge)
