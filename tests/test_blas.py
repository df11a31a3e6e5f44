"""nnlab._blas: MKL's GEMMs (the ``mkl`` extra) give np.matmul's numbers, the same bits run after run, and
NumPy's own BLAS stays the path when MKL is absent or switched off."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlab import _blas
from nnlab.errors import ConfigError

SRC = str(Path(__file__).resolve().parents[1] / "src")
mkl = pytest.mark.skipif(_blas.backend() != "mkl", reason="MKL not loaded (pip install 'nnlab[mkl]')")


def _python(code: str, **env) -> str:
    full = {**os.environ, "PYTHONPATH": SRC, **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _operand(rng, rows, cols, dtype, layout):
    """A (rows, cols) array stored C-ordered, F-ordered, or as a strided slice of a larger array."""
    if layout == "C":
        return rng.standard_normal((rows, cols)).astype(dtype)
    if layout == "F":
        return np.asfortranarray(rng.standard_normal((rows, cols)).astype(dtype))
    if layout == "slice":  # rows of a wider array: a leading dimension larger than the width
        return rng.standard_normal((rows, cols + 7)).astype(dtype)[:, 3 : 3 + cols]
    return rng.standard_normal((rows * 2, cols * 2)).astype(dtype)[::2, ::2]  # no unit stride: NumPy's path


@mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("la", ["C", "F", "slice", "step"])
@pytest.mark.parametrize("lb", ["C", "F", "slice"])
def test_mkl_products_equal_numpy_in_every_layout(dtype, la, lb):
    rng = np.random.default_rng(0)
    A, B = _operand(rng, 130, 257, dtype, la), _operand(rng, 257, 129, dtype, lb)
    want = np.matmul(A, B)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    got = _blas.matmul(A, B)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 50)
    out = np.full(want.shape, np.nan, dtype)
    assert _blas.matmul(A, B, out=out) is out
    np.testing.assert_allclose(out, want, rtol=rtol, atol=rtol * 50)


@mkl
def test_what_mkl_cannot_take_goes_to_numpy():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((200, 300)).astype(np.float32)
    B = rng.standard_normal((300, 100)).astype(np.float32)
    np.testing.assert_array_equal(_blas.matmul(A, B.astype(np.float64)), A @ B.astype(np.float64))  # mixed dtypes
    Ai, Bi = A.astype(np.int64), B.astype(np.int64)
    np.testing.assert_array_equal(_blas.matmul(Ai, Bi), Ai @ Bi)  # integers
    small_A, small_B = A[:8, :8].copy(), B[:8, :8].copy()
    np.testing.assert_array_equal(_blas.matmul(small_A, small_B), np.matmul(small_A, small_B))  # under MIN_WORK
    v = rng.standard_normal(300).astype(np.float32)
    np.testing.assert_array_equal(_blas.matmul(v, B), v @ B)  # matrix-vector
    stack = rng.standard_normal((4, 200, 300)).astype(np.float32)
    np.testing.assert_allclose(_blas.matmul(stack, B), stack @ B, rtol=1e-5, atol=1e-4)  # rows of a stack: one GEMM
    with pytest.raises(ValueError):
        _blas.matmul(A, A)  # mismatched inner dimensions: NumPy's own error
    # an out that overlaps an operand: NumPy's path, which copies
    buf = rng.standard_normal((300, 300)).astype(np.float32)
    want = buf[:, :300] @ buf.T
    _blas.matmul(buf, buf.T, out=buf)
    np.testing.assert_allclose(buf, want, rtol=1e-5, atol=1e-3)


@mkl
def test_mkl_training_gives_the_same_bits_in_fresh_processes():
    code = (
        "import numpy as np, nnlab\n"
        "from nnlab import nn, optim, _blas\n"
        "from nnlab.losses import cross_entropy\n"
        "assert _blas.backend() == 'mkl'\n"
        "nnlab.seed(3)\n"
        "m = nn.Sequential(nn.Linear(300, 256), nn.ReLU(), nn.Linear(256, 10))\n"
        "opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((640, 300), dtype=np.float32); y = rng.integers(0, 10, 640)\n"
        "for i in range(0, 640, 64):\n"
        "    loss = cross_entropy(m(X[i:i + 64]), y[i:i + 64]); opt.zero_grad(); loss.backward(); opt.step()\n"
        "import hashlib\n"
        "print(hashlib.sha256(b''.join(p.data.tobytes() for p in m.parameters())).hexdigest())\n"
    )
    assert _python(code) == _python(code)


def test_numpy_backend_is_numpy_matmul_itself():
    out = _python("import numpy as np\nfrom nnlab import _blas\nprint(_blas.backend(), _blas.matmul is np.matmul)",
                  NNLAB_BLAS="numpy")
    assert out == "numpy True"


def test_a_bad_switch_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(_blas.BLAS_ENV, "openblas")
    with pytest.raises(ConfigError, match=r"NNLAB_BLAS='openblas' is not one of auto, numpy, mkl"):
        _blas._mode()


def test_asking_for_mkl_without_it_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_blas, "_state", {})
    monkeypatch.setattr(_blas, "_library_path", lambda: None)
    monkeypatch.setattr(_blas, "matmul", _blas.matmul)  # backend() rebinds it: undone after the test
    monkeypatch.setenv(_blas.BLAS_ENV, "mkl")
    with pytest.raises(ConfigError, match=r"NNLAB_BLAS=mkl, but MKL could not be loaded: the mkl package is not installed"):
        _blas.backend()
    monkeypatch.setenv(_blas.BLAS_ENV, "auto")
    assert _blas.backend() == "numpy"  # auto falls back to NumPy's BLAS


def test_threads_whose_first_products_coincide_all_get_them():
    code = (
        "import threading, numpy as np\n"
        "from nnlab import _blas\n"
        "A = np.ones((200, 300), np.float32); B = np.ones((300, 100), np.float32); errors = []\n"
        "go = threading.Barrier(4)\n"
        "def work():\n"
        "    go.wait()\n"
        "    try:\n"
        "        assert (_blas.matmul(A, B) == 300).all()\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(errors)\n"
    )
    for mode in ("auto", "numpy"):
        assert _python(code, NNLAB_BLAS=mode) == "[]"


def test_empty_stacks_and_their_gradients_match_numpy():
    import nnlab

    A = np.zeros((2, 3, 0), np.float32)
    B = np.zeros((0, 5), np.float32)
    np.testing.assert_array_equal(_blas.matmul(A, B), np.zeros((2, 3, 5), np.float32))
    out = np.full((2, 3, 5), np.nan, np.float32)
    np.testing.assert_array_equal(_blas.matmul(A, B, out=out), np.zeros((2, 3, 5), np.float32))
    a = nnlab.tensor(np.zeros((2, 3, 0)), requires_grad=True)
    b = nnlab.tensor(np.zeros((0, 5)), requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.shape == (2, 3, 0) and b.grad.shape == (0, 5)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_anything_but_plain_arrays_gets_numpys_own_rules():
    A = np.ones((200, 300), np.float32)
    B = np.ones((300, 100), np.float32)
    out = np.empty((200, 100), np.float32)
    assert _blas.matmul(A, B, out=(out,)) is out  # a tuple, as ufuncs take it
    assert type(_blas.matmul(np.asmatrix(A), np.asmatrix(B))) is np.matrix
    np.testing.assert_array_equal(_blas.matmul(A.tolist()[:2], B), np.matmul(A.tolist()[:2], B))


@mkl
def test_sizes_past_mkls_32_bit_interface_stay_in_numpy(monkeypatch):
    calls = []
    monkeypatch.setitem(_blas._state, "gemm", {k: (lambda *a, _f=f: calls.append(1) or _f(*a)) for k, f in _blas._state["gemm"].items()})
    A = np.ones((200, 300), np.float32)
    B = np.ones((300, 100), np.float32)
    _blas.matmul(A, B)
    assert calls == [1]
    monkeypatch.setattr(_blas, "_INT32_LIMIT", 250)  # as if the 300-wide inner dimension did not fit
    np.testing.assert_array_equal(_blas.matmul(A, B), np.matmul(A, B))
    assert calls == [1]


@mkl
def test_only_numpys_own_openblas_is_held_at_one_thread():
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")
    code = (
        "import numpy as np, scipy.linalg, threadpoolctl\n"
        "from nnlab import _blas\n"
        "_blas.matmul(np.ones((200, 300), np.float32), np.ones((300, 100), np.float32))\n"
        "for p in threadpoolctl.threadpool_info():\n"
        "    if p['internal_api'] == 'openblas': print(p['filepath'], p['num_threads'])\n"
    )
    lines = _python(code, OPENBLAS_NUM_THREADS="2").splitlines()
    numpy_dir = os.path.dirname(os.path.abspath(np.__file__))
    assert any(line.startswith(numpy_dir) and line.endswith(" 1") for line in lines), lines
    assert all(line.endswith(" 2") for line in lines if not line.startswith(numpy_dir)), lines


@mkl
def test_openblas_keeps_its_threads_until_mkl_runs_a_product():
    pytest.importorskip("threadpoolctl")
    code = (
        "import os, numpy as np, threadpoolctl\n"
        "from nnlab import _blas\n"
        "numpy_dir = os.path.dirname(os.path.abspath(np.__file__))\n"
        "def threads():\n"
        "    return [p['num_threads'] for p in threadpoolctl.threadpool_info()\n"
        "            if p['internal_api'] == 'openblas' and p['filepath'].startswith(numpy_dir)]\n"
        "_blas.matmul(np.ones((1900, 75), np.float32), np.ones((75, 25), np.float32))  # 25 columns: NumPy's\n"
        "print(_blas.backend(), threads())\n"
        "_blas.matmul(np.ones((200, 300), np.float32), np.ones((300, 100), np.float32))  # MKL's\n"
        "print(threads())\n"
    )
    lines = _python(code, OPENBLAS_NUM_THREADS="2").splitlines()
    assert lines[-2:] == ["mkl [2]", "[1]"], lines
