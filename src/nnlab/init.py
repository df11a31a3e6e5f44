"""A plain re-export of :mod:`nnlab.nn.init`, the initializers' documented home.

``nnlab.init.he_normal is nnlab.nn.init.he_normal``: the same functions under a
shorter name, nothing defined here.  Code and docs use ``nnlab.nn.init``.
"""

from .nn.init import *  # noqa: F401,F403
from .nn.init import __all__  # noqa: F401
