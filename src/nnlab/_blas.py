"""nnlab's matrix products: NumPy's own BLAS, or Intel MKL's when the ``mkl`` extra is installed.

NumPy's wheels carry OpenBLAS.  On an Intel Xeon with AVX-512, MKL's ``sgemm`` (the
BLAS PyTorch's CPU wheels carry) runs the products of a small batch up to 2.3×
faster (784 → 1024 → 1024 → 10 at batch 32: the step's eight GEMMs 1.54 against
2.40 ms, ``python -m benchmarks.gemm_compare sweep-momentum-h1024-b32``;
``BENCHMARKS.md``), and at a training step's shapes OpenBLAS has no setting
that closes the gap.  So nnlab routes its own products (``Linear``, the
gradient products written into ``.grad``, ``matmul`` and the convolutions'
single-group GEMMs) through :func:`matmul`,
which calls MKL's ``cblas_?gemm`` through ctypes when:

- the ``mkl`` package is installed (``pip install 'nnlab[mkl]'``, about 1 GB), and
- the environment variable ``NNLAB_BLAS`` is not ``numpy`` (``mkl`` insists:
  an error if MKL cannot be loaded; the default ``auto`` uses it when it loads).

Everything else (a product under ``MIN_WORK`` multiply-adds, ``MIN_COLUMNS`` columns or inner dimension, a matrix-vector product,
a batched or integer product, a layout BLAS cannot take without a copy, an ``out``
that overlaps an operand) runs ``np.matmul``, the reference the tests
compare with.  MKL runs in its conditional-numerical-reproducibility mode
(``MKL_CBWR_AUTO`` with ``STRICT``), so the same seed gives the same bits run after
run on one machine whatever the arrays' alignment.  Two BLAS thread pools
spinning on the same cores slow each other down (a batch-512 step ran far slower, BENCHMARKS.md),
so at MKL's first product NumPy's own OpenBLAS (the copy in NumPy's package; SciPy's is left
alone) is limited to one thread through threadpoolctl (what is left to it: small products,
matrix-vector sums and the user's own NumPy code, whose multi-threaded BLAS results may then
differ in the last bits), and MKL's OpenMP threads stop spinning 5 ms after a product
(``KMP_BLOCKTIME``, unless set).  Not before that product: a model none of whose products
reaches MKL (the conv cases' 25-column ones) keeps OpenBLAS's threads, which halve its GEMM
time (cnn1d's GEMM floor, BENCHMARKS.md: 241 µs per step with NumPy's BLAS, 493 with OpenBLAS
held at one thread beside MKL).  Unlike ``np.matmul``, a product MKL computes raises no
floating-point warning or error (``np.errstate``): an overflow or ``inf · 0`` shows only as
inf or NaN in the result, which ``fit``'s divergence check catches.
"""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

#: environment switch: ``auto`` (default), ``numpy`` or ``mkl``
BLAS_ENV = "NNLAB_BLAS"
CHOICES = ("auto", "numpy", "mkl")

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_CBWR_AUTO, _CBWR_STRICT = 2, 0x10000
_INT32_LIMIT = 2**31
_state: dict = {}  # "backend" -> "numpy" | "mkl"; "gemm" -> {dtype: cblas function}
_deciding = threading.Lock()  # threads whose first products coincide: one loads MKL, the others wait
#: products of fewer multiply-adds (M·N·K) stay in NumPy: below about 2²⁰ the ctypes call and MKL's
#: thread start cost more than MKL saves (32×64 @ 64×64: 3.0 µs in NumPy, 11.3 through MKL,
#: ``python -m benchmarks.gemm_compare --every-size 32x64x64``)
MIN_WORK = 1 << 20
#: and so do products with fewer output columns or a shorter inner dimension: MKL was slower on every
#: one measured (the conv cases' 1900×75 @ 75×25: 75.1 against 53.3 µs; 64×1600 @ 1600×10: 49.9 against
#: 31.0; cnn1d's 1000×25 @ 25×75: 30.1 against 26.6; same command), and the first product MKL takes holds
#: NumPy's OpenBLAS at one thread for the rest of the process (see the module docstring)
MIN_COLUMNS = 32


def _mode() -> str:
    mode = os.environ.get(BLAS_ENV, "auto").strip().lower() or "auto"
    if mode not in CHOICES:
        from .errors import ConfigError

        raise ConfigError(f"{BLAS_ENV}={mode!r} is not one of {', '.join(CHOICES)}")
    return mode


def _library_path():
    """Where the ``mkl`` wheel put ``libmkl_rt.so`` (it installs into the environment's ``lib/``), or None."""
    from importlib import metadata

    try:
        files = metadata.distribution("mkl").files or ()
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmkl_rt.so"):
            return str(f.locate())
    return None


def _load_mkl() -> dict:
    path = _library_path()
    if path is None:
        raise OSError("the mkl package is not installed (pip install 'nnlab[mkl]')")
    # Intel OpenMP keeps its threads spinning 200 ms after a product by default: on a 2-core machine that
    # steals a core from whatever runs next (the next process of a benchmark, nnlab's own update
    # threads). 5 ms keeps them warm between the products of a step (momentum h1024-b32: 2958 µs per
    # step against 3069 at 200 ms and 3529 at 0, `python -m benchmarks.profile`); the user's setting wins.
    os.environ.setdefault("KMP_BLOCKTIME", "5")
    lib = ctypes.CDLL(path)
    lib.MKL_CBWR_Set.restype = ctypes.c_int
    if lib.MKL_CBWR_Set(_CBWR_AUTO | _CBWR_STRICT) != 0:  # before any computation, as MKL requires
        raise OSError("MKL refused its reproducible mode (MKL_CBWR_Set)")
    i, p = ctypes.c_int, ctypes.c_void_p
    gemm = {}
    for dtype, name, scalar in ((np.float32, "cblas_sgemm", ctypes.c_float), (np.float64, "cblas_dgemm", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = [i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i]
        gemm[np.dtype(dtype)] = fn
    return gemm


def _limit_openblas() -> None:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # the mkl extra brings it; without it both pools keep their threads
        return
    numpy_libs = os.path.dirname(os.path.abspath(np.__file__))  # wheels put theirs in numpy.libs/ beside it
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if os.path.abspath(lib.filepath or "").startswith(numpy_libs):
            lib.set_num_threads(1)


def backend() -> str:
    """``"mkl"`` or ``"numpy"``: the BLAS :func:`matmul` uses (decided, and MKL loaded, on the first call)."""
    if "backend" not in _state:
        with _deciding:
            if "backend" not in _state:
                _state["backend"] = _decide()
                # rebind the module's ``matmul``: with NumPy's BLAS a product costs no extra Python call
                globals()["matmul"] = _mkl_matmul if _state["backend"] == "mkl" else np.matmul
    return _state["backend"]


def _decide() -> str:
    mode = _mode()
    if mode == "numpy":
        return "numpy"
    try:
        _state["gemm"] = _load_mkl()
    except (OSError, AttributeError) as exc:
        if mode == "mkl":
            from .errors import ConfigError

            raise ConfigError(f"{BLAS_ENV}=mkl, but MKL could not be loaded: {exc}") from None
        return "numpy"
    return "mkl"


def _layout(a: np.ndarray):
    """``(transpose flag, leading dimension)`` of a 2-D operand (both sides longer than 1) BLAS reads in place, or None."""
    item = a.itemsize
    s0, s1 = a.strides
    if s1 == item and s0 % item == 0 and s0 // item >= a.shape[1]:
        return _NO_TRANS, s0 // item
    if s0 == item and s1 % item == 0 and s1 // item >= a.shape[0]:
        return _TRANS, s1 // item
    return None


def _mkl_matmul(A: np.ndarray, B: np.ndarray, out=None) -> np.ndarray:
    """``np.matmul(A, B, out=out)``; a 2-D product of at least ``MIN_WORK`` multiply-adds and
    ``MIN_COLUMNS`` columns and inner dimension runs in MKL.

    A C-contiguous stack of rows times a matrix ((..., K) @ (K, N), as ``Linear`` sees a
    sequence) is one 2-D product of its rows.
    """
    if type(A) is not np.ndarray or type(B) is not np.ndarray or (out is not None and type(out) is not np.ndarray):
        pass  # lists, subclasses, tuples as out: np.matmul's own rules
    elif (A.ndim > 2 and B.ndim == 2 and A.shape[-1] == B.shape[0] and A.size and B.size and A.flags.c_contiguous
          and (out is None or out.flags.c_contiguous)):
        shape = A.shape[:-1] + B.shape[1:]
        if out is None or out.shape == shape:
            C = _mkl_matmul(A.reshape(-1, A.shape[-1]), B, None if out is None else out.reshape(-1, B.shape[1]))
            return C.reshape(shape) if out is None else out
    elif A.ndim == 2 and B.ndim == 2 and A.dtype == B.dtype:
        (M, K), N = A.shape, B.shape[1]
        fn = _state["gemm"].get(A.dtype)
        if (fn is not None and M > 1 and N >= MIN_COLUMNS and K >= MIN_COLUMNS and M * N * K >= MIN_WORK
                and K == B.shape[0]):
            la, lb = _layout(A), _layout(B)
            # MKL's LP64 interface takes 32-bit sizes: anything larger stays in NumPy
            if (la is not None and lb is not None and A.flags.aligned and B.flags.aligned
                    and max(M, N, K, la[1], lb[1]) < _INT32_LIMIT):
                if out is None:
                    out = np.empty((M, N), A.dtype)
                    ok = True
                else:
                    ok = (out.shape == (M, N) and out.dtype == A.dtype and out.flags.c_contiguous and out.flags.writeable
                          and not np.may_share_memory(out, A) and not np.may_share_memory(out, B))
                if ok:
                    if "openblas_limited" not in _state:  # MKL's first product: see the module docstring
                        with _deciding:
                            if "openblas_limited" not in _state:
                                _limit_openblas()
                                _state["openblas_limited"] = True
                    fn(_ROW_MAJOR, la[0], lb[0], M, N, K, 1.0, A.ctypes.data, la[1], B.ctypes.data, lb[1],
                       0.0, out.ctypes.data, N)
                    return out
    return np.matmul(A, B) if out is None else np.matmul(A, B, out=out)


def matmul(A: np.ndarray, B: np.ndarray, out=None) -> np.ndarray:
    """``np.matmul(A, B, out=out)``, through MKL for 2-D floating products when it is loaded.

    The first call decides the backend and rebinds this name (see :func:`backend`).
    """
    fn = _mkl_matmul if backend() == "mkl" else np.matmul
    return fn(A, B) if out is None else fn(A, B, out=out)


def describe() -> str:
    """One line for reports: which BLAS nnlab's products use, and its version."""
    from importlib import metadata

    if backend() == "mkl":
        return f"MKL {metadata.version('mkl')} (products of at least {MIN_WORK:,} multiply-adds, {MIN_COLUMNS} columns and {MIN_COLUMNS} inner)"
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"NumPy's ({config.get('name')} {config.get('version')})"
