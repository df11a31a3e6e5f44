"""State PyTorch starts at a setting's value rather than at zero (Rprop's step sizes, ASGD's η and μ).

The flat state buffers start at zero (``_flat.py``); a rule whose state starts
elsewhere writes its start value at each element's first update, which is
where PyTorch creates the state, from the group's settings at that step.
"""

from __future__ import annotations

import numpy as np


def fill_at_first_step(part, t, buffer: np.ndarray, value) -> None:
    """``buffer`` (a state slice of ``part``) ← ``value`` where this step is the element's first (t == 1).

    ``t`` is the rule's step count: an int for the whole group, or one count per
    element of the group (``flat.t``), sliced here by ``part.sl``.
    """
    if isinstance(t, int):
        if t == 1:
            buffer[...] = value
    else:
        np.copyto(buffer, value, where=t[part.sl] == 1)
