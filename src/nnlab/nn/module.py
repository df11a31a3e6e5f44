"""Module: registration by attribute, traversal, modes, state dicts, FLOP counts.

A :class:`Module` registers every :class:`Parameter`, sub-``Module`` and
buffer (:meth:`Module.register_buffer`) assigned to it, in assignment order.
Traversals (``named_parameters``, ``named_modules``, ``state_dict``) visit each
object once, so a parameter shared between two layers — weight tying — is
yielded and stored under the first name that reaches it.

Calling a module runs its ``forward`` directly: each subclass that defines
``forward`` gets it as its ``__call__``, so a call costs no extra Python frame
(a subclass may still define its own ``__call__``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..tensor import Tensor
from .module_torch import TorchModuleMethods
from .parameter import Parameter, is_weight


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list
    unexpected_keys: list


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def normalize_shape(input_shape) -> tuple:
    """An input shape as a tuple of positive ints; an int n means one example of n features, (1, n)."""
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (1, int(input_shape))
    try:
        shape = tuple(int(n) for n in input_shape)
    except TypeError:
        raise ConfigError(f"input_shape must be a tuple of ints (batch axis first), got {input_shape!r}") from None
    if not shape or any(n < 1 for n in shape):
        raise ConfigError(f"input_shape must be a non-empty tuple of positive ints, got {input_shape!r}")
    return shape


class Module(TorchModuleMethods):
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, then assign parameters,
    submodules and buffers as attributes, and define ``forward``.

    >>> import nnlab
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter([2.0])
    ...         self.register_buffer("calls", np.zeros(1))
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> m = Affine()
    >>> m(nnlab.tensor([1.5])).item(), [name for name, _ in m.named_parameters()], list(m.state_dict())
    (3.0, ['scale'], ['scale', 'calls'])
    """

    _custom_call = False

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_modules"] = {}
        d["training"] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:
            cls._custom_call = True
        elif "forward" in cls.__dict__ and not cls._custom_call:
            cls.__call__ = cls.forward

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------- registration
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params or name in modules:
            if value is not None:
                kind = "parameter" if name in params else "submodule"
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to {kind} {name!r} of {type(self).__name__}; "
                    f"assign a {'Parameter' if kind == 'parameter' else 'Module'} or None"
                )
            params.pop(name, None)
            modules.pop(name, None)
        elif name in buffers:
            if value is None:
                del buffers[name]
            else:
                buffers[name] = value
        d[name] = value

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Keep an array that is state but not a parameter (BatchNorm's running statistics)."""
        if name in self._parameters or name in self._modules:
            raise KeyError(f"{type(self).__name__} already has a parameter or submodule named {name!r}")
        array = np.asarray(array)
        self._buffers[name] = array
        self.__dict__[name] = array

    # -------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "", _seen=None):
        """(name, module) pairs, this module first (name ``prefix``), each module once."""
        if _seen is None:
            _seen = set()
        if id(self) in _seen:
            return
        _seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(_join(prefix, name), _seen)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter) pairs over this module and its submodules (``recurse=False``: its own); a shared
        parameter once."""
        seen = set()
        for module_name, module in self.named_modules(prefix) if recurse else ((prefix, self),):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield _join(module_name, name), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def weight_parameters(self):
        """The parameters that are weights by :func:`is_weight` (no biases, γ/β or α), each shared one once.

        >>> import nnlab
        >>> [p.shape for p in nnlab.nn.Linear(3, 2).weight_parameters()]
        [(3, 2)]
        """
        for p in self.parameters():
            if is_weight(p):
                yield p

    def named_buffers(self, prefix: str = ""):
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    yield _join(module_name, name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn) -> "Module":
        """``fn(module)`` on each submodule, children first, self last (as PyTorch; a shared one once)."""
        def visit(module, seen):
            if id(module) not in seen:
                seen.add(id(module))
                for child in module._modules.values():
                    visit(child, seen)
                fn(module)
        visit(self, set())
        return self

    def get_submodule(self, path: str) -> "Module":
        """The submodule at a dotted ``path`` ("" is this module)."""
        module = self
        for part in path.split(".") if path else ():
            child = module._modules.get(part)
            if child is None:
                raise ConfigError(f"no submodule {path!r} in {type(self).__name__} (missing part {part!r})")
            module = child
        return module

    def num_parameters(self) -> int:
        """Number of scalar parameters, a shared parameter counted once."""
        return sum(p.data.size for p in self.parameters())

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode (``mode=True``) or eval mode for this module and all below it."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) takes a bool, got {mode!r}; use eval() for evaluation mode")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or zero it in place with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter of this module and below it (PyTorch's name).

        A frozen parameter (``requires_grad=False``) gets no gradient from
        ``backward`` and every optimizer skips it: its value, its optimizer state
        and its step count stay as they were, and weight decay does not shrink it.
        Freezing also drops the parameter's current gradient.

        >>> from nnlab.nn import Linear
        >>> layer = Linear(3, 2, rng=0).freeze()
        >>> [p.requires_grad for p in layer.parameters()], layer.unfreeze().weight.requires_grad
        ([False, False], True)
        """
        if not isinstance(requires_grad, bool):
            raise ConfigError(f"requires_grad_ takes a bool, got {requires_grad!r}")
        for p in self.parameters():
            p.requires_grad = requires_grad
            if not requires_grad:
                p.grad = None
        return self

    def freeze(self) -> "Module":
        """``requires_grad_(False)``: keep these parameters fixed while the rest of a model trains."""
        return self.requires_grad_(False)

    def unfreeze(self) -> "Module":
        """``requires_grad_(True)``: let frozen parameters learn again."""
        return self.requires_grad_(True)

    # ------------------------------------------------------------ state dicts
    def _state_arrays(self) -> OrderedDict:
        """Name → the live array (parameter data or buffer), in PyTorch's order."""
        out = OrderedDict()
        seen = set()
        for module_name, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out[_join(module_name, name)] = p.data
            for name, b in module._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    out[_join(module_name, name)] = b
        return out

    def state_dict(self, keep_vars: bool = False) -> OrderedDict:
        """An ordered dict of name → NumPy array copy: parameters and buffers, a shared one once
        (``keep_vars=True``: the live arrays themselves, not copies)."""
        return OrderedDict((k, v if keep_vars else v.copy()) for k, v in self._state_arrays().items())

    def load_state_dict(self, state, strict: bool = True) -> LoadResult:
        """Copy ``state`` into the existing arrays, in place (``array[...] = value``).

        Arrays keep their identity and dtype, so an optimizer holding views
        stays valid.  Every key and shape is checked before anything is
        copied; a missing, unexpected or mis-shaped key raises
        :class:`nnlab.ConfigError` naming it (with ``strict=False`` missing and
        unexpected keys are returned instead, shapes are still checked).
        """
        if not hasattr(state, "keys"):
            raise ConfigError(f"load_state_dict needs a mapping of name -> array, got {type(state).__name__}")
        own = self._state_arrays()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s) " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s) " + ", ".join(repr(k) for k in unexpected))
            raise ConfigError(f"load_state_dict into {type(self).__name__}: " + "; ".join(parts))
        values = {}
        for key, target in own.items():
            if key not in state:
                continue
            value = state[key]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.dtype.kind not in "fiub":
                raise ConfigError(f"load_state_dict: key {key!r} holds non-numeric data of dtype {value.dtype}")
            if value.shape != target.shape:
                raise ConfigError(
                    f"load_state_dict: key {key!r} has shape {value.shape}, the model expects {target.shape}"
                )
            values[key] = value
        for key, value in values.items():
            own[key][...] = value
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------------ FLOPs
    def flops(self, input_shape) -> int:
        """Forward-pass floating-point operations for an input of ``input_shape`` (batch axis first).

        Convention: one multiply-add counts as 2 FLOPs (a Linear layer costs
        2·N·in·out plus N·out for the bias); elementwise layers count the
        operations of their formula per element, exp and tanh as one each.
        The count is for the current mode (Dropout costs nothing in eval
        mode).  An int ``n`` means one example, shape (1, n).  See
        :meth:`flops_by_layer` for the breakdown.
        """
        return sum(row["flops"] for row in self.flops_by_layer(input_shape))

    def flops_by_layer(self, input_shape) -> list:
        """One dict per leaf layer: name, type, flops, output_shape."""
        rows = []
        self._flops(normalize_shape(input_shape), "", rows)
        return rows

    def _flops(self, shape: tuple, name: str, rows: list) -> tuple:
        """Append this module's rows and return its output shape (containers override this)."""
        try:
            count, out_shape = self._count_flops(shape)
        except ConfigError as exc:  # named, so a model whose sizes do not chain says where they stop
            raise ConfigError(f"layer {name!r}: {exc}" if name else str(exc)) from None
        rows.append({"name": name, "type": type(self).__name__, "flops": int(count), "output_shape": tuple(out_shape)})
        return tuple(out_shape)

    def _count_flops(self, shape: tuple) -> tuple:
        """(flops, output_shape) of one forward pass on ``shape``; leaf layers define it."""
        raise NotImplementedError(
            f"{type(self).__name__} has no FLOP count; define _count_flops(self, shape) -> (flops, output_shape)"
        )

    # ------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return head + "\n" + "\n".join(lines) + "\n)"


def elements(shape) -> int:
    return math.prod(shape)
