"""The benchmark harness (benchmarks/) keeps working: a tiny run end to end, and the target checks.

No timing is asserted: speed lives in ``python -m benchmarks`` and BENCHMARKS.md.
"""

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import checks, report  # noqa: E402
from benchmarks.cases import CASES, FLOPS_PER_WEIGHT_PER_SAMPLE, make_data, select  # noqa: E402


def _nnlab_training_stack_present() -> bool:
    return all(importlib.util.find_spec(m) for m in ("nnlab.nn", "nnlab.losses", "nnlab.optim", "nnlab.train"))


def test_the_sweep_is_a_set_of_cases():
    cells = select(["sweep"], mode="quick")
    assert len(cells) == 16 and {c.optimizer for c in cells} == {"adam", "momentum"}
    by_name = {c.name: c for c in cells}
    assert by_name["sweep-momentum-h2048-b32"].sizes == (784, 2048, 2048, 10)
    bn = by_name["sweep-bn-dropout-h256-b128"]
    assert bn.batchnorm and bn.dropout and bn.state_buffers == 2
    assert select(None) == select(["small", "medium", "large", "deep", "cnn1d", "cnn2d"])


def test_cases_match_issue_6():
    by_name = {c.name: c for c in CASES}
    assert by_name["small"].sizes == (64, 64, 10) and by_name["small"].batch_size == 32
    assert by_name["medium"].weights == 784 * 256 + 256 * 256 + 256 * 10
    assert by_name["large"].samples == 20_000 and by_name["large"].batch_size == 256
    deep = by_name["deep"]
    assert deep.batchnorm and deep.sizes == (784,) + (256,) * 8 + (10,)
    assert deep.flops_per_epoch == FLOPS_PER_WEIGHT_PER_SAMPLE * deep.weights * 60_000
    assert [c.samples for c in select(mode="quick")][:4] == [2_000, 6_000, 1_000, 6_000]


def test_data_are_seeded_float32_and_learnable():
    case = select(["medium"], samples=300)[0]
    X, y = make_data(case, seed=3)
    X2, y2 = make_data(case, seed=3)
    assert X.dtype == "float32" and X.shape == (300, 784) and y.dtype == "int64"
    assert (X == X2).all() and (y == y2).all()
    assert len(set(y.tolist())) > 5  # the teacher uses many classes


def _fake_report(nnlab_small, torch_small, fit_small, rss_nnlab, rss_torch, import_s):
    fws = {
        "nnlab": {"median": nnlab_small, "maxrss_mb": rss_nnlab},
        "nnlab-fit": {"median": fit_small, "maxrss_mb": rss_nnlab},
        "torch": {"median": torch_small, "maxrss_mb": rss_torch},
    }
    case = select(["small"])[0]
    ratios = report.derive(case, fws, peak_gflops=100.0)
    return {"cases": {"small": {"frameworks": fws, "ratios": ratios, "spec": case.to_dict()}},
            "startup": {"import nnlab": {"median": import_s}}}


def test_target_checks_report_met_and_missed():
    good = checks.targets(_fake_report(0.29, 1.0, 0.30, 100, 300, 0.1))
    assert {t["status"] for t in good} == {"met"}
    bad = checks.targets(_fake_report(0.5, 1.0, 0.6, 400, 300, 0.5))
    status = {t["target"]: t["status"] for t in bad}
    assert status["issue 6, small: epoch time nnlab/torch (plain loop)"] == "missed"
    assert status["issue 17, small: epoch time nnlab/torch (plain loop)"] == "missed"
    assert status["issue 6, small: epoch time fit/plain loop"] == "missed"
    assert status["small: peak RSS nnlab/torch"] == "missed"
    assert status["import nnlab (s)"] == "missed"
    missing = checks.targets(_fake_report(None, 1.0, None, None, 300, None))
    assert {t["status"] for t in missing} == {"n/a"}


def test_tiny_run_end_to_end(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = tmp_path / "results.json"
    argv = [sys.executable, "-m", "benchmarks", "--cases", "small,deep", "--samples", "256", "--reps", "1",
            "--warmup", "1", "--gap", "0", "--startup-reps", "1", "--peak-size", "256", "--out", str(out)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)  # generous: a loaded machine
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "targets:" in proc.stdout and "µs per step" in proc.stdout
    result = json.loads(out.read_text())
    assert result["matmul_peak"]["gflops_best"] > 0
    assert result["startup"]["import nnlab"]["median"] > 0
    small, deep = result["cases"]["small"]["frameworks"], result["cases"]["deep"]["frameworks"]
    for fws in (small, deep):
        for fw in ("torch", "gemm-floor"):
            assert fws[fw]["median"] > 0 and fws[fw]["maxrss_mb"] > 0, fws[fw]
        assert math.isfinite(fws["torch"]["losses"][0])
        assert fws["torch"]["info"]["threads"] == 2
        assert "BLAS_INFO" in fws["torch"]["blas_build"]
    if Path("/proc/stat").exists():
        assert 0 <= result["cases"]["small"]["load"]["steal_percent"] <= 100
    assert small["gemm-floor"]["extra"]["memory_pass"]["best_s"] > 0 and small["gemm-floor"]["extra"]["memory_pass"]["threads"] == 2
    assert small["gemm-floor"]["extra"]["memory_pass"]["fastest_split"] in (1, 2)
    floors = result["cases"]["small"]["floors"]
    assert floors["parameters"] == 64 * 64 + 64 + 64 * 10 + 10 and floors["gemm-floor_step_us"] > 0
    assert small["sklearn"]["median"] > 0 and small["sklearn"]["info"]["dtype_check"] == "float32"
    assert "BatchNorm" in deep["sklearn"]["skipped"]
    if _nnlab_training_stack_present():
        for fws in (small, deep):
            for fw in ("nnlab", "nnlab-fit"):
                assert "error" not in fws[fw], fws[fw]["error"]
                assert fws[fw]["median"] > 0 and math.isfinite(fws[fw]["losses"][0])
                assert fws[fw]["info"]["param_dtypes"] == ["float32"]
            # the floor's products run in nnlab's BLAS (NumPy's, or MKL's with nnlab[mkl])
            blas = fws["nnlab"]["versions"]["nnlab BLAS"]
            assert blas.startswith("MKL" if fws["gemm-floor"]["versions"]["BLAS"] == "mkl" else "NumPy's"), blas
            assert fws["nnlab"]["threads_verified"], fws["nnlab"]["blas"]
    assert {t["status"] for t in result["targets"]} <= {"met", "missed", "n/a"}


def test_gemm_compare_times_each_product_of_a_step_in_each_blas():
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gemm_compare", "small"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("product"))
    assert "numpy" in header and "torch" in header
    rows = [line.split() for line in lines if line.strip().startswith(("fwd", "dW", "dX"))]
    assert [r[0] for r in rows] == ["fwd0", "dW0", "fwd1", "dW1", "dX1"]  # 64→64→10: no dX for the first layer
    assert all(float(x) > 0 for r in rows for x in r[2:]) and all(len(r) == 2 + len(header.split()) - 1 for r in rows)
    bad = subprocess.run([sys.executable, "-m", "benchmarks.gemm_compare", "cnn1d"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "MLP products only" in bad.stderr
    unknown = subprocess.run([sys.executable, "-m", "benchmarks.gemm_compare", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown case 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr
    one = subprocess.run([sys.executable, "-m", "benchmarks.gemm_compare", "--every-size", "8x8x8"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    assert "MKL takes every size" in one.stdout and any(line.split()[0] == "8x8@8x8" for line in one.stdout.splitlines()
                                                         if line.strip())


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_the_hand_written_numpy_step_trains_as_nnlab_does(optimizer):
    """benchmarks/fw_numpy_step.py is a real training step: the same loss and updated weights as nnlab's loop."""
    import dataclasses

    import nnlab
    from benchmarks import fw_nnlab, fw_numpy_step
    from nnlab.losses import cross_entropy

    case = dataclasses.replace(select(["small"], samples=96)[0], optimizer=optimizer)
    X, y = make_data(case, seed=0)
    step, Ws, bs = fw_numpy_step.make_step(case, seed=0)
    nnlab.seed(0)
    model = fw_nnlab.build_model(case)
    linears = [m for m in model.modules() if isinstance(m, nnlab.nn.Linear)]
    for layer, W, b in zip(linears, Ws, bs):
        layer.weight.data[...] = W
        layer.bias.data[...] = b
    opt = fw_nnlab.make_optimizer(case, model.parameters())
    for i in range(0, 96, 32):
        xb, yb = X[i : i + 32], y[i : i + 32]
        hand_loss = step(xb, yb)
        loss = cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert hand_loss == pytest.approx(loss.item(), rel=1e-5)
    for layer, W, b in zip(linears, Ws, bs):
        assert W.dtype == "float32"
        np.testing.assert_allclose(layer.weight.data, W, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-4, atol=1e-6)


def test_jit_startup_times_the_three_ways(capsys):
    from benchmarks import jit_startup

    assert jit_startup.main(["--runs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ways = {line.split()[0]: float(line.split("first step")[1].split("ms")[0]) for line in lines[1:]}
    assert set(ways) == {"cold", "warm", "numpy"} and all(ms > 0 for ms in ways.values())


def test_fit_overhead_splits_fit_into_per_epoch_and_fixed_costs(capsys):
    from benchmarks import fit_overhead

    assert fit_overhead.main(["small", "--rounds", "1", "--samples", "64"]) == 0
    out = capsys.readouterr().out
    assert "plain" in out and "fit ×2" in out and "fixed per call" in out


def test_profile_takes_a_sweep_cell_with_its_own_optimizer_and_floors(capsys):
    from benchmarks import profile

    case = select(["sweep-momentum-h1024-b32"], samples=64)[0]
    X, y = make_data(case, 0)
    step = profile._nnlab_step_parts(case, X, y)[-1]
    assert type(step.__self__).__name__ == "SGD" and step.__self__.param_groups[0]["momentum"] == 0.9
    assert profile.main(["sweep-momentum-h1024-b32", "--steps", "2", "--rounds", "1", "--top", "0", "--samples", "64",
                         "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "SGD + momentum" in out and "the memory pass of one update" in out and "Adam" not in out
    assert re.search(r"\(median, 2 threads\) [0-9.]+ µs \(best [0-9.]+, worst [0-9.]+\)", out)
    assert profile.main(["small", "--steps", "2", "--rounds", "1", "--top", "0", "--samples", "64", "--no-torch"]) == 0
    assert "NumPy Adam over" in capsys.readouterr().out  # an Adam case also shows the hand-written Adam's floor


def test_history_needs_two_days_or_machines_and_counts_full_runs_only(tmp_path, capsys, monkeypatch):
    from benchmarks import history

    def write(name, day, cpu="CPU A", mode="full", threads=2, nnlab_small=0.29):
        data = _fake_report(nnlab_small, 1.0, 0.30, 100, 300, 0.1)
        data["meta"] = {"date": f"{day}T10:00:00+00:00", "mode": mode, "threads": threads, "cpu": cpu, "cpus": 2,
                        "git": "abc1234"}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    target = "issue 17, small: epoch time nnlab/torch (plain loop)"
    one_day = [write("a", "2026-01-01"), write("b", "2026-01-01"), write("c", "2026-01-02", nnlab_small=0.5)]
    rows = {r["target"]: r for r in history.summarize(history.load_runs(one_day)[0])}
    assert rows[target]["verdict"] == "held on one day and machine only"
    assert len(rows[target]["held"]) == 2 and rows[target]["measured"] == 3
    two_days = one_day + [write("d", "2026-01-03")]
    assert {r["target"]: r for r in history.summarize(history.load_runs(two_days)[0])}[target]["verdict"] == "met"
    mostly_missed = two_days + [write(f"m{i}", "2026-01-03", nnlab_small=0.5) for i in range(3)]
    rows = {r["target"]: r for r in history.summarize(history.load_runs(mostly_missed)[0])}
    assert rows[target]["verdict"] == "met, but held in fewer than half its runs"  # 3 of 7
    assert "| 0.29–0.5; 0.5 |" in history.markdown([rows[target]], history.load_runs(mostly_missed)[0], [])
    two_machines = one_day + [write("e", "2026-01-01", cpu="CPU B")]
    assert {r["target"]: r for r in history.summarize(history.load_runs(two_machines)[0])}[target]["verdict"] == "met"
    never = [write("f", "2026-01-01", nnlab_small=0.5), write("g", "2026-01-02", nnlab_small=0.6)]
    assert {r["target"]: r for r in history.summarize(history.load_runs(never)[0])}[target]["verdict"] == "missed in every run"

    (tmp_path / "other.json").write_text('{"records": []}', encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    cut = json.loads(one_day[0].read_text(encoding="utf-8"))
    del cut["cases"]["small"]["ratios"]
    (tmp_path / "cut.json").write_text(json.dumps(cut), encoding="utf-8")
    not_counted = [write("q", "2026-01-04", mode="quick"), write("t", "2026-01-05", threads=1),
                   tmp_path / "other.json", tmp_path / "broken.json", tmp_path / "cut.json"]
    runs, skipped = history.load_runs(one_day + not_counted)
    assert len(runs) == 3
    assert [reason.split(" ")[0] for _, reason in skipped] == ["quick", "1", "not", "unreadable:", "an"]
    assert history.main([str(p) for p in one_day + not_counted]) == 0
    out = capsys.readouterr()
    assert "3 full runs at 2 threads on 2 days" in out.out and f"| {target} | <= 0.3 | 2 / 3 | 2026-01-01 |" in out.out
    assert out.err.count("not counted:") == 5
    assert history.main([str(p) for p in not_counted]) == 2
    err = capsys.readouterr().err  # each report says why it was not counted, then the verdict
    assert err.count("not counted:") == 5 and err.rstrip().endswith("no full run at 2 threads among the reports given")
    monkeypatch.setitem(history.NOT_CREDIBLE, "d.json", "a reason")
    runs, skipped = history.load_runs(two_days)
    assert len(runs) == 3 and skipped == [(str(two_days[-1]), "not credible: a reason")]


@pytest.mark.skipif(not _nnlab_training_stack_present(), reason="needs nnlab's training stack")
def test_cpu_step_prints_the_median_or_the_minimum(capsys, monkeypatch):
    from benchmarks import cpu_step

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NNLAB_OPTIM_THREADS"):
        monkeypatch.setenv(var, "1")  # cpu_step sets them; monkeypatch puts them back afterwards
    for stat in ("median", "min"):
        assert cpu_step.main(["nnlab", "small", "--steps", "3", "--rounds", "2", "--stat", stat]) == 0
        out = capsys.readouterr().out
        assert out.startswith("nnlab small: CPU ") and f"{stat} of 2 rounds of 3 steps" in out


def _with_floors(data, nnlab_us, gemm_us, memory_us, hand_us=None, memory_threads=2, memory_method=checks.MEMORY_BOUND_METHOD):
    """Give the fake report's small case the per-step floors report.floors would have derived (a 2-thread run)."""
    data["meta"] = {"threads": 2}
    f = {"nnlab_step_us": nnlab_us, "gemm-floor_step_us": gemm_us, "memory_pass_us": memory_us,
         "memory_pass_threads": memory_threads, "memory_pass_method": memory_method,
         "overhead_over_gemm": (nnlab_us - gemm_us) / gemm_us}
    if hand_us is not None:
        f["numpy-step_step_us"], f["numpy-step_overhead_over_gemm"] = hand_us, (hand_us - gemm_us) / gemm_us
    data["cases"]["small"]["floors"] = f
    return data


def test_an_overhead_miss_says_which_measured_bound_puts_it_out_of_reach():
    def check(*floors):
        data = _with_floors(_fake_report(0.29, 1.0, 0.30, 100, 300, 0.1), *floors)
        return {t["target"]: t for t in checks.targets(data)}["issue 17, small: nnlab step beyond GEMM floor / GEMM floor"]

    assert "out_of_reach" not in check(25.0, 20.0, 15.0)  # met: no bound is needed
    assert "out_of_reach" not in check(100.0, 20.0, 1.0)  # missed, and no bound excuses it
    by_memory = check(100.0, 20.0, 12.0)
    assert by_memory["status"] == "missed" and by_memory["bound_by"] == "memory pass"
    assert by_memory["bound"] == pytest.approx(0.6) and "0.60× the GEMM floor" in by_memory["out_of_reach"]
    assert "out_of_reach" not in check(100.0, 20.0, 12.0, None, 1)  # a one-thread pass bounds no two-thread update
    assert "out_of_reach" not in check(100.0, 20.0, 12.0, None, 2, "copy")  # the withdrawn copy bounds nothing
    by_hand = check(100.0, 20.0, 1.0, 60.0)
    assert by_hand["bound_by"] == "hand-written NumPy step" and by_hand["bound"] == pytest.approx(2.0)
    assert "for a NumPy framework: the hand-written NumPy step's own overhead is 2.00×" in by_hand["out_of_reach"]
    assert "out_of_reach" not in check(100.0, 20.0, 1.0, 120.0)  # a hand-written step slower than nnlab bounds nothing
    assert "out_of_reach" not in check(31.0, 20.0, 12.0)  # nnlab beat its memory pass (0.6 > 0.55 overhead): a noisy floor


def test_history_calls_a_target_out_of_reach_only_when_every_miss_has_a_bound(tmp_path):
    from benchmarks import history

    def run(name, day, *floors, cpu="CPU A"):
        data = _with_floors(_fake_report(0.29, 1.0, 0.30, 100, 300, 0.1), *floors)
        data["meta"] = {"date": f"{day}T10:00:00+00:00", "mode": "full", "threads": 2, "cpu": cpu, "cpus": 2}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    def verdict(paths):
        rows = {r["target"]: r for r in history.summarize(history.load_runs(paths)[0])}
        return rows["issue 17, small: nnlab step beyond GEMM floor / GEMM floor"]["verdict"]

    bounded = [run("a", "2026-01-01", 100.0, 20.0, 1.0, 60.0), run("b", "2026-01-02", 90.0, 20.0, 1.0, 70.0)]
    reason = "(hand-written NumPy step 2.00–2.50× the floor, 2026-01-01, 2026-01-02)"
    assert verdict(bounded) == f"out of reach: a measured bound is past the limit in all 2 misses that measured one (of 2) {reason}"
    assert verdict(bounded[:1]).startswith("missed in every run; a measured bound is past the limit in 1 of the 1 ")
    no_bound_measured = bounded + [run("n", "2026-01-03", 100.0, 20.0, 1.0, None, 1)]  # an older report: 1-thread copy
    assert verdict(no_bound_measured) == f"out of reach: a measured bound is past the limit in all 2 misses that measured one (of 3) {reason}"
    one_unbounded = bounded + [run("c", "2026-01-03", 100.0, 20.0, 1.0)]
    assert verdict(one_unbounded) == f"missed in every run; a measured bound is past the limit in 2 of the 3 misses that measured one {reason}"
    assert verdict(bounded + [run("d", "2026-01-03", 25.0, 20.0, 1.0)]).startswith("held on one day and machine only; ")
    # held on one machine, out of reach on another: the verdict names the machine and its bounds
    held_on_a = run("e", "2026-01-04", 25.0, 20.0, 1.0)
    on_b = [run(f"b{k}", "2026-01-05", 100.0, 20.0, 12.0, cpu="CPU B") for k in range(2)]
    assert verdict([held_on_a] + on_b) == ("held on one day and machine only; out of reach on CPU B, 2 cores: a measured "
                                            "bound is past the limit in all 2 misses there that measured one (of 2) "
                                            "(memory pass 0.60–0.60× the floor, 2026-01-05)")
    assert verdict([held_on_a] + on_b[:1]).startswith("held on one day and machine only; a measured bound is past")
