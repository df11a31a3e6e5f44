"""ModuleList and ModuleDict: submodules held in a list or a dict, registered as PyTorch names them.

A Module holding ``self.layers = ModuleList([...])`` has state-dict keys
``layers.0.weight``, …; one holding ``self.blocks = ModuleDict({"enc": ...})``
has ``blocks.enc.weight``.  Neither has a forward: the module holding them
decides how they run.  Both are registered spec types, so a registered module
of your own that holds them (see :func:`nnlab.nn.register`) saves and loads
with ``nnlab.save`` / ``nnlab.load``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain

from ..errors import ConfigError
from .container import check_name, position, renumber
from .module import Module

__all__ = ["ModuleList", "ModuleDict"]


def _module(value, owner: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner} holds Modules, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """Modules in a list, registered as "0", "1", …; indexed, sliced and changed as a Python list.

    >>> from nnlab.nn import Linear
    >>> layers = ModuleList([Linear(2, 2, rng=0), Linear(2, 1, rng=1)])
    >>> [name for name, _ in layers.named_parameters()], type(layers[-1:]).__name__
    (['0.weight', '0.bias', '1.weight', '1.bias'], 'ModuleList')
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(position(index, len(self), "ModuleList", "modules"))]

    def __setitem__(self, index, module):
        setattr(self, str(position(index, len(self), "ModuleList", "modules")), _module(module, "ModuleList"))

    def __delitem__(self, index):
        """``del modules[i]`` (or a slice); the rest are numbered "0", "1", … again, as in PyTorch."""
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[position(index, len(modules), "ModuleList", "modules")]
        renumber(self, modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other) -> "ModuleList":
        return ModuleList(chain(self, other))

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self)), _module(module, "ModuleList"))
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend takes an iterable of Modules, got {type(modules).__name__}")
        for m in list(modules):  # list(): ``layers += layers`` must not grow while it is read
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``, as ``list.insert``."""
        modules = list(self._modules.values())
        if not isinstance(index, int) or isinstance(index, bool):
            position(index, len(modules), "ModuleList", "modules")  # the TypeError
        modules.insert(index, _module(module, "ModuleList"))
        renumber(self, modules)

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    # ------------------------------------------------------------ spec (model files)
    def spec_args(self) -> dict:
        return {}

    def spec_children(self) -> list:
        return list(self._modules)

    @classmethod
    def from_children(cls, children) -> "ModuleList":
        return cls(children)


class ModuleDict(Module):
    """Modules by name, in insertion order; used as a dict (``[]``, ``in``, keys, values, items, update, pop).

    >>> from nnlab.nn import Linear
    >>> blocks = ModuleDict({"enc": Linear(3, 2, rng=0)})
    >>> [name for name, _ in blocks.named_parameters()], "enc" in blocks
    (['enc.weight', 'enc.bias'], True)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        check_name(self, key, "ModuleDict")  # a key such as "keys" or "train" would hide the method
        setattr(self, key, _module(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        Module.__delattr__(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def update(self, modules) -> None:
        """Add or replace from a mapping or an iterable of (name, Module) pairs, in their order."""
        if isinstance(modules, Mapping | ModuleDict):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable) and not isinstance(modules, str | Module):
            pairs = []
            for j, pair in enumerate(modules):
                if not isinstance(pair, Iterable) or isinstance(pair, str | Module):
                    raise TypeError(f"ModuleDict.update: element #{j} must be a (name, Module) pair, "
                                    f"got {type(pair).__name__}")
                pairs.append(tuple(pair))
                if len(pairs[-1]) != 2:
                    raise ValueError(f"ModuleDict.update: element #{j} has length {len(pairs[-1])}; 2 is required")
        else:
            raise TypeError("ModuleDict.update takes a mapping or an iterable of (name, Module) pairs, "
                            f"got {type(modules).__name__}")
        for key, module in pairs:
            self[key] = module

    # ------------------------------------------------------------ spec (model files)
    def spec_args(self) -> dict:
        return {"keys": list(self._modules)}

    def spec_children(self) -> list:
        return list(self._modules)

    @classmethod
    def spec_child_names(cls, args: dict, count: int) -> list:
        """The state-name prefix of each stored child: its key."""
        keys = args.get("keys") if isinstance(args, dict) else None
        if not isinstance(keys, list) or len(keys) != count or not all(isinstance(k, str) for k in keys):
            raise ConfigError(f"ModuleDict needs 'keys', one name per module ({count} modules), got {keys!r}")
        return keys

    @classmethod
    def from_children(cls, children, keys) -> "ModuleDict":
        return cls(zip(cls.spec_child_names({"keys": keys}, len(children)), children))
