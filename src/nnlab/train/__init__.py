"""The training loop: ``fit``/``evaluate``/``predict``, callbacks, metrics and the learning-rate search."""

from . import callbacks
from .callbacks import (
    Callback,
    CallbackList,
    Checkpoint,
    DivergenceGuard,
    EarlyStopping,
    GradualWarmup,
    HalveOnRise,
    LambdaCallback,
    History,
    LearningRateScheduler,
    MetricsLogger,
    Monitor,
    MonitorCallback,
    MomentumScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    RegularizationScheduler,
    TensorBoard,
    TerminateOnNaN,
)
from .loop import evaluate, evaluating, fit, predict
from .resume import TrainingState
from .lr_search import LRSearchResult, Trial, lr_search
from .metrics import accuracy, confusion_matrix, predicted_labels
from .multitask import MultiTaskLoss

__all__ = [
    "fit",
    "evaluate",
    "predict",
    "evaluating",
    *callbacks.__all__,
    "TrainingState",
    "lr_search",
    "LRSearchResult",
    "Trial",
    "accuracy",
    "confusion_matrix",
    "predicted_labels",
    "MultiTaskLoss",
]
