"""Overhead of nnlab.diagnostics.LayerStatistics on the default digits run.

The default `nnlab train` model (MLP 64-256-128-10 ReLU, Adam lr 1e-3, batch 32,
standardized digits) is trained with and without the callback, interleaved,
``--reps`` times each, and the median CPU times (time.process_time) are compared.
On a busy machine that difference drowns in noise, so the run with the callback
also times the callback's own hooks (wall time inside them, as a share of the
whole fit), which stays meaningful under load.

Run:  PYTHONPATH=src python -m benchmarks.diagnostics_overhead [--reps 7] [--epochs 10]
"""

from __future__ import annotations

import argparse
import statistics
import time


def _timed(cls):
    """LayerStatistics whose hooks add their wall time to ``self.spent``."""

    class Timed(cls):
        spent = 0.0

    for hook in ("on_batch_begin", "on_batch_end", "on_epoch_end"):
        def wrapper(self, *args, _inner=getattr(cls, hook), **kwargs):
            start = time.perf_counter()
            try:
                return _inner(self, *args, **kwargs)
            finally:
                self.spent += time.perf_counter() - start
        setattr(Timed, hook, wrapper)
    return Timed


def _run(with_diagnostics: bool, epochs: int, X, y):
    import nnlab
    from nnlab import losses, nn, optim
    from nnlab.diagnostics import LayerStatistics
    from nnlab.train import fit

    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(64, 256, weight_init="he_normal"), nn.ReLU(),
                          nn.Linear(256, 128, weight_init="he_normal"), nn.ReLU(), nn.Linear(128, 10))
    callbacks = [_timed(LayerStatistics)(X[:256])] if with_diagnostics else []
    start, wall = time.process_time(), time.perf_counter()
    fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y), epochs=epochs, batch_size=32,
        callbacks=callbacks, seed=0, verbose=0)
    share = callbacks[0].spent / (time.perf_counter() - wall) if callbacks else 0.0
    return time.process_time() - start, share


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
    shares = []
    for _ in range(args.reps):
        for flag in (False, True):
            seconds, share = _run(flag, args.epochs, X, y)
            times[flag].append(seconds)
            if flag:
                shares.append(share)
    plain, diag = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.epochs} epochs, median of {args.reps} (CPU seconds): without {plain:.3f}, with LayerStatistics "
          f"{diag:.3f}: difference {100 * (diag - plain) / plain:+.1f} %")
    print(f"time inside LayerStatistics' hooks: {100 * statistics.median(shares):.2f} % of fit's wall time "
          f"(median of {args.reps})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
