"""Parameter, the Tensor a Module registers, and the one rule for which parameters are weights."""

from __future__ import annotations

from ..tensor import Tensor


_GRAD = Tensor.grad  # the slot of Tensor that holds the gradient, under Parameter's property


class Parameter(Tensor):
    """A Tensor that requires grad and that a Module registers when assigned to it.

    Float32 unless ``dtype`` says otherwise (the rule of :func:`nnlab.tensor`).

    >>> import numpy as np
    >>> p = Parameter(np.zeros(3))
    >>> p.requires_grad, p.dtype
    (True, dtype('float32'))
    """

    __slots__ = ("_zero_pending",)

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    # A pending zero (``Optimizer.zero_grad``, see ``nnlab/_leafgrad.py``): the gradient buffer is
    # filled with zeros only if it is read before a backward overwrites it.
    @property
    def grad(self):
        """The accumulated gradient (an ndarray like ``data``), or None."""
        g = _GRAD.__get__(self)
        if getattr(self, "_zero_pending", False):
            self._zero_pending = False
            if g is not None:
                g.fill(0)
        return g

    @grad.setter
    def grad(self, value) -> None:
        self._zero_pending = False
        _GRAD.__set__(self, value)

    def stored_grad(self):
        """The gradient buffer as it is, without carrying out a pending zero (the engine's view)."""
        return _GRAD.__get__(self)

    def zero_grad_later(self) -> None:
        """Make ``.grad`` read as zeros from now on, without writing the buffer until it is read."""
        if _GRAD.__get__(self) is not None:
            self._zero_pending = True

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("tensor") :]


def is_weight(p) -> bool:
    """The one rule for which parameters are weights: those with two or more dimensions.

    Weights are the matrices of Linear, Maxout and TiedLinear (the parameters
    named ``weight``); biases, BatchNorm's γ and β and PReLU's α are vectors and
    are not weights.  Weight decay (:func:`nnlab.optim.weight_decay_groups`), the
    L1/L2 penalties and every optimizer the CLI builds use this rule.

    >>> import numpy as np
    >>> is_weight(Parameter(np.zeros((3, 2)))), is_weight(Parameter(np.zeros(2)))
    (True, False)
    """
    return p.data.ndim >= 2
