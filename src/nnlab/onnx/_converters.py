"""The converter tables with every converter module loaded: each module fills them as it is imported."""

from . import _layers_activations_more  # noqa: F401  (registers torch's remaining activations)
from . import _layers_conv_extra  # noqa: F401  (registers the convolution family's extra layers)
from . import _layers_norms  # noqa: F401  (registers InstanceNorm1d, InstanceNorm2d and RMSNorm)
from . import _layers_recurrent  # noqa: F401  (registers RNN, LSTM and GRU)
from ._layers import CONTAINERS, LEAVES, NOT_EXPORTABLE  # noqa: F401
