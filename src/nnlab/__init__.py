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
from .creation import arange, eye, full, linspace, ones, ones_like, rand, randn, zeros, zeros_like
from .ops.elementwise import lerp, maximum, minimum, where
from .ops.indexing import gather, scatter_add, take_along_axis
from .ops.shape import chunk, concatenate, flip, pad, roll, split, stack, tril, triu
from .random import manual_seed, seed
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
    "lerp",
    "gather",
    "scatter_add",
    "take_along_axis",
    "chunk",
    "split",
    "flip",
    "roll",
    "pad",
    "tril",
    "triu",
    "zeros",
    "ones",
    "full",
    "eye",
    "arange",
    "linspace",
    "zeros_like",
    "ones_like",
    "randn",
    "rand",
    "save",
    "load",
    "seed",
    "manual_seed",
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
