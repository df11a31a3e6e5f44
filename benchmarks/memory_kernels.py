"""The least work an optimizer update can do over memory, as numba loops (``fw_numpy.memory_pass``).

Each loop reads the parameters, the gradients and ``state`` state buffers once and
writes the parameters and the state once, in place, as an update does, with one
multiply-add per buffer: the arithmetic hides under the memory traffic, and no
compiler may drop it (without fastmath, ``x + 0·y`` is not ``x``).  numba comes
with the ``bench`` extra; without it :func:`update_pass` returns None.
"""

from __future__ import annotations

_passes: dict = {}


def update_pass(state: int):
    """The in-place pass for an optimizer with ``state`` buffers per parameter (0, 1 or 2), or None."""
    if state not in _passes:
        try:
            import numba
        except ImportError:
            return None
        _passes[state] = numba.njit(nogil=True)(_PASSES[state])
    return _passes[state]


# The parameters are read and written back unchanged (``p + 0·x``: the GEMM floor keeps using
# them); the state stays bounded over any number of passes (``s·0.5 + g``).
def _plain(p, g):
    for i in range(p.size):
        p[i] = p[i] + g[i] * 0.0


def _one_state(p, g, s):
    for i in range(p.size):
        si = s[i] * 0.5 + g[i]
        s[i] = si
        p[i] = p[i] + si * 0.0


def _two_states(p, g, m, v):
    for i in range(p.size):
        mi = m[i] * 0.5 + g[i]
        vi = v[i] * 0.5 + g[i]
        m[i] = mi
        v[i] = vi
        p[i] = p[i] + mi * vi * 0.0


_PASSES = {0: _plain, 1: _one_state, 2: _two_states}
