"""Machine-level measurements: float32 matmul peak, start-up times, CPU model and versions.

The peak and the start-up times run in child processes with the same thread
environment as the framework workers.  ``python -m benchmarks.machine peak N REPS``
is the child side of the peak measurement.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

from .harness import ROOT, child_env


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_features() -> str:
    """The SIMD flags that matter for float32 GEMM, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags)
    except OSError:
        pass
    return ""


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _peak_child(n: int, reps: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    C = np.empty((n, n), dtype=np.float32)
    np.matmul(A, B, out=C)  # warm-up: thread pool start, page faults
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(A, B, out=C)
        times.append(time.perf_counter() - t0)
    flops = 2.0 * n**3
    return {
        "n": n,
        "reps": reps,
        "gflops_best": flops / min(times) / 1e9,
        "gflops_median": flops / statistics.median(times) / 1e9,
        "seconds": times,
    }


def matmul_peak(threads: int, n: int = 2048, reps: int = 10) -> dict:
    """Best-of-``reps`` GFLOP/s of an n×n float32 NumPy matmul (2·n³ FLOPs) in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.machine", "peak", str(n), str(reps)],
        env=child_env(threads),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _time_import(module: str, threads: int) -> float:
    code = (
        "import time, sys; t = time.perf_counter(); import " + module + "; "
        "sys.stdout.write(repr(time.perf_counter() - t))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=child_env(threads), cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
    return float(out.stdout)


def _time_command(argv: list, threads: int) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=child_env(threads), cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {out.returncode}: {out.stderr.strip()[-200:]}")
    return seconds


def nnlab_command() -> str | None:
    """The ``nnlab`` console script next to this interpreter, else on PATH, else None."""
    here = os.path.dirname(sys.executable)
    return shutil.which("nnlab", path=os.pathsep.join([here, os.environ.get("PATH", "")]))


def startup_times(threads: int, reps: int = 5) -> dict:
    """Median and range of ``import nnlab``/``torch``/``sklearn.neural_network`` (in-process) and of
    ``nnlab --help`` and ``python -c pass`` (wall time of the whole command), each in fresh processes, interleaved."""
    measures = {
        "import nnlab": lambda: _time_import("nnlab", threads),
        "import torch": lambda: _time_import("torch", threads),
        "import sklearn.neural_network": lambda: _time_import("sklearn.neural_network", threads),
        "python -c pass": lambda: _time_command([sys.executable, "-c", "pass"], threads),
    }
    cmd = nnlab_command()
    results = {}
    if cmd:
        measures["nnlab --help"] = lambda: _time_command([cmd, "--help"], threads)
    else:
        results["nnlab --help"] = {"na": "no `nnlab` command installed"}
    samples = {name: [] for name in measures}
    for _ in range(reps):
        for name, fn in measures.items():
            if name in results:
                continue
            try:
                samples[name].append(fn())
            except (RuntimeError, OSError, ValueError) as exc:
                results[name] = {"na": str(exc)}
    for name, times in samples.items():
        if name not in results and times:
            results[name] = {"median": statistics.median(times), "min": min(times), "max": max(times), "times": times}
    return results


def git_revision() -> str:
    """``git describe --always --dirty`` of the checkout that holds the benchmarks (nnlab's source when editable)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def library_versions() -> dict:
    """Versions of the interpreter, NumPy and its BLAS (importing numpy only, never torch)."""
    import numpy as np

    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        out["numpy BLAS"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config's layout is not a stable API
        pass
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["peak"]:
        print(json.dumps(_peak_child(int(sys.argv[2]), int(sys.argv[3]))))
