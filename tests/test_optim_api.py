"""The optimizer's public settings API: the learning-rate setter, scale_lr, set_momentum."""

import math

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.optim import SGD, Adam, LineSearch


def two_groups(cls=SGD, **kw):
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    b = nnlab.tensor([3.0], requires_grad=True)
    return cls([{"params": [a]}, {"params": [b], "lr": 0.2}], lr=0.1, **kw)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, -0.1, "0.1", True, None])
def test_lr_setter_refuses_non_finite_negative_and_non_numbers_and_changes_nothing(bad):
    opt = two_groups()
    with pytest.raises(ConfigError, match=r"SGD: lr must be a finite number >= 0, got"):
        opt.lr = bad
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]


def test_lr_setter_sets_every_group_as_a_python_float():
    opt = two_groups()
    opt.lr = np.float32(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]
    assert all(type(g["lr"]) is float for g in opt.param_groups)
    opt.lr = 0
    assert opt.lr == 0.0


def test_scale_lr_keeps_ratios_and_floors_without_raising_a_rate():
    opt = two_groups()
    opt.scale_lr(0.5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.1])
    opt.scale_lr(0.5, min_lr=0.06)  # 0.05 is already below the floor: kept; 0.1 -> 0.05 is floored at 0.06
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.06])
    for bad in (math.nan, -1.0, math.inf):
        with pytest.raises(ConfigError, match="factor"):
            opt.scale_lr(bad)
    with pytest.raises(ConfigError, match="min_lr"):
        opt.scale_lr(0.5, min_lr=-1.0)


def test_set_momentum_sets_every_group_and_validates():
    opt = two_groups(momentum=0.5)
    opt.set_momentum(0.9)
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    for bad in (1.0, -0.1, math.nan):
        with pytest.raises(ConfigError, match="momentum"):
            opt.set_momentum(bad)
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    with pytest.raises(ConfigError, match="Adam has no 'momentum'"):
        Adam([nnlab.tensor([1.0], requires_grad=True)]).set_momentum(0.9)


def test_line_search_refuses_both_learning_rate_writers():
    opt = LineSearch([nnlab.tensor([1.0], requires_grad=True)], candidates=(0.1,))
    with pytest.raises(ConfigError, match="candidates"):
        opt.lr = 0.1
    with pytest.raises(ConfigError, match="candidates"):
        opt.scale_lr(0.5)
