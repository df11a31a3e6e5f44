"""Containers: Sequential (modules applied in order) and Residual (the seeds' skip connection y = x + f(x)).

A Sequential's layers are its submodules, in registration order, as in PyTorch:
a module assigned by another name (``model.head = Linear(...)``) runs after the
numbered ones, and ``len``, iteration and indexing count it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .activations import ReLU
from .module import Module, elements
from .module_torch import epoch as hooks_epoch, has_hooks
from .linear import Linear
from .normalization import BatchNorm, BatchNorm1d, BatchNorm2d
from .pooling import MaxPool1d, MaxPool2d

__all__ = ["Sequential", "Residual"]


def position(index, n: int, owner: str, items: str) -> int:
    """``index`` (negative counts from the end) as 0..n-1, with PyTorch's TypeError and IndexError."""
    if not isinstance(index, int | np.integer) or isinstance(index, bool):
        raise TypeError(f"{owner} indices are integers or slices, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{owner} index {index} is out of range for {n} {items}")
    return int(index) % n


def check_name(module: Module, name, owner: str, held: dict | None = None, noun: str = "submodule name") -> None:
    """Refuse a name that state-dict keys or attribute lookup could not tell apart (PyTorch's rules).

    ``held``: the entries the name joins (default the submodules; a ParameterDict's parameters).
    """
    if not isinstance(name, str):
        raise TypeError(f"{owner}: a {noun} is a string, got {type(name).__name__} {name!r}")
    if not name or "." in name:
        raise ConfigError(f"{owner}: {noun} {name!r} must be non-empty and contain no '.' "
                          "(state-dict keys join names with '.')")
    if name not in (module._modules if held is None else held) and hasattr(module, name):
        raise ConfigError(f"{owner}: {noun} {name!r} is already an attribute of {type(module).__name__}; "
                          f"choose another {noun.split()[-1]}")


def renumber(module: Module, kept: list) -> None:
    """Make ``kept`` the submodules of ``module``, named "0", "1", … (what PyTorch does after a deletion)."""
    d = module.__dict__
    for name in list(module._modules):
        d.pop(name, None)  # an old name, "head" or "5", must not stay reachable as an attribute
    module._modules.clear()
    for i, m in enumerate(kept):
        setattr(module, str(i), m)


class Sequential(Module):
    """Modules applied in order; registered as "0", "1", … (so state-dict keys read "0.weight").

    As in PyTorch, ``Sequential(OrderedDict(name=module, ...))`` names the layers,
    and a slice keeps the names it covers.

    >>> from nnlab.nn import Linear
    >>> model = Sequential(Linear(4, 3, rng=0), Linear(3, 2, rng=1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        self.__dict__["_plan"] = []  # forward's steps, made for the layers in "_planned"
        self.__dict__["_planned"] = ()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                check_name(self, name, "Sequential")
                self._add(name, m)
            return
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for m in modules:
            self.append(m)

    def _add(self, name: str, module) -> None:
        if not isinstance(module, Module):
            raise ConfigError(f"Sequential holds Modules, got {type(module).__name__}")
        setattr(self, name, module)

    def append(self, module: Module) -> "Sequential":
        self._add(str(len(self)), module)  # PyTorch's name: after "0", "1", "head" comes "3"
        return self

    def extend(self, modules) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Put ``module`` before layer ``index`` (as ``list.insert``); the layers are numbered "0", "1", … again."""
        if not isinstance(module, Module):
            raise ConfigError(f"Sequential holds Modules, got {type(module).__name__}")
        layers = list(self)
        if index != len(layers):  # PyTorch's range: -n..n
            position(index, len(layers), "Sequential", "layers")
        layers.insert(int(index), module)
        renumber(self, layers)
        return self

    def __setattr__(self, name, value):
        # A layer replaced by its name (setattr(model, "2", layer), the PyTorch idiom for swapping layers found
        # by named_children) is the one forward runs: forward reads _modules.  None would leave a hole.
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules and not isinstance(value, Module):
            raise ConfigError(f"Sequential layer {name!r} must be replaced by a Module, got {type(value).__name__} "
                              f"(remove it with del model[i])")
        super().__setattr__(name, value)

    def __setitem__(self, index, module):
        """``model[i] = layer`` replaces layer i (negative i counts from the end), as in PyTorch."""
        names = list(self._modules)
        setattr(self, names[position(index, len(names), "Sequential", "layers")], module)

    def __delitem__(self, index):
        """``del model[i]`` (or a slice) removes layers and numbers all the rest "0", "1", … again, as in PyTorch."""
        layers = list(self)
        if isinstance(index, slice):
            gone = set(range(len(layers))[index])
        else:
            gone = {position(index, len(layers), "Sequential", "layers")}
        renumber(self, [m for i, m in enumerate(layers) if i not in gone])

    def __delattr__(self, name):
        # delattr(model, "1") on a layer's number: the rest are numbered again, so that names stay "0".."n-1"
        # and append cannot overwrite a layer.  Another name (model.head) goes as in PyTorch, the rest kept.
        if name in self._modules and name.isascii() and name.isdigit():
            del self[list(self._modules).index(name)]
        else:
            super().__delattr__(name)

    def forward(self, x):
        d = self.__dict__
        plan, planned = d["_plan"], d["_planned"]
        if (len(planned) != len(self._modules) or planned != tuple(self._modules.values())
                or d.get("_hooks_epoch") != hooks_epoch[0]):
            # The layers changed since the plan (appended, replaced, deleted, or written into _modules directly),
            # or a hook came or went (a fused pair would skip it): comparing the tuples costs well under
            # a microsecond, so no path that changes them can be missed.
            d["_planned"], d["_hooks_epoch"] = tuple(self._modules.values()), hooks_epoch[0]
            plan = d["_plan"] = _plan(d["_planned"])
        for layer, after in plan:
            if after is None:
                x = layer(x)
            elif type(layer) in _WITH_RELU and type(after) is ReLU:
                x = layer.forward_relu(x)
            elif type(layer) is ReLU and type(after) in _MAX_POOLS:
                x = layer(after(x))  # the ReLU on the pooled values: see _plan
            else:  # a layer's class changed since the plan (convert_sync_batchnorm does that): one at a time
                x = after(layer(x))
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(dict(list(self._modules.items())[index]))  # the names kept, as in PyTorch
        layers = list(self._modules.values())
        return layers[position(index, len(layers), "Sequential", "layers")]

    def _flops(self, shape, name, rows):
        for key, layer in self._modules.items():
            shape = layer._flops(shape, f"{name}.{key}" if name else key, rows)
        return shape


_MAX_POOLS = (MaxPool1d, MaxPool2d)
_WITH_RELU = (Linear, BatchNorm, BatchNorm1d, BatchNorm2d)  # the layers with a forward_relu


def _pairs(first, second) -> bool:
    """Whether ``first`` then ``second`` runs as one step of ``Sequential.forward`` (never a layer with hooks)."""
    return (((type(first) in _WITH_RELU and type(second) is ReLU)
             or (type(first) is ReLU and type(second) in _MAX_POOLS and set(second.dilation) == {1}))
            and not has_hooks(first) and not has_hooks(second))


def _plan(layers) -> list:
    """``(layer, the layer after it or None)`` per step of ``Sequential.forward``.

    Three pairs run as one step, with the same numbers as the layers one after the other:

    - a BatchNorm directly followed by a ReLU: ``BatchNorm.forward_relu``, one pass over
      the batch fewer each way with the BatchNorm kernels (``ops/_bn_fast.py``);
    - a Linear directly followed by a ReLU: ``Linear.forward_relu``, rectified in place,
      one node fewer for the engine;
    - a ReLU directly followed by max pooling: the pooling first, then the ReLU on its
      output, a quarter of the values for 2 × 2 windows.  ReLU is monotone, so the
      maximum of the rectified window is the rectified maximum, and the gradient
      reaches the same element (the window's first maximum) or is zero in both orders.
      Not for a dilated pooling: its window can hold only padding, −∞ in one order, 0 in the other.
      (cnn2d at one thread: 16.6–17.9 → 15.3–15.6 ms CPU per step, `python -m benchmarks.cpu_step
      nnlab cnn2d --steps 30 --rounds 5`, three alternations on a busy machine.)

    ``forward`` checks the two classes again on every call, so a layer whose class
    changes later runs as itself.
    """
    plan, i = [], 0
    while i < len(layers):
        fuse = i + 1 < len(layers) and _pairs(layers[i], layers[i + 1])
        plan.append((layers[i], layers[i + 1] if fuse else None))
        i += 2 if fuse else 1
    return plan


class Residual(Module):
    """The seeds' skip connection: y = x + f(x); f must keep the shape of x."""

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, Module):
            raise ConfigError(f"Residual wraps a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x):
        return x + self.module(x)

    def _flops(self, shape, name, rows):
        inner = self.module._flops(shape, f"{name}.module" if name else "module", rows)
        if tuple(inner) != tuple(shape):
            where = f"layer {name!r}: " if name else ""
            raise ConfigError(f"{where}Residual: the wrapped module maps shape {shape} to {inner}; it must keep "
                              "the shape")
        rows.append({"name": name, "type": "Residual", "flops": elements(shape), "output_shape": tuple(shape)})
        return shape
