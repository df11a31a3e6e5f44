"""Parameter, the Tensor a Module registers, and the one rule for which parameters are weights."""

from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad and that a Module registers when assigned to it.

    Float32 unless ``dtype`` says otherwise (the rule of :func:`nnlab.tensor`).

    >>> import numpy as np
    >>> p = Parameter(np.zeros(3))
    >>> p.requires_grad, p.dtype
    (True, dtype('float32'))
    """

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

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
