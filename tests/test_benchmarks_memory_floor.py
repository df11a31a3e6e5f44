"""The memory floor of issue 17 (benchmarks/fw_numpy.py: memory_pass, benchmarks/memory_kernels.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package sits beside src/

from benchmarks import checks, fw_numpy, memory_kernels  # noqa: E402
from benchmarks.cases import CASES, make_data  # noqa: E402

numba = pytest.importorskip("numba")  # the bench extra's kernels; the test extra installs numba


@pytest.mark.parametrize("state", [0, 1, 2])
def test_each_pass_reads_and_writes_every_buffer_and_leaves_the_parameters_alone(state):
    rng = np.random.default_rng(0)
    buffers = [rng.uniform(0.5, 1.0, 1000).astype(np.float32) for _ in range(2 + state)]
    before = [b.copy() for b in buffers]
    one_pass = memory_kernels.update_pass(state)
    for _ in range(200):  # the state settles instead of growing: any number of repetitions stays finite
        one_pass(*buffers)
    np.testing.assert_array_equal(buffers[0], before[0])  # p + 0·x: the GEMM floor keeps its weights
    np.testing.assert_array_equal(buffers[1], before[1])  # the gradients are only read
    for s, s0 in zip(buffers[2:], before[2:]):
        assert np.all(np.isfinite(s)) and not np.array_equal(s, s0)
        assert np.all(np.abs(s) <= 2 * np.abs(buffers[1]) + 1e-6)  # s ← s/2 + g converges to 2g


def test_the_floor_runs_after_the_steps_gemms_over_the_steps_own_buffers():
    case = next(c for c in CASES if c.name == "small")
    X, y = make_data(case, 0)
    runner = fw_numpy.build(case, X[:64], y[:64], 0, 2)
    runner.warmup(1)
    mem = runner.extra()["memory_pass"]
    assert mem["method"] == checks.MEMORY_BOUND_METHOD and mem["threads"] == 2 and mem["fastest_split"] in (1, 2)
    assert mem["parameters"] == fw_numpy.parameter_count(case) and 0 < mem["best_s"] <= mem["median_s"] <= mem["max_s"]


def test_the_flat_buffers_hold_the_weights_and_the_gemms_write_the_gradients_into_them():
    case = next(c for c in CASES if c.name == "small")
    X, y = make_data(case, 0)
    (params, grads), weights, dweights = fw_numpy._flat_buffers(list(zip(case.sizes[:-1], case.sizes[1:])),
                                                                 fw_numpy.parameter_count(case))
    assert all(np.shares_memory(w, params) for w in weights) and all(np.shares_memory(d, grads) for d in dweights)
    assert params.size == grads.size == fw_numpy.parameter_count(case)
    runner = fw_numpy.build(case, X[:64], y[:64], 0, 2)
    runner.warmup(1)  # runs without error when dW is written through out=


def test_without_numba_the_floor_is_the_old_copy_which_bounds_nothing(monkeypatch):
    monkeypatch.setattr(memory_kernels, "update_pass", lambda state: None)
    case = next(c for c in CASES if c.name == "small")
    mem = fw_numpy.memory_pass(case, 2, reps=3)
    assert mem["method"] == "copy" and mem["best_s"] > 0
    assert mem["method"] != checks.MEMORY_BOUND_METHOD
