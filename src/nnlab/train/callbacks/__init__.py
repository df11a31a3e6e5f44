"""Callbacks: code that watches ``fit`` and may steer it, with Keras's hook names; one file per concern.

=============  ===========================================================
base.py        :class:`Callback` (the hooks), :class:`CallbackList`, :class:`LambdaCallback`
history.py     :class:`History`, the per-epoch record ``fit`` returns
monitor.py     :class:`Monitor` (best value, patience, mode) and :class:`MonitorCallback`
stopping.py    :class:`EarlyStopping`, :class:`TerminateOnNaN`
lr.py          :class:`LearningRateScheduler`, :class:`MomentumScheduler`,
               :class:`HalveOnRise`, :class:`ReduceLROnPlateau`
regularization.py  :class:`RegularizationScheduler` (weight decay and penalties turned on late)
files.py       :class:`Checkpoint`, :class:`MetricsLogger`
progress.py    :class:`ProgressBar`
divergence.py  :class:`DivergenceGuard`
warmup.py      :class:`GradualWarmup` (Goyal et al.'s per-step warm-up)
tensorboard.py :class:`TensorBoard` (event files through tensorboardX, an optional extra)
=============  ===========================================================
"""

from .base import Callback, CallbackList, LambdaCallback
from .divergence import DivergenceGuard
from .files import Checkpoint, MetricsLogger, atomic_save
from .history import History
from .lr import HalveOnRise, LearningRateScheduler, MomentumScheduler, ReduceLROnPlateau, get_lr
from .monitor import Monitor, MonitorCallback
from .regularization import RegularizationScheduler
from .progress import ProgressBar
from .stopping import EarlyStopping, TerminateOnNaN
from .warmup import GradualWarmup, goyal_start_factor
from .tensorboard import TensorBoard

__all__ = [
    "Callback",
    "CallbackList",
    "LambdaCallback",
    "History",
    "Monitor",
    "MonitorCallback",
    "EarlyStopping",
    "TerminateOnNaN",
    "DivergenceGuard",
    "LearningRateScheduler",
    "MomentumScheduler",
    "HalveOnRise",
    "ReduceLROnPlateau",
    "GradualWarmup",
    "goyal_start_factor",
    "RegularizationScheduler",
    "Checkpoint",
    "MetricsLogger",
    "ProgressBar",
    "TensorBoard",
]
