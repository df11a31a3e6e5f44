"""nnlab: a deep-learning framework written on NumPy."""

from . import functional, random
from . import init, losses, nn
from . import data, datasets
from . import optim
from . import autograd
from . import train
from . import ensemble, pretrain
from .errors import ConfigError, DataError, ModelFileError, NnlabError
from .gradcheck import GradcheckResult, gradcheck
from .io import load, save
from .creation import (
    arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand, rand_like, randint, randn,
    randn_like, zeros, zeros_like,
)
from .dtypes import (  # noqa: F401  (torch.float32 and the rest, as NumPy dtypes)
    bool, double, float, float16, float32, float64, half, int, int8, int16, int32, int64, long, uint8,
)
from .ops.elementwise import absolute as abs, exp, log, sqrt  # noqa: F401  (torch.exp(x) and the rest)
from .ops.elementwise import lerp, maximum, minimum, where
from .ops.reduce import argmax, argmin, mean, sum  # noqa: F401
from .ops.shape import concatenate as cat, flatten, permute, reshape, squeeze, swapaxes as transpose, unsqueeze  # noqa: F401
from .ops.torch_names import bmm, clamp, dot, matmul, max, min, mm  # noqa: F401
from .functional import relu, sigmoid, softmax, tanh  # noqa: F401
from .ops.torch_names import allclose, eq, equal, ge, gt, is_tensor, isclose, le, lt, ne  # noqa: F401
from .ops.indexing import gather, repeat_interleave, scatter, scatter_add, take_along_axis
from .ops.sorting import argsort, kthvalue, median, sort, topk
from .ops.contraction import diag, diagonal, einsum, outer, trace
from .ops.differences import cumprod, diff
from .ops.shape import chunk, concatenate, flip, pad, roll, split, stack, tril, triu
from .random import manual_seed, seed
from .tensor import Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled, tensor

from ._version import __version__

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "is_grad_enabled",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "autograd",
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
    "scatter",
    "take_along_axis",
    "repeat_interleave",
    "sort",
    "argsort",
    "topk",
    "kthvalue",
    "median",
    "einsum",
    "outer",
    "trace",
    "diagonal",
    "diag",
    "cumprod",
    "diff",
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
    "empty",
    "full_like",
    "randn_like",
    "rand_like",
    "randint",
    "from_numpy",
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
