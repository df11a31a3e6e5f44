"""``python -m benchmarks.jit_startup``: what nnlab's numba kernels cost once, before they pay.

A kernel is compiled the first time a machine runs it (numba's ``cache=True``
keeps the machine code), and every later process imports numba and loads it from
that cache.  This script times the first training step of one model — the
medium case's 784 → 256 → 256 → 10 MLP with a BatchNorm after the first Linear,
batch 128, Adam, so the Adam and BatchNorm kernels both run — in fresh
processes, three ways:

- ``cold``: an empty numba cache (``NUMBA_CACHE_DIR`` pointed at a new folder), so
  the kernels are compiled;
- ``warm``: the cache that ``cold`` filled, so numba is imported and the kernels loaded;
- ``numpy``: ``NNLAB_JIT=0``, the NumPy reference, no numba at all.

It prints the median first step and the median of the next 20 steps of each
(``--runs`` processes each, on one thread).  The difference cold − warm is the
compile, once per machine; warm − numpy is the price every process pays, which
``nnlab._jit.MIN_ELEMENTS`` weighs against the time the kernels save per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, nnlab
from nnlab import nn, optim
from nnlab.losses import cross_entropy
imported = time.perf_counter() - t0
nnlab.seed(0)
model = nn.Sequential(nn.Linear(784, 256), nn.BatchNorm(256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
opt = optim.Adam(model.parameters())
X = np.random.default_rng(0).standard_normal((128, 784), dtype=np.float32)
y = np.arange(128) % 10
steps = []
for _ in range(21):
    t = time.perf_counter()
    loss = cross_entropy(model(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    steps.append(time.perf_counter() - t)
print(json.dumps({"import": imported, "first": steps[0], "later": sorted(steps[1:])[10]}))
"""


def _run(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.jit_startup", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="fresh processes per way (default 3)")
    args = p.parse_args(argv)
    base = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NNLAB_OPTIM_THREADS="1")
    results = {"cold": [], "warm": [], "numpy": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            cache = os.path.join(tmp, f"cache{i}")  # a new, empty numba cache for each cold run
            results["cold"].append(_run(dict(base, NUMBA_CACHE_DIR=cache)))
            results["warm"].append(_run(dict(base, NUMBA_CACHE_DIR=cache)))
            results["numpy"].append(_run(dict(base, NNLAB_JIT="0")))
    print(f"first training step and later steps, median of {args.runs} fresh processes each "
          f"(load average {os.getloadavg()[0]:.1f}):")
    for way, runs in results.items():
        first = statistics.median(r["first"] for r in runs)
        later = statistics.median(r["later"] for r in runs)
        print(f"  {way:5s}  first step {first * 1e3:7.1f} ms   later steps {later * 1e3:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
