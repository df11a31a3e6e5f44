"""Keras's callback names: on_train_batch_begin/end are the per-batch hooks, LambdaCallback builds a callback."""

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.train import Callback, LambdaCallback, fit


def _fit(callbacks, epochs=2):
    X = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nnlab.nn.Linear(3, 2, rng=0)
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    return fit(model, nnlab.losses.get("cross_entropy"), opt, (X, y), epochs=epochs, batch_size=8, verbose=0,
               seed=0, callbacks=callbacks)


def test_a_keras_style_subclass_gets_its_batch_hooks():
    class KerasStyle(Callback):
        def __init__(self):
            self.calls = []

        def on_train_batch_begin(self, batch, logs=None):
            self.calls.append(("begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            self.calls.append(("end", batch, round(logs["size"])))

    cb = KerasStyle()
    _fit([cb])
    assert cb.calls[:4] == [("begin", 0), ("end", 0, 8), ("begin", 1), ("end", 1, 8)]
    assert len(cb.calls) == 2 * 3 * 2  # 3 batches of 20 samples, 2 epochs


def test_defining_both_names_of_one_hook_is_refused():
    with pytest.raises(TypeError, match="both on_train_batch_end and on_batch_end"):
        class Both(Callback):
            def on_train_batch_end(self, batch, logs=None):
                pass

            def on_batch_end(self, batch, logs=None):
                pass


def test_lambda_callback_runs_each_function_at_its_hook():
    seen = []
    cb = LambdaCallback(on_train_begin=lambda logs: seen.append("train"),
                        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, "loss" in logs)),
                        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch)))
    _fit([cb], epochs=1)
    assert seen == ["train", ("batch", 0), ("batch", 1), ("batch", 2), ("epoch", 0, True)]
    quiet = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    assert not quiet.wants_batch_hooks()


@pytest.mark.parametrize("kwargs, message", [
    ({"on_epoch_ends": print}, "unknown hook 'on_epoch_ends'; choose from on_train_begin"),
    ({"on_epoch_end": 3}, "on_epoch_end must be a function, got int"),
    ({"on_batch_end": print, "on_train_batch_end": print}, "not both"),
])
def test_lambda_callback_mistakes_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LambdaCallback(**kwargs)
