"""nnlab: a deep-learning framework written on NumPy."""

from . import functional, random
from . import init, losses, nn
from . import data, datasets
from . import optim
from . import train
from . import ensemble, pretrain
from .errors import ConfigError, DataError, ModelFileError, NnlabError
from .gradcheck import GradcheckResult, gradcheck
from .io import load, save
from .ops.elementwise import maximum, minimum, where
from .ops.shape import concatenate, stack
from .random import seed
from .tensor import Tensor, is_grad_enabled, no_grad, tensor

from ._version import __version__

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "is_grad_enabled",
    "gradcheck",
    "GradcheckResult",
    "functional",
    "maximum",
    "minimum",
    "where",
    "concatenate",
    "stack",
    "save",
    "load",
    "seed",
    "random",
    "nn",
    "init",
    "losses",
    "data",
    "datasets",
    "train",
    "pretrain",
    "ensemble",
    "NnlabError",
    "ConfigError",
    "DataError",
    "ModelFileError",
]
