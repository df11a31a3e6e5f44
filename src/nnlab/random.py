"""Where nnlab's randomness comes from: seeded ``numpy.random.Generator`` objects only.

Per-batch draws (Dropout masks, GaussianNoise) go through :func:`draw_for_batch`,
so a distributed rank draws what one process with the global batch draws.
Dropout's masks come from :func:`bernoulli`, which spends about 8 random bits
per unit instead of a float's 32, and GaussianNoise's float32 noise from
:func:`standard_normal`'s Box–Muller transform, about 3 times as fast as
NumPy's float32 ziggurat on this kind of machine.
"""

import math

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


manual_seed = seed  # PyTorch's name: torch.manual_seed(n)


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


def draw_dtype(dtype) -> np.dtype:
    """The dtype to draw random numbers in for data of ``dtype``: NumPy's generators draw
    float32 or float64 only, so anything else (float16, integers) draws float64.

    >>> draw_dtype(np.float32), draw_dtype(np.float16)
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def set_batch_shard(shard) -> None:
    """Publish ``(m, lo, hi)``: this process holds rows [lo, hi) of a global batch of m rows (None: all of it).

    Only :class:`nnlab.distributed.parallel.ShardedLoader` sets it, while it yields a batch.
    """
    global _shard
    _shard = shard


def batch_shard():
    """The ``(m, lo, hi)`` that :func:`set_batch_shard` published, or None (one process, or outside a batch).

    >>> batch_shard() is None
    True
    """
    return _shard


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


# Bit generators whose random_raw gives 64 random bits per value (MT19937's gives 32, zero-extended to 64).
_RAW64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox)


def _random_bytes(gen: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform random bytes from ``gen``: its bit generator's raw 64-bit output, 8 bytes a draw.

    ``random_raw`` skips Generator's per-value work: 32,768 bytes cost ~7 µs
    against ~24 µs through ``integers(0, 256, dtype=uint8)`` (the fallback for
    other bit generators).  Read as little-endian on every machine, so a seed
    gives the same bytes everywhere.
    """
    bits = gen.bit_generator
    if type(bits) in _RAW64:
        return bits.random_raw(-(-n // 8)).astype("<u8", copy=False).view(np.uint8)[:n]
    return gen.integers(0, 256, n, dtype=np.uint8)


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)


def bernoulli(rng, p: float, shape) -> np.ndarray:
    """A bool array of ``shape``, each element True independently with probability ``round(p·2³²)/2³²``.

    The outcome is the 32-bit compare ``u < t`` (u uniform on [0, 2³²),
    t = round(p·2³²)), decided from u's top byte alone wherever that settles it:
    u < t when u's top byte is below t's, u ≥ t when above.  Only on a tie
    (probability 1/256) are u's other 24 bits drawn and compared with t's.  So
    the probability is exactly the uint32 threshold's (finer than a float32
    uniform's 2⁻²⁴ steps), at about 8.1 random bits per element instead of 32
    (issue 17: 32,768 elements in ~17 µs, where ``rng.random(dtype=float32) < p``
    took ~45 µs; ``python -m benchmarks.noise_layers``).  Every random number
    comes from ``rng``: the same seed gives the same mask.

    >>> mask = bernoulli(np.random.default_rng(0), 0.25, (400, 100))
    >>> mask.dtype, mask.shape, bool(abs(mask.mean() - 0.25) < 0.01)
    (dtype('bool'), (400, 100), True)
    >>> bool((mask == bernoulli(np.random.default_rng(0), 0.25, (400, 100))).all())
    True
    """
    gen, shape = get_rng(rng), _shape(shape)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli: p must be a probability in [0, 1], got {p!r}")
    threshold = round(p * 2**32)
    if threshold >= 2**32:  # p within 2⁻³³ of 1: every element
        return np.ones(shape, dtype=bool)
    high, low = divmod(threshold, 1 << 24)  # t's top byte, t's other 24 bits
    top = _random_bytes(gen, math.prod(shape))
    mask = top < high
    ties = (top == high).nonzero()[0]
    if ties.size:  # the other 24 bits of each tied u: the top 24 bits of 4 more random bytes
        mask[ties] = (_random_bytes(gen, 4 * ties.size).view("<u4") >> 8) < low
    return mask.reshape(shape)


def standard_normal(rng, shape, dtype=np.float32) -> np.ndarray:
    """𝒩(0, 1) numbers of ``shape`` and ``dtype`` from ``rng``; float32 by the Box–Muller transform.

    For float32, pairs z₀ = r·cos θ, z₁ = r·sin θ with r = √(−2 ln(1 − u₁)) and
    θ = 2π·u₂: independent standard normals for independent uniforms u₁, u₂.
    u₁ is a float64 uniform (53 bits, so |z| reaches 8.6 rather than the 5.8 a
    float32 u₁ would allow) and ln(1 − u₁) is taken in float64; the rest is in
    float32.  32,768 numbers take ~85 µs where ``rng.standard_normal(dtype=float32)``
    took ~240 µs (issue 17; ``python -m benchmarks.noise_layers``).  NumPy's
    float32 sin, cos and sqrt are its SIMD ones, which may differ in the last bit
    between kinds of CPU: the same seed gives the same numbers run to run on one
    machine.  Other dtypes: ``rng.standard_normal(shape, dtype=dtype)`` (float64's
    transcendental functions cost more than its ziggurat).

    >>> z = standard_normal(np.random.default_rng(0), (500, 200))
    >>> z.dtype, z.shape, bool(abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01)
    (dtype('float32'), (500, 200), True)
    """
    gen, shape, dtype = get_rng(rng), _shape(shape), np.dtype(dtype)
    if dtype != np.float32:
        return gen.standard_normal(shape, dtype=dtype)
    n = math.prod(shape)
    half = -(-n // 2)
    u = gen.random(half)
    np.negative(u, out=u)
    np.log1p(u, out=u)  # ln(1 − u₁): 1 − u₁ is in (0, 1], never ln 0
    r = u.astype(np.float32)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    theta = gen.random(half, dtype=np.float32)
    theta *= np.float32(2 * np.pi)
    out = np.empty(2 * half, dtype=np.float32)
    np.cos(theta, out=out[:half])
    np.sin(theta, out=out[half:])
    out[:half] *= r
    out[half:] *= r
    return out[:n].reshape(shape)
