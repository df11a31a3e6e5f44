"""Accuracy parity on digits: same split, architecture, optimizer, batch size and epochs.

For each seed, scikit-learn's 1,797 8×8 digits are split 75/25 (stratified) and
standardised with the training statistics; nnlab (``nnlab.train.fit``) and
PyTorch (the usual loop) each train a 64→128→10 ReLU MLP with Adam (lr 1e-3),
batch 32, for ``EPOCHS`` epochs, initialised from their own seeded defaults.
Issue 6 asks for nnlab's mean test accuracy over 3 seeds within 0.5 percentage
points of PyTorch's.  ``python -m benchmarks.accuracy`` prints the JSON result;
the harness runs it in a child process with the benchmark's thread settings.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

SEEDS = (0, 1, 2)
EPOCHS = 30
BATCH_SIZE = 32
HIDDEN = 128
MAX_GAP_PP = 0.5


def digits_split(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-6
    prep = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return prep(Xtr), prep(Xte), ytr.astype(np.int64), yte.astype(np.int64)


def nnlab_accuracy(seed: int, data) -> float:
    import nnlab
    from nnlab import nn
    from nnlab.losses import cross_entropy
    from nnlab.optim import Adam
    from nnlab.train import fit

    Xtr, Xte, ytr, yte = data
    nnlab.seed(seed)
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    opt = Adam(model.parameters(), lr=1e-3)
    fit(model, cross_entropy, opt, (Xtr, ytr), epochs=EPOCHS, batch_size=BATCH_SIZE, metrics=(), seed=seed, verbose=0)
    model.eval()
    with nnlab.no_grad():
        pred = model(Xte).data.argmax(axis=1)
    return float((pred == yte).mean())


def torch_accuracy(seed: int, data) -> float:
    import torch
    import torch.nn.functional as F
    from torch import nn

    Xtr, Xte, ytr, yte = (torch.from_numpy(a) for a in data)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(Xtr), generator=gen)
        for i in range(0, len(perm), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((model(Xte).argmax(dim=1) == yte).float().mean())


def measure() -> dict:
    frameworks = {"nnlab": nnlab_accuracy, "torch": torch_accuracy}
    out = {
        "setup": f"digits 75/25 stratified split, 64→{HIDDEN}→10 ReLU, Adam lr 1e-3, batch {BATCH_SIZE}, "
        f"{EPOCHS} epochs, seeds {list(SEEDS)}",
        "frameworks": {},
    }
    splits = {seed: digits_split(seed) for seed in SEEDS}
    for name, fn in frameworks.items():
        try:
            per_seed = [fn(seed, splits[seed]) for seed in SEEDS]
        except Exception as exc:  # e.g. nnlab's training stack not installed yet
            out["frameworks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out["frameworks"][name] = {"per_seed": per_seed, "mean": float(np.mean(per_seed))}
    fws = out["frameworks"]
    if "mean" in fws.get("nnlab", {}) and "mean" in fws.get("torch", {}):
        out["gap_pp"] = 100 * (fws["nnlab"]["mean"] - fws["torch"]["mean"])
    return out


def run_child(threads: int) -> dict:
    """``measure()`` in a fresh process with the benchmark's thread environment."""
    from .harness import ROOT, child_env

    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.accuracy"], env=child_env(threads), cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:] or f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import torch

    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "2")))
    print(json.dumps(measure()))
