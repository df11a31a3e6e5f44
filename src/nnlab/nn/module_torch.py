"""PyTorch's Module methods beyond nnlab's own: hooks, registration by name, dtype and device moves, summary.

:class:`TorchModuleMethods` is a base of :class:`~nnlab.nn.Module`.  Forward hooks
keep nnlab's fast call: a module's ``__call__`` is its ``forward`` (no extra frame),
and only once a hook is registered on an instance of a class does that class call
through :func:`_hooked_call`, which runs the instance's hooks, if any, around the
original call.  ``Sequential`` runs some layer pairs as one fused step; a layer
with hooks is never fused (the step would skip them): :data:`epoch` changes with
every hook added or removed, and ``Sequential`` plans again when it does.  Backward hooks ride on the
same hooked call, which passes the inputs and outputs through ``module_backward_hooks.py``'s copies.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import check_dtype
from .._gradmode import _GradMode
from ..errors import ConfigError
from .module_backward_hooks import BackwardHookCall

epoch = [0]  # bumped when a hook is added or removed anywhere: Sequential's fused steps are planned again
_ids = itertools.count()


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``handle.remove()`` takes the hook off (also as a context manager)."""

    def __init__(self, hooks: dict, key: int, cls):
        self._hooks, self.id, self._cls = hooks, key, cls

    def remove(self) -> None:
        if self._hooks.pop(self.id, None) is not None:
            epoch[0] += 1
            cls = self._cls
            cls._hooks_alive -= 1
            if not cls._hooks_alive:  # no hook left on this class: its fast call again
                cls.__call__ = cls._unhooked_call

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _hooked_call(self, *args, **kwargs):
    d = self.__dict__
    pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
    for hook in list(pre.values()) if pre else ():
        result = hook(self, args)
        if result is not None:  # PyTorch's rule: a returned value replaces the inputs
            args = result if isinstance(result, tuple) else (result,)
    backward = None
    if (d.get("_backward_hooks") or d.get("_backward_pre_hooks")) and _GradMode.enabled:
        backward = BackwardHookCall(self)
        args = backward.wrap_inputs(args)
    out = type(self)._unhooked_call(self, *args, **kwargs)
    for hook in list(post.values()) if post else ():
        result = hook(self, args, out)
        if result is not None:
            out = result
    return out if backward is None else backward.wrap_outputs(out)


_KINDS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def has_hooks(module) -> bool:
    d = module.__dict__
    return any(d.get(kind) for kind in _KINDS)


class TorchModuleMethods:
    """Mixed into :class:`~nnlab.nn.Module`; see the module docstring."""

    def _add_hook(self, kind: str, hook) -> RemovableHandle:
        if not callable(hook):
            raise ConfigError(f"{kind[1:]}: a hook is a function, got {type(hook).__name__}")
        cls = type(self)
        if cls.__dict__.get("__call__") is not _hooked_call:
            # the class's own call (its forward, or its custom __call__), or, inherited from a hooked parent, that one's
            original = cls.__call__
            cls._unhooked_call = cls._unhooked_call if original is _hooked_call else original
            cls.__call__ = _hooked_call
            cls._hooks_alive = 0
        cls._hooks_alive += 1
        hooks = self.__dict__.setdefault(kind, {})
        key = next(_ids)
        hooks[key] = hook
        epoch[0] += 1
        return RemovableHandle(hooks, key, cls)

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, args)`` before each forward; a returned value (a tuple, or one input) replaces ``args``."""
        return self._add_hook("_forward_pre_hooks", hook)

    def register_forward_hook(self, hook) -> RemovableHandle:
        """``hook(module, args, output)`` after each forward; a returned value replaces the output.

        The notes' "visualize the units": record each layer's activations on a batch.
        """
        return self._add_hook("_forward_hooks", hook)

    def register_full_backward_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, grad_output)`` when the gradients of the outputs are ready, before the module's backward;
        a returned tuple (one entry per output) replaces ``grad_output``."""
        return self._add_hook("_backward_pre_hooks", hook)

    def register_full_backward_hook(self, hook) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once the gradients of the inputs are computed; a returned tuple
        (one entry per positional input) replaces the gradients sent on to the inputs (``module_backward_hooks.py``)."""
        return self._add_hook("_backward_hooks", hook)

    def _register(self, owner: str, name, value, kind, registry: dict) -> None:
        """``setattr(self, name, value)`` after PyTorch's checks on ``name`` and ``value``; None registers nothing."""
        if not isinstance(name, str) or not name or "." in name:
            raise ConfigError(f"{owner}: a name is a non-empty string without '.', got {name!r}")
        if value is not None and not isinstance(value, kind):
            raise ConfigError(f"{owner}: {name!r} must be a {kind.__name__}, got {type(value).__name__}")
        if name not in registry and hasattr(self, name):
            raise ConfigError(f"{owner}: {type(self).__name__} already has an attribute {name!r}")
        if value is not None:
            setattr(self, name, value)

    def add_module(self, name: str, module) -> None:
        """``setattr(self, name, module)`` with PyTorch's checks on ``name``."""
        from .module import Module

        self._register("add_module", name, module, Module, self._modules)

    register_module = add_module

    def register_parameter(self, name: str, param) -> None:
        """``setattr(self, name, param)`` for a Parameter, with PyTorch's checks on ``name``."""
        from .parameter import Parameter

        self._register("register_parameter", name, param, Parameter, self._parameters)

    def get_parameter(self, target: str):
        """The Parameter at a dotted ``target`` ("0.weight")."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise ConfigError(f"{type(module).__name__} at {path or 'the top'!r} has no parameter {name!r}")
        return module._parameters[name]

    # ------------------------------------------------------- dtypes and devices
    def astype(self, dtype):
        """Convert floating parameters and buffers to ``dtype`` in place (``double()`` for gradchecks).

        Gradients are dropped.  Shared parameters stay shared (the Parameter
        objects are kept; only their arrays change), but arrays an optimizer
        already holds are no longer the model's: convert before building one.
        """
        dtype = check_dtype(dtype, owner="astype")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for m in self.modules():
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    setattr(m, name, b.astype(dtype))
        return self

    def double(self):
        return self.astype(np.float64)

    def float(self):
        return self.astype(np.float32)

    def to(self, *args, dtype=None, device=None):
        """PyTorch's ``to``: ``to(np.float64)``, ``to("cpu")``, ``to("cpu", np.float64)``; nnlab runs on the CPU only."""
        for arg in args:
            if isinstance(arg, str) and not _is_dtype_name(arg):
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ConfigError(f"nnlab runs on the CPU only: to({device!r}) cannot move the model; use 'cpu'")
        return self if dtype is None else self.astype(dtype)

    def cpu(self):
        return self

    # ------------------------------------------------------------------ summary
    def summary(self, input_shape=None, print_fn=print) -> None:
        """Keras's ``model.summary()``: each layer's name, type, output shape, parameters and FLOPs per example.

        ``input_shape`` (per example, e.g. ``(784,)`` or ``(1, 28, 28)``) is needed when
        the model does not state its input width (a convolution or Embedding first).
        """
        from .shapes import input_features

        if input_shape is None:
            width = input_features(self)
            if width is None:
                raise ConfigError(f"{type(self).__name__}.summary: give input_shape (per example): the model does "
                                  "not state its input width")
            input_shape = (width,)
        rows = self.flops_by_layer((1, *tuple(input_shape)))
        counts = {name: sum(p.data.size for p in self.get_submodule(name).parameters()) for name in
                  (r["name"] for r in rows)}
        table = [("layer", "type", "output shape", "parameters", "FLOPs")]
        table += [(r["name"] or "(model)", r["type"], str(tuple(r["output_shape"][1:])), f"{counts[r['name']]:,}",
                   f"{r['flops']:,}") for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in table]
        rule = "-" * len(lines[0])
        total = self.num_parameters()
        trainable = sum(p.data.size for p in self.parameters() if p.requires_grad)
        print_fn("\n".join([type(self).__name__, rule, lines[0], rule, *lines[1:], rule,
                            f"total parameters: {total:,} (trainable {trainable:,}); "
                            f"FLOPs per example: {sum(r['flops'] for r in rows):,}"]))


def _is_dtype_name(text: str) -> bool:
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True
