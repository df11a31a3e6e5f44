"""The allocator tuning: applied on glibc by fit (not by import), once per process, and can be switched off."""

import os
import subprocess
import sys

import pytest

from nnlab._malloc import tune_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuning_applies_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert tune_allocator() is True


def test_environment_switch_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("NNLAB_MALLOC_TUNING", "0")
    assert tune_allocator() is False


# In a fresh process: after `import nnlab` the tuning code has not even been loaded; the
# first fit tunes once (the result printed), and the switch still works through fit.
PROGRAM = """
import sys
import numpy as np
import nnlab
print("loaded at import:", "nnlab._malloc" in sys.modules)
model = nnlab.nn.Sequential(nnlab.nn.Linear(2, 2))
data = (np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]))
for _ in range(2):
    nnlab.train.fit(model, nnlab.losses.cross_entropy, nnlab.optim.SGD(model.parameters(), lr=0.1), data,
                    epochs=1, verbose=0)
print("tuned by fit:", sys.modules["nnlab._malloc"]._tuned)
"""


@pytest.mark.parametrize("switch", ["1", "0"])
def test_import_leaves_the_allocator_alone_and_fit_tunes_it(switch):
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = {**os.environ, "PYTHONPATH": src, "NNLAB_MALLOC_TUNING": switch}
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True).stdout
    assert "loaded at import: False" in out
    expected = switch == "1" and sys.platform.startswith("linux") and tune_allocator()
    assert f"tuned by fit: {expected}" in out
