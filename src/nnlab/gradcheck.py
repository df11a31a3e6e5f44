"""Numerical gradient checking: central finite differences in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .random import get_rng
from .tensor import Tensor


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`; truthy when every checked gradient agrees.

    ``worst_abs`` / ``worst_rel`` are the largest absolute and relative errors (inf for a
    NaN or infinite gradient or objective),
    ``input_index`` and ``element`` say where the worst mismatch was (the
    element is None for a random-direction check).
    """

    ok: bool
    worst_abs: float
    worst_rel: float
    input_index: int | None
    element: tuple | None
    checks: int

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "gradients agree" if self.ok else "gradient MISMATCH"
        where = "" if self.input_index is None else f" at input {self.input_index}"
        if self.element is not None:
            where += f", element {self.element}"
        return (
            f"{verdict}: worst abs error {self.worst_abs:.3g}, worst rel error "
            f"{self.worst_rel:.3g}{where} ({self.checks} checks)"
        )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, directional=None, seed=0) -> GradcheckResult:
    """Compare the analytic gradient of ``fn(*inputs)`` with central differences.

    ``inputs`` are float64 Tensors (a single Tensor is allowed); those with
    ``requires_grad`` are checked.  A non-scalar output is reduced with a fixed
    random weighting ⟨v, fn(x)⟩, so every output element takes part (a
    single-value output is used as it is).  An element
    passes when |analytic − numeric| ≤ atol + rtol·|numeric|.

    ``directional=True`` checks one random direction per input (one pair of
    extra forward passes instead of two per element); by default inputs with
    more than 2,000 elements are checked that way.  ``seed`` fixes the output
    weighting and the directions.  The inputs' values and ``.grad`` are left
    as they were.

    >>> import nnlab
    >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    >>> bool(gradcheck(lambda t: (t * t).sum(), [x]))
    True
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck input {i} is a {type(t).__name__}, expected an nnlab Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(
                f"gradcheck input {i} has dtype {t.dtype}: finite differences need float64 "
                "(float32 rounding swamps the difference quotient); create it with dtype=np.float64"
            )
    checked = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")

    rng = get_rng(seed)
    saved_grads = [t.grad for t in inputs]
    saved_data = {i: inputs[i].data.copy() for i in checked}
    for t in inputs:
        t.grad = None
    try:
        return _check(fn, inputs, checked, rng, eps, atol, rtol, directional)
    finally:  # leave the inputs as they were, even when fn raises half-way
        for i, data in saved_data.items():
            inputs[i].data[...] = data
        for t, grad in zip(inputs, saved_grads):
            t.grad = grad


def _check(fn, inputs, checked, rng, eps, atol, rtol, directional) -> GradcheckResult:
    out = fn(*inputs)
    # A single-value output is checked as it is, so the errors are in its own units.
    weights = np.ones(out.shape) if out.size == 1 else rng.standard_normal(out.shape)

    def objective() -> float:
        return float(np.sum(weights * fn(*inputs).data))

    if out.requires_grad:  # otherwise the output does not depend on the inputs: all gradients are 0
        (out * weights).sum().backward()
    analytic = {i: (np.zeros(inputs[i].shape) if inputs[i].grad is None else inputs[i].grad.copy()) for i in checked}

    worst = GradcheckResult(True, 0.0, 0.0, None, None, 0)
    worst_ratio = -1.0

    def record(i, element, a, n):
        # The reported location is the element furthest beyond its tolerance.
        nonlocal worst_ratio
        err = abs(a - n)
        ratio = err / (atol + rtol * abs(n))
        if np.isnan(ratio):  # a NaN gradient or objective meets no tolerance (nan > 1 is False)
            err = ratio = np.inf
        worst.checks += 1
        worst.worst_abs = max(worst.worst_abs, err)
        # err / |n| would be NaN for a NaN or infinite n, and max() keeps its first argument against NaN:
        # an infinite (or NaN, counted as infinite above) error is an infinite relative error too.
        rel = err / abs(n) if n and np.isfinite(n) else (0.0 if not err else np.inf)
        worst.worst_rel = max(worst.worst_rel, rel)
        if ratio > worst_ratio:
            worst_ratio = ratio
            worst.input_index, worst.element = i, element
        if ratio > 1:
            worst.ok = False

    for i in checked:
        data = inputs[i].data
        use_direction = directional if directional is not None else data.size > 2000
        if use_direction:
            d = rng.standard_normal(data.shape)
            original = data.copy()
            data[...] = original + eps * d
            plus = objective()
            data[...] = original - eps * d
            minus = objective()
            data[...] = original
            record(i, None, float(np.sum(analytic[i] * d)), (plus - minus) / (2 * eps))
            continue
        for element in np.ndindex(data.shape):
            original = data[element]
            data[element] = original + eps
            plus = objective()
            data[element] = original - eps
            minus = objective()
            data[element] = original
            record(i, element, float(analytic[i][element]), (plus - minus) / (2 * eps))
    return worst
