"""Neural-network building blocks: Module, Parameter, layers, containers, activations, initializers, specs, losses."""

from . import functional, init
from .activations import ELU, PReLU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import Residual, Sequential
from .conv import Conv1d, Conv2d
from .conv_transpose import ConvTranspose1d, ConvTranspose2d
from .distance import CosineSimilarity, PairwiseDistance
from .embedding import Embedding
from .linear import Linear, Maxout, TiedLinear
from .activations_extra import CELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, Mish, ReLU6, SiLU, Softplus, Softsign
from .activations_extra import GLU, Hardshrink, LogSigmoid, RReLU, Softmin, Softshrink, Tanhshrink, Threshold
from .module import Module
from .module_list import ModuleDict, ModuleList
from .parameter_containers import ParameterDict, ParameterList
from .multihead import MultiHead
from .parameter import Parameter, is_weight
from .recurrent import GRU, LSTM, RNN
from .recurrent_readout import FinalState, LastStep
from .recurrent_cells import GRUCell, LSTMCell, RNNCell
from .noise import Dropout, Dropout1d, Dropout2d, GaussianNoise
from .normalization import BatchNorm, BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .instance_norm import InstanceNorm1d, InstanceNorm2d
from .rms_norm import RMSNorm
from .pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, Flatten,
    MaxPool1d, MaxPool2d, Unflatten,
)
from .padding import ConstantPad1d, ConstantPad2d, ZeroPad1d, ZeroPad2d
from .upsampling import Upsample
from .spec import from_spec, layer_types, register, to_spec
# The loss classes, where torch users look for them (nn.CrossEntropyLoss()): the same classes as nnlab.losses
from ..losses import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, EuclideanLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
)
from ..losses import (
    CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss, MultiLabelSoftMarginLoss,
    MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
)
from .sparsity import ActivityRegularization

__all__ = [
    "Module",
    "Parameter",
    "Linear",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Residual",
    "MultiHead",
    "Maxout",
    "BatchNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "RMSNorm",
    "Dropout",
    "GaussianNoise",
    "TiedLinear",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "LogSoftmax",
    "Identity",
    "GELU",
    "SiLU",
    "Softplus",
    "Softsign",
    "SELU",
    "CELU",
    "ReLU6",
    "Hardtanh",
    "Hardsigmoid",
    "Hardswish",
    "Mish",
    "LogSigmoid",
    "Softmin",
    "Hardshrink",
    "Softshrink",
    "Tanhshrink",
    "Threshold",
    "GLU",
    "RReLU",
    "ActivityRegularization",
    "Conv1d",
    "Embedding",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "LastStep",
    "FinalState",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Unflatten",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "Dropout1d",
    "Dropout2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "Upsample",
    "CrossEntropyLoss",
    "NLLLoss",
    "MSELoss",
    "L1Loss",
    "EuclideanLoss",
    "HuberLoss",
    "SmoothL1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiMarginLoss",
    "MultiLabelSoftMarginLoss",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "MarginRankingLoss",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
    "CosineSimilarity",
    "PairwiseDistance",
    "init",
    "to_spec",
    "from_spec",
    "register",
    "layer_types",
]


def __getattr__(name):
    # nn.utils (PyTorch's clip_grad_norm_ and friends) wraps nnlab.optim, which imports nn's layers:
    # loaded on first use (torch.nn.utils.clip_grad_norm_ is reached by attribute), never in a cycle.
    if name == "utils":
        import importlib

        return importlib.import_module(".utils", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

