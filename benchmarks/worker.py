"""One framework on one case, in its own process: ``python -m benchmarks.worker FRAMEWORK CASE SEED THREADS``.

The parent (``benchmarks.harness``) starts one worker per framework and case
with the BLAS thread variables already in its environment, then sends it
``epoch`` lines, interleaved with the other frameworks' workers, and finally
``quit`` (before it, ``extra`` asks a runner for the measurements it makes
beside the epochs: the GEMM-floor worker's memory-pass floor).  Each answer is one JSON line on the worker's original stdout; anything
else the frameworks print goes to stderr.  The peak resident memory a worker
reports is its own ``ru_maxrss``: that framework's process alone.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback

# name → (module, builder, label): the frameworks the harness knows.
FRAMEWORKS = {
    "nnlab": ("fw_nnlab", "build", "nnlab (plain loop)"),
    "nnlab-fit": ("fw_nnlab", "build_fit", "nnlab (train.fit)"),
    "torch": ("fw_torch", "build", "PyTorch"),
    "sklearn": ("fw_sklearn", "build", "scikit-learn"),
    "gemm-floor": ("fw_numpy", "build", "GEMMs only (nnlab's BLAS)"),
    "numpy-step": ("fw_numpy_step", "build", "NumPy, hand-written step"),
}


def maxrss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_threads() -> list:
    """The BLAS/OpenMP pools loaded in this process (threadpoolctl): library, version, kernel architecture, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = {"user_api": "api", "internal_api": "library", "num_threads": "threads", "version": "version",
            "architecture": "architecture", "threading_layer": "threading"}
    return [{short: p[k] for k, short in keys.items() if p.get(k) is not None}
            | {"file": os.path.basename(p.get("filepath") or "")} for p in threadpool_info()]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name, case_json, seed, threads = argv[0], argv[1], int(argv[2]), int(argv[3])
    warmup_steps = int(argv[4]) if len(argv) > 4 else 3

    # Keep the protocol channel to ourselves: redirect fd 1 (C-level prints too) to stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(**msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    from .cases import Case, make_data

    try:
        case = Case.from_dict(json.loads(case_json))
        module_name, builder, _ = FRAMEWORKS[name]
        module = importlib.import_module(f"{__package__}.{module_name}")
        if hasattr(module, "setup"):  # process-wide settings the framework wants first (nnlab: the allocator)
            module.setup()
        versions = module.versions()  # imports the framework
        rss_import = maxrss_mb()
        X, y = make_data(case, seed)
        t0 = time.perf_counter()
        runner = getattr(module, builder)(case, X, y, seed, threads)
        build_s = time.perf_counter() - t0
        if warmup_steps:
            runner.warmup(warmup_steps)
        info = {k: (v() if callable(v) else v) for k, v in runner.info.items()}
    except Exception as exc:  # report, do not crash the whole benchmark
        send(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=4))
        return 0
    send(
        ready=True,
        versions=versions,
        info=info,
        blas=blas_threads(),
        blas_build=module.blas() if hasattr(module, "blas") else None,
        rss_after_import_mb=rss_import,
        build_seconds=build_s,
    )

    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            try:
                t0 = time.perf_counter()
                loss = runner.epoch()
                seconds = time.perf_counter() - t0
            except Exception as exc:
                send(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=6))
                return 0
            send(seconds=seconds, loss=loss)
        elif command == "extra":  # measurements beside the epochs (the floors), after the timed epochs
            send(extra=runner.extra() if runner.extra else {})
        elif command == "quit":
            break
    send(maxrss_mb=maxrss_mb())
    return 0


if __name__ == "__main__":
    sys.exit(main())
