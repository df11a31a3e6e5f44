"""PyTorch's module backward hooks: what a module's call adds to the graph once it has one.

``register_full_backward_pre_hook`` (``hook(module, grad_output)``) and ``register_full_backward_hook``
(``hook(module, grad_input, grad_output)``) are run as torch runs them: the module's tensor inputs that
require grad enter ``forward`` through identity copies, and its outputs leave through identity copies
too.  nnlab's engine has one output per node, so each group of copies hangs off one joint node (no
data) whose backward gets the whole group's gradients at once, as a dict: the engine reaches a joint
only after every copy under it (they are its only consumers), so each hook runs once per backward.
The outputs' joint runs the pre-hooks and keeps ``grad_output``; the inputs' joint runs the full hooks
after the module's own backward and sends what they return on to the inputs.

torch's rules kept here: ``grad_output`` holds None for an output that does not require grad or that no
gradient reached; ``grad_input`` holds None for an argument that is not a tensor, zeros for a tensor the
gradient did not reach (also one that does not require grad), and is all None when no input requires
grad (the first layer fed data): the full hook then runs right after the pre-hooks.  Only positional
arguments count, and an output counts when it is a tensor or a tuple.  Unlike torch's engine, nnlab's
runs no node that no gradient reached: a pre-hook that replaces every ``grad_output`` by None leaves
the full hooks of that call uncalled (torch calls them with zeros).
"""

from __future__ import annotations

import numpy as np

from .. import _hooks
from .._gradmode import _GradMode
from ..tensor import Tensor, as_tensor, make_result

_NO_DATA = np.empty(0, np.float32)  # a joint node's data: it carries gradients only
_NO_DATA.flags.writeable = False


class _Grads:
    """Gradients on their way to a joint node, by position: the engine's ``+`` merges those of different copies."""

    __slots__ = ("by_position",)

    def __init__(self, by_position: dict):
        self.by_position = by_position

    def __add__(self, other):
        return _Grads({**self.by_position, **other.by_position})


def backward_hook_function(tensors: list, positions: list, gather) -> list:
    """Identity copies of ``tensors`` (which require grad) under one joint node.

    In backward the joint calls ``gather({position: gradient})`` with what reached the copies and sends
    on the one gradient per tensor it returns.  (``grad_fn.name()`` reads torch's BackwardHookFunctionBackward.)
    """

    def backward(grads):
        return gather(grads.by_position)

    joint = make_result(_NO_DATA, tuple(tensors), backward)
    copies = []
    for position, t in zip(positions, tensors):
        def backward(g, position=position):
            return (_Grads({position: g}),)

        copies.append(make_result(t.data, (joint,), backward))
    return copies


class BackwardHookCall:
    """One call of a module with backward hooks: the inputs' and outputs' copies and what passes between them."""

    __slots__ = ("module", "n_inputs", "input_likes", "input_positions", "grad_outputs", "n_outputs", "output_likes",
                 "output_positions")

    def __init__(self, module):
        self.module = module
        self.grad_outputs = None  # set by the outputs' joint, used and cleared by the inputs' joint

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        self.input_likes = {i: (a.shape, a.dtype) for i, a in enumerate(args) if isinstance(a, (Tensor, np.ndarray))}
        self.input_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_positions:
            return args
        return tuple(_through_copies(args, self.input_positions, self._run_full_hooks))

    def wrap_outputs(self, out):
        outputs = out if isinstance(out, tuple) else (out,)
        positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions or not _GradMode.enabled:
            return out
        self.n_outputs = len(outputs)
        self.output_likes = {i: (o.shape, o.dtype) for i, o in enumerate(outputs) if isinstance(o, Tensor)}
        self.output_positions = positions
        outputs = _through_copies(outputs, positions, self._run_pre_hooks)
        return tuple(outputs) if isinstance(out, tuple) else outputs[0]

    def _registered(self, kind: str) -> list:
        return list(self.module.__dict__.get(kind, {}).values())  # a list: a hook may remove itself

    def _run_pre_hooks(self, grads: dict) -> tuple:
        module = self.module
        grad_outputs = tuple(as_tensor(grads[i]) if i in grads else None for i in range(self.n_outputs))
        for hook in self._registered("_backward_pre_hooks"):
            result = hook(module, grad_outputs)
            if result is not None:
                grad_outputs = _replaced(hook, result, self.output_likes, len(grad_outputs), "Backward pre hook",
                                         "grad_output")
        if self.input_positions:
            self.grad_outputs = grad_outputs
        else:  # no input requires grad: the inputs' joint does not exist, so the full hooks run now
            grad_input = (None,) * self.n_inputs
            for hook in self._registered("_backward_hooks"):
                result = hook(module, grad_input, grad_outputs)
                if result is not None and not (isinstance(result, (tuple, list)) and all(r is None for r in result)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       f"return None or None for all gradients; hook {_hooks.hook_name(hook)!r} "
                                       f"returned {type(result).__name__}")
        return tuple(_array(grad_outputs[i]) for i in self.output_positions)

    def _run_full_hooks(self, grads: dict) -> tuple:
        grad_outputs, self.grad_outputs = self.grad_outputs, None
        if grad_outputs is None:  # reached without passing the outputs (torch runs no hook then)
            return tuple(grads.get(i) for i in self.input_positions)
        likes = self.input_likes
        grad_input = tuple(None if i not in likes else as_tensor(grads[i] if i in grads else np.zeros(*likes[i]))
                           for i in range(self.n_inputs))
        for hook in self._registered("_backward_hooks"):
            result = hook(self.module, grad_input, grad_outputs)
            if result is not None:
                grad_input = _replaced(hook, result, likes, len(grad_input), "Backward hook", "grad_input")
        return tuple(_array(grad_input[i]) for i in self.input_positions)


def _through_copies(items, positions: list, gather) -> list:
    """``items`` with those at ``positions`` replaced by their copies under one joint node (gathered by ``gather``)."""
    items = list(items)
    for i, copy in zip(positions, backward_hook_function([items[i] for i in positions], positions, gather)):
        items[i] = copy
    return items


def _replaced(hook, result, likes: dict, expected: int, who: str, what: str) -> tuple:
    """A hook's returned ``grad_input`` / ``grad_output`` after torch's checks: as many entries, each
    tensor's gradient None or of the tensor's shape (cast to its dtype)."""
    if not isinstance(result, (tuple, list)):
        raise TypeError(f"{who} {_hooks.hook_name(hook)!r} must return None or a tuple of {what} (one entry per "
                        f"{'input' if what == 'grad_input' else 'output'}), got {type(result).__name__}")
    if len(result) != expected:
        raise RuntimeError(f"{who} returned an invalid number of {what}, got {len(result)}, but expected {expected}")
    return tuple(as_tensor(_hooks.replacement(hook, r, *likes[i])) if r is not None and i in likes else r
                 for i, r in enumerate(result))


def _array(g):
    return None if g is None else g.data
