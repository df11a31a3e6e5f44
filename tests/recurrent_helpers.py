"""What the recurrent layers' and cells' torch comparisons share: a pair with copied weights, one tolerance rule."""

import numpy as np


def torch_pair(kinds: dict, kind: str, dtype, *args, **kw):
    """nnlab's module of ``kinds[kind]`` and torch's twin holding the same weights (names checked equal)."""
    import torch

    ours_cls, theirs_cls, extra = kinds[kind]
    ours = ours_cls(*args, rng=3, dtype=dtype, **extra, **kw)
    theirs = theirs_cls(*args, **extra, **kw).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(p.data))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return ours, theirs


def close(a, b, dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(np.asarray(a.data if hasattr(a, "data") else a), b.detach().numpy(), rtol=tol, atol=tol)
