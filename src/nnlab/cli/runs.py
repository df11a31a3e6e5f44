"""Run folders: one run per folder, never mixed with another run's files.

``runs/NAME/`` holds what one ``nnlab train`` wrote: ``config.json`` (first,
so a killed run is still recognizable), checkpoints, the metrics log, the
model file and the plot.  Re-using a name is refused unless ``--overwrite``
(which removes only files nnlab writes) or ``--resume``; each start removes the
temporary files a killed writer left behind.  ``evaluate`` checks that the
files of a folder were written by one run (the same stored config).
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import io as model_io
from ..errors import ConfigError, ModelFileError

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CHECKPOINTS = ("checkpoint.safetensors", "checkpoint-last.safetensors")
STATE_FILE = "resume.safetensors"  # the training state --resume continues from (see resume.py)
# The pictures and page of run_report.py, and the files of pretraining and bagging (techniques.py).
REPORT_FILES = ("curves.png", "diagnostics.png", "gradient_norms.png", "confusion_matrix.png", "decision_surface.png",
                "weights.png", "report.html", "pretrain_curves.png", "members.csv", "member_curves.png",
                "member_accuracy.png")
RUN_FILES = (MODEL_FILE, CONFIG_FILE, *CHECKPOINTS, STATE_FILE, "history.csv", "history.jsonl", *REPORT_FILES)
# Where the run lives, not what it trains: a moved run folder can still be resumed, and is still one run.
PLACE_KEYS = ("runs_dir", "name")


def run_folder(runs_dir: str, name: str, *, overwrite: bool = False, resume: bool = False) -> Path:
    """The folder for run ``name``, made ready: created, refused when in use, or cleared with ``overwrite``."""
    runs = Path(runs_dir)
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"the runs folder {str(runs)!r} is a file; pass --runs-dir FOLDER or set runs_dir")
    run_dir = runs / name
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is a file, not a run folder; choose another --name")
    run_dir.mkdir(parents=True, exist_ok=True)
    model_io.remove_temporaries(run_dir)
    present = sorted(p.name for p in run_dir.iterdir())
    if not present or resume:
        return run_dir
    if not overwrite:
        raise ConfigError(
            f"run {name!r} already exists ({run_dir}/ holds {', '.join(present[:5])}"
            f"{', ...' if len(present) > 5 else ''}); pass --overwrite to replace it, --resume to continue it, "
            "or --name to choose another name"
        )
    foreign = [n for n in present if n not in RUN_FILES]
    if foreign:
        raise ConfigError(
            f"--overwrite removes only the files nnlab writes, but {run_dir}/ also holds "
            f"{', '.join(foreign[:5])}; choose another --name or move them away"
        )
    for n in present:
        (run_dir / n).unlink()
    return run_dir


def stored_config(path: Path):
    """The run config a model or checkpoint file stores (its metadata's ``config``), or None."""
    return (model_io.read_metadata(path).get("metadata") or {}).get("config")


def check_one_run(run_dir: Path) -> None:
    """Refuse a folder whose config.json, model and checkpoints were not all written by one run."""
    files = [run_dir / n for n in (MODEL_FILE, *CHECKPOINTS) if (run_dir / n).exists()]
    configs = {}
    config_file = run_dir / CONFIG_FILE
    if config_file.exists():
        try:
            configs[CONFIG_FILE] = json.loads(config_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelFileError(f"{config_file} is not valid JSON; the run folder is damaged") from None
    for path in files:
        configs[path.name] = stored_config(path)
    # A checkpoint written before the folder was moved and resumed names the old place; the rest is one run.
    distinct = {json.dumps({k: v for k, v in c.items() if k not in PLACE_KEYS} if isinstance(c, dict) else c,
                           sort_keys=True) for c in configs.values()}
    if len(distinct) > 1:
        raise ModelFileError(
            f"the files in {run_dir}/ belong to different runs ({', '.join(configs)} store different configs); "
            "train again with --overwrite, or evaluate one model file by its path"
        )
