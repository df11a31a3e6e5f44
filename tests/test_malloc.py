"""The allocator tuning is applied on glibc and can be switched off."""

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
