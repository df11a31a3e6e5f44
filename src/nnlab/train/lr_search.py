"""The seeds' learning-rate search: a coarse log grid, then a finer look around the best.

"Tune learning rate: try different values on a log scale: 0.0001, 0.001, 0.01,
0.1, 1.0. Run a few epochs with each of these and figure out a learning rate
which works best. Now do a finer search around this value: if the best learning
rate was 0.1, try 0.05, 0.2, 0.3."
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

from .. import optim
from .. import random as _random
from .._checks import check_float
from ..errors import ConfigError
from .callbacks import TerminateOnNaN
from .loop import fit

COARSE = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
FINE_FACTORS = (0.5, 2.0, 3.0)  # around 0.1: 0.05, 0.2, 0.3


class Trial(NamedTuple):
    """One training run: its learning rate, final validation loss (NaN if it diverged) and stage."""

    lr: float
    val_loss: float
    stage: str  # "coarse" or "fine"


@dataclass(frozen=True)
class LRSearchResult:
    """Every trial in the order run, and the winner (lowest final validation loss)."""

    best_lr: float
    best_val_loss: float
    trials: tuple

    @property
    def coarse(self) -> tuple:
        return tuple(t for t in self.trials if t.stage == "coarse")

    @property
    def fine(self) -> tuple:
        return tuple(t for t in self.trials if t.stage == "fine")

    def table(self) -> str:
        """The trials as aligned text lines, the winner marked."""
        lines = ["stage    lr          val_loss"]
        for t in self.trials:
            mark = "  <- best" if t.lr == self.best_lr else ""
            lines.append(f"{t.stage:<8} {t.lr:<11.4g} {t.val_loss:.6g}{mark}")
        return "\n".join(lines)


def lr_search(build, train_data, val_data, loss, optimizer="sgd", coarse=COARSE, epochs: int = 3,
              batch_size: int = 32, refine: bool = True, seed: int = 0, factors=FINE_FACTORS, metrics=(),
              on_trial=None, setup=None, **optimizer_options) -> LRSearchResult:
    """Train a fresh model for ``epochs`` at each learning rate and pick the lowest validation loss.

    ``build()`` returns a new model; before each call ``nnlab.seed(seed)`` resets the
    global generator, so a ``build`` that draws from it starts every trial from the
    same weights (and each trial shuffles the same way). ``optimizer`` is a name
    for :func:`nnlab.optim.get` of one that takes ``lr`` (sgd, adagrad, rmsprop,
    adam, adamw; ``optimizer_options`` such as ``momentum=0.9`` are passed on)
    or a factory ``(params, lr) -> optimizer``.
    After the coarse grid, with ``refine`` the best rate b is tried again as
    ``b * f`` for f in ``factors`` (b/2, 2b, 3b by default). A trial whose loss
    becomes non-finite stops at once and ranks last. ``on_trial(trial)`` is called
    after each run (for progress output).

    ``setup(model) -> (loss, callbacks, augment)``, called with each trial's fresh model,
    gives that trial's fit what depends on it or keeps state (``loss`` is then None): a
    loss with penalties on the model's weights, callbacks such as a RegularizationScheduler
    that scales them, and augmentation drawing from its own seeded generators.
    """
    coarse = _positive_numbers("coarse", coarse)
    # checked now, not when the fine stage multiplies by them after the whole coarse grid has trained
    factors = _positive_numbers("factors", factors)
    if not coarse:
        raise ConfigError("lr_search: coarse must hold at least one learning rate, got none")
    if val_data is None:
        raise ConfigError("lr_search needs val_data: trials are ranked by validation loss")
    if (loss is None) == (setup is None):
        raise ConfigError("lr_search: pass either a loss or setup (which gives each trial its loss), not "
                          + ("both" if setup is not None else "neither"))
    make_optimizer = _optimizer_factory(optimizer, optimizer_options)
    trials = []

    def run(lr, stage):
        _random.seed(seed)
        model = build()
        trial_loss, callbacks, augment = (loss, [], None) if setup is None else setup(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a diverging trial is an expected outcome here
            history = fit(model, trial_loss, make_optimizer(model.parameters(), lr), train_data, val_data,
                          epochs=epochs, batch_size=batch_size, metrics=metrics,
                          callbacks=[TerminateOnNaN(), *callbacks], seed=seed, augment=augment, verbose=0)
        val_loss = float(history["val_loss"][-1])
        if history.stop_reason is not None or not math.isfinite(val_loss):
            val_loss = math.nan
        trial = Trial(lr, val_loss, stage)
        trials.append(trial)
        if on_trial is not None:
            on_trial(trial)

    for lr in coarse:
        run(lr, "coarse")
    if refine:
        best = _best(trials)
        if best is not None:
            tried = {t.lr for t in trials}
            for factor in factors:
                lr = float(f"{best.lr * factor:.12g}")  # 0.1 * 3 is 0.30000000000000004
                if lr not in tried:
                    tried.add(lr)
                    run(lr, "fine")
    best = _best(trials)
    if best is None:
        raise ConfigError(f"lr_search: every trial diverged (learning rates {[t.lr for t in trials]})")
    return LRSearchResult(best.lr, best.val_loss, tuple(trials))


def _positive_numbers(name, values) -> tuple:
    """``values`` as a tuple of finite numbers > 0, or a ConfigError naming ``name`` and the bad item."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ConfigError(f"lr_search: {name} must be a list of numbers > 0, got {values!r}")
    return tuple(check_float(f"{name}[{i}]", v, low=0.0, low_open=True, owner="lr_search")
                 for i, v in enumerate(values))


def _best(trials):
    finite = [t for t in trials if math.isfinite(t.val_loss)]
    return min(finite, key=lambda t: t.val_loss) if finite else None


def _optimizer_factory(optimizer, options):
    if callable(optimizer) and not isinstance(optimizer, str):
        if options:
            raise ConfigError("lr_search: optimizer options go with an optimizer name, not with a factory")
        return optimizer
    name = str(optimizer).lower()
    allowed = optim.names(with_setting="lr")
    if name not in allowed:
        raise ConfigError(f"lr_search: unknown optimizer {optimizer!r} (allowed: {', '.join(allowed)})")
    return lambda params, lr: optim.get(name, params, lr=lr, **options)

