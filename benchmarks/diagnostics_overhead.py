"""Overhead of nnlab.diagnostics.LayerStatistics on the default digits run.

The default `nnlab train` model (MLP 64-256-128-10 ReLU, Adam lr 1e-3, batch 32,
standardized digits) is trained with and without the callback, interleaved,
``--reps`` times each; the CPU time of the process (time.process_time, which is
less disturbed than wall time on a shared machine) is compared by the median.

Run:  PYTHONPATH=src python -m benchmarks.diagnostics_overhead [--reps 7] [--epochs 10]
"""

from __future__ import annotations

import argparse
import statistics
import time


def _run(with_diagnostics: bool, epochs: int, X, y) -> float:
    import nnlab
    from nnlab import losses, nn, optim
    from nnlab.diagnostics import LayerStatistics
    from nnlab.train import fit

    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(64, 256, weight_init="he_normal"), nn.ReLU(),
                          nn.Linear(256, 128, weight_init="he_normal"), nn.ReLU(), nn.Linear(128, 10))
    callbacks = [LayerStatistics(X[:256])] if with_diagnostics else []
    start = time.process_time()
    fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y), epochs=epochs, batch_size=32,
        callbacks=callbacks, seed=0, verbose=0)
    return time.process_time() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    import nnlab
    from nnlab.data import Standardizer

    X, y = nnlab.datasets.digits()
    X = Standardizer().fit(X).transform(X)
    times = {False: [], True: []}
    for _ in range(args.reps):
        for flag in (False, True):
            times[flag].append(_run(flag, args.epochs, X, y))
    plain, diag = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.epochs} epochs, median of {args.reps} (CPU seconds): without {plain:.3f}, with LayerStatistics "
          f"{diag:.3f}: overhead {100 * (diag - plain) / plain:+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
