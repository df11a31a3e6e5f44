"""nnlab.distributed: K ranks with per-rank batch B end where one process with batch K·B ends; resume; the CLI;
validation split over the ranks, with the same figures on every rank.

The runs go through ``mpiexec -n K`` (the mpich wheel's, next to the interpreter) in subprocesses;
tests/mpi_worker.py is the training script, run in-process for the one-process reference.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.distributed.parallel import ShardedLoader, shard_bounds
from nnlab.errors import ConfigError, ModelFileError

pytest.importorskip("mpi4py")
MPIEXEC = Path(sys.executable).parent / "mpiexec"
if not MPIEXEC.exists():
    pytest.skip(f"no mpiexec next to {sys.executable} (pip install 'nnlab[mpi]')", allow_module_level=True)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import mpi_worker  # noqa: E402

# ":noise": GaussianNoise on the inputs and Dropout after the hidden layer, drawn for the global batch on every rank
CONFIGS = ["sgd:float64", "adam:float64", "sgd:float32", "adam:float32", "sgd:float64:noise", "adam:float64:noise"]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}  # float32: sums in another order, 4 epochs of 10+ steps


def _mpiexec(k, *args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", NNLAB_OPTIM_THREADS="1")
    return subprocess.run([str(MPIEXEC), "-n", str(k), sys.executable, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _weights(path):
    data = np.load(path)
    return {k: data[k] for k in data.files if k.startswith("w")}, data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every configuration on 2 and on 3 ranks (one mpiexec each), per-rank batch 8; and each rank's Dropout mask."""
    out = tmp_path_factory.mktemp("dist")
    for k in (2, 3):
        result = _mpiexec(k, HERE / "mpi_worker.py", out / f"k{k}-{{config}}.npz", "--distributed", "--batch", 8,
                          "--configs", ",".join(CONFIGS), "--masks", out / f"masks-k{k}.npz")
        assert result.returncode == 0, result.stderr
    return out


def _equals_one_process(many_path, one_path, k, dtype):
    """The run on k ranks ended with one process's weights and logged its history (training and validation)."""
    one, one_data = _weights(one_path)
    many, many_data = _weights(many_path)
    assert int(many_data["size"]) == k and int(one_data["size"]) == 1
    assert one.keys() == many.keys()
    for name in one:
        assert one[name].dtype == many[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(many[name], one[name], rtol=0, atol=TOLERANCE[dtype], err_msg=name)
    # the reduced training losses and the validation figures (each rank validates its part) are one process's
    # the history's keys (not size, weights w*, buffers b*, every rank's ranks_*): training metrics too
    history, many_history = (sorted(k for k in data.files if k != "size" and not k.startswith("ranks_")
                                    and not (k[0] in "wb" and k[1:].isdigit())) for data in (one_data, many_data))
    assert "loss" in history and "val_loss" in history and history == many_history
    for key in history:
        if "accuracy" in key or "count" in key:  # counts of rows
            np.testing.assert_array_equal(many_data[key], one_data[key], err_msg=key)
        else:
            np.testing.assert_allclose(many_data[key], one_data[key], rtol=TOLERANCE[dtype] * 10, err_msg=key)
    return one


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("config", CONFIGS)
def test_k_ranks_equal_one_process_with_k_times_the_batch(runs, tmp_path, k, config):
    optimizer, dtype, *noise = config.split(":")
    mpi_worker.main([str(tmp_path / "one.npz"), "--optimizer", optimizer, "--dtype", dtype, "--batch", str(8 * k),
                     *(["--noise"] if noise else [])])
    one = _equals_one_process(runs / f"k{k}-{config}.npz", tmp_path / "one.npz", k, dtype)
    assert not np.array_equal(one["w0"], mpi_worker.build(np.dtype(dtype)).parameters().__next__().data)


# models whose output is not one array of rows: {task: output} (two heads, a dict of losses; loss_<task> logged),
# and a (logits, hidden) pair that the loss reads, from a user's dataset class
OUTPUTS = {"multitask": ["--multitask"], "pair": ["--pair", "--metrics", "none"]}
OUTPUT_CONFIGS = ["sgd:float64", "adam:float32"]


@pytest.fixture(scope="module")
def output_runs(tmp_path_factory):
    """Each kind of output on 2 and on 3 ranks (one mpiexec each), per-rank batch 8."""
    out = tmp_path_factory.mktemp("outputs")
    for k in (2, 3):
        for kind, flags in OUTPUTS.items():
            result = _mpiexec(k, HERE / "mpi_worker.py", out / f"k{k}-{kind}-{{config}}.npz", "--distributed",
                              "--batch", 8, "--configs", ",".join(OUTPUT_CONFIGS), *flags)
            assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("kind", sorted(OUTPUTS))
@pytest.mark.parametrize("config", OUTPUT_CONFIGS)
def test_k_ranks_equal_one_process_for_outputs_that_are_no_array_of_rows(output_runs, tmp_path, k, kind, config):
    """Each rank's share of the gradient and of the logged loss is its rows of the global batch (8, 8 / 8, 8, 8
    and a last batch of 8, 8 / 3, 3, 2), whatever the model returns."""
    optimizer, dtype = config.split(":")
    mpi_worker.main([str(tmp_path / "one.npz"), "--optimizer", optimizer, "--dtype", dtype, "--batch", str(8 * k),
                     *OUTPUTS[kind]])
    _equals_one_process(output_runs / f"k{k}-{kind}-{config}.npz", tmp_path / "one.npz", k, dtype)
    if kind == "multitask":
        assert {"loss_c", "loss_s", "val_accuracy_s"} <= set(np.load(tmp_path / "one.npz").files)


@pytest.mark.parametrize("k", [2, 3])
def test_each_rank_keeps_its_own_rows_of_the_global_batch_dropout_mask(runs, k):
    saved = np.load(runs / f"masks-k{k}.npz")
    ranks = [saved[f"arr_{r}"] for r in range(k)]
    assert all(mask.shape == (4, mpi_worker.FEATURES) for mask in ranks)
    assert all(not np.array_equal(ranks[0], other) for other in ranks[1:])  # not one mask copied to every rank
    np.testing.assert_array_equal(np.concatenate(ranks), mpi_worker.masks(None, k))  # one process's, row for row


def _same_on_every_rank(data):
    """Every rank's ``val_*`` history is rank 0's, bit for bit (EarlyStopping and the rest decide alike)."""
    keys = [k for k in data.files if k.startswith("ranks_val_")]
    assert "ranks_val_loss" in keys
    for key in keys:
        for other in data[key][1:]:
            np.testing.assert_array_equal(other, data[key][0], err_msg=key)
        np.testing.assert_array_equal(data[key][0], data[key.removeprefix("ranks_")], err_msg=key)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("config", CONFIGS)
def test_each_rank_validates_its_own_uneven_part_and_all_ranks_get_the_same_figures(runs, k, config):
    data = np.load(runs / f"k{k}-{config}.npz")
    _same_on_every_rank(data)
    epochs = len(data["val_loss"])
    parts = {2: [12, 11], 3: [8, 8, 7]}[k]  # 23 validation rows
    assert data["ranks_rows"].tolist() == [rows * epochs for rows in parts]


@pytest.mark.parametrize("extra", [["--metrics", "max"], ["--val-rows", "2"]], ids=["max", "2-rows"])
def test_every_rank_validates_every_row_for_a_metric_that_is_no_sum_or_fewer_rows_than_ranks(tmp_path, extra):
    """A metric that is not a sum (a maximum) cannot be combined from parts, and 2 rows leave a rank none:
    every rank then validates all rows, as before; the figures are still one process's and the same on every rank."""
    args = ["--optimizer", "adam", *extra]
    result = _mpiexec(3, HERE / "mpi_worker.py", tmp_path / "many.npz", "--distributed", *args)
    assert result.returncode == 0, result.stderr
    mpi_worker.main([str(tmp_path / "one.npz"), "--batch", "24", *args])
    many, one = np.load(tmp_path / "many.npz"), np.load(tmp_path / "one.npz")
    _same_on_every_rank(many)
    keys = sorted(key for key in one.files if key.startswith("val_"))
    assert keys == sorted(key for key in many.files if key.startswith("val_"))
    assert len(keys) == (4 if "max" in extra else 3)  # loss, accuracy, confidence (, largest_logit)
    for key in keys:
        np.testing.assert_allclose(many[key], one[key], rtol=1e-12, err_msg=key)
    rows = int(one["ranks_rows"][0])  # one process validates every row of every epoch
    assert rows == len(one["val_loss"]) * (2 if "--val-rows" in extra else 23)
    assert many["ranks_rows"].tolist() == [rows] * 3


def test_multitask_validation_is_split_and_equals_evaluate_in_one_process(tmp_path):
    """Per-task losses and metrics (a view of the rows of a MultiTargetDataset on each rank), checked on their own:
    the last epoch's figures against ``evaluate`` of the final weights in one process."""
    result = _mpiexec(2, HERE / "mpi_worker.py", tmp_path / "many.npz", "--distributed", "--multitask")
    assert result.returncode == 0, result.stderr
    many = np.load(tmp_path / "many.npz")
    _same_on_every_rank(many)
    model = mpi_worker.build(np.float64, multitask=True)
    for i, p in enumerate(model.parameters()):
        p.data[...] = many[f"w{i}"]
    X, y = mpi_worker.data(np.float64)
    val = slice(mpi_worker.TRAIN, None)
    one = nnlab.train.evaluate(model, {"c": nnlab.losses.cross_entropy, "s": nnlab.losses.cross_entropy},
                               (X[val], {"c": y[val], "s": (X[val, 3] > 0).astype(np.int64)}))
    assert sorted(one) == ["accuracy_c", "accuracy_s", "loss", "loss_c", "loss_s"]
    for key, value in one.items():  # the last epoch's validation is of the final weights
        np.testing.assert_allclose(many[f"val_{key}"][-1], value, rtol=1e-12, err_msg=key)


def test_a_noise_layer_needs_the_batch_on_axis_0_while_a_batch_is_sharded():
    from nnlab.random import set_batch_shard

    layer = nnlab.nn.GaussianNoise(0.1, rng=0)
    set_batch_shard((6, 2, 4))  # rows [2, 4) of 6: this rank has 2 rows
    try:
        assert layer(nnlab.tensor(np.zeros((2, 3)))).shape == (2, 3)
        with pytest.raises(ConfigError, match=r"GaussianNoise .* needs the batch on axis 0.*shape \(3, 2\)"):
            layer(nnlab.tensor(np.zeros((3, 2))))
    finally:
        set_batch_shard(None)


def test_a_run_killed_and_resumed_on_two_ranks_equals_an_uninterrupted_one(runs, tmp_path):
    state, out = tmp_path / "state.safetensors", tmp_path / "resumed.npz"
    killed = _mpiexec(2, HERE / "mpi_worker.py", out, "--distributed", "--state", state, "--stop-after", 2)
    assert killed.returncode != 0 and state.exists() and not out.exists()
    with pytest.raises(ModelFileError, match=r"saved by a run on 2 process\(es\), this run has 1.*mpiexec -n 2"):
        mpi_worker.main([str(out), "--state", str(state), "--resume"])  # one process: another global batch
    resumed = _mpiexec(2, HERE / "mpi_worker.py", out, "--distributed", "--state", state, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    again, again_data = _weights(out)
    whole, whole_data = _weights(runs / "k2-sgd:float64.npz")
    for name in whole:
        np.testing.assert_array_equal(again[name], whole[name], err_msg=name)
    np.testing.assert_array_equal(again_data["loss"], whole_data["loss"])


def test_batchnorm_local_statistics_by_default_global_with_sync_batchnorm(tmp_path):
    mpi_worker.main([str(tmp_path / "one.npz"), "--optimizer", "adam", "--batch", "24", "--batchnorm"])
    one, one_data = _weights(tmp_path / "one.npz")
    for flag in ("--batchnorm", "--sync-batchnorm"):
        result = _mpiexec(3, HERE / "mpi_worker.py", tmp_path / f"{flag}.npz", "--distributed", "--optimizer", "adam",
                          flag)
        assert result.returncode == 0, result.stderr
    local, local_data = _weights(tmp_path / "--batchnorm.npz")
    synced, synced_data = _weights(tmp_path / "--sync-batchnorm.npz")
    assert max(np.abs(local[k] - one[k]).max() for k in one) > 1e-3  # each rank normalizes its own 8 rows
    for data in (local_data, synced_data):  # evaluation mode reads running statistics: the same on every rank
        buffers = [k for k in data.files if k.startswith("ranks_b")]
        assert len(buffers) == 2  # running mean and variance
        for key in buffers:
            assert all(np.array_equal(other, data[key][0]) for other in data[key][1:]), key
        _same_on_every_rank(data)
    for name in one:  # float64; BatchNorm's sums in another order, amplified by Adam's 1/sqrt(v) over 4 epochs
        np.testing.assert_allclose(synced[name], one[name], rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(synced_data["val_loss"], one_data["val_loss"], rtol=1e-10)  # running statistics too
    from nnlab.distributed import convert_sync_batchnorm, revert_sync_batchnorm

    model = convert_sync_batchnorm(mpi_worker.build(np.float64, batchnorm=True))
    nnlab.save(model, tmp_path / "model.safetensors")  # a model file (a Checkpoint's too) names plain BatchNorm
    assert type(nnlab.load(tmp_path / "model.safetensors")[1]).__name__ == "BatchNorm"
    assert type(revert_sync_batchnorm(model)[1]).__name__ == "BatchNorm"


def test_early_stopping_stops_every_rank_at_the_epoch_one_process_stops(tmp_path):
    """The reduced logs are the same on every rank, so EarlyStopping decides alike (a rank left behind would hang)."""
    args = ["--epochs", "30", "--patience", "2"]
    result = _mpiexec(3, HERE / "mpi_worker.py", tmp_path / "three.npz", "--distributed", *args)
    assert result.returncode == 0, result.stderr
    mpi_worker.main([str(tmp_path / "one.npz"), "--batch", "24", *args])
    many, many_data = _weights(tmp_path / "three.npz")
    one, one_data = _weights(tmp_path / "one.npz")
    assert len(many_data["loss"]) == len(one_data["loss"]) < 30  # stopped early, at the same epoch
    for name in one:  # the best epoch's weights, restored on every rank
        np.testing.assert_allclose(many[name], one[name], rtol=0, atol=1e-12, err_msg=name)


def test_ranks_that_start_from_different_weights_fail_loudly(tmp_path):
    result = _mpiexec(2, HERE / "mpi_worker.py", tmp_path / "x.npz", "--distributed", "--seed-per-rank")
    assert result.returncode != 0 and not (tmp_path / "x.npz").exists()
    assert "WeightDriftError" in result.stderr and "build the model from the same seed" in result.stderr


def _one_process_cli_run(config_text):
    """What `nnlab train` trains, built from the same config by the same functions, in this process (no files)."""
    import tomllib

    from nnlab.cli import build
    from nnlab.cli.callbacks import build_schedule_callbacks
    from nnlab.cli.config import parse_config

    cfg = parse_config(tomllib.loads(config_text))
    nnlab.seed(cfg.seed)
    splits = build.prepare_data(cfg)
    model = build.build_model(cfg, splits.num_features, splits.num_classes)
    train_data, augment = build.training_data(cfg, splits)
    nnlab.train.fit(model, build.build_loss(cfg, splits.num_classes, model), build.build_optimizer(cfg, model),
                    train_data, splits.prepared(splits.val), epochs=cfg.train.epochs, batch_size=cfg.train.batch_size,
                    callbacks=build_schedule_callbacks(cfg, True), seed=cfg.seed, augment=augment, verbose=0)
    return model


def test_mpiexec_nnlab_train_equals_one_process_and_only_rank_0_writes(tmp_path):
    config = ('seed = 0\n[model]\nhidden = [16]\n[train]\nepochs = 2\nbatch_size = {batch}\ntensorboard = {board}\n'
              '[schedule]\nlr_scaling = "linear"\nbase_batch_size = 16\nwarmup_epochs = 1\n')
    (tmp_path / "ranks.toml").write_text(config.format(batch=16, board="true"))
    result = _mpiexec(2, "-m", "nnlab.cli", "train", "ranks.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("test accuracy:") == 1  # rank 0 reports; the other rank is silent
    ranks = nnlab.load(tmp_path / "runs" / "ranks" / "model.safetensors")
    one = _one_process_cli_run(config.format(batch=32, board="false"))
    for a, b in zip(ranks.parameters(), one.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-5)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["ranks"]
    from tensorboard.backend.event_processing import event_accumulator

    board = event_accumulator.EventAccumulator(str(tmp_path / "runs" / "ranks" / "tensorboard"),
                                               size_guidance={"scalars": 0})
    board.Reload()
    assert [e.step for e in board.Scalars("train/loss")] == [0, 1]
    with open(tmp_path / "runs" / "ranks" / "history.csv", newline="") as f:
        rates = [float(row["lr"]) for row in csv.DictReader(f)]
    # Goyal on the global batch of 2 x 16: 1e-3 * 32 / 16, ramped from half over epoch 1's 40 steps
    # (1257 rows / 32); the log holds each epoch's last rate
    assert rates == pytest.approx([2e-3 * (0.5 + 0.5 * 39 / 40), 2e-3])


# BatchNorm synchronized by the config key, Dropout and input noise drawing per batch, a checkpoint every epoch;
# SGD: Adam would turn the rounding noise of the bias before BatchNorm (its gradient is 0) into lr-sized steps
CLI_CONFIG = ('seed = 0\n[data]\nsource = "moons"\nn = 200\n[model]\nhidden = [8]\nbatch_norm = true\n'
              'dropout_keep = 0.8\ninput_noise_std = 0.1\n[train]\nepochs = 3\nbatch_size = {batch}\n'
              'sync_batchnorm = true\n[optimizer]\nname = "sgd"\nlr = 0.1\nmomentum = 0.9\n')


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """`mpiexec -n 2 nnlab train` uninterrupted ("whole"), and killed after epoch 2 then resumed ("r")."""
    cwd = tmp_path_factory.mktemp("cli")
    (cwd / "r.toml").write_text(CLI_CONFIG.format(batch=8))
    whole = _mpiexec(2, "-m", "nnlab.cli", "train", "r.toml", "--quiet", "--name", "whole", cwd=cwd)
    assert whole.returncode == 0, whole.stderr
    killed = _mpiexec(2, HERE / "mpi_worker.py", "--cli-killed-after", 1, "train", "r.toml", "--quiet", cwd=cwd)
    run = cwd / "runs" / "r"
    assert killed.returncode != 0 and (run / "resume.safetensors").exists() and not (run / "model.safetensors").exists()
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2  # the header and epochs 1, 2
    resumed = _mpiexec(2, "-m", "nnlab.cli", "train", "r.toml", "--quiet", "--resume", cwd=cwd)
    assert resumed.returncode == 0, resumed.stderr
    return cwd / "runs"


def test_mpiexec_nnlab_train_killed_and_resumed_equals_an_uninterrupted_run(cli_runs):
    got, want = (nnlab.load(cli_runs / name / "model.safetensors").state_dict() for name in ("r", "whole"))
    assert list(got) == list(want) and any("running_mean" in key for key in want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert (cli_runs / "r" / "history.csv").read_bytes() == (cli_runs / "whole" / "history.csv").read_bytes()
    assert sorted(p.name for p in (cli_runs / "r").iterdir()) == sorted(p.name for p in (cli_runs / "whole").iterdir())


def test_sync_batchnorm_key_makes_two_ranks_equal_one_process_with_the_doubled_batch(cli_runs):
    ranks = nnlab.load(cli_runs / "whole" / "model.safetensors")
    assert "BatchNorm" in [type(m).__name__ for m in ranks.modules()]  # saved as the plain layer
    one = _one_process_cli_run(CLI_CONFIG.format(batch=16))
    for (name, a), b in zip(ranks.state_dict().items(), one.state_dict().values()):  # running statistics too
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=name)  # float32, sums in another order


def test_sync_batchnorm_key_needs_batchnorm_layers():
    import tomllib

    from nnlab.cli import build
    from nnlab.cli.config import parse_config

    cfg = parse_config(tomllib.loads(CLI_CONFIG.format(batch=8).replace("batch_norm = true", "batch_norm = false")))
    with pytest.raises(ConfigError, match="train.sync_batchnorm = true synchronizes BatchNorm layers, but the model"):
        build.build_model(cfg, 2, 2)


class _Comm:
    def __init__(self, size, rank):
        self.size, self.rank = size, rank


def test_on_other_ranks_every_file_writer_is_skipped_tensorboard_included(tmp_path):
    from nnlab.distributed import comm as C
    from nnlab.distributed.parallel import DataParallel, _Skipped
    from nnlab.train import Checkpoint, MetricsLogger, TensorBoard

    class Rank1:  # what DataParallel asks of a communicator here
        def Get_size(self):
            return 2

        def Get_rank(self):
            return 1

    try:
        parallel = DataParallel(Rank1())
        writers = [TensorBoard(tmp_path / "tb"), Checkpoint(tmp_path / "c.safetensors"), MetricsLogger(tmp_path / "h.csv")]
        _, _, callbacks, _ = parallel.wrap(None, lambda out, y: None, nnlab.optim.SGD([nnlab.tensor([1.0],
                                           requires_grad=True)], lr=0.1), writers, verbose=0)
    finally:
        C.shutdown()
    assert [type(cb).__name__ for cb in callbacks[1:]] == ["_Skipped"] * 3
    assert [cb.replaced for cb in callbacks[1:] if isinstance(cb, _Skipped)] == ["TensorBoard", "Checkpoint",
                                                                                  "MetricsLogger"]


def test_shards_split_each_global_batch_of_one_shared_order():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    single = [yb.tolist() for _, yb in nnlab.data.DataLoader((X, y), batch_size=6, rng=4)]
    shards = [[yb.tolist() for _, yb in ShardedLoader((X, y), 2, 3, r, rng=4)] for r in range(3)]
    for step, batch in enumerate(single):
        assert sum((s[step] for s in shards), []) == batch  # disjoint, in order, together the global batch
    assert [len(s[-1]) for s in shards] == [2, 1, 1]  # the last global batch of 4 rows: uneven, none empty
    assert shard_bounds(4, 3, 2) == (3, 4)
    with pytest.raises(ConfigError, match="last batch of 2 rows, fewer than the ranks"):
        ShardedLoader((X[:8], y[:8]), 2, 3, 0)
