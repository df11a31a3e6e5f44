"""The lab: each claim of the lecture notes as a measured experiment, and one HTML report of them all.

>>> from nnlab import lab
>>> lab.names()[:3]
['xor', 'power', 'activations']

``lab.get(name)`` gives an :class:`~nnlab.lab.base.Experiment`; ``lab.run(names,
seeds, quick)`` measures experiments in parallel processes and computes their
verdicts; ``lab.write_report(results, path)`` writes the self-contained page.
"""

from .base import FAILS, HOLDS, PARTLY, Check, Claim, Experiment, ExperimentResult, SeedResult, Summary, verdict
from .registry import WAITING, experiments, get, names
from .report import render_report, write_report
from .runner import run

__all__ = ["Claim", "Check", "Experiment", "ExperimentResult", "SeedResult", "Summary", "verdict", "HOLDS",
           "PARTLY", "FAILS", "WAITING", "experiments", "get", "names", "run", "render_report", "write_report"]
