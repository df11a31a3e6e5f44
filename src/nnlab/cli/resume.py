"""``nnlab train --resume`` / ``nnlab resume RUN``: continue a killed or interrupted run where it stopped.

Every epoch of ``nnlab train`` ends by writing the full training state
(:class:`nnlab.train.TrainingState`: weights, optimizer moments, callback
state, generator states, history) to ``runs/NAME/resume.safetensors``,
atomically.  ``--resume`` rebuilds the run from the same config (checked
against the run's ``config.json``), loads that state and trains the remaining
epochs, so the finished run has the same weights and ``history.csv``, bit for
bit, as a run that was never interrupted (``tests/test_cli_resume.py`` kills
``nnlab train`` with SIGKILL at random moments).  A finished run removes its
state file; resuming a finished run is refused with a message.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from ..errors import ConfigError
from .runs import CONFIG_FILE, MODEL_FILE, PLACE_KEYS, STATE_FILE


def run_config_of(run: str) -> dict:
    """The config (as a dict) ``nnlab resume RUN`` continues: the run folder's config.json, placed where it is."""
    folder = Path(run)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ConfigError(f"{run!r} is not a run folder; pass the folder `nnlab train` wrote (runs/NAME)")
    if not path.is_file():
        raise ConfigError(f"{run!r} holds no {CONFIG_FILE}, so it is not an nnlab run folder that can be resumed")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{path} is not valid JSON; the run folder is damaged") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} is not a table of settings; the run folder is damaged")
    stored = Path(str(raw.get("runs_dir", ""))) / str(raw.get("name", ""))
    if stored.is_dir() and stored.samefile(folder):
        return raw  # where it was trained: the config stays byte for byte the one the run's files store
    folder = folder.resolve()
    return {**raw, "runs_dir": str(folder.parent), "name": folder.name}


def resume_point(run_dir: Path, cfg) -> Path | None:
    """The state file to continue from (None: start at epoch 1), after checking the run is this config's.

    Refused: a run folder that does not exist, one started with other settings
    (the differing keys are named), and a run that already finished.
    """
    config_file = run_dir / CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(f"there is no run to resume in {run_dir}/ (no {CONFIG_FILE}); drop --resume to start it")
    try:
        stored = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{config_file} is not valid JSON; the run folder is damaged: train it with --overwrite")\
            from None
    current = cfg.model_dump(mode="json")
    differ = sorted(_differences(stored, current))
    if differ:
        shown = ", ".join(differ[:5]) + (", ..." if len(differ) > 5 else "")
        raise ConfigError(f"run {cfg.name!r} was started with other settings ({shown} differ from {config_file}); "
                          "resume with the same config and options, or pass --overwrite to train it anew")
    state = run_dir / STATE_FILE
    if state.is_file():
        return state
    if (run_dir / MODEL_FILE).is_file():
        raise ConfigError(f"run {cfg.name!r} is complete ({run_dir / MODEL_FILE} is written); nothing to resume")
    return None  # killed before its first epoch ended: train from the start


def _differences(stored, current, prefix="") -> list[str]:
    """The dotted keys whose values differ between two config dicts (the place keys excepted)."""
    if not isinstance(stored, dict) or not isinstance(current, dict):
        return [prefix.rstrip(".") or "config"] if stored != current else []
    out = []
    for key in sorted(set(stored) | set(current)):
        if not prefix and key in PLACE_KEYS:
            continue
        if key not in stored or key not in current:
            out.append(prefix + key)
        else:
            out += _differences(stored[key], current[key], f"{prefix}{key}.")
    return out


def resume_command(run_dir: Path) -> str:
    """The command that continues the run in ``run_dir``, as a user would type it."""
    return f"nnlab resume {shlex.quote(str(run_dir))}"


def interrupted(run_dir: Path, checkpoint: str) -> int:
    """Ctrl-C during ``nnlab train``: say which epoch is kept and how to continue; exit status 130."""
    import sys

    from ..train.resume import saved_epoch

    state = run_dir / STATE_FILE
    if not state.is_file():
        print(f"nnlab: interrupted before the first epoch ended, so there is no epoch to keep; "
              f"{resume_command(run_dir)} starts the run again", file=sys.stderr)
        return 130
    kept = str(state)
    if checkpoint == "last":
        kept += f" and {run_dir / 'checkpoint.safetensors'}"
    print(f"nnlab: interrupted; epoch {saved_epoch(state) + 1}, the last complete one, is kept in {kept}; "
          f"continue with: {resume_command(run_dir)}", file=sys.stderr)
    return 130


def divergence_message(nan_guard, guard, cfg) -> str:
    """Why training stopped (a non-finite loss, or a loss that stayed far above the initial one), what was kept,
    and which setting to lower."""
    if nan_guard.stop_training:  # its own note on the kept weights is superseded: the guard restored a whole epoch
        why = "training diverged: " + nan_guard.message.partition(": training stopped")[0]
    else:
        why = guard.message.rpartition("; ")[0]
    kept = ("the initial weights (no epoch ended well)" if guard.good_epoch is None else
            f"the weights of epoch {guard.good_epoch + 1}, the last good one")
    return f"{why}; {MODEL_FILE} holds {kept}; {_culprit(cfg)}"


def _culprit(cfg) -> str:
    """A penalty so strong that one step of it overshoots (lr times its weight >= 1), else the learning rate."""
    lr = cfg.optimizer.lr
    for key, value in (("optimizer.weight_decay", cfg.optimizer.weight_decay), ("regularization.l2",
                       cfg.regularization.l2), ("regularization.l1", cfg.regularization.l1)):
        if value * lr >= 1:
            return (f"{key} = {value:g} times optimizer.lr = {lr:g} is {value * lr:.3g}, so each step pushes the "
                    f"weights past zero: lower {key}")
    return f"try a lower learning rate than optimizer.lr = {lr:g}"
