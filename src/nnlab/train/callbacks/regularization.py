"""Scheduled regularization: weight decay and penalties switched on after a couple of epochs.

The seeds (Ranzato and LeCun's practical tips): "Use a bit of L1 or L2
regularization on the weights (or a combination) But it's best to turn it on
after a couple of epochs".
"""

from __future__ import annotations

from ..._checks import check_float
from .lr import LearningRateScheduler


class RegularizationScheduler(LearningRateScheduler):
    """Multiply the regularization strength by ``schedule(t)``, per epoch (default) or per step.

    Every optimizer group's ``weight_decay`` becomes factor·(its value when
    training began), so groups without decay (biases) stay at 0.  Penalties that
    live in the loss read :attr:`factor` (1.0 until training begins), e.g.
    ``l2_penalty(params, 1e-3 * reg.factor)``.  With
    :func:`nnlab.optim.schedules.delayed_start` the strength is 0 for the first
    ``start`` epochs, then ramps to its full value.

    >>> import nnlab
    >>> from nnlab.optim import schedules
    >>> model = nnlab.nn.Linear(2, 1)
    >>> opt = nnlab.optim.SGD(nnlab.optim.weight_decay_groups(model, 0.1), lr=0.1)
    >>> reg = RegularizationScheduler(schedules.delayed_start(1.0, start=2))
    >>> reg.set_context(model, opt, {})
    >>> reg.on_train_begin()
    >>> reg.on_epoch_begin(0); [g["weight_decay"] for g in opt.param_groups], reg.factor
    ([0.0, 0.0], 0.0)
    >>> reg.on_epoch_begin(2); [g["weight_decay"] for g in opt.param_groups], reg.factor
    ([0.1, 0.0], 1.0)
    """

    setting = "regularization factor"

    def __init__(self, schedule, per: str = "epoch"):
        super().__init__(schedule, per=per)
        self.factor = 1.0
        self.base_decay = None  # each group's weight_decay when training with this optimizer began
        self._decay_of = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # A second fit() with the same optimizer keeps the first one's full strengths.  An id, not the
        # optimizer itself: TrainingState saves a callback's attributes (and restores base_decay on resume).
        if self._decay_of != id(self.optimizer):
            self.base_decay = [float(group.get("weight_decay", 0.0)) for group in self.optimizer.param_groups]
            self._decay_of = id(self.optimizer)

    def _set(self, value) -> None:
        value = check_float("factor", value, low=0.0, owner=type(self).__name__)
        for group, base in zip(self.optimizer.param_groups, self.base_decay):
            group["weight_decay"] = base * value
        self.factor = value
