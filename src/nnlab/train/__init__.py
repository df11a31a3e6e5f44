"""The training loop: ``fit``/``evaluate``/``predict``, callbacks, metrics and the learning-rate search."""

from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    HalveOnRise,
    LearningRateScheduler,
    MetricsLogger,
    Monitor,
    MomentumScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .loop import History, evaluate, fit, predict
from .lr_search import LRSearchResult, Trial, lr_search
from .metrics import accuracy, confusion_matrix, predicted_labels

__all__ = [
    "fit",
    "evaluate",
    "predict",
    "History",
    "Callback",
    "Monitor",
    "EarlyStopping",
    "TerminateOnNaN",
    "LearningRateScheduler",
    "MomentumScheduler",
    "HalveOnRise",
    "ReduceLROnPlateau",
    "Checkpoint",
    "MetricsLogger",
    "ProgressBar",
    "lr_search",
    "LRSearchResult",
    "Trial",
    "accuracy",
    "confusion_matrix",
    "predicted_labels",
]
