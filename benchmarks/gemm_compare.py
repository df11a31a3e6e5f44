"""``python -m benchmarks.gemm_compare CASE|MxKxN ...``: one step's GEMMs in nnlab's BLAS and in PyTorch's.

For an MLP case of ``benchmarks/cases.py`` (784 → H → H → 10 and the rest): every
product of one training step (forward ``h @ W``, weight gradient ``h.T @ g``, input
gradient ``g @ W.T`` but for the first layer), in µs, median of 7 rounds, at the
case's batch size and 2 threads.  Each backend runs in a fresh process of its own:
nnlab's products with ``NNLAB_BLAS=numpy`` (NumPy's OpenBLAS) and, when the ``mkl``
extra is installed, ``NNLAB_BLAS=mkl``; PyTorch's ``torch.mm`` into a kept output.
An ``MxKxN`` argument times the one product (M×K) @ (K×N) instead, and
``--every-size`` lets MKL take every product (``nnlab._blas``'s size rule off),
which is how that rule's thresholds were measured.  This is the measurement behind ``nnlab[mkl]`` (``src/nnlab/_blas.py``): how much
of a gap to PyTorch is its BLAS, not the framework around it.  Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

from .blas_threads import median_us
from .cases import CASES, select

THREADS = 2


def products(case) -> list:
    """(name, A's shape, B's shape, transpose A, transpose B) of one step of an MLP case."""
    out = []
    bs = case.batch_size
    for i, (k, n) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
        out.append((f"fwd{i} {bs}x{k}@{k}x{n}", (bs, k), (k, n), False, False))
        out.append((f"dW{i} {k}x{bs}@{bs}x{n}", (bs, k), (bs, n), True, False))
        if i:
            out.append((f"dX{i} {bs}x{n}@{n}x{k}", (bs, n), (k, n), False, True))
    return out


def _products(name: str) -> list:
    """The products an argument names: one ``MxKxN`` product, or every product of an MLP case's step."""
    if re.fullmatch(r"\d+x\d+x\d+", name):
        M, K, N = (int(v) for v in name.split("x"))
        return [(f"{M}x{K}@{K}x{N}", (M, K), (K, N), False, False)]
    return products(select([name])[0])


def _child(backend: str, case_name: str, every_size: bool) -> dict:
    rng = np.random.default_rng(0)
    times = {}
    if backend == "torch":
        import torch

        torch.set_num_threads(THREADS)
        for name, sa, sb, ta, tb in _products(case_name):
            a, b = (torch.from_numpy(rng.standard_normal(s, dtype=np.float32)) for s in (sa, sb))
            A, B = (a.t() if ta else a), (b.t() if tb else b)
            out = torch.empty(A.shape[0], B.shape[1])
            reps = max(5, int(2e8 / (A.shape[0] * A.shape[1] * B.shape[1])))
            times[name] = median_us(lambda: torch.mm(A, B, out=out), min(reps, 2000))
        return {"blas": f"torch {torch.__version__}", "us": times}
    from nnlab import _blas

    if every_size:
        _blas.MIN_WORK = _blas.MIN_COLUMNS = 0
    for name, sa, sb, ta, tb in _products(case_name):
        a, b = (rng.standard_normal(s, dtype=np.float32) for s in (sa, sb))
        A, B = (a.T if ta else a), (b.T if tb else b)
        out = np.empty((A.shape[0], B.shape[1]), np.float32)
        reps = max(5, int(2e8 / (A.shape[0] * A.shape[1] * B.shape[1])))
        times[name] = median_us(lambda: _blas.matmul(A, B, out=out), min(reps, 2000))
    return {"blas": _blas.describe(), "us": times}


def _run(backend: str, case_name: str, every_size: bool):
    env = {**os.environ, **{v: str(THREADS) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    if backend != "torch":
        env["NNLAB_BLAS"] = backend
    argv = [sys.executable, "-m", "benchmarks.gemm_compare", "--child", backend, case_name]
    done = subprocess.run(argv + (["--every-size"] if every_size else []), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gemm_compare", description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", help="MLP cases of benchmarks/cases.py (e.g. medium sweep-momentum-h1024-b32) "
                                            "or single products MxKxN (e.g. 32x64x64)")
    p.add_argument("--every-size", action="store_true", help="MKL takes every product (nnlab._blas's size rule off)")
    p.add_argument("--child", nargs=2, metavar=("BACKEND", "CASE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child, args.every_size)))
        return 0
    if not args.cases:
        p.error("name at least one case")
    known = {c.name for c in CASES}
    for case_name in args.cases:
        if not re.fullmatch(r"\d+x\d+x\d+", case_name):
            if case_name not in known:
                p.error(f"unknown case {case_name!r}: name an MLP case ({', '.join(sorted(known))}) or MxKxN")
            if select([case_name])[0].net:
                print(f"{case_name}: a convolution case; this compares MLP products only", file=sys.stderr)
                return 2
        results = {}
        for backend in ("numpy", "mkl", "torch"):
            res, err = _run(backend, case_name, args.every_size)
            if res is None or (backend == "mkl" and not res["blas"].startswith("MKL")):
                print(f"  ({backend}: not measured — {err or 'MKL not installed'})")
                continue
            results[backend] = res
        title = case_name if case_name not in known else select([case_name])[0].describe()
        rule = "; MKL takes every size" if args.every_size else ""
        print(f"{title}; µs per product, median of 7 rounds, {THREADS} threads, each BLAS in its own process{rule}")
        names = [n for n, *_ in _products(case_name)]
        cols = list(results)
        print("  " + f"{'product':32}" + "".join(f"{c:>12}" for c in cols))
        for n in names:
            print("  " + f"{n:32}" + "".join(f"{results[c]['us'][n]:12.1f}" for c in cols))
        print("  " + f"{'one step':32}" + "".join(f"{sum(results[c]['us'].values()):12.1f}" for c in cols))
        for c in cols:
            print(f"  {c}: {results[c]['blas']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
