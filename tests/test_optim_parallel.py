"""Large groups are updated in chunks on several threads and in cache-sized blocks: same bits as one call."""

import numpy as np
import pytest

import nnlab
import nnlab.optim._threads as optim_threads
from nnlab.errors import ConfigError
from nnlab.optim import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSProp

SHAPES = [(40, 30), (30,), (30, 7), (7,), (5, 3)]  # 1,482 elements: the last one the loss never reaches

FACTORIES = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "momentum_l2": lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adagrad_l2": lambda p: Adagrad(p, lr=0.05, eps=1e-3, weight_decay=1e-2),
    "rmsprop": lambda p: RMSProp(p, lr=0.01, beta=0.8),
    "adam": lambda p: Adam(p, lr=0.01),
    "adam_l2": lambda p: Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
    "adam_amsgrad_l2": lambda p: Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adamax_l2": lambda p: Adamax(p, lr=0.01, weight_decay=0.1),
    "nadam_l2": lambda p: NAdam(p, lr=0.01, weight_decay=0.1),  # three scratch buffers per piece
    "radam_l2": lambda p: RAdam(p, lr=0.01, betas=(0.9, 0.9), weight_decay=0.1),
    "adadelta_l2": lambda p: Adadelta(p, weight_decay=0.1),
}


def serial(monkeypatch):
    monkeypatch.setattr(optim_threads, "_threads", 1)
    monkeypatch.setattr(optim_threads, "BLOCK_MIN_BYTES", 1 << 60)


def parallel(monkeypatch, threads=2, tune_steps=0):
    """Threads and blocks for any size: 64-byte blocks (16 float32 or 8 float64 elements) shared by the threads."""
    monkeypatch.setattr(optim_threads, "_threads", threads)
    monkeypatch.setattr(optim_threads, "THREAD_MIN_BYTES", 0)
    monkeypatch.setattr(optim_threads, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(optim_threads, "BLOCK_BYTES", 64)
    monkeypatch.setattr(optim_threads, "TUNE_STEPS", tune_steps)  # 0: threads on every step


def run(make, dtype, steps=6):
    rng = np.random.default_rng(3)
    params = [nnlab.tensor(rng.standard_normal(s), requires_grad=True, dtype=dtype) for s in SHAPES]
    opt = make(params)
    for t in range(steps):
        opt.zero_grad()
        for k, p in enumerate(params[:-1]):
            p.grad = rng.standard_normal(p.shape).astype(dtype)
            if t == 2 and k == 1:
                p.grad = None  # skipped once: from then on a per-element step count
        opt.step()
    return [p.data.copy() for p in params], opt.state_dict(), opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_threaded_blocked_update_equals_single_call_bit_for_bit(monkeypatch, name, dtype):
    serial(monkeypatch)
    values, state, opt = run(FACTORIES[name], dtype)
    assert opt._flats[0][0].lanes(1) == [[opt._flats[0][0]]]  # one call over the whole buffer
    parallel(monkeypatch)
    got_values, got_state, got_opt = run(FACTORIES[name], dtype)
    lanes = got_opt._flats[0][0].lanes(2)
    assert len(lanes) == 2 and len(lanes[0]) > 50  # really threaded, really blocked
    assert optim_threads._executor is not None
    assert not isinstance(got_opt._flats[0][0].t, int)  # the per-element count path was taken
    assert all(np.array_equal(a, b) for a, b in zip(values, got_values))
    for i, entry in state["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(got_state["state"][i][key], value)


def test_timing_picks_a_mode_and_both_give_the_same_bits(monkeypatch):
    serial(monkeypatch)
    values, _, _ = run(FACTORIES["adam"], np.float32, steps=9)
    parallel(monkeypatch, tune_steps=2)
    monkeypatch.setattr(optim_threads, "RETUNE_STEPS", 5)  # trials on steps 1-4 and 6-9
    got, _, opt = run(FACTORIES["adam"], np.float32, steps=9)
    flat = opt._flats[0][0]
    assert flat._runs == 9 and [len(times) for times in flat._trials] == [2, 2]
    assert flat._threaded in (True, False)
    assert all(np.array_equal(a, b) for a, b in zip(values, got))


def test_pieces_tile_the_buffer_and_each_thread_has_its_own_scratch(monkeypatch):
    parallel(monkeypatch, threads=3)
    params = [nnlab.tensor(np.ones(s), requires_grad=True) for s in SHAPES]
    (flat,) = Adam(params)._flats[0]
    lanes = flat.lanes(3)
    assert len(lanes) == 3
    for lane in lanes:  # every thread may take any piece: same pieces, its own scratch
        assert [part.sl for part in lane] == [part.sl for part in lanes[0]]
        assert len({id(part.scratch.base) for part in lane}) == 1
    assert len({id(lane[0].scratch.base) for lane in lanes}) == 3
    starts, stops = [part.sl.start for part in lanes[0]], [part.sl.stop for part in lanes[0]]
    assert starts[0] == 0 and stops[-1] == flat.data.size and starts[1:] == stops[:-1]
    assert all(stop - start == 16 for start, stop in zip(starts[:-1], stops[:-1]))
    # too small to block: PIECES_PER_THREAD pieces per thread, on 64-element edges
    monkeypatch.setattr(optim_threads, "BLOCK_MIN_BYTES", flat.data.nbytes + 1)
    pieces = flat.lanes(3)[0]
    assert len(pieces) == 3 * optim_threads.PIECES_PER_THREAD
    assert all(part.sl.start % 64 == 0 for part in pieces)
    # below both thresholds: the whole group, one call, no thread
    monkeypatch.setattr(optim_threads, "THREAD_MIN_BYTES", flat.data.nbytes + 1)
    assert flat.lanes(3) == [[flat]]


def test_thread_count_from_the_environment(monkeypatch):
    available = optim_threads._available_cpus()
    for raw, expected in [("1", 1), ("2", min(2, available)), ("999", available), (None, min(2, available))]:
        monkeypatch.setattr(optim_threads, "_threads", None)
        if raw is None:
            monkeypatch.delenv("NNLAB_OPTIM_THREADS", raising=False)
        else:
            monkeypatch.setenv("NNLAB_OPTIM_THREADS", raw)
        assert optim_threads.num_threads() == expected
    for raw in ("0", "-2", "two"):
        monkeypatch.setattr(optim_threads, "_threads", None)
        monkeypatch.setenv("NNLAB_OPTIM_THREADS", raw)
        with pytest.raises(ConfigError, match="NNLAB_OPTIM_THREADS"):
            optim_threads.num_threads()
    monkeypatch.setattr(optim_threads, "_threads", None)  # let the next user read the real environment


def test_errors_and_numpy_error_state_reach_the_caller_from_helper_threads(monkeypatch):
    parallel(monkeypatch)
    params = [nnlab.tensor(np.ones(s), requires_grad=True) for s in SHAPES]
    opt = Adam(params)
    for p in params:
        p.grad = np.ones(p.shape, dtype=np.float32)
    params[1].grad[-1] = 1e30  # in the second chunk: its square overflows float32
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        opt.step()
