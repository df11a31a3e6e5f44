"""Architecture specs: a model as JSON-able data, and back.

A layer is ``{"type": "Linear", "args": {"in_features": 4, ...}}``; the
containers hold their children: ``{"type": "Sequential", "layers": [...]}`` (with
``"names": [...]`` when a layer is named otherwise than by its number, ``model.head``)
and ``{"type": "Residual", "module": {...}}``; a registered container of another
kind defines ``spec_children()`` (the names of its child modules, in order) and a
classmethod ``from_children(children, **spec_args)``, and is stored as
``{"type": ..., "args": {...}, "children": [...]}``.  ``from_spec`` also accepts a
layer's arguments inline (``{"type": "ReLU"}``, ``{"type": "Dropout",
"keep": 0.8}``), which is handy in hand-written configs.  Initializers are
stored by name (``"he_normal"``) or, for a factory, as a dict
(``{"name": "constant", "value": 0.01}``); dtypes by name (``"float32"``).

Weight tying: a TiedLinear stores ``"tied_to"``, the dotted path of its
encoder Linear inside the model being described (the names
``named_modules`` gives, e.g. ``"0"`` or ``"encoder.0"``), so the tie must
stay within that model.  A spec describes structure only; the values travel
in the state dict.

>>> from nnlab.nn import Linear, ReLU, Sequential, TiedLinear
>>> encoder = Linear(8, 3, weight_init="he_normal")
>>> model = Sequential(encoder, ReLU(), TiedLinear(encoder))
>>> spec = to_spec(model)
>>> spec["layers"][2]["args"]["tied_to"]
'0'
>>> copy = from_spec(spec)
>>> copy[2].weight is copy[0].weight
True
"""

from __future__ import annotations

import inspect
import math

from ..errors import ConfigError
from .activations import ELU, PReLU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from . import activations_extra
from .container import Residual, Sequential
from .conv import Conv1d, Conv2d
from .linear import Linear, Maxout, TiedLinear
from .module import Module, _join
from .multihead import MultiHead
from .module_list import ModuleDict, ModuleList
from .noise import Dropout, Dropout1d, Dropout2d, GaussianNoise
from .embedding import Embedding
from .recurrent import GRU, LSTM, RNN
from .recurrent_readout import FinalState, LastStep
from .recurrent_cells import GRUCell, LSTMCell, RNNCell
from .normalization import BatchNorm, BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .instance_norm import InstanceNorm1d, InstanceNorm2d
from .rms_norm import RMSNorm
from .pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, Flatten,
    MaxPool1d, MaxPool2d, Unflatten,
)
from . import conv_transpose, padding, upsampling

__all__ = ["to_spec", "from_spec", "register", "layer_types", "check_state_shapes", "state_size"]

_REGISTRY: dict[str, type] = {}


def register(cls=None, *, name: str | None = None):
    """Make a Module class describable in specs (usable as a decorator).

    The class needs a ``spec_args()`` method returning JSON-able keyword
    arguments that its constructor accepts.  A class with parameters or buffers
    should also have a classmethod ``state_shapes(args) -> {name: shape}``
    that computes them from those arguments without allocating: loading a
    model file compares it with the stored tensors before building anything
    (see :func:`check_state_shapes`), so an edited size cannot allocate memory.
    """

    def add(klass):
        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register() takes a Module subclass, got {klass!r}")
        if klass not in (Sequential, Residual) and not callable(getattr(klass, "spec_args", None)):
            raise TypeError(f"{klass.__name__} needs a spec_args() method to be registered")
        _REGISTRY[name or klass.__name__] = klass
        return klass

    return add if cls is None else add(cls)


for _cls in (
    Linear, Sequential, Residual, Maxout, BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, Dropout,
    InstanceNorm1d, InstanceNorm2d, RMSNorm,
    GaussianNoise, TiedLinear,
    Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, Softmax, LogSoftmax, Identity,
    *(getattr(activations_extra, name) for name in activations_extra.__all__),
    Conv1d, Conv2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    Flatten, Unflatten, MultiHead, ModuleList, ModuleDict, Embedding, RNN, LSTM, GRU, LastStep, FinalState,
    RNNCell, LSTMCell, GRUCell,
    Dropout1d, Dropout2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
    *(getattr(m, n) for m in (conv_transpose, padding, upsampling) for n in m.__all__),
):  # fmt: skip
    register(_cls)


def layer_types() -> list[str]:
    """The ``"type"`` names ``from_spec`` knows."""
    return sorted(_REGISTRY)


def _type_name(module: Module, path: str) -> str:
    # ``saved_as``: a class that only trains a registered layer differently (SyncBatchNorm) is saved as that layer
    kind = getattr(type(module), "saved_as", type(module))
    for name, klass in _REGISTRY.items():
        if kind is klass:
            return name
    where = f" at {path!r}" if path else ""
    raise ConfigError(
        f"cannot describe {type(module).__name__}{where}: not a registered layer type "
        f"(known: {', '.join(layer_types())}; add your own with nnlab.nn.register)"
    )


# ---------------------------------------------------------------------- to_spec
def to_spec(module: Module) -> dict:
    """A JSON-able dict describing ``module``'s architecture (no weights)."""
    if not isinstance(module, Module):
        raise ConfigError(f"to_spec takes a Module, got {type(module).__name__}")
    encoders = {}
    for path, m in module.named_modules():
        if type(m) is Linear:
            encoders.setdefault(id(m.weight), path)
    spec = _describe(module, "", encoders, set())
    _refuse_shared_parameters(module)
    return spec


def _refuse_shared_parameters(module: Module) -> None:
    """Refuse a parameter that two layers hold, other than a TiedLinear's weight.

    A spec rebuilds every layer with its own parameters and a state dict stores a
    shared one once, under its first name: ``decoder.weight = encoder.weight``
    would be saved as a file whose second layer has no weight, one that
    ``nnlab.load`` must refuse.  TiedLinear is the one tie a spec records.
    """
    owners = {}
    for path, m in module.named_modules():
        for name, p in m._parameters.items():
            if p is None or (isinstance(m, TiedLinear) and name == "weight"):
                continue
            dotted = _join(path, name)
            first = owners.setdefault(id(p), dotted)
            if first != dotted:
                raise ConfigError(
                    f"the parameter {dotted!r} is the same Parameter as {first!r}; a spec cannot share a "
                    "parameter between layers (tie a decoder to its encoder Linear with TiedLinear, or "
                    "give each layer its own copy)"
                )


def _describe(module: Module, path: str, encoders: dict, seen: set) -> dict:
    if id(module) in seen:
        raise ConfigError(
            f"the module at {path!r} appears twice in the model; a spec cannot share a whole module "
            "(tie weights with TiedLinear instead)"
        )
    seen.add(id(module))
    kind = _type_name(module, path)
    if isinstance(module, Sequential):
        names = list(module._modules)
        spec = {"type": kind, "layers": [_describe(m, _join(path, n), encoders, seen) for n, m in zip(names, module)]}
        if names != [str(i) for i in range(len(names))]:  # model.head = ..., a slice, an OrderedDict: as named
            spec["names"] = names
        return spec
    if isinstance(module, Residual):
        return {"type": kind, "module": _describe(module.module, _join(path, "module"), encoders, seen)}
    if hasattr(module, "spec_children"):  # a container of its own kind (an ensemble, a multi-head model)
        names = list(module.spec_children())
        return {"type": kind, "args": module.spec_args(),
                "children": [_describe(module.get_submodule(n), _join(path, n), encoders, seen) for n in names]}
    # None marks what cannot be stored (a custom initializer): the default is used when rebuilding.
    args = {k: v for k, v in module.spec_args().items() if v is not None}
    if isinstance(module, TiedLinear):
        encoder = encoders.get(id(module.weight))
        if encoder is None:
            raise ConfigError(
                f"TiedLinear at {path!r} is tied to a Linear outside the model being described; "
                "describe a model that contains both"
            )
        args = {"tied_to": encoder, **args}
    return {"type": kind, "args": args}


# -------------------------------------------------------------------- from_spec
def from_spec(spec: dict) -> Module:
    """Build the Module a spec describes (fresh weights; load a state dict for trained ones).

    Raises :class:`nnlab.ConfigError` naming the place in the spec, the bad
    key or value, and the allowed choices.
    """
    pending = []
    model = _build(spec, "", pending)
    for tied, target, where in pending:
        try:
            encoder = model.get_submodule(target)
        except ConfigError:
            raise ConfigError(f"{where}: tied_to {target!r} names no layer in the model") from None
        if type(encoder) is not Linear:
            raise ConfigError(f"{where}: tied_to {target!r} is a {type(encoder).__name__}, not a Linear")
        try:
            tied._tie(encoder)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return model


def check_state_shapes(spec, shapes: dict) -> None:
    """Check, before building, that every layer's state shapes (from its arguments) are ``shapes``.

    ``shapes`` maps dotted state names (``"0.weight"``) to the stored shapes.
    Layers without a ``state_shapes`` rule are left to ``load_state_dict``.

    >>> spec = {"type": "Sequential", "layers": [{"type": "Linear", "args": {"in_features": 10**12, "out_features": 2}}]}
    >>> check_state_shapes(spec, {"0.weight": (4, 2), "0.bias": (2,)})
    Traceback (most recent call last):
    ...
    nnlab.errors.ConfigError: layer '0': Linear needs weight of shape (1000000000000, 2), the stored one has shape (4, 2)
    """
    for label, kind, name, dotted, shape in _expected_states(spec):
        stored = shapes.get(dotted)
        if stored is None or tuple(stored) != shape:
            have = "is missing" if stored is None else f"has shape {tuple(stored)}"
            raise ConfigError(f"{label}: {kind} needs {name} of shape {shape}, the stored one {have}")


def state_size(spec) -> int:
    """Values in the states of the layers with a ``state_shapes`` rule, from the spec alone (nothing allocated).

    What a memory check counts before building a model the spec describes.
    """
    return sum(math.prod(shape) for *_, shape in _expected_states(spec))


def _expected_states(spec):
    """(layer label, type, state name, dotted state name, shape) for every layer with a ``state_shapes`` rule."""
    stack = [(spec, "")]
    while stack:
        node, where = stack.pop()
        label = _label(where)
        if not isinstance(node, dict):
            raise ConfigError(f"{label}: a layer spec is a dict with a 'type' key, got {type(node).__name__}")
        kind = node.get("type")
        cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ConfigError(f"{label}: unknown layer type {kind!r}; choose one of {', '.join(layer_types())}")
        if cls is Sequential:
            layers, names = _sequential_layers(node, label)
            stack.extend((child, _join(where, name)) for child, name in zip(layers, names))
        elif cls is Residual:
            stack.append((node.get("module"), _join(where, "module")))
        elif hasattr(cls, "spec_children"):  # containers such as Ensemble name their children 0, 1, ...
            children = node.get("children")
            if not isinstance(children, list):
                raise ConfigError(f"{label}: {kind} needs 'children', a list of layer specs")
            names = [str(i) for i in range(len(children))]
            if hasattr(cls, "spec_child_names"):  # ... others (MultiHead) name them from their arguments
                try:
                    names = cls.spec_child_names(node.get("args", {}), len(children))
                except ConfigError as exc:
                    raise ConfigError(f"{label}: {exc}") from None
            stack.extend((child, _join(where, name)) for child, name in zip(children, names))
        elif callable(getattr(cls, "state_shapes", None)):
            args = _arguments(node, label)
            try:
                expected = cls.state_shapes(args)
            except ConfigError as exc:
                raise ConfigError(f"{label}: {exc}") from None
            for name, shape in expected.items():
                yield label, kind, name, _join(where, name), tuple(shape)


def _label(where: str) -> str:
    return f"layer {where!r}" if where else "model spec"


def _build(spec, where: str, pending: list) -> Module:
    label = _label(where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{label}: a layer spec is a dict with a 'type' key, got {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise ConfigError(f"{label}: unknown layer type {kind!r}; choose one of {', '.join(layer_types())}")
    cls = _REGISTRY[kind]
    if cls is Sequential:
        _only_keys(spec, ("type", "layers", "names"), label)
        layers, names = _sequential_layers(spec, label)
        return Sequential({name: _build(s, _join(where, name), pending) for s, name in zip(layers, names)})
    if cls is Residual:
        _only_keys(spec, ("type", "module"), label)
        if "module" not in spec:
            raise ConfigError(f"{label}: a Residual spec needs 'module', the spec of the wrapped layer")
        return Residual(_build(spec["module"], _join(where, "module"), pending))
    if hasattr(cls, "spec_children"):
        _only_keys(spec, ("type", "args", "children"), label)
        children = spec.get("children")
        if not isinstance(children, list):
            raise ConfigError(f"{label}: {kind} needs 'children', a list of layer specs")
        args = dict(_arguments({"type": kind, "args": spec.get("args", {})}, label))
        args["children"] = [_build(s, _join(where, str(i)), pending) for i, s in enumerate(children)]
        return _construct(cls.from_children, kind, args, label)
    args = _arguments(spec, label)
    if cls is TiedLinear:
        args = dict(args)
        target = args.pop("tied_to", None)
        if not isinstance(target, str):
            raise ConfigError(f"{label}: TiedLinear needs 'tied_to', the dotted path of its Linear, got {target!r}")
        module = _construct(TiedLinear._untied, "TiedLinear", args, label)
        pending.append((module, target, label))
        return module
    return _construct(cls, kind, args, label)


def _sequential_layers(spec: dict, label: str) -> tuple[list, list]:
    """A Sequential spec's layer specs and their names ("0", "1", … unless it has "names")."""
    layers = spec.get("layers", [])
    if not isinstance(layers, list):
        raise ConfigError(f"{label}: 'layers' must be a list of layer specs, got {type(layers).__name__}")
    names = spec.get("names", [str(i) for i in range(len(layers))])
    if (not isinstance(names, list) or len(names) != len(layers) or len(set(map(str, names))) != len(names)
            or not all(isinstance(n, str) and n and "." not in n for n in names)):
        raise ConfigError(f"{label}: 'names' must be {len(layers)} distinct non-empty strings without '.', "
                          f"one per layer, got {names!r}")
    return layers, names


def _only_keys(spec: dict, allowed: tuple, label: str) -> None:
    extra = [k for k in spec if k not in allowed]
    if extra:
        raise ConfigError(f"{label}: unexpected key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}")


def _arguments(spec: dict, label: str) -> dict:
    if "args" in spec:
        _only_keys(spec, ("type", "args"), label)
        args = spec["args"]
        if not isinstance(args, dict):
            raise ConfigError(f"{label}: 'args' must be a dict, got {type(args).__name__}")
        return args
    return {k: v for k, v in spec.items() if k != "type"}


def _construct(factory, kind: str, args: dict, label: str) -> Module:
    params = inspect.signature(factory).parameters
    allowed = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in args if k not in allowed]
    if unknown:
        raise ConfigError(
            f"{label}: {kind} has no argument {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}"
        )
    missing = [n for n in allowed if params[n].default is inspect.Parameter.empty and n not in args]
    if missing:
        raise ConfigError(f"{label}: {kind} needs argument(s) {', '.join(map(repr, missing))}")
    try:
        return factory(**args)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{label}: bad arguments for {kind}: {exc}") from None
