"""nn.Embedding: PyTorch's lookup, its scatter-add gradient and padding row; gradcheck, files, ONNX, fit."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_gradient_match_torch(padding_idx, dtype):
    ours = nn.Embedding(7, 3, padding_idx=padding_idx, rng=0, dtype=dtype)
    theirs = torch.nn.Embedding(7, 3, padding_idx=padding_idx, dtype=getattr(torch, np.dtype(dtype).name))
    assert (ours.weight.data[ours.padding_idx] == 0).all() if padding_idx is not None else True
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
    idx = np.array([[1, 2, 2, 6], [6, 0, 1, 1], [2, 2, 2, 5]])  # repeats: their gradients add up
    g = np.random.default_rng(1).standard_normal(idx.shape + (3,)).astype(dtype)
    out = ours(idx)
    (out * nnlab.tensor(g, dtype=dtype)).sum().backward()
    ref = theirs(torch.tensor(idx))
    (ref * torch.tensor(g)).sum().backward()
    assert out.dtype == dtype and out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_gradcheck_float64():
    layer = nn.Embedding(5, 2, rng=0, dtype=np.float64)
    idx = np.array([[0, 4, 4], [1, 0, 3]])
    # layer reads layer.weight, the tensor gradcheck perturbs: the function of w is the layer's lookup
    result = nnlab.gradcheck(lambda w: (layer(idx) * layer(idx)).sum(), [layer.weight])
    assert result


def test_whole_number_float_indices_are_read_as_indices():
    layer = nn.Embedding(4, 2, rng=0)
    np.testing.assert_array_equal(layer(np.array([[3.0, 1.0]], np.float32)).data, layer.weight.data[[[3, 1]]])


@pytest.mark.parametrize("idx, message", [
    (np.array([[0, 4]]), "index 4 is out of range for 4 embeddings"),
    (np.array([[-1, 0]]), "index -1 is out of range"),
    (np.array([[0.5, 1.0]]), "whole numbers, got 0.5"),
    (np.array([[np.nan]]), "whole numbers"),
    (np.array([["a"]]), "must be integers, got dtype <U1"),
])
def test_bad_indices_are_named(idx, message):
    with pytest.raises(ConfigError, match=message):
        nn.Embedding(4, 2)(idx)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_embeddings": 0, "embedding_dim": 2}, "num_embeddings"),
    ({"num_embeddings": 3, "embedding_dim": 2, "padding_idx": 3}, "padding_idx"),
    ({"num_embeddings": 3, "embedding_dim": 2.0}, "embedding_dim"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        nn.Embedding(**kwargs)


def test_from_pretrained_is_frozen_unless_asked_and_saves(tmp_path):
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight.data is not table
    np.testing.assert_array_equal(frozen([[2]]).data[0, 0], table[2])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    model = nn.Sequential(frozen, nn.Flatten(), nn.Linear(6, 2, rng=0))
    nnlab.save(model, tmp_path / "m.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    assert not loaded[0].weight.requires_grad
    np.testing.assert_array_equal(loaded([[1, 3]]).data, model([[1, 3]]).data)
    with pytest.raises(ConfigError, match="2-D float array"):
        nn.Embedding.from_pretrained(np.arange(3))


def test_fit_learns_a_lookup_task():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 6, (300, 2))
    y = (X[:, 0] + X[:, 1]) % 2  # parity of two tokens: needs both embeddings
    nnlab.seed(0)
    model = nn.Sequential(nn.Embedding(6, 4), nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = nnlab.optim.Adam(model.parameters(), lr=0.03)
    nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, (X, y), epochs=40, batch_size=32, verbose=0,
                    seed=0)
    accuracy = (model(X).data.argmax(-1) == y).mean()
    assert accuracy > 0.95, accuracy
