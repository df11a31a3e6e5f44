"""The callback protocol: :class:`Callback` (every hook a no-op) and :class:`CallbackList`.

Every hook receives the 0-based ``epoch`` or ``batch`` index and a ``logs``
dict. At the end of an epoch ``logs`` holds ``loss``, the metrics, the
``val_`` versions of both when there is validation data, and ``lr`` (the
learning rate used in that epoch); at the end of a batch it holds ``loss`` and
``size``. A callback reaches the model and the optimizer as ``self.model`` and
``self.optimizer`` and stops training by setting ``self.stop_training = True``.

Per-batch hooks cost a call per batch, so the loop only calls them for
callbacks that override them (see :meth:`Callback.wants_batch_hooks`).  Keras's
names ``on_train_batch_begin`` / ``on_train_batch_end`` are the same hooks.
:class:`LambdaCallback` makes a callback from functions, as Keras's does.
"""

from __future__ import annotations

from ...errors import ConfigError


class Callback:
    """Base class: every hook does nothing. Override the ones you need.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         self.last = epoch
    """

    model = None
    optimizer = None
    params: dict = {}
    stop_training = False
    # Attributes a resumed run keeps as it built them, never taken from a saved training state: where the
    # callback writes (a run folder that was moved, or is resumed from another directory, writes into itself).
    rebuilt: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        # Keras 2.2+ names the per-batch hooks on_train_batch_begin/end; a subclass written for Keras overrides
        # those, and fit (which calls on_batch_begin/end) would skip them without a word.
        super().__init_subclass__(**kwargs)
        for when in ("begin", "end"):
            keras, ours = f"on_train_batch_{when}", f"on_batch_{when}"
            if keras in cls.__dict__:
                if ours in cls.__dict__:
                    raise TypeError(f"{cls.__name__} defines both {keras} and {ours}: they are the same hook "
                                    f"(Keras's name and nnlab's); define one")
                setattr(cls, ours, cls.__dict__[keras])

    def set_context(self, model, optimizer, params: dict) -> None:
        """Called by ``fit`` before training: the model, the optimizer and the run's settings."""
        self.model = model
        self.optimizer = optimizer
        self.params = params
        self.stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_nonfinite_loss(self, epoch, batch, loss):
        """Called *before* the update when a batch's loss is NaN or infinite.

        If any callback sets ``stop_training`` here the loop skips that update and
        stops, so the parameters are those from before the bad batch.
        """

    def wants_batch_hooks(self) -> bool:
        """Whether ``fit`` must call this callback's per-batch hooks.

        Asked after ``on_train_begin`` and again after each ``on_batch_end``: a
        callback that answers False stops getting per-batch calls until the next
        ``on_train_begin`` (DivergenceGuard, once it has the first batch's loss), so
        a fit whose callbacks watch only epochs pays no per-batch cost.
        """
        cls = type(self)
        return cls.on_batch_begin is not Callback.on_batch_begin or cls.on_batch_end is not Callback.on_batch_end


class CallbackList(Callback):
    """Several callbacks as one: each hook goes to them in order (a :class:`Callback` itself, as in Keras).

    Per-batch hooks go only to the callbacks that want them, decided after
    ``on_train_begin`` and after each ``on_batch_end``; training stops when any of them asks to.

    >>> class Stop(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.stop_training = True
    >>> both = CallbackList([Callback(), Stop()])
    >>> both.on_train_begin(); both.on_epoch_end(0, {}); both.stop_training, both.wants_batch_hooks()
    (True, False)
    """

    def __init__(self, callbacks=(), model=None, optimizer=None, params: dict | None = None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must be nnlab.train.Callback instances, got {cb!r}")
        self.batch_callbacks = []
        self.set_context(model, optimizer, {} if params is None else params)

    def set_context(self, model, optimizer, params: dict) -> None:
        self.model = model
        self.optimizer = optimizer
        self.params = params
        for cb in self.callbacks:
            cb.set_context(model, optimizer, params)

    @property
    def stop_training(self) -> bool:
        return any(cb.stop_training for cb in self.callbacks)

    def wants_batch_hooks(self) -> bool:
        return bool(self.batch_callbacks)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)
        self.batch_callbacks = [cb for cb in self.callbacks if cb.wants_batch_hooks()]

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.batch_callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        done = False
        for cb in self.batch_callbacks:
            cb.on_batch_end(batch, logs)
            done = done or not cb.wants_batch_hooks()
        if done:  # drop the callbacks that need no more batches (see Callback.wants_batch_hooks)
            self.batch_callbacks = [cb for cb in self.batch_callbacks if cb.wants_batch_hooks()]

    def on_nonfinite_loss(self, epoch, batch, loss):
        for cb in self.callbacks:
            cb.on_nonfinite_loss(epoch, batch, loss)


class LambdaCallback(Callback):
    """A callback made of functions, as Keras's ``LambdaCallback``: ``on_epoch_end=lambda epoch, logs: ...``.

    Each keyword names a hook (``on_train_begin``/``on_train_end`` take ``logs``; ``on_epoch_*``
    ``(epoch, logs)``; ``on_batch_*`` or Keras's ``on_train_batch_*`` ``(batch, logs)``).

    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> cb.on_epoch_end(3, {}); seen, cb.wants_batch_hooks()
    ([3], False)
    """

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks):
        for keras in ("on_train_batch_begin", "on_train_batch_end"):
            if keras in hooks:
                ours = keras.replace("train_batch", "batch")
                if ours in hooks:
                    raise ConfigError(f"LambdaCallback: give {keras} or {ours}, not both: they are the same hook")
                hooks[ours] = hooks.pop(keras)
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                allowed = ", ".join((*self._HOOKS, "on_train_batch_begin", "on_train_batch_end"))
                raise ConfigError(f"LambdaCallback: unknown hook {name!r}; choose from {allowed}")
            if not callable(fn):
                raise ConfigError(f"LambdaCallback: {name} must be a function, got {type(fn).__name__}")
            setattr(self, name, fn)  # the instance's function shadows the no-op hook
        self._batch = "on_batch_begin" in hooks or "on_batch_end" in hooks

    def wants_batch_hooks(self) -> bool:
        return self._batch

