"""Where nnlab's randomness comes from: seeded ``numpy.random.Generator`` objects only."""

import numpy as np

_global = np.random.default_rng(0)


def seed(n: int) -> None:
    """Reset the global generator, so the same model construction gives the same weights.

    >>> import nnlab
    >>> nnlab.seed(0); a = nnlab.random.get_rng().random()
    >>> nnlab.seed(0); b = nnlab.random.get_rng().random()
    >>> a == b
    True
    """
    global _global
    _global = np.random.default_rng(n)


def get_rng(rng=None) -> np.random.Generator:
    """The generator to draw from: ``rng`` itself, a new one seeded by an int, or the global one."""
    if rng is None:
        return _global
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
