"""Bagging: an ensemble of networks, each trained on its own bootstrap sample, that votes.

The notes (regularization, "Bagging"): "Combine the output of different models
to reduce generalization error.  The models can correspond to different
classifiers.  It could be different instances of the same classifier trained
with: different hyperparameters, different features, different samples of the
training data.  From a given dataset, construct multiple training sets by
sampling with replacement (T_1, T_2, …, T_k).  Train i-th instance of the
classifier using training set T_i."  And: "Typically model averaging (bagging
ensemble) always helps."

:class:`Bagging` trains the members — in parallel processes through joblib —
and gives an :class:`Ensemble`, an ``nn.Module`` that combines them, so one
model file (``nnlab.save``) holds every member and ``nnlab evaluate``,
``predict`` and ``info`` use it like any model.  Every member's randomness (its
bootstrap sample, features, initial weights, shuffling) comes from its own seed,
spawned from ``seed`` by ``numpy.random.SeedSequence``, never from the worker
that runs it: the ensemble is bit-identical whatever ``n_jobs`` is or whichever
joblib backend runs the jobs (``joblib.parallel_config(backend=...)``).

>>> import numpy as np
>>> from nnlab import nn
>>> X = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(np.int64)
>>> bag = Bagging(lambda m: nn.Sequential(nn.Linear(m.num_features, 2, rng=m.seed)), n_models=3,
...               epochs=2, lr=0.1, n_jobs=1, seed=0).fit(X, y)
>>> bag.predict(X).shape, len(bag.model.members), 0.0 <= bag.oob_score <= 1.0
((60,), 3, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import nn
from ._checks import check_choice, check_float, check_int
from .errors import ConfigError, DataError
from .tensor import Tensor, as_tensor

__all__ = ["Bagging", "Ensemble", "Member", "VOTING"]

VOTING = ("soft", "hard", "mean")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@nn.register
class Ensemble(nn.Module):
    """Members combined: ``"soft"`` voting averages their class probabilities, p̄ = (1/k) Σᵢ softmax(zᵢ),
    ``"hard"`` takes the fraction of members voting for each class, ``"mean"`` (regression) averages outputs.

    For classification the output is log p̄ (log vote fractions for hard voting,
    floored at 1e-12), so ``softmax(output)`` is the ensemble's probability and
    cross-entropy on it is the ensemble's log loss.  ``features[i]`` (optional)
    lists the input columns member i sees.  The output carries no gradient: an
    ensemble is trained member by member (:class:`Bagging`), not as one network.
    """

    def __init__(self, members, voting: str = "soft", features=None, in_features=None):
        super().__init__()
        members = list(members)
        if not members or not all(isinstance(m, nn.Module) for m in members):
            raise ConfigError("Ensemble needs a non-empty list of nn.Module members")
        self.voting = check_choice("voting", voting, VOTING, owner="Ensemble")
        if features is not None:
            if len(features) != len(members):
                raise ConfigError(f"Ensemble: features has {len(features)} entries for {len(members)} members")
            features = [[int(c) for c in cols] for cols in features]
        self.features = features
        self.in_features = None if in_features is None else check_int("in_features", in_features, 1, owner="Ensemble")
        for i, member in enumerate(members):
            setattr(self, str(i), member)

    @property
    def members(self) -> list:
        return list(self._modules.values())

    def member_outputs(self, x) -> list:
        """Each member's raw output on its own columns of ``x`` (arrays)."""
        X = x.data if isinstance(x, Tensor) else np.asarray(x)
        if self.in_features is not None and X.shape[-1] != self.in_features:
            raise ConfigError(f"Ensemble expects {self.in_features} features per row, got {X.shape[-1]}")
        outs = []
        for i, member in enumerate(self.members):
            cols = X if self.features is None else X[:, self.features[i]]
            # as_tensor in the member's dtype, not Tensor(cols): that copies and casts to float32,
            # so a float64 ensemble would see rounded inputs.
            outs.append(member(as_tensor(cols, like=next(member.parameters(), None))).data)
        return outs

    def forward(self, x):
        outs = self.member_outputs(x)
        # as_tensor, not Tensor(...): Tensor casts to float32, which would round a float64 ensemble's output.
        if self.voting == "mean":
            return as_tensor(np.mean(outs, axis=0).astype(outs[0].dtype, copy=False))
        if self.voting == "soft":
            combined = np.mean([_softmax(o.copy()) for o in outs], axis=0)
        else:
            classes = outs[0].shape[1]
            votes = np.stack([o.argmax(axis=1) for o in outs], axis=1)
            combined = np.stack([(votes == c).mean(axis=1) for c in range(classes)], axis=1)
        return as_tensor(np.log(np.maximum(combined, 1e-12)).astype(outs[0].dtype, copy=False))

    # ------------------------------------------------------------ specs and FLOPs
    def spec_children(self) -> list:
        return list(self._modules)

    def spec_args(self) -> dict:
        return {"voting": self.voting, "features": self.features, "in_features": self.in_features}

    @classmethod
    def from_children(cls, children, voting="soft", features=None, in_features=None) -> "Ensemble":
        return cls(children, voting=voting, features=features, in_features=in_features)

    def _flops(self, shape, name, rows):
        out = None
        for i, member in enumerate(self.members):
            member_shape = shape if self.features is None else shape[:-1] + (len(self.features[i]),)
            out = member._flops(member_shape, f"{name}.{i}" if name else str(i), rows)
        return out

    def extra_repr(self):
        return f"members={len(self._modules)}, voting={self.voting!r}"


@dataclass(frozen=True)
class Member:
    """What ``make_model`` gets for member ``index``: its seed, its input width and its fit settings."""

    index: int
    seed: int
    num_features: int
    settings: dict = field(default_factory=dict)


_FIT_KEYS = ("epochs", "batch_size", "lr", "optimizer", "loss")


def _train_member(make_model, member: Member, X, y, rows, cols):
    """One job: build and train one member on its bootstrap rows and its columns, all from its own seed."""
    from . import losses, random
    from .pretrain import make_optimizer
    from .train import fit

    saved = random.get_rng().bit_generator.state  # the job may run in this very process: leave its generator
    try:
        random.seed(member.seed)  # layers that draw from the global generator draw from the member's seed
        model = make_model(member)
        s = member.settings
        loss = losses.get(s["loss"]) if isinstance(s["loss"], str) else s["loss"]
        X_member = X[rows] if cols is None else X[np.ix_(rows, cols)]
        history = fit(model, loss, make_optimizer(s["optimizer"], list(model.parameters()), s["lr"]),
                      (X_member, y[rows]), epochs=s["epochs"], batch_size=s["batch_size"],
                      metrics=() if s["voting"] == "mean" else ("accuracy",), seed=member.seed, verbose=0)
    finally:
        random.get_rng().bit_generator.state = saved
    return model, history


class Bagging:
    """Train ``n_models`` copies of ``make_model(member)`` on bootstrap samples and combine them.

    ``make_model`` takes a :class:`Member` (index, seed, num_features, settings)
    and returns an untrained model, so members may differ in architecture.
    Each member trains on ``round(sample_fraction · n)`` rows drawn with
    replacement (``replace=False``: without), on a random ``feature_fraction``
    of the columns (1.0: all), with the fit settings ``epochs``, ``batch_size``,
    ``lr``, ``optimizer`` (a name or ``params -> Optimizer``) and ``loss``, which
    ``member_settings`` (a list of dicts, or ``index -> dict``) may override per
    member — the notes' three kinds of difference.  ``voting``: ``"soft"``,
    ``"hard"`` or ``"mean"`` (regression).  ``n_jobs``: joblib's (−1: one
    process per core).  ``scheduler``: a Dask scheduler address to train the
    members on a cluster instead (see :mod:`nnlab.jobs`; default: the
    ``DASK_SCHEDULER_ADDRESS`` environment variable, else local processes).

    After :meth:`fit`: ``model`` (the :class:`Ensemble`), ``histories``,
    ``oob_score`` (accuracy, or mean squared error for ``"mean"``, of each
    training row predicted by the members that did not see it, over the rows
    some member left out) and ``oob_coverage`` (the fraction of such rows).
    """

    def __init__(self, make_model, n_models: int = 10, sample_fraction: float = 1.0, replace: bool = True,
                 voting: str = "soft", feature_fraction: float = 1.0, epochs: int = 10, batch_size: int = 32,
                 lr: float = 1e-3, optimizer="adam", loss=None, member_settings=None, n_jobs: int = -1,
                 seed: int = 0, scheduler: str | None = None):
        if not callable(make_model):
            raise ConfigError(f"Bagging: make_model must be callable (member -> model), got {make_model!r}")
        self.make_model = make_model
        self.n_models = check_int("n_models", n_models, 1, owner="Bagging")
        self.sample_fraction = check_float("sample_fraction", sample_fraction, 0.0, low_open=True, owner="Bagging")
        self.replace = bool(replace)
        if not self.replace and self.sample_fraction > 1:
            raise ConfigError(f"Bagging: sample_fraction must be <= 1 without replacement, got {sample_fraction}")
        self.voting = check_choice("voting", voting, VOTING, owner="Bagging")
        self.feature_fraction = check_float("feature_fraction", feature_fraction, 0.0, 1.0, low_open=True,
                                            owner="Bagging")
        self.defaults = {"epochs": check_int("epochs", epochs, 1, owner="Bagging"),
                         "batch_size": check_int("batch_size", batch_size, 1, owner="Bagging"),
                         "lr": check_float("lr", lr, 0.0, owner="Bagging"), "optimizer": optimizer,
                         "loss": loss or ("mse" if voting == "mean" else "cross_entropy"), "voting": self.voting}
        self.member_settings = member_settings
        self.n_jobs = check_int("n_jobs", n_jobs, -1, owner="Bagging")
        if self.n_jobs == 0:
            raise ConfigError("Bagging: n_jobs must be -1 (every core) or a whole number >= 1, got 0")
        self.seed = check_int("seed", seed, 0, owner="Bagging")
        self.scheduler = scheduler  # a Dask scheduler address (nnlab.jobs); None: $DASK_SCHEDULER_ADDRESS or local
        self.model = None

    def _settings(self, index: int) -> dict:
        extra = self.member_settings
        extra = {} if extra is None else (extra(index) if callable(extra) else extra[index])
        unknown = set(extra) - set(_FIT_KEYS)
        if unknown:
            raise ConfigError(f"Bagging: member_settings[{index}] has unknown key(s) {sorted(unknown)}; "
                              f"allowed: {', '.join(_FIT_KEYS)}")
        return {**self.defaults, **extra}

    def plan(self, n_rows: int, n_features: int) -> list:
        """(Member, rows, columns) per member: the seeds, bootstrap rows and feature subsets, before any training."""
        if self.member_settings is not None and not callable(self.member_settings) \
                and len(self.member_settings) != self.n_models:
            raise ConfigError(f"Bagging: member_settings has {len(self.member_settings)} entries "
                              f"for n_models = {self.n_models}")
        size = max(1, int(round(self.sample_fraction * n_rows)))
        width = max(1, int(round(self.feature_fraction * n_features)))
        plans = []
        for i, child in enumerate(np.random.SeedSequence(self.seed).spawn(self.n_models)):
            member_seed = int(child.generate_state(1)[0])
            rng = np.random.default_rng(child)
            rows = rng.choice(n_rows, size=size, replace=self.replace)
            cols = None if width == n_features else np.sort(rng.choice(n_features, size=width, replace=False))
            plans.append((Member(i, member_seed, width, self._settings(i)), rows, cols))
        return plans

    def fit(self, X, y) -> "Bagging":
        """Train every member (in parallel jobs) and build :attr:`model`; returns self."""
        from .jobs import run_jobs

        X = np.ascontiguousarray(X, dtype=np.float32) if np.asarray(X).dtype != np.float64 else np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y) or len(X) < 2:
            raise DataError(f"Bagging.fit needs X of shape (n, features) and n targets, n >= 2; "
                            f"got X {X.shape}, y {y.shape}")
        plans = self.plan(*X.shape)
        results = run_jobs(_train_member, [(self.make_model, member, X, y, rows, cols) for member, rows, cols in plans],
                           n_jobs=self.n_jobs, scheduler=self.scheduler)
        features = None if plans[0][2] is None else [cols.tolist() for _, _, cols in plans]
        self.model = Ensemble([m for m, _ in results], voting=self.voting, features=features,
                              in_features=X.shape[1]).eval()
        self.histories = [h for _, h in results]
        self._oob(X, y, [rows for _, rows, _ in plans])
        return self

    def _oob(self, X, y, row_sets) -> None:
        """Out-of-bag estimate: each row judged only by the members whose sample left it out."""
        from .tensor import no_grad

        with no_grad():
            outs = self.model.member_outputs(X)
        left_out = np.ones((len(row_sets), len(X)), dtype=bool)
        for i, rows in enumerate(row_sets):
            left_out[i, rows] = False
        covered = left_out.any(axis=0)
        self.oob_coverage = float(covered.mean())
        if not covered.any():
            self.oob_score = float("nan")
            return
        weights = left_out[:, covered].astype(np.float64)
        if self.voting == "mean":
            stacked = np.stack([o[covered].reshape(covered.sum(), -1) for o in outs])
            mean = np.einsum("kn,knd->nd", weights, stacked) / weights.sum(axis=0)[:, None]
            target = y[covered].reshape(len(mean), -1)
            self.oob_score = float(np.mean((mean - target) ** 2))
            return
        if self.voting == "soft":
            scores = np.stack([_softmax(o[covered].astype(np.float64)) for o in outs])
        else:
            classes = outs[0].shape[1]
            scores = np.stack([np.eye(classes)[o[covered].argmax(axis=1)] for o in outs])
        pooled = np.einsum("kn,knc->nc", weights, scores)
        self.oob_score = float(np.mean(pooled.argmax(axis=1) == y[covered].astype(np.int64)))

    # ------------------------------------------------------------ prediction
    def _check_fitted(self):
        if self.model is None:
            raise ConfigError("Bagging: call fit(X, y) first")

    def predict_proba(self, X) -> np.ndarray:
        """The ensemble's class probabilities (soft: mean probability; hard: vote fractions)."""
        from .train import predict

        self._check_fitted()
        if self.voting == "mean":
            raise ConfigError("Bagging: predict_proba is for classification; voting='mean' predicts values")
        return _softmax(predict(self.model, X).astype(np.float64))

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or the mean output (regression)."""
        from .train import predict

        self._check_fitted()
        out = predict(self.model, X)
        return out if self.voting == "mean" else out.argmax(axis=1)

    def member_scores(self, X, y) -> list:
        """Each member's accuracy on ``(X, y)`` (mean squared error for ``voting="mean"``)."""
        from .tensor import no_grad

        self._check_fitted()
        with no_grad():
            outs = self.model.member_outputs(np.asarray(X))  # each member casts to its own dtype
        y = np.asarray(y)
        if self.voting == "mean":
            return [float(np.mean((o.reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2)) for o in outs]
        return [float(np.mean(o.argmax(axis=1) == y)) for o in outs]

    def save(self, path, preprocessing=None, metadata: dict | None = None) -> None:
        """One model file with every member (architecture and weights) and the out-of-bag estimate."""
        from .io import save

        self._check_fitted()
        info = {"method": "bagging", "n_models": self.n_models, "voting": self.voting,
                "oob_score": self.oob_score, "oob_coverage": self.oob_coverage}
        save(self.model, path, preprocessing=preprocessing, metadata={**(metadata or {}), "ensemble": info})
