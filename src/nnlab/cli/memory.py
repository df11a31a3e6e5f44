"""Memory estimates made before allocating: a config that cannot fit is refused with the estimate, not a MemoryError."""

from __future__ import annotations

import os

from ..errors import ConfigError
from .config import RunConfig


def _memory_limit() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every system reports it
        return 2**40


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""


def check_memory(what: str, nbytes: float, hint: str) -> None:
    """Refuse, before allocating, what would need more memory than the machine has."""
    limit = _memory_limit()
    if nbytes > limit:
        raise ConfigError(f"{what} needs about {_size(nbytes)} of memory, more than this machine's "
                          f"{_size(limit)}; {hint}")


def check_model_memory(cfg: RunConfig, num_features: int, num_classes: int, rows: int | None = None) -> None:
    """Weights, gradients and two optimizer states per parameter, plus a batch of activations, in float32.

    A batch holds at most ``rows`` samples (the training split's size, when known): a
    ``train.batch_size`` beyond it trains on the whole split at once.  A model too big
    for its weights names ``model.hidden``; one whose batch is too big names the batch size.
    """
    m = cfg.model
    pieces = m.maxout_pieces if m.activation == "maxout" else 1
    widths = [num_features, *m.hidden]
    params = sum(a * b * pieces for a, b in zip(widths, widths[1:])) + widths[-1] * num_classes
    batch = cfg.train.batch_size if rows is None else min(cfg.train.batch_size, rows)
    activations = batch * (sum(m.hidden) * pieces + num_classes) * 4
    check_memory(f"model.hidden = {list(m.hidden)}", params * 4 * 4, "use smaller hidden layers")
    check_memory(f"train.batch_size = {cfg.train.batch_size} with model.hidden = {list(m.hidden)}",
                 params * 4 * 4 + activations * 4, "use a smaller batch size")


def check_layers_memory(spec: dict) -> None:
    """``model.layers``' weights, gradients and two optimizer states in float32, counted from the layer sizes.

    Layers whose arguments do not give their sizes are left to the build, which names the problem.
    """
    from ..nn.spec import state_size

    try:
        values = state_size(spec)
    except ConfigError:
        return
    check_memory(f"model.layers ({values:,} parameters)", values * 4 * 4, "use smaller layers")
