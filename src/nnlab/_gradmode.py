"""Grad mode: the global switch every op reads, and the context managers that flip it.

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` (torch's names) live
here, apart from ``tensor.py``, which re-exports them; this module imports nothing of nnlab.
"""

from __future__ import annotations


class _GradMode:
    """Global switch read by every op; ``no_grad`` flips it."""

    enabled = True


class _GradSwitch:
    """Context manager (and decorator) that sets grad mode for its block and restores it after."""

    _mode = False

    def __enter__(self):
        self._previous = _GradMode.enabled
        _GradMode.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self._previous
        return False

    def __call__(self, fn):
        import functools

        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradSwitch.__new__(_GradSwitch) as switch:  # a fresh switch: calls may nest or recurse
                switch._mode = mode
                _GradMode.enabled = mode
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradSwitch):
    """Context manager (and decorator) inside which no graph is recorded.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0], requires_grad=True)
    >>> with nnlab.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_GradSwitch):
    """Records the graph again inside a ``no_grad`` block (``torch.enable_grad``)."""

    _mode = True


class set_grad_enabled(_GradSwitch):
    """``set_grad_enabled(False)`` is ``no_grad()``, ``set_grad_enabled(True)`` is ``enable_grad()``, as torch;
    called as a plain function (not in ``with``) it sets the mode from then on, also as torch."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._before_call = _GradMode.enabled
        _GradMode.enabled = self._mode

    def __enter__(self):
        self._previous = self._before_call  # __init__ already set the mode; __exit__ restores the old one
        return self

    def __call__(self, fn):
        _GradMode.enabled = self._before_call  # as a decorator it changes nothing until fn runs
        return super().__call__(fn)


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class inference_mode(_GradSwitch):
    """``torch.inference_mode``: in nnlab the same as ``no_grad`` (no graph is recorded), as a context manager
    or decorator (``@inference_mode()``, or bare ``@inference_mode`` as torch allows).  Torch's extra guarantee
    (a tensor made inside can never join a graph) has no nnlab counterpart: such a tensor is an ordinary
    tensor that does not require grad.  ``inference_mode(False)`` records the graph, as torch's does.
    """

    def __new__(cls, mode=True):
        if callable(mode):  # bare ``@inference_mode``
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: mode must be True or False, got {mode!r}")
        self._mode = not mode
