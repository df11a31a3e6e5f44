"""``nnlab.autograd``: torch.autograd's functions on nnlab's engine.

- :func:`grad` returns the gradients of outputs with respect to inputs (leaves or intermediate
  tensors) without touching a leaf's ``.grad``;
- :func:`backward` is ``Tensor.backward`` for several outputs at once (and ``inputs=``);
- ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``, ``is_grad_enabled``
  are the grad-mode switches of ``nnlab`` itself.

nnlab has no higher-order gradients: each op's backward computes on NumPy arrays and records no
graph, so ``create_graph=True`` (and so the gradient of a gradient) is refused, not silently
answered with a graph-less result.
"""

from __future__ import annotations

import numpy as np

from . import _backprop, _leafgrad
from .tensor import Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["grad", "backward", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False, allow_unused=None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to each of ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple of Tensors (one per input, its dtype, not requiring grad); no ``.grad`` of a leaf is
    read or written.  ``grad_outputs`` holds the upstream gradient of each output (None: a one-value
    output gets 1).  An input the outputs do not depend on raises unless ``allow_unused=True`` (then
    None) or ``materialize_grads=True`` (then zeros).  Hooks on the tensors between outputs and inputs
    run, and a ``retain_grad()`` tensor there accumulates into its ``.grad``, as in torch.  The graph is
    freed unless ``retain_graph=True``.

    >>> import nnlab
    >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    >>> nnlab.autograd.grad((x * x).sum(), x)
    (tensor([2., 4.]),)
    >>> x.grad is None
    True
    """
    _refuse(create_graph, is_grads_batched, "grad")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    outputs = _tensors(outputs, "outputs")
    inputs = _tensors(inputs, "inputs")
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    seeds = _seeds(outputs, grad_outputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    captured = _backprop.run(outputs, seeds, bool(retain_graph), inputs=inputs)
    result = []
    for i, t in enumerate(inputs):
        g = captured[id(t)]
        if g is None and materialize_grads:
            g = np.zeros_like(t.data)
        elif g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                               f"Set allow_unused=True if this is the desired behavior.")
        result.append(None if g is None else Tensor(g, dtype=t.data.dtype))  # a copy: engine arrays are shared
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``, as ``torch.autograd.backward``.

    ``grad_tensors`` are the upstream gradients, one per tensor (None for a one-value tensor).  With
    ``inputs`` only those tensors get a gradient, added to their ``.grad`` (a non-leaf too, as torch);
    other leaves stay as they are.
    """
    _refuse(create_graph, False, "backward")
    tensors = _tensors(tensors, "tensors")
    seeds = _seeds(tensors, grad_tensors)
    if inputs is None:
        _backprop.run(tensors, seeds, bool(retain_graph))
        return
    inputs = _tensors(inputs, "inputs")
    if not inputs:
        raise RuntimeError("backward: inputs= must not be empty (leave it out to reach every leaf)")
    captured = _backprop.run(tensors, seeds, bool(retain_graph), inputs=inputs)
    owned = set()
    for t in inputs:
        if captured[id(t)] is not None:
            _leafgrad.accumulate(t, captured.pop(id(t)), owned)  # popped: an input listed twice gets it once


def _refuse(create_graph, is_grads_batched, fn: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"autograd.{fn}: create_graph=True is not supported: nnlab computes gradients on NumPy arrays and "
            f"records no graph of the backward pass, so there are no higher-order gradients; use "
            f"create_graph=False (or nnlab.gradcheck to check a gradient numerically)")
    if is_grads_batched:
        raise NotImplementedError(f"autograd.{fn}: is_grads_batched=True is not supported (nnlab has no vmap); "
                                  f"call grad once per grad_outputs")


def _tensors(value, name: str) -> tuple:
    items = (value,) if isinstance(value, Tensor) else tuple(value) if isinstance(value, (list, tuple)) else None
    if items is None or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"{name} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")
    return items


def _seeds(outputs: tuple, grad_outputs) -> list:
    """The upstream gradient of each output as an array of its shape and dtype (torch's checks and words)."""
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs: give one per output "
                           f"(None for a one-value output)")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seeds.append(_backprop.one(out.data.shape, out.data.dtype))
            continue
        g = np.array(g.data if isinstance(g, Tensor) else g, dtype=out.data.dtype)
        if g.shape != out.data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {out.data.shape}.")
        seeds.append(g)
    return seeds
