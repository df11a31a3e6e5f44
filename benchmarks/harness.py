"""Run the frameworks side by side: one worker process per framework and case, epochs interleaved."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import fw_numpy_step, fw_sklearn
from .worker import FRAMEWORKS

ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the benchmarks package
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def child_env(threads: int) -> dict:
    """The environment of every child process: same BLAS/OpenMP thread count for every framework."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def skip_reason(framework: str, case) -> str | None:
    if framework == "sklearn":
        return fw_sklearn.supports(case)
    if framework == "numpy-step" and not fw_numpy_step.supports(case):
        return "the hand-written NumPy step covers plain MLP cases only"
    return None


class Worker:
    """A running ``benchmarks.worker`` process, driven line by line."""

    def __init__(self, framework: str, case, seed: int, threads: int, warmup: int):
        self.framework = framework
        self.error = None
        self.ready = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", framework, json.dumps(case.to_dict()), str(seed), str(threads), str(warmup)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(threads),
            cwd=ROOT,
            text=True,
            bufsize=1,
        )

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            return {"error": f"worker exited with code {self.proc.returncode} without an answer (see stderr)"}
        return json.loads(line)

    def _fail(self, msg: dict) -> dict:
        self.error = msg["error"]
        if msg.get("traceback"):
            sys.stderr.write(f"[{self.framework}] {msg['traceback']}\n")
        self.close()
        return msg

    def wait_ready(self) -> dict:
        msg = self._read()
        if "error" in msg:
            return self._fail(msg)
        self.ready = msg
        return msg

    def epoch(self) -> dict:
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        msg = self._read()
        if "error" in msg:
            return self._fail(msg)
        return msg

    def extra(self) -> dict:
        self.proc.stdin.write("extra\n")
        self.proc.stdin.flush()
        msg = self._read()
        return {} if "error" in msg else msg.get("extra", {})

    def finish(self) -> dict:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        msg = self._read()
        self.close()
        return msg

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def spread(times: list) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "times": times}


def run_case(case, frameworks, reps: int, seed: int, threads: int, warmup: int = 3, gap: float = 0.15, log=None) -> dict:
    """Interleave ``reps`` epochs of every framework (A B C A B C …); one result dict per framework.

    ``gap`` seconds of idle time separate two epochs, so the spin-waiting BLAS/OpenMP
    threads of the framework that just finished have gone to sleep before the next
    framework's clock starts (OpenBLAS spins about 0.1 s after a call).
    """
    log = log or (lambda s: None)
    results = {}
    workers = {}
    for fw in frameworks:
        reason = skip_reason(fw, case)
        if reason:
            results[fw] = {"label": FRAMEWORKS[fw][2], "skipped": reason}
        else:
            workers[fw] = Worker(fw, case, seed, threads, warmup)  # start all: setup is not timed
    for fw, w in workers.items():
        msg = w.wait_ready()
        results[fw] = {"label": FRAMEWORKS[fw][2]}
        if "error" in msg:
            results[fw]["error"] = msg["error"]
            log(f"  {fw}: unavailable — {msg['error']}")
        else:
            results[fw].update({k: msg.get(k) for k in ("versions", "info", "blas", "blas_build", "rss_after_import_mb", "build_seconds")})
            # every BLAS/OpenMP pool the worker loaded runs the asked-for number of threads; beside MKL,
            # nnlab holds NumPy's OpenBLAS at one thread from MKL's first product on (nnlab/_blas.py), so that pool is not asked
            pools = msg.get("blas") or []
            if any(p.get("library") == "mkl" for p in pools):
                pools = [p for p in pools if p.get("library") != "openblas"]
            results[fw]["threads_verified"] = bool(pools) and all(p.get("threads") == threads for p in pools)
    times = {fw: [] for fw in workers}
    losses = {fw: [] for fw in workers}
    loads = []  # 1-minute load average after each timed epoch: how busy the machine was meanwhile
    stolen = [0, 0]  # CPU time the hypervisor gave to other guests during the timed epochs, of all CPU time
    for rep in range(reps):
        for fw, w in workers.items():
            if w.error:
                continue
            time.sleep(gap)
            before = cpu_steal()
            msg = w.epoch()
            after = cpu_steal()
            if before and after:
                stolen[0] += after[0] - before[0]
                stolen[1] += after[1] - before[1]
            if "error" in msg:
                results[fw]["error"] = msg["error"]
                log(f"  {fw}: failed — {msg['error']}")
                continue
            times[fw].append(msg["seconds"])
            losses[fw].append(msg["loss"])
            log(f"  [{case.name}] rep {rep + 1}/{reps} {fw:<10} {msg['seconds']:8.3f} s  loss {msg['loss']:.4f}"
                f"  load {os.getloadavg()[0]:.1f}")
            loads.append(os.getloadavg()[0])
    for fw, w in workers.items():
        if w.error:
            continue
        extra = w.extra()
        if extra:
            results[fw]["extra"] = extra
        end = w.finish()
        results[fw]["maxrss_mb"] = end.get("maxrss_mb")
        results[fw].update(spread(times[fw]))
        results[fw]["losses"] = losses[fw]
    if loads:
        results["_load"] = {"median": statistics.median(loads), "min": min(loads), "max": max(loads)}
        if stolen[1]:
            results["_load"]["steal_percent"] = 100 * stolen[0] / stolen[1]
    return results


def cpu_steal():
    """(steal, total) clock ticks of all CPUs since boot (``/proc/stat``), or None where there is none.

    Steal is the time a VM's virtual CPUs waited while the hypervisor ran other guests:
    the part of a slow epoch that the load average of this machine cannot show.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
    return ticks[7], sum(ticks)
