"""nnlab's scikit-learn estimators beside scikit-learn's own MLP, with the same (default) settings.

Both estimators get MLPClassifier's/MLPRegressor's defaults -- one hidden layer of
100 ReLU units, Adam at 0.001, batches of min(200, n), α = 1e-4, up to 200 epochs,
tol = 1e-4 with n_iter_no_change = 10 -- and only ``random_state`` is set.  Each is
scored by 5-fold cross-validation (scikit-learn's ``cross_validate``, run serially,
so each fit has the whole machine; the fit time is the sum over the folds):

- digits (1797 8x8 images, 10 classes; raw pixel values 0..16): accuracy;
- diabetes (442 patients, 10 features, one target): R², with both estimators inside
  the same ``StandardScaler`` pipeline and a standardized target (without it neither
  network gets anywhere in 200 epochs of Adam at 0.001 on targets of 25..346).

Run:  PYTHONPATH=src python examples/sklearn_vs_mlp.py [--tasks digits diabetes] [--seeds 0 1 2]
The verdict lines are computed from the measured numbers (within 0.5 points; faster); the
standard error is that of the per-fold differences (both estimators see the same folds).
Measured on 2026-12-01 (2-core AMD EPYC, load average below 1; the README has the table):

    digits, --seeds 0 1 2 3 4 (accuracy):
      MLPClassifier   97.38 ± 0.61      11.8 s
      NNClassifier    97.41 ± 0.75       7.3 s
      difference +0.02 points (standard error of the paired fold differences 0.16): within 0.5 points; ...1.61x
    diabetes, --seeds 0..19 (r2):
      MLPRegressor    44.22 ± 9.00       9.5 s
      NNRegressor     43.93 ± 8.84       6.0 s
      difference -0.29 points (standard error of the paired fold differences 0.29): within 0.5 points; ...1.59x

Two runs side by side on the busy machine took about 30 times as long (235 s for MLPClassifier's 15 fits, ~7 s idle):
run it alone.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnlab.sklearn import NNClassifier, NNRegressor


def regression(estimator):
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), estimator), transformer=StandardScaler())


TASKS = {
    "digits": (load_digits, lambda cls, seed: cls(random_state=seed), (MLPClassifier, NNClassifier), "accuracy",
               StratifiedKFold),
    "diabetes": (load_diabetes, lambda cls, seed: regression(cls(random_state=seed)), (MLPRegressor, NNRegressor),
                 "r2", KFold),
}


def measure(task: str, seeds) -> dict:
    load, make, classes, scoring, folds = TASKS[task]
    X, y = load(return_X_y=True)
    out = {}
    for cls in classes:
        scores, seconds = [], 0.0
        for seed in seeds:
            cv = folds(n_splits=5, shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                result = cross_validate(make(cls, seed), X, y, cv=cv, scoring=scoring, n_jobs=1)
                seconds += time.perf_counter() - start
            scores.extend(result["test_score"])
        out[cls.__name__] = (float(np.mean(scores)), float(np.std(scores)), seconds, np.asarray(scores))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="random_state values (and fold shuffles)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    args = parser.parse_args(argv)
    print(f"5-fold CV, seeds {args.seeds}; scores are mean ± std over folds and seeds, time is the total wall time")
    for task in args.tasks:
        results = measure(task, args.seeds)
        metric = TASKS[task][3]
        (ref_name, (ref, _, ref_t, ref_scores)), (name, (ours, _, t, our_scores)) = results.items()
        print(f"\n{task} ({metric}):")
        for label, (mean, std, seconds, _) in results.items():
            print(f"  {label:14s} {100 * mean:6.2f} ± {100 * std:4.2f}   {seconds:7.1f} s")
        gap = 100 * (ours - ref)
        # both estimators see the same folds, so the per-fold differences are paired
        paired = 100 * (our_scores - ref_scores)
        stderr = float(np.std(paired, ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else float("nan")
        print(f"  difference {gap:+.2f} points (standard error of the paired fold differences {stderr:.2f}): "
              f"{'within' if abs(gap) <= 0.5 else 'NOT within'} 0.5 points; "
              f"{name} is {ref_t / t:.2f}x as fast as {ref_name} ({'faster' if t < ref_t else 'NOT faster'})")


if __name__ == "__main__":
    main()
