"""Augmentation: new arrays per batch, inputs untouched, jitter really shifts pixels."""

import numpy as np
import pytest

from nnlab.data import ArrayDataset, Compose, DataLoader, GaussianNoiseAugment, Jitter
from nnlab.errors import ConfigError, DataError


def test_noise_statistics_and_dtype():
    X = np.ones((2000, 8), dtype=np.float32)
    out = GaussianNoiseAugment(0.3, rng=0)(X)
    assert out.dtype == np.float32 and out.shape == X.shape
    assert abs((out - 1).mean()) < 0.02 and abs((out - 1).std() - 0.3) < 0.02
    np.testing.assert_array_equal(X, 1)  # the input is never written into
    np.testing.assert_array_equal(GaussianNoiseAugment(0.0, rng=0)(X), X)
    with pytest.raises(ConfigError, match="std must be a finite number >= 0"):
        GaussianNoiseAugment(-1)


def test_noise_is_fresh_per_call_and_seeded():
    X = np.zeros((4, 3), dtype=np.float32)
    noise = GaussianNoiseAugment(1.0, rng=5)
    a, b = noise(X), noise(X)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(GaussianNoiseAugment(1.0, rng=5)(X), a)


def one_pixel_images(n, shape=(8, 8), where=(4, 4)):
    images = np.zeros((n,) + shape, dtype=np.float32)
    images[(slice(None),) + where] = 1.0
    return images.reshape(n, -1)


def test_jitter_moves_pixels_by_at_most_max_shift():
    X = one_pixel_images(300)
    out = Jitter(shape=(8, 8), max_shift=2, rng=0)(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    np.testing.assert_array_equal(out.sum(axis=1), 1)  # the pixel is moved, not lost (it is far from the border)
    rows, cols = np.divmod(out.argmax(axis=1), 8)
    shifts = set(zip((rows - 4).tolist(), (cols - 4).tolist()))
    assert shifts == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}  # every shift occurs
    assert X.reshape(300, 8, 8)[:, 4, 4].all()  # input untouched


def test_jitter_exact_shift_with_fill():
    image = np.arange(9, dtype=np.float32).reshape(1, 9)  # [[0 1 2] [3 4 5] [6 7 8]]
    outputs = {tuple(Jitter(shape=(3, 3), max_shift=1, fill=-1, rng=s)(image)[0].tolist()) for s in range(60)}
    down_right = (-1, -1, -1, -1, 0, 1, -1, 3, 4)
    up = (3, 4, 5, 6, 7, 8, -1, -1, -1)
    assert down_right in outputs and up in outputs and tuple(image[0].tolist()) in outputs
    assert len(outputs) == 9


def test_jitter_channels_and_image_shaped_batches():
    X = np.random.default_rng(0).random((5, 2, 4, 4)).astype(np.float32)
    out = Jitter(shape=(2, 4, 4), max_shift=0, rng=0)(X)
    np.testing.assert_array_equal(out, X)  # max_shift 0 is the identity
    shifted = Jitter(shape=(2, 4, 4), max_shift=1, rng=0)(X.reshape(5, -1))
    assert shifted.shape == (5, 32)


def test_jitter_bad_input():
    with pytest.raises(DataError, match=r"expects rows of 64 values \(images of shape \(8, 8\)\), got 10"):
        Jitter()(np.zeros((3, 10)))
    with pytest.raises(ConfigError, match="max_shift must be a whole number"):
        Jitter(max_shift=-1)
    with pytest.raises(ConfigError, match="shape must be"):
        Jitter(shape=(64,))


def test_loader_augments_batches_only():
    X = one_pixel_images(50)
    y = np.arange(50)
    ds = ArrayDataset(X, y)
    augment = Compose([Jitter(max_shift=1, rng=1), GaussianNoiseAugment(0.01, rng=1)])
    changed = 0
    for xb, yb in DataLoader(ds, batch_size=10, rng=0, augment=augment):
        changed += int(np.sum(np.abs(xb - X[yb]).max(axis=1) > 0.5))  # a moved pixel
    assert changed > 20
    np.testing.assert_array_equal(ds.X, X)
    eval_batches = list(DataLoader(ds, batch_size=10, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in eval_batches]), X)
