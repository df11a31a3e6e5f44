"""Small read-only arrays the hot paths reuse (ones vectors, row offsets, a backward's seed), made once per key.

Batch sizes are few, and making such an array again on every step costs as
much as the small op that uses it.  The arrays are read-only, so no caller can
change what another one gets; the cache is bounded anyway.
"""

from __future__ import annotations

import numpy as np

_CACHE: dict = {}
_MAX_ENTRIES = 64


#: ``get(key)``: the stored array or None, for a caller on a hot path (one dict lookup, no call through ``cached``)
get = _CACHE.get


def cached(key, make, *args, **kwargs) -> np.ndarray:
    """The array ``make(*args, **kwargs)`` stored under ``key``, made on the first call only."""
    out = _CACHE.get(key)
    if out is None:
        if len(_CACHE) > _MAX_ENTRIES:
            _CACHE.clear()
        out = _CACHE[key] = make(*args, **kwargs)
        out.flags.writeable = False
    return out
