"""``nnlab.init``: the weight initializers of :mod:`nnlab.nn.init`, importable from the top level."""

from .nn.init import *  # noqa: F401,F403
from .nn.init import __all__  # noqa: F401
