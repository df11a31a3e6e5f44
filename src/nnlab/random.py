"""Where nnlab's randomness comes from: seeded ``numpy.random.Generator`` objects only.

Per-batch draws (Dropout masks, GaussianNoise) go through :func:`draw_for_batch`,
so a distributed rank draws what one process with the global batch draws.
"""

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


# (global rows m, lo, hi) of the batch a distributed run's ShardedLoader handed out last, None in one process.
_shard = None


def set_batch_shard(shard) -> None:
    """Publish ``(m, lo, hi)``: this process holds rows [lo, hi) of a global batch of m rows (None: all of it).

    Only :class:`nnlab.distributed.parallel.ShardedLoader` sets it, while it yields a batch.
    """
    global _shard
    _shard = shard


def draw_for_batch(draw, shape, owner: str = "layer"):
    """``draw(shape)``, the per-batch random numbers of a batch of ``shape`` (rows on axis 0).

    In a distributed run (a shard ``(m, lo, hi)`` published) every rank draws for
    the whole global batch, ``draw((m, *shape[1:]))``, and keeps its rows [lo, hi):
    the numbers one process with the global batch would draw, so a K-rank run
    with Dropout or GaussianNoise ends where that process ends, and each rank's
    rows get their own numbers.  The cost: each rank draws (and briefly holds)
    K times as many numbers as its own rows need.  In one process: ``draw(shape)``.

    >>> import numpy as np
    >>> draw_for_batch(np.random.default_rng(0).random, (2, 3)).shape
    (2, 3)
    >>> set_batch_shard((4, 2, 4))  # rows 2 and 3 of a global batch of 4
    >>> mine = draw_for_batch(np.random.default_rng(0).random, (2, 3))
    >>> set_batch_shard(None)
    >>> bool((mine == np.random.default_rng(0).random((4, 3))[2:]).all())
    True
    """
    shard = _shard
    if shard is None:
        return draw(shape)
    m, lo, hi = shard
    if not shape or shape[0] != hi - lo:
        from .errors import ConfigError

        raise ConfigError(f"distributed training: {owner} draws its random numbers for the global batch and needs the "
                          f"batch on axis 0, but got an input of shape {tuple(shape)} while this rank holds {hi - lo} "
                          f"rows of a global batch of {m}")
    return draw((m, *shape[1:]))[lo:hi]
