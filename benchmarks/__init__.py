"""Side-by-side speed runs of nnlab, PyTorch and scikit-learn (issue 6). Not tests.

``python -m benchmarks`` trains one epoch of the same MLP on the same seeded
float32 data in every framework, each in its own process with 2 BLAS threads,
interleaving the frameworks over several repetitions; it also measures the
float32 matmul peak, peak memory and start-up times, prints a table and writes
a JSON report.  ``--quick`` runs in under a minute.  See BENCHMARKS.md.
"""


def run(**options) -> dict:
    """Run the benchmark in-process and return the report; see ``benchmarks.main.run``."""
    from .main import run as _run  # imported lazily: ``python -m benchmarks.worker`` must not pull it in

    return _run(**options)
