"""nnlab.random.bernoulli: the probability of a uint32 threshold compare, drawn mostly a byte at a time."""

import numpy as np
import pytest

import nnlab.random
from nnlab.random import bernoulli, standard_normal


@pytest.mark.parametrize("p", [0.1, 0.9, 0.5 / 256, 1 - 0.5 / 256])  # the last two: kept (or dropped) only on ties
def test_bernoulli_keeps_each_element_with_probability_p(p):
    n = 400_000
    kept = bernoulli(np.random.default_rng(0), p, (n // 100, 100)).mean()
    assert abs(kept - p) < 4.5 * np.sqrt(p * (1 - p) / n)
    assert not bernoulli(0, 0.0, (50, 20)).any() and bernoulli(0, 1.0, (50, 20)).all()


def test_bernoulli_equals_the_uint32_threshold_compare(monkeypatch):
    """The byte-first decision is u < round(p·2³²) for u = top byte · 2²⁴ + 24 more bits, drawn only on a tie."""
    p = (200 + 0.37) / 256
    t = round(p * 2**32)
    top = np.arange(256, dtype=np.uint8).repeat(4)  # every top byte 4 times: 4 ties with t's top byte 200
    tails = np.array([t % 2**24 - 1, t % 2**24, t % 2**24 + 1, 0], dtype=np.uint32)
    draws = iter([top, (tails << 8).astype("<u4").view(np.uint8)])  # the tails as the top 24 bits of 4 bytes
    requested = []
    monkeypatch.setattr(nnlab.random, "_random_bytes", lambda gen, n: requested.append(n) or next(draws))
    mask = bernoulli(0, p, (64, 16))
    u = top.astype(np.int64) << 24
    u[top == 200] += tails
    np.testing.assert_array_equal(mask.ravel(), u < t)
    assert requested == [1024, 16] and mask.shape == (64, 16)


@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.MT19937])  # MT19937: 32 random bits per raw value
def test_bernoulli_draws_only_from_its_generator(bits):
    a, b = np.random.Generator(bits(5)), np.random.Generator(bits(5))
    first = bernoulli(a, 0.3, (300, 100))
    np.testing.assert_array_equal(first, bernoulli(b, 0.3, (300, 100)))  # same seed, same mask
    assert not np.array_equal(first, bernoulli(a, 0.3, (300, 100)))  # the generator moved on
    assert abs(first.mean() - 0.3) < 4.5 * np.sqrt(0.3 * 0.7 / first.size)
    with pytest.raises(ValueError, match="p must be a probability"):
        bernoulli(a, 1.5, (2,))


def test_standard_normal_float32_is_normal_and_reproducible():
    stats = pytest.importorskip("scipy.stats")
    z = standard_normal(np.random.default_rng(0), (1001, 201))  # odd size: the last pair's sine is dropped
    assert z.dtype == np.float32 and z.shape == (1001, 201)
    result = stats.kstest(z.ravel().astype(np.float64), "norm")
    assert result.statistic < 1.63 / np.sqrt(z.size)  # Kolmogorov-Smirnov at the 1 % level
    assert abs((np.abs(z) > 3).mean() - 2 * stats.norm.sf(3)) < 4.5 * np.sqrt(0.0027 / z.size)
    half = -(-z.size // 2)
    cos_part, sin_part = z.ravel()[:half], z.ravel()[half:]
    assert abs(np.corrcoef(cos_part[: sin_part.size], sin_part)[0, 1]) < 4.5 / np.sqrt(sin_part.size)  # a pair's two
    np.testing.assert_array_equal(z, standard_normal(np.random.default_rng(0), (1001, 201)))
    gen = np.random.default_rng(0)
    np.testing.assert_array_equal(standard_normal(gen, (4, 3), np.float64), np.random.default_rng(0).standard_normal((4, 3)))
