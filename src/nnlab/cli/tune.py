"""``nnlab tune CONFIG --trials N [--storage URL] [--study NAME] [--jobs K]``: hyperparameter search on Optuna.

The config's ``[tune]`` section (ignored by ``nnlab train``) declares what to search::

    [tune]
    metric = "val_accuracy"          # an epoch log: val_loss (default), val_accuracy, loss, accuracy
    direction = "maximize"           # default: maximize for accuracies, minimize otherwise
    pruner = "median"                # or "none": median pruning on the metric, epoch by epoch
    startup_trials = 5               # trials that run to the end before the pruner judges others
    warmup_epochs = 1                # epochs of every trial that are never pruned
    sampler = "tpe"                  # or "random"

    [tune.space]
    "optimizer.lr" = { type = "float", low = 1e-4, high = 1e-1, log = true }
    "model.hidden.0" = { type = "int", low = 16, high = 256, log = true }
    "model.activation" = ["relu", "tanh", "elu"]

Each trial trains the config with the trial's values (no run folder) and is
scored by the metric at its last epoch.  A config with ``[tasks]`` is tuned on the
weighted sum of the tasks' losses (``val_loss`` or ``loss``); ``[pretrain]`` and
``[ensemble]`` are refused.  The study lives in
``RUNS/<study>-tune/study.db`` (SQLite) unless ``--storage`` names any
database URL Optuna accepts (PostgreSQL, MySQL, another SQLite file); many
``nnlab tune`` processes, on one machine or many, can work on one study.
That folder also gets ``best.toml`` (the config with the best trial's values,
which ``nnlab train`` runs as it is) and ``summary.txt`` / ``summary.json``.
"""

from __future__ import annotations

import json
import re
import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from ..errors import ConfigError
from .tune_trial import EPOCH_LOGS

SUMMARY = ("summary.txt", "summary.json")
BEST = "best.toml"
DATABASE = "study.db"


class TuneSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Literal[EPOCH_LOGS] = "val_loss"
    direction: Optional[Literal["minimize", "maximize"]] = None
    pruner: Literal["median", "none"] = "median"
    startup_trials: Annotated[int, Strict(), Field(ge=0)] = 5
    warmup_epochs: Annotated[int, Strict(), Field(ge=0)] = 0
    sampler: Literal["tpe", "random"] = "tpe"
    space: dict

    @property
    def resolved_direction(self) -> str:
        return self.direction or ("maximize" if "accuracy" in self.metric else "minimize")


def add_parser(sub) -> None:
    tune = sub.add_parser("tune", help="hyperparameter search on Optuna over the config's [tune] space")
    tune.add_argument("config", help="TOML config file with a [tune] section")
    tune.add_argument("--trials", type=int, required=True, help="trials to run in this invocation (all jobs)")
    tune.add_argument("--storage", help="Optuna storage URL (default: sqlite file RUNS/<study>-tune/study.db)")
    tune.add_argument("--study", help="study name (default: the config's name); one study may be shared")
    tune.add_argument("--jobs", type=int, default=1, help="trials run in parallel processes (default 1)")
    tune.add_argument("--scheduler", help="run the jobs on this Dask scheduler (tcp://HOST:PORT; default: "
                      "$DASK_SCHEDULER_ADDRESS, else local processes); the storage must be reachable from its workers")
    tune.add_argument("--epochs", type=int, help="override train.epochs for every trial")
    tune.add_argument("--runs-dir", help="override the folder that holds the runs")
    tune.add_argument("--quiet", action="store_true", help="no line per trial")


def command(args) -> int:
    for name in ("trials", "jobs"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be a whole number >= 1, got {getattr(args, name)}")
    raw, section = _read(args.config)
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs must be a whole number >= 1, got {args.epochs}")
        raw.setdefault("train", {})["epochs"] = args.epochs
    if args.runs_dir:
        raw["runs_dir"] = args.runs_dir
    from .. import tune as tuning
    from .config import NAME_CHARACTERS, parse_config

    cfg = parse_config(raw, source=f"config file {args.config!r}")
    space = tuning.parse_space(section.space)
    _check_space(raw, cfg, space, section)
    study_name = args.study or cfg.name
    if args.study is not None and (not re.fullmatch(NAME_CHARACTERS, args.study) or args.study.startswith(".")
                                   or len(args.study) > 190):  # a run name's rule, with room for "-best"
        raise ConfigError(f"--study {args.study!r} is not a plain name (letters, digits, '.', '_' and '-', not starting "
                          "with a dot): it names the folder RUNS/<study>-tune and the config <study>-best")
    folder = Path(cfg.runs_dir) / f"{study_name}-tune"
    storage = args.storage or f"sqlite:///{(folder / DATABASE).resolve()}"
    if args.storage is None:
        folder.mkdir(parents=True, exist_ok=True)
    job = {"raw": raw, "tune": section.model_dump(), "storage": storage, "study": study_name, "quiet": args.quiet}
    _study(job)  # created once here, so parallel workers only load it
    shares = [args.trials // args.jobs + (i < args.trials % args.jobs) for i in range(args.jobs)]
    if not args.quiet:
        print(f"nnlab: tuning {study_name}: {args.trials} trials, {args.jobs} job(s), "
              f"{section.metric} ({section.resolved_direction}), storage {storage}")
    _run_parallel([dict(job, trials=n, worker=i) for i, n in enumerate(shares) if n], args.scheduler)
    from .tune_report import write_summary

    return write_summary(job, space, folder)


def _read(path: str):
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        from .config import load_config

        load_config(path)  # the same messages as `nnlab train` for a missing or broken file
        raise ConfigError(f"cannot read config file {path!r}: {exc}") from None
    if "tune" not in raw:
        raise ConfigError(f"config file {path!r} has no [tune] section: add one with a [tune.space] table "
                          "(see `nnlab tune --help` and the README)")
    tune = raw.pop("tune")
    if "name" not in raw:
        raw["name"] = Path(path).stem
    try:
        section = TuneSection.model_validate(tune)
    except ValidationError as exc:
        problems = "; ".join(f"tune.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             + ("" if e["type"] in ("extra_forbidden", "missing") else f" (got {e['input']!r})")
                             for e in exc.errors())
        raise ConfigError(f"invalid [tune] section in {path!r}: {problems}") from None
    return raw, section


def _check_space(raw: dict, cfg, space: dict, section: TuneSection) -> None:
    """Every key of the space must be a config key, and each range end or choice valid (before any trial runs).

    Every trial sets every key, so a value is valid when some combination with the other keys' ends
    and choices gives a valid config (``optimizer.momentum`` with ``optimizer.name = ["sgd"]`` over a
    base config with Adam); ``optimizer.name = ["sgd", "adam"]`` beside a momentum range is refused, as
    "adam" never goes with a momentum.  A trial whose values still do not go together fails alone.
    """
    import itertools

    from .. import tune as tuning
    from .config import parse_config

    _check_trainable(cfg, section, "the config")
    if section.metric.startswith("val_") and cfg.data.val_size == 0:
        raise ConfigError(f"tune.metric = {section.metric!r} needs a validation set: set data.val_size above 0")
    full = cfg.model_dump()
    # Each end as the trials draw it: suggest_float gives floats, so low = 1 over an integer key is 1.0, refused.
    ends = {path: d["choices"] if d["type"] == "categorical" else
            [float(d["low"]), float(d["high"])] if d["type"] == "float" else [d["low"], d["high"]]
            for path, d in space.items()}
    for path, values in ends.items():
        others = [[(p, v) for v in vs] for p, vs in ends.items() if p != path]
        for value in values:
            error = None
            for combination in itertools.islice(itertools.product(*others), 256):
                try:
                    trial_cfg = parse_config(tuning.apply(raw, {**dict(combination), path: value}, full))
                except ConfigError as exc:
                    error = error or exc
                    continue
                _check_trainable(trial_cfg, section, f"tune.space {path!r} = {value!r}")
                break
            else:
                # the message of the value alone, which names the key and what it allows
                try:
                    parse_config(tuning.apply(raw, {path: value}, full), source=f"tune.space {path!r} = {value!r}")
                except ConfigError:
                    raise
                raise ConfigError(f"tune.space {path!r} = {value!r} gives no valid config with any value of the "
                                  f"other keys (every trial sets every key; there are no conditional keys): {error}")


def _check_trainable(cfg, section: TuneSection, where: str) -> None:
    """Refuse a config a trial cannot train as ``nnlab train`` would, or whose run does not log tune.metric."""
    for key, value in (("pretrain.method", cfg.pretrain.method), ("ensemble.method", cfg.ensemble.method)):
        if value != "none":  # a trial trains one network from its initial weights (see tune_trial)
            raise ConfigError(f"nnlab tune trains one network per trial, without [pretrain] or [ensemble]: {where} "
                              f"sets {key} = {value!r}; tune without it")
    if cfg.tasks:
        from .multitask import check

        check(cfg)  # what nnlab train refuses with [tasks]
        if section.metric not in ("val_loss", "loss"):
            raise ConfigError(f"tune.metric = {section.metric!r} is not logged by a run with [tasks] "
                              f"({where} has tasks {', '.join(cfg.tasks)}): [tune] optimizes its weighted sum of "
                              "the tasks' losses, tune.metric = 'val_loss' (or 'loss')")


def _study(job: dict):
    import optuna

    # ERROR: Optuna logs a failed trial with its traceback at WARNING; nnlab prints its own line instead
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    section = TuneSection.model_validate(job["tune"])
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=section.startup_trials,
                                          n_warmup_steps=section.warmup_epochs)
              if section.pruner == "median" else optuna.pruners.NopPruner())
    import sqlalchemy.exc

    races = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError, optuna.exceptions.DuplicatedStudyError)
    for attempt in range(10):  # processes opening one new SQLite file at once: all but one lose the race
        try:
            study = optuna.create_study(study_name=job["study"], storage=_storage(job["storage"]), pruner=pruner,
                                        direction=section.resolved_direction, load_if_exists=True)
            break
        except ConfigError:
            raise
        except ValueError as exc:  # the study exists with another direction, say
            raise ConfigError(f"cannot use the Optuna study {job['study']!r} in {job['storage']}: {exc}") from None
        except races as exc:
            if attempt == 9:
                raise ConfigError(f"cannot open the Optuna study {job['study']!r} in {job['storage']}: {exc}") from None
            time.sleep(0.2 * (attempt + 1))
        except sqlalchemy.exc.DatabaseError as exc:  # a file that is not a database, say
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise ConfigError(f"--storage {job['storage']!r}: cannot open the Optuna study {job['study']!r} there: "
                              f"{reason}") from None
    stored = study.direction.name.lower()
    if stored != section.resolved_direction:  # Optuna keeps the stored direction without a word
        raise ConfigError(f"cannot use the Optuna study {job['study']!r} in {job['storage']}: it was created to "
                          f"{stored} {section.metric}, this [tune] section asks to {section.resolved_direction} it; "
                          "set tune.direction to match or pass another --study")
    seed = sampler_seed(int(job["raw"].get("seed", 0)), len(study.trials), job.get("worker", 0))
    kind = optuna.samplers.RandomSampler if section.sampler == "random" else optuna.samplers.TPESampler
    study.sampler = kind(seed=seed)
    return study


def sampler_seed(config_seed: int, trials: int, worker: int) -> int:
    """The sampler's seed from the config's seed, the trials already in the study and the worker's index.

    Mixed by ``numpy.random.SeedSequence``, so no two (trials, worker) pairs share a seed: a worker that
    loads the study after another recorded a trial still draws its own values (a sum would collide).
    A fresh one-process study repeats exactly; a resumed one or a parallel worker draws new values.
    """
    import numpy as np

    return int(np.random.SeedSequence([config_seed % 2**63, trials, worker]).generate_state(1)[0])


def _storage(url: str):
    import optuna
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError, ValueError) as exc:
        raise ConfigError(f"--storage {url!r} is not a database URL Optuna can open: {exc}") from None


def _run_parallel(jobs: list, scheduler=None) -> list:
    """Each job (a share of the trials) in its own process: nnlab's job runner (local processes or Dask), or joblib."""
    try:
        from ..jobs import run_jobs
    except ImportError:  # an nnlab without the job runner: joblib's local processes
        if scheduler:
            raise ConfigError("--scheduler needs nnlab.jobs (the Dask job runner), which this nnlab lacks") from None
        if len(jobs) == 1:
            return [run_worker(jobs[0])]
        from joblib import Parallel, delayed

        return Parallel(n_jobs=len(jobs))(delayed(run_worker)(job) for job in jobs)
    return run_jobs(run_worker, [(job,) for job in jobs], n_jobs=len(jobs), scheduler=scheduler)


def run_worker(job: dict) -> int:
    """Run ``job["trials"]`` trials of the shared study (in this process); returns how many ran."""
    import optuna

    from .. import tune as tuning
    from .tune_trial import TrialFailed, train_trial

    study = _study(job)
    section = TuneSection.model_validate(job["tune"])
    space = tuning.parse_space(section.space)

    def objective(trial):
        values = tuning.suggest(trial, space)
        try:
            value, pruned_at = train_trial(job["raw"], values, trial, section.metric)
        except TrialFailed as exc:
            if not job["quiet"]:
                print(f"  trial {trial.number}: failed: {exc}", flush=True)
            raise
        if not job["quiet"]:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
            outcome = f"pruned at epoch {pruned_at + 1}" if pruned_at is not None else f"{section.metric}={value:.5g}"
            print(f"  trial {trial.number}: {outcome} ({shown})", flush=True)
        if pruned_at is not None:
            raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=job["trials"], catch=(TrialFailed,))
    sys.stdout.flush()
    return job["trials"]


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)
