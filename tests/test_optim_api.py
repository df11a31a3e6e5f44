"""optim's public API around the rules: lr setter, scale_lr, set_momentum, grad_buffers, the registries,
which parameters are weights, the lr_search alias, and the import graph (optim never imports train)."""

import ast
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab import nn, optim
from nnlab.errors import ConfigError
from optim_helpers import lives_in
from nnlab.optim import SGD, Adam, LineSearch, clip_grad_norm, schedules


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


# ---------------------------------------------------------------- gradient buffers and clipping
def test_grad_buffers_are_the_flat_buffers_and_leave_out_missing_gradients():
    a = nnlab.tensor(np.ones((2, 3)), requires_grad=True)
    b = nnlab.tensor(np.ones(3), requires_grad=True)
    c = nnlab.tensor(np.ones(3), requires_grad=True, dtype=np.float64)  # its own buffer: another dtype
    opt = SGD([a, b, c], lr=0.1)
    ((a * 2.0).sum() + (b * 3.0).sum() + (c * 4.0).sum()).backward()
    buffers = opt.grad_buffers()
    assert len(buffers) == 2 and sorted(buf.size for buf in buffers) == [3, 9]
    f32 = next(buf for buf in buffers if buf.dtype == np.float32)
    assert lives_in(a.grad, f32) and lives_in(b.grad, f32)  # the parameters' .grad lives in it
    np.testing.assert_array_equal(f32, [2.0] * 6 + [3.0] * 3)
    b.grad = None
    assert [buf.size for buf in opt.grad_buffers()[:1]] == [6]  # the group's gradients one by one, b left out


def test_clipping_an_optimizer_clips_all_its_gradients_like_the_parameter_list():
    def setup():
        rng = np.random.default_rng(0)
        params = [nnlab.tensor(rng.standard_normal(s), requires_grad=True) for s in ((4, 3), (3,))]
        opt = SGD(params, lr=0.1)
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(np.float32) * 10
        return params, opt

    params, opt = setup()
    norm = clip_grad_norm(opt, 1.0)
    theirs, _ = setup()
    assert norm == pytest.approx(clip_grad_norm(theirs, 1.0), rel=1e-6) and norm > 1.0  # one dot vs one per array
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-6)
    assert float(np.sqrt(sum((p.grad.astype(np.float64) ** 2).sum() for p in params))) == pytest.approx(1.0, rel=1e-5)


def test_views_of_a_users_own_array_count_as_one_block_only_when_they_tile_it():
    from nnlab.optim.clip import _grad_blocks

    base = np.arange(6, dtype=np.float32)
    a, b = nnlab.tensor([0.0] * 3, requires_grad=True), nnlab.tensor([0.0] * 3, requires_grad=True)
    a.grad, b.grad = base[:3], base[3:]
    assert [blk is base for blk in _grad_blocks([a, b])] == [True]
    b.grad = base[:3]  # overlapping views: never the whole array
    assert len(_grad_blocks([a, b])) == 2


# ---------------------------------------------------------------- registries
def test_optim_get_builds_every_registered_optimizer_by_name():
    assert optim.names() == ("sgd", "adagrad", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam", "adadelta",
                             "line_search", "rprop", "asgd")
    for name in optim.names():
        w = nnlab.tensor([1.0, 2.0], requires_grad=True)
        opt = optim.get(name, [w], weight_decay=0.0)
        assert type(opt) is optim.registry.OPTIMIZERS[name] and "weight_decay" in optim.settings(name)
    assert optim.get("sgd", [w], lr=0.3, momentum=0.5).param_groups[0]["momentum"] == 0.5
    with pytest.raises(ConfigError, match="optimizer must be one of 'sgd'.*got 'sgdd'"):
        optim.get("sgdd", [w])
    with pytest.raises(ConfigError, match=r"'adam': unknown setting\(s\) \['momentum'\]"):
        optim.get("adam", [w], momentum=0.9)
    assert "line_search" not in optim.names(with_setting="lr")


def test_schedule_registry_builds_the_same_schedules_as_the_factories():
    assert schedules.names("lr") == ("constant", "step_decay", "exponential_decay", "inverse_time_decay",
                                     "cosine_decay")
    assert set(schedules.names()) == {*schedules.names("lr"), "warmup", "momentum_schedule", "delayed_start"}
    built = schedules.get("cosine_decay", 0.1, total=10, final=0.01)
    direct = schedules.cosine_decay(0.1, total=10, final=0.01)
    assert repr(built) == repr(direct) and [built(t) for t in range(12)] == [direct(t) for t in range(12)]
    assert schedules.settings("step_decay") == ("factor", "every")
    with pytest.raises(ConfigError, match="schedule must be one of"):
        schedules.get("linear")
    with pytest.raises(ConfigError, match="'step_decay'.*unexpected keyword"):
        schedules.get("step_decay", 0.1, k=2)


def test_config_choices_come_from_the_registries():
    from nnlab.cli.config import OptimizerConfig, ScheduleConfig

    assert OptimizerConfig.model_fields["name"].annotation.__args__ == optim.names()
    assert ScheduleConfig.model_fields["name"].annotation.__args__[:-2] == schedules.names("lr")


# ---------------------------------------------------------------- which parameters are weights
def test_weight_parameters_and_decay_groups_follow_the_one_rule():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm(4), nn.PReLU(), nn.Maxout(4, 2, pieces=2))
    weights = list(model.weight_parameters())
    assert [p.shape for p in weights] == [(3, 4), (4, 4)]
    assert all(nn.is_weight(p) for p in weights) and not any(nn.is_weight(p) for p in model.parameters()
                                                             if all(p is not w for w in weights))
    groups = optim.weight_decay_groups(model, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert [p.shape for p in groups[0]["params"]] == [(3, 4), (4, 4)] and len(groups[1]["params"]) == 5
    penalty = nnlab.losses.l2_penalty(model, 1.0).item()
    assert penalty == pytest.approx(0.5 * sum(float((p.data.astype(np.float64) ** 2).sum()) for p in weights))


@pytest.mark.parametrize("name", ["sgd", "adam", "line_search"])
def test_every_optimizer_the_cli_builds_decays_weights_only(name):
    from nnlab.cli.build import build_model, build_optimizer
    from nnlab.cli.config import RunConfig

    cfg = RunConfig.model_validate({"optimizer": {"name": name, "weight_decay": 0.01},
                                    "model": {"hidden": [4], "batch_norm": True}})
    model = build_model(cfg, 3, 2)
    opt = build_optimizer(cfg, model)
    assert type(opt) is optim.registry.OPTIMIZERS[name]
    decayed = [p for g in opt.param_groups if g["weight_decay"] for p in g["params"]]
    assert sorted(p.shape for p in decayed) == sorted(p.shape for p in model.weight_parameters())


# ---------------------------------------------------------------- lr_search alias and the import graph
def test_optim_lr_search_is_the_training_packages_function():
    from nnlab.train import lr_search

    assert optim.lr_search is lr_search
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    result = optim.lr_search(lambda: nn.Linear(2, 2), (X, y), (X, y), nnlab.losses.cross_entropy,
                             optimizer="adam", coarse=(1e-3, 1e-1), epochs=1, refine=False)
    assert result.best_lr in (1e-3, 1e-1) and len(result.trials) == 2
    with pytest.raises(AttributeError):
        optim.no_such_name


SRC = pathlib.Path(nnlab.__file__).parent


def test_optim_modules_never_import_the_training_package():
    # At module level no optim file names train; the one lazy reference is the lr_search alias in __init__.
    for path in sorted((SRC / "optim").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                names = [a.name for a in node.names]
                reaches_train = target.lstrip(".").split(".")[0] == "train" or (
                    target.startswith("nnlab.train")) or (target in ("..", "nnlab") and "train" in names)
            elif isinstance(node, ast.Import):
                reaches_train = any(a.name.startswith("nnlab.train") for a in node.names)
            else:
                continue
            if reaches_train:
                assert path.name == "__init__.py" and node not in tree.body, f"{path.name} imports train"
    # and at run time: nnlab.optim loaded without the package root (which imports everything) pulls in no train
    code = ("import sys, types; pkg = types.ModuleType('nnlab'); pkg.__path__ = [sys.argv[1]]; "
            "sys.modules['nnlab'] = pkg; import nnlab.optim; "
            "print(sorted(m for m in sys.modules if m.startswith('nnlab.train')))")
    out = subprocess.run([sys.executable, "-c", code, str(SRC)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
