"""How fit calls callbacks: per-batch hooks only for those that want them, and a Ctrl-C at an epoch's end."""

import os

import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.losses import cross_entropy
from nnlab.optim import Adam, schedules
from nnlab.train import Callback, LearningRateScheduler, fit
from nnlab.train.callbacks import CallbackList
from test_callbacks import blobs, mlp


def test_only_callbacks_that_override_batch_hooks_get_them():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    class PerBatch(Callback):
        def on_batch_begin(self, batch, logs=None):
            pass

    epoch_only, per_batch = EpochOnly(), PerBatch()
    callbacks = CallbackList([epoch_only, per_batch, LearningRateScheduler(schedules.constant(0.1))], None,
                             None, {})
    callbacks.on_train_begin()
    assert callbacks.batch_callbacks == [per_batch]
    with pytest.raises(ConfigError, match="Callback instances"):
        CallbackList([lambda epoch: None], None, None, {})


class _CountsBatches(Callback):
    """Wants per-batch calls for its first ``wanted`` batches only."""

    def __init__(self, wanted):
        self.wanted, self.calls = wanted, 0

    def on_batch_end(self, batch, logs=None):
        self.calls += 1

    def wants_batch_hooks(self):
        return self.calls < self.wanted


def test_a_callback_that_needs_no_more_batches_stops_getting_them():
    # DivergenceGuard needs only the first batch's loss; fit's default callbacks then cost nothing per batch
    from nnlab.train.callbacks.divergence import DivergenceGuard

    X, y = blobs(64)
    two, guard = _CountsBatches(2), DivergenceGuard()
    counted = CallbackList([two])
    seen = []
    original = guard.on_batch_end
    guard.on_batch_end = lambda batch, logs=None: (seen.append(batch), original(batch, logs))
    nnlab.seed(0)
    model = mlp()
    history = fit(model, cross_entropy, Adam(model.parameters()), (X, y), epochs=3, batch_size=8, callbacks=[counted],
                  divergence=guard, verbose=0)
    assert len(history.history["loss"]) == 3
    assert two.calls == 2 and seen == [0] and guard.reference is not None
    assert counted.batch_callbacks == []
    # the next fit asks again from its first batch
    fit(model, cross_entropy, Adam(model.parameters()), (X, y), epochs=1, batch_size=8, divergence=guard, verbose=0)
    assert seen == [0, 0]


def test_ctrl_c_during_the_epoch_end_waits_for_every_callback_of_that_epoch():
    # a SIGINT between two epoch-end writes would leave files of different epochs (train/interrupts.py)
    import signal

    class Interrupts(Callback):
        def on_epoch_end(self, epoch, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    class Records(Callback):
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(epoch)

    X, y = blobs(32)
    records = Records()
    model = mlp()
    with pytest.raises(KeyboardInterrupt):
        fit(model, cross_entropy, Adam(model.parameters()), (X, y), epochs=3, batch_size=16,
            callbacks=[Interrupts(), records], verbose=0)
    assert records.epochs == [0]  # the callback after the interrupt still saw epoch 0, and no epoch came after
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
