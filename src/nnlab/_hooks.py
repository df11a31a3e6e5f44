"""Tensor hooks and ``retain_grad``: what backward does with the gradient reaching a tensor that asked.

``t.register_hook(fn)`` stores ``fn`` in the tensor's ``_hooks`` dict; when backward has summed
every contribution to ``t``'s gradient it calls ``fn(grad)`` (grad an nnlab Tensor that does not
require grad), and a returned value replaces the gradient, as torch.  A leaf's hooks run before
the gradient reaches ``.grad``.  ``retain_grad()`` makes a non-leaf store the gradient (after its
hooks, as torch since 2.0) into its ``.grad``, accumulated over backward calls like a leaf's.

A tensor that asks for either ticks :data:`registered`; until the first one it is 0 and the
backward loop does not look for hooks, so training that uses neither pays nothing.  This module
imports nothing of ``tensor.py`` when loaded (the import rule there).
"""

from __future__ import annotations

import itertools

import numpy as np

from . import _leafgrad

registered = [0]  # hooks and retain_grad calls so far (a list: _backprop keeps a reference)
_ids = itertools.count()


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off (twice is harmless), as torch's;
    also a context manager that removes it on exit."""

    __slots__ = ("_hooks", "id")

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(_ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def register_hook(t, hook) -> RemovableHandle:
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    hooks = getattr(t, "_hooks", None)
    if hooks is None:
        t._hooks = hooks = {}
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    registered[0] += 1
    return handle


def retain_grad(t) -> None:
    if not t.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t._backward is None:  # a leaf keeps its gradient anyway; torch's retains_grad stays False for it
        return
    t._retains = True
    registered[0] += 1


def retains_grad(t) -> bool:
    return getattr(t, "_retains", False)


def run(node, g, owned: set):
    """The gradient ``g`` of ``node`` after its hooks; a retained non-leaf stores it in ``.grad``."""
    hooks = getattr(node, "_hooks", None)
    if hooks:
        from .tensor import as_tensor  # at call time: tensor.py imports this module

        g = _leafgrad.array(g)
        for hook in list(hooks.values()):  # a hook may remove itself
            out = hook(as_tensor(g))
            if out is not None:
                g = replacement(hook, out, g.shape, node.data.dtype)
    if getattr(node, "_retains", False):
        g = _leafgrad.array(g)  # computed once: the node's backward reads the same array
        _leafgrad.accumulate(node, g, owned)
    return g


def replacement(hook, out, shape: tuple, dtype) -> np.ndarray:
    """The array a hook's returned gradient ``out`` stands for: refused unless of ``shape``, cast to ``dtype``
    (torch's rule and words; module backward hooks use it too)."""
    from .tensor import Tensor  # at call time: tensor.py imports this module

    new = np.asarray(out.data if isinstance(out, Tensor) else out)
    if new.shape != shape:
        raise RuntimeError(f"hook {hook_name(hook)!r} has changed the size of value: "
                           f"it returned shape {new.shape} for a gradient of shape {shape}")
    return new if new.dtype == dtype else new.astype(dtype)


def hook_name(hook) -> str:
    return getattr(hook, "__name__", repr(hook))
