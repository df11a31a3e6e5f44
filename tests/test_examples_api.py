"""The PyTorch-style and Keras-style example scripts run as they are and print their test accuracy."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")  # both load scikit-learn's digits

ROOT = Path(__file__).parent.parent


def run_example(name: str, cwd) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def accuracy(stdout: str) -> float:
    found = re.findall(r"^test accuracy (\d\.\d{4})", stdout, flags=re.MULTILINE)
    assert len(found) == 1, stdout
    return float(found[0])


def test_pytorch_style_script_trains_hooks_and_reloads(tmp_path):
    out = run_example("pytorch_style_digits.py", tmp_path)
    assert accuracy(out) > 0.95
    assert re.search(r"hidden ReLU on the last test batch: mean \d+\.\d{4}, dead units \d+\.\d%", out), out
    assert "reloaded model: same predictions on 359 test rows" in out
    assert list(tmp_path.iterdir()) == []  # the model file went to a temporary folder


def test_keras_style_script_prints_every_5th_epoch_and_per_class_recall(tmp_path):
    out = run_example("keras_style_digits.py", tmp_path)
    assert accuracy(out) > 0.90
    epochs = [int(e) for e in re.findall(r"\[class_weight\] epoch +(\d+)", out)]
    assert epochs and all(e % 5 == 0 for e in epochs), out
    assert len(re.findall(r"^ +\d +\d+ +\d\.\d{4} +\d\.\d{4}", out, flags=re.MULTILINE)) == 10, out
    assert "EarlyStopping" in out and "mean recall on the rare digits" in out
