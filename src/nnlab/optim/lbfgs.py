"""L-BFGS, PyTorch 2's algorithm (``torch.optim.LBFGS``), on nnlab's flat parameter buffer."""

from __future__ import annotations

import numpy as np

from .._backprop import released
from .._checks import check_choice, check_int
from ..errors import ConfigError
from ..tensor import Tensor, enable_grad
from ._lbfgs_state import checked_lbfgs_state, lbfgs_state_copy
from ._strong_wolfe import strong_wolfe
from .line_search import loss_value
from .optimizer import Optimizer

LINE_SEARCHES = (None, "strong_wolfe")


class LBFGS(Optimizer):
    """L-BFGS, as PyTorch's ``torch.optim.LBFGS`` (its settings, defaults and steps).

    ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations (at most
    ``max_eval`` loss evaluations, default ``max_iter·5//4``) and returns the
    closure's first loss, as PyTorch.  The direction comes from the last
    ``history_size`` pairs of steps and gradient changes (the two-loop
    recursion); the first step is scaled to min(1, 1/‖∇‖₁)·lr, later ones are
    ``lr``, or found by ``line_search_fn="strong_wolfe"``.  It stops early when
    the largest gradient is below ``tolerance_grad`` or the step or the loss
    changes by less than ``tolerance_change``.

    The closure: PyTorch's (``opt.zero_grad(); loss = f(); loss.backward(); return loss``)
    works as it is.  A closure that only computes the loss (the one
    ``nnlab.fit`` passes, which it does as ``optimizer.requires_closure`` is
    True) works too: when the returned loss still holds its graph, LBFGS zeros
    the gradients and runs its backward itself.  The closure runs with gradients
    enabled even inside ``no_grad``.

    As PyTorch's: one parameter group, all parameters of one dtype (one flat
    vector), no weight decay; a parameter without ``.grad`` counts as a zero
    gradient.  It keeps ``param_bytes·(history_size + 1)`` bytes of history.
    ``state`` is PyTorch's (``func_evals``, ``n_iter``, ``d``, ``t``,
    ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``,
    ``prev_loss``), saved under parameter 0 by ``state_dict`` as PyTorch's.
    """

    requires_closure = True

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        max_iter = check_int("max_iter", max_iter, minimum=1, owner="LBFGS")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        self.state: dict = {}
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        self._one_flat()

    def _validate(self, group):
        self._check("lr", group["lr"])
        for name in ("max_iter", "max_eval", "history_size"):
            check_int(name, group[name], minimum=1, owner="LBFGS")
        self._check("tolerance_grad", group["tolerance_grad"])
        self._check("tolerance_change", group["tolerance_change"])
        check_choice("line_search_fn", group["line_search_fn"], LINE_SEARCHES, owner="LBFGS")

    def _one_flat(self):
        """The one flat buffer of all parameters (a ConfigError for several groups or dtypes)."""
        if len(self.param_groups) != 1:
            raise ConfigError(f"LBFGS takes one parameter group (one history for all parameters), got "
                              f"{len(self.param_groups)}; pass model.parameters()")
        if len(self._flats[0]) != 1:
            dtypes = ", ".join(str(flat.dtype) for flat in self._flats[0])
            raise ConfigError(f"LBFGS keeps all parameters in one vector: they must share a dtype, got {dtypes}")
        return self._flats[0][0]

    def add_param_group(self, group: dict) -> None:
        if self.param_groups:
            raise ConfigError("LBFGS takes one parameter group (one history for all parameters); "
                              "add_param_group cannot add another")
        super().add_param_group(group)

    # ------------------------------------------------------------ the closure and the flat vector
    def _evaluate(self, closure):
        """``(the closure's return, its loss as a float)``, with every ``.grad`` the gradient of that loss."""
        with enable_grad():
            loss = closure()
            if isinstance(loss, Tensor) and not loss.is_leaf and loss._backward is not released:
                self.zero_grad()  # the closure left the backward to us (nnlab.fit's closure)
                loss.backward()
        return loss, loss_value(loss, "LBFGS")

    def _flat_grad(self, flat) -> np.ndarray:
        """A copy of the flat gradient, zeros for parameters without one (PyTorch's ``_gather_flat_grad``)."""
        skipped = flat.sync()
        grad = flat.grad.copy()
        for i in skipped:
            grad[flat.slices[i]] = 0
        return grad

    @staticmethod
    def _add_grad(flat, t, d) -> None:
        """w ← w + t·d, t in the parameters' dtype (as PyTorch's ``add_(d, alpha=t)``)."""
        np.multiply(d, flat.dtype.type(t), out=flat.scratch)
        np.add(flat.data, flat.scratch, out=flat.data)

    def _directional_evaluate(self, closure, flat, x, t, d):
        self._add_grad(flat, t, d)
        loss = self._evaluate(closure)[1]
        flat_grad = self._flat_grad(flat)
        np.copyto(flat.data, x)
        return loss, flat_grad

    # ------------------------------------------------------------ the step
    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the closure's first loss (its own return value)."""
        if closure is None:
            raise ConfigError("LBFGS.step needs a closure that recomputes and returns the loss: step(closure)")
        flat = self._one_flat()
        flat.sync()  # a replaced .data is copied into the vector before it moves
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval, history_size = group["max_iter"], group["max_eval"], group["history_size"]
        tolerance_grad, tolerance_change = float(group["tolerance_grad"]), float(group["tolerance_change"])
        line_search_fn = group["line_search_fn"]
        state = self.state
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad(flat)
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:  # already optimal
            return orig_loss

        d, t, H_diag = state.get("d"), state.get("t"), state.get("H_diag")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        scratch = flat.scratch2
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:  # the first direction: steepest descent
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * flat.dtype.type(t)
                ys = y.dot(s)
                if ys > 1e-10:  # the curvature condition: keep the pair
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # the initial Hessian's scale
                # the two-loop recursion: d = −H∇
                al = [None] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    np.add(q, np.multiply(old_dirs[i], -al[i], out=scratch), out=q)
                d = r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    np.add(r, np.multiply(old_stps[i], al[i] - be_i, out=scratch), out=r)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = flat.data.copy()
                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    lambda x, t, d: self._directional_evaluate(closure, flat, x, t, d),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(flat, t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(flat, t, d)
                if n_iter != max_iter:  # the next iteration's loss and gradient (the last one's are not needed)
                    loss = self._evaluate(closure)[1]
                    flat_grad = self._flat_grad(flat)
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * flat.dtype.type(t)).max() <= tolerance_change:  # lack of progress
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """``{"state": {0: LBFGS's state (copies)} or {}, "param_groups": [{..., "params": [0, 1, ...]}]}``."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self.param_groups[0]["params"])))
        return {"state": {0: lbfgs_state_copy(self.state)} if self.state else {}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved (checked completely first: a bad one changes nothing)."""
        group, state = checked_lbfgs_state(self, state_dict)
        self.param_groups[0].update(group)
        self.state = state
