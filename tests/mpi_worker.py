"""Run by tests/test_distributed.py under ``mpiexec -n K`` (and in-process for the one-process reference).

    python tests/mpi_worker.py OUT.npz --optimizer sgd|adam --dtype float64|float32 --batch B --epochs E
        [--distributed] [--state STATE] [--resume] [--stop-after EPOCH] [--batchnorm | --sync-batchnorm] [--seed-per-rank]
        [--configs sgd:float64,adam:float32:noise,...]   (OUT then names each file with {config}) [--patience P]
        [--noise] (GaussianNoise on the inputs, Dropout after the hidden layer) [--masks MASKS.npz]
        [--metrics summed|max|counts|none] [--val-rows V] [--multitask | --pair] [--sparse]

Rank 0 writes the final weights, buffers and the history (all but ``lr``) to OUT.npz, and every rank's
``val_*`` histories (``ranks_val_*``), buffers (``ranks_b*``) and validated row counts (``ranks_rows``).

    python tests/mpi_worker.py --cli-killed-after EPOCH train CONFIG ...   (`nnlab train`, killed after EPOCH)
"""

import argparse
import os
import sys

import numpy as np

import nnlab
from nnlab import losses, nn, optim
from nnlab.distributed.parallel import ShardedLoader
from nnlab.train import Callback, EarlyStopping, TrainingState, fit
from nnlab.train.metrics import Metric

# 80 training rows: with 3 ranks and batches of 8, the last global batch has 8 rows (3, 3, 2);
# 23 validation rows by default: uneven parts on 2 ranks (12, 11) and on 3 (8, 8, 7)
N, FEATURES, CLASSES, TRAIN = 103, 5, 3, 80


def data(dtype):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, FEATURES)).astype(dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


class WithHidden(nn.Module):
    """A model whose output is no array of rows: the pair (logits, hidden activations), for a loss reading both."""

    def __init__(self, trunk, head):
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, x):
        h = self.trunk(x)
        return self.head(h), h


def pair_loss(output, target):
    """Cross-entropy of the logits plus a small penalty on the mean squared hidden activation."""
    logits, hidden = output
    return losses.cross_entropy(logits, target) + (hidden * hidden).mean() * 0.1


class Rows:
    """A user's own dataset class: fit reads it as it is (no probe of the model's output, which a pair has not)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], self.y[index]


def build(dtype, batchnorm=False, seed=0, noise=False, multitask=False, pair=False, sparse=False):
    nnlab.seed(seed)
    layers = [nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, CLASSES)]
    if sparse:  # the sparse autoencoders' KL penalty on the mean activation over the batch (and an L1 one)
        layers[1:2] = [nn.Sigmoid(), nn.ActivityRegularization(l1=0.01, kl_target=0.2, kl_weight=0.5)]
    if batchnorm:
        layers.insert(1, nn.BatchNorm(16))
    if noise:  # GaussianNoise with its own generator, Dropout drawing from the global one
        layers = [nn.GaussianNoise(0.3, rng=5), *layers[:-1], nn.Dropout(keep=0.7), layers[-1]]
    if multitask:  # heads "c" (the classes) and "s" (the sign of X[:, 3]) on the hidden layer
        return nn.MultiHead(nn.Sequential(*layers[:-1]), {"c": layers[-1], "s": nn.Linear(16, 2)}).astype(dtype)
    if pair:
        return WithHidden(nn.Sequential(*layers[:-1]), layers[-1]).astype(dtype)
    return nn.Sequential(*layers).astype(dtype)


VALIDATED = []  # the rows each validation batch had on this rank


def confidence(output, target):
    """The mean largest softmax probability: a mean over rows (so it adds up over parts); counts validated rows."""
    if not nnlab.is_grad_enabled():  # validation (fit trains with the graph on)
        VALIDATED.append(len(output))
    p = np.exp(output - output.max(axis=1, keepdims=True))
    return float((p.max(axis=1) / p.sum(axis=1)).mean())


class LargestLogit(Metric):
    """The largest output over all rows: a maximum, not a sum, so it has no totals (every rank validates it all)."""

    name = "largest_logit"

    def reset(self):
        self.largest = -np.inf

    def update(self, output, target):
        self.largest = max(self.largest, float(output.max()))

    def result(self):
        return self.largest


class FirstClassCount(Metric):
    """How many rows are predicted as class 0: a count, not a mean (its totals add up, its results do not average)."""

    name = "first_class_count"

    def reset(self):
        self.count = 0

    def update(self, output, target):
        self.count += int(np.count_nonzero(output.argmax(axis=1) == 0))

    def result(self):
        return float(self.count)

    def totals(self):
        return [self.count]

    def set_totals(self, totals):
        self.count = int(totals[0])


METRICS = {"summed": ("accuracy", confidence), "max": ("accuracy", confidence, LargestLogit()),
           "counts": (FirstClassCount(), LargestLogit()), "none": None}


def masks(comm, world, per_rank=4):
    """Dropout's mask (True: kept) for this rank's rows of the first global batch of ``world × per_rank`` rows
    (comm None: the whole batch, as one process with that batch draws it)."""
    nnlab.seed(1)
    layer = nn.Dropout(keep=0.5)
    X = np.ones((N, FEATURES))
    if comm is None:
        loader = nnlab.data.DataLoader(X, world * per_rank, shuffle=False)
    else:
        loader = ShardedLoader(X, per_rank, world, comm.Get_rank(), shuffle=False)
    batches = iter(loader)  # kept open: a ShardedLoader shards the draws only while its batch is out
    X_batch, _ = next(batches)
    kept = layer(nnlab.tensor(X_batch)).numpy() != 0
    batches.close()
    return kept


class Crash(Callback):
    """Kill the process (no clean-up, like SIGKILL) at the end of epoch ``after``, before that epoch is saved.

    ``after`` is a class attribute: a TrainingState saves instance attributes, and the resumed run must not crash.
    """

    after = -1

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after:
            os._exit(3)


def train(args, comm=None):
    dtype = np.dtype(args.dtype)
    model = build(dtype, args.batchnorm or args.sync_batchnorm, seed=comm.Get_rank() if args.seed_per_rank else 0,
                  noise=args.noise, multitask=args.multitask, pair=args.pair, sparse=args.sparse)
    if args.sync_batchnorm:
        from nnlab.distributed import convert_sync_batchnorm

        convert_sync_batchnorm(model)
    settings = {"lr": 0.1, "momentum": 0.9} if args.optimizer == "sgd" else {"lr": 0.01}
    opt = optim.get(args.optimizer, model.parameters(), **settings)
    X, y = data(dtype)
    loss = losses.cross_entropy
    if args.multitask:
        y = {"c": y, "s": (X[:, 3] > 0).astype(np.int64)}
        loss = {"c": losses.cross_entropy, "s": losses.cross_entropy}
    rows = [slice(None, TRAIN), slice(TRAIN, TRAIN + args.val_rows)]
    train_data, val_data = ((X[r], {t: v[r] for t, v in y.items()} if args.multitask else y[r]) for r in rows)
    if args.pair:
        loss, train_data, val_data = pair_loss, Rows(*train_data), Rows(*val_data)
    callbacks = [EarlyStopping(monitor="val_loss", patience=args.patience)]
    if args.state:
        callbacks.append(TrainingState(args.state))
    # after TrainingState, so the epoch is on disk when it dies; in every run, so the resumed one has as many callbacks
    Crash.after = -1 if args.stop_after is None else args.stop_after
    callbacks.append(Crash())
    VALIDATED.clear()
    history = fit(model, loss, opt, train_data, val_data, epochs=args.epochs, batch_size=args.batch, seed=3, verbose=0,
                  callbacks=callbacks, metrics=METRICS[args.metrics], resume_from=args.state if args.resume else None,
                  distributed=comm if args.distributed else False)
    weights = {f"w{i}": p.data for i, p in enumerate(model.parameters())}
    weights.update({f"b{i}": b for i, b in enumerate(model.buffers())})
    logs = {k: np.array(v) for k, v in history.history.items() if k != "lr"}
    return weights, logs


def cli_killed_after(argv):
    """``--cli-killed-after EPOCH ARGS...``: ``nnlab ARGS...`` that dies (os._exit, like SIGKILL) right after rank 0
    wrote the training state of (0-based) epoch EPOCH; mpiexec then ends the other ranks."""
    from nnlab.cli import main as nnlab_main
    from nnlab.train import resume

    after, save = int(argv[0]), resume.save_state

    def save_then_die(path, loop, optimizer, epoch):
        save(path, loop, optimizer, epoch)
        if epoch == after:
            os._exit(3)

    resume.save_state = save_then_die
    return nnlab_main(argv[1:])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--cli-killed-after"]:
        return cli_killed_after(argv[1:])
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--state")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--stop-after", type=int)
    parser.add_argument("--batchnorm", action="store_true")
    parser.add_argument("--sync-batchnorm", action="store_true")
    parser.add_argument("--seed-per-rank", action="store_true", help="a wrong run: each rank its own seed")
    parser.add_argument("--configs", help="several optimizer:dtype runs in one launch")
    parser.add_argument("--patience", type=int, default=50, help="EarlyStopping on val_loss")
    parser.add_argument("--noise", action="store_true")
    parser.add_argument("--masks", help="write every rank's first Dropout mask here")
    parser.add_argument("--metrics", choices=sorted(METRICS), default="summed")
    parser.add_argument("--val-rows", type=int, default=N - TRAIN, help="validate on rows [80, 80 + V)")
    parser.add_argument("--multitask", action="store_true", help="two heads, a dict of losses")
    parser.add_argument("--pair", action="store_true", help="a model returning (logits, hidden); use --metrics none")
    parser.add_argument("--sparse", action="store_true", help="a sigmoid layer under a KL (and L1) activity penalty")
    args = parser.parse_args(argv)
    comm = None
    if args.distributed:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    if args.masks:
        every = comm.gather(masks(comm, comm.Get_size()), root=0)  # a test's few bytes: pickled
        if comm.Get_rank() == 0:
            np.savez(args.masks, *every)
    configs = args.configs.split(",") if args.configs else [f"{args.optimizer}:{args.dtype}" + ":noise" * args.noise]
    out = args.out
    for config in configs:
        args.optimizer, args.dtype, *extra = config.split(":")
        args.noise = extra == ["noise"]
        weights, logs = train(args, comm)
        mine = {**{k: v for k, v in logs.items() if k.startswith("val_")},
                **{k: v for k, v in weights.items() if k.startswith("b")}, "rows": np.array(sum(VALIDATED))}
        every = [mine] if comm is None else comm.gather(mine, root=0)  # a test's few bytes: pickled
        if comm is None or comm.Get_rank() == 0:
            size = 1 if comm is None else comm.Get_size()
            ranks = {f"ranks_{k}": np.stack([r[k] for r in every]) for k in mine}
            np.savez(out.replace("{config}", config), size=size, **logs, **weights, **ranks)


if __name__ == "__main__":
    sys.exit(main())
