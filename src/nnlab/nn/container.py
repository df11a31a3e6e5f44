"""Containers: Sequential (modules applied in order) and Residual (the seeds' skip connection y = x + f(x))."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .activations import ReLU
from .module import Module, elements
from .linear import Linear
from .normalization import BatchNorm
from .pooling import MaxPool1d, MaxPool2d

__all__ = ["Sequential", "Residual"]


class Sequential(Module):
    """Modules applied in order; registered as "0", "1", … (so state-dict keys read "0.weight").

    >>> from nnlab.nn import Linear
    >>> model = Sequential(Linear(4, 3, rng=0), Linear(3, 2, rng=1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        self.__dict__["_layers"] = []
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "Sequential":
        if not isinstance(module, Module):
            raise ConfigError(f"Sequential holds Modules, got {type(module).__name__}")
        setattr(self, str(len(self._layers)), module)
        self._layers.append(module)
        self.__dict__["_plan"] = None  # forward's plan is made again on the next call
        return self

    def __setattr__(self, name, value):
        # A layer replaced by its name (setattr(model, "2", layer), the PyTorch idiom for swapping layers found
        # by named_children) must be the one forward runs, not only the one parameters() and state_dict see.
        if self._is_layer(name):
            layers = self._layers
            if not isinstance(value, Module):
                raise ConfigError(f"Sequential layer {name!r} must be replaced by a Module, got {type(value).__name__}")
            layers[int(name)] = value
            self.__dict__["_plan"] = None
        super().__setattr__(name, value)

    def _is_layer(self, name) -> bool:
        """Whether ``name`` is one of the layers' names "0".."n-1" (another submodule, model.head, is not)."""
        layers = self.__dict__.get("_layers")
        return layers is not None and name in self._modules and name.isascii() and name.isdigit() \
            and int(name) < len(layers)

    def __setitem__(self, index, module):
        """``model[i] = layer`` replaces layer i (negative i counts from the end), as in PyTorch."""
        if not isinstance(index, int | np.integer) or isinstance(index, bool):
            raise TypeError(f"Sequential indices are integers, got {type(index).__name__}")
        n = len(self._layers)
        if not -n <= index < n:
            raise IndexError(f"Sequential index {index} is out of range for {n} layers")
        setattr(self, str(int(index) % n), module)

    def __delitem__(self, index):
        """``del model[i]`` (or a slice) removes layers and numbers the rest "0", "1", … again, as in PyTorch."""
        layers = self._layers
        if isinstance(index, slice):
            gone = set(range(len(layers))[index])
        elif isinstance(index, int | np.integer) and not isinstance(index, bool):
            if not -len(layers) <= index < len(layers):
                raise IndexError(f"Sequential index {index} is out of range for {len(layers)} layers")
            gone = {int(index) % len(layers)}
        else:
            raise TypeError(f"Sequential indices are integers or slices, got {type(index).__name__}")
        kept = [m for i, m in enumerate(layers) if i not in gone]
        for i in range(len(layers)):
            super().__delattr__(str(i))
        layers.clear()
        self.__dict__["_plan"] = None
        for m in kept:
            self.append(m)

    def __delattr__(self, name):
        # delattr(model, "1") on a layer's name: the layer leaves forward too (not only parameters() and
        # state_dict()); the rest are numbered again so that names stay "0".."n-1" and append stays right.
        if self._is_layer(name):
            del self[int(name)]
        else:
            super().__delattr__(name)

    def forward(self, x):
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self.__dict__["_plan"] = _plan(self._layers)
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
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def _flops(self, shape, name, rows):
        for i, layer in enumerate(self._layers):
            shape = layer._flops(shape, f"{name}.{i}" if name else str(i), rows)
        return shape


_MAX_POOLS = (MaxPool1d, MaxPool2d)
_WITH_RELU = (Linear, BatchNorm)  # the layers with a forward_relu


def _pairs(first, second) -> bool:
    """Whether ``first`` then ``second`` runs as one step of ``Sequential.forward``."""
    return ((type(first) in _WITH_RELU and type(second) is ReLU)
            or (type(first) is ReLU and type(second) in _MAX_POOLS and set(second.dilation) == {1}))


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
