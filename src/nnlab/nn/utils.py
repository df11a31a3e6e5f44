"""``nnlab.nn.utils``: PyTorch's names for gradient clipping and flat parameter vectors.

``clip_grad_norm_`` and ``clip_grad_value_`` are :func:`nnlab.optim.clip_grad_norm` and
:func:`nnlab.optim.clip_grad_value` (the one implementation, in :mod:`nnlab.optim.clip`),
under the trailing-underscore names of ``torch.nn.utils``; the norm is returned as a float.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..optim.clip import clip_grad_norm as clip_grad_norm_
from ..optim.clip import clip_grad_value as clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> np.ndarray:
    """All of ``parameters`` (e.g. ``model.parameters()``) as one new 1-D array, in order."""
    arrays = [p.data.ravel() for p in parameters]
    if not arrays:
        raise ConfigError("parameters_to_vector: no parameters given")
    return np.concatenate(arrays)


def vector_to_parameters(vec, parameters) -> None:
    """Copy the 1-D ``vec`` into ``parameters``, in order and in place (the reverse of :func:`parameters_to_vector`)."""
    params = list(parameters)
    vec = np.asarray(vec)
    total = sum(p.data.size for p in params)
    if vec.ndim != 1 or vec.size != total:
        raise ConfigError(f"vector_to_parameters: expected a 1-D vector of {total} values for these parameters, "
                          f"got shape {vec.shape}")
    start = 0
    for p in params:
        p.data[...] = vec[start:start + p.data.size].reshape(p.data.shape)  # in place: views into a flat buffer stay
        start += p.data.size
