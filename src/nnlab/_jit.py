"""The one switch and loader of nnlab's optional numba kernels (optimizer updates, BatchNorm).

numba is optional (``pip install 'nnlab[fast]'``) and imported on first use,
so ``import nnlab`` stays light.  A kernel runs when numba imports, the array it
works on has at least ``MIN_ELEMENTS`` elements (below that the JIT's one-off
cost of importing numba and loading the compiled kernels, 0.3–0.4 s, does not
pay back in a short run; ``python -m benchmarks.jit_startup`` measures it), and
the environment variable ``NNLAB_JIT`` is not ``0`` (``1`` uses the kernels at
every size).  Otherwise the NumPy reference
runs; each kernel's docstring says how its results relate to the reference's
(the same bits, or the same formula with another summation order), and the
tests compare the two.  Kernels are compiled once per machine for one signature
each (numba's ``cache=True``) and release the GIL.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

#: arrays smaller than this (elements) keep the NumPy passes unless NNLAB_JIT=1
MIN_ELEMENTS = 1 << 15
#: environment switch: 0 disables the kernels, 1 uses them at every size
JIT_ENV = "NNLAB_JIT"

#: the module of the ops' kernels (BatchNorm); the optimizers' are in optim/
OPS_KERNELS = "nnlab.ops._numba_kernels"

_modules: dict = {}  # kernel module name -> the module, or None when numba is unavailable
_ready: dict = {}  # (module, kernel, dtype) -> the kernel compiled for that dtype, or None


def wanted(size: int) -> bool:
    """Whether the switch and the size rule ask for a kernel on ``size`` elements."""
    mode = os.environ.get(JIT_ENV, "").strip()
    return mode != "0" and (size >= MIN_ELEMENTS or mode == "1")


def _module(name: str):
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(name)
        except ImportError:  # numba is not installed
            _modules[name] = None
    return _modules[name]


def available(module: str) -> bool:
    """Whether the kernel module imports (numba is there)."""
    return _module(module) is not None


def kernel(module: str, name: str, size: int, dtype, signature):
    """Kernel ``name`` of ``module`` for ``size`` elements of ``dtype``, or None (use the NumPy reference).

    ``signature(num, types)`` gives the one numba signature the caller uses
    (``num``: the numba type of ``dtype``).  It is compiled once, here; if that
    fails for any reason (numba's compiler needs a working directory that
    exists, for one) the NumPy reference runs instead.
    """
    if not wanted(size):
        return None
    key = (module, name, np.dtype(dtype))
    if key not in _ready:
        _ready[key] = _compile(module, name, key[2], signature)
    return _ready[key]


def kernels(module: str, names, size: int, dtype, signature):
    """The kernels ``names`` of ``module`` that work together (``signature(name)`` as for :func:`kernel`), or None.

    All or nothing: when one of them is not wanted or does not compile, the
    caller takes its NumPy reference for the whole op.
    """
    found = tuple(kernel(module, name, size, dtype, signature(name)) for name in names)
    return found if all(k is not None for k in found) else None


def _compile(module: str, name: str, dtype, signature):
    mod = _module(module)
    fn = getattr(mod, name, None) if mod is not None else None
    if fn is None:
        return None
    try:
        from numba import from_dtype, types

        fn.compile(signature(from_dtype(dtype), types))
    except Exception:  # noqa: BLE001 - any compiler failure falls back to the reference
        return None
    return fn
