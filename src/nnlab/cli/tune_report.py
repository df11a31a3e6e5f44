"""The end of ``nnlab tune``: the study's summary (trials, best value, parameter importances) and ``best.toml``."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError


def write_summary(job: dict, space: dict, folder: Path) -> int:
    """Print and save the summary of the whole study (every process's trials); write the best config."""
    import optuna

    from .. import io as model_io
    from .. import tune as tuning
    from .tune import BEST, TuneSection, _study

    study = _study(job)
    section = TuneSection.model_validate(job["tune"])
    trials = study.get_trials(deepcopy=False)
    states = {s: sum(t.state == getattr(optuna.trial.TrialState, s.upper()) for t in trials)
              for s in ("complete", "pruned", "fail")}
    lines = [f"study {study.study_name}: {len(trials)} trials ({states['complete']} complete, "
             f"{states['pruned']} pruned, {states['fail']} failed), storage {job['storage']}"]
    summary = {"study": study.study_name, "storage": job["storage"], "metric": section.metric,
               "direction": section.resolved_direction, "trials": len(trials), **states}
    folder.mkdir(parents=True, exist_ok=True)
    if not states["complete"]:
        lines.append("no trial finished: no best config")
        _save(folder, lines, summary)
        print("\n".join(lines))
        return 1
    best = study.best_trial
    values = tuning.decode(space, best.params)
    lines.append(f"best trial {best.number}: {section.metric} = {best.value:.6g} ({section.resolved_direction})")
    lines += [f"  {k} = {json.dumps(v)}" for k, v in values.items()]
    importances = _importances(study)
    if importances:
        lines.append("parameter importances (Optuna's fANOVA evaluator, summing to 1):")
        width = max(map(len, importances))
        lines += [f"  {k:<{width}}  {v:.3f}" for k, v in importances.items()]
    else:
        lines.append("parameter importances: need two or more complete trials with different values")
    best_config = _best_config(job, values, study.study_name)
    path = folder / BEST
    import tomli_w

    model_io.atomic_write(path, "# written by `nnlab tune`: the best trial's config; run it with nnlab train\n"
                          + tomli_w.dumps(best_config))
    lines.append(f"best config written to {path}: nnlab train {path}")
    summary.update(best_trial=best.number, best_value=best.value, best_params=values, importances=importances,
                   all_trials=[{"number": t.number, "state": t.state.name.lower(), "value": t.value,
                                "params": tuning.decode(space, t.params)} for t in trials])
    _save(folder, lines, summary)
    print("\n".join(lines))
    return 0


def _importances(study) -> dict:
    import warnings

    import optuna

    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)  # seeded: the same study, the same figures
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    except (RuntimeError, ValueError, ZeroDivisionError):  # too few trials, or no parameter varied
        return {}
    return {k: float(v) for k, v in found.items()}


def _best_config(job: dict, values: dict, study_name: str) -> dict:
    """The config as written, with the best values set (defaults filled in only where a list needs them)."""
    from .. import tune as tuning
    from .config import parse_config

    raw = job["raw"]
    best = tuning.apply(raw, values, parse_config(raw).model_dump())
    best["name"] = f"{study_name}-best"  # not the study's folder, not the original run
    parse_config(best, source="the best trial's config")  # `nnlab train` will accept it
    if any(v is None for v in _leaves(best)):
        raise ConfigError("the best config holds a null value, which TOML cannot write")
    return best


def _leaves(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)
    else:
        yield node


def _save(folder: Path, lines: list, summary: dict) -> None:
    from .. import io as model_io
    from .tune import SUMMARY

    model_io.atomic_write(folder / SUMMARY[0], "\n".join(lines) + "\n")
    model_io.atomic_write(folder / SUMMARY[1], json.dumps(summary, indent=2, default=str) + "\n")
