"""Training diagnostics: per-layer statistics, the initial-loss check, and the notes' pictures.

``LayerStatistics`` is a callback for ``fit``; the plot functions each return a
matplotlib ``Figure`` (matplotlib is imported only when a picture is drawn).
"""

from .callback import LayerStatistics, diagnostic_keys, stat_key
from .plots import (
    activation_histograms,
    confusion_matrices,
    confusion_matrix_image,
    decision_surface,
    diagnostics_over_epochs,
    figure_png,
    gradient_norms,
    hidden_activations,
    lr_search_curve,
    member_curves,
    member_scores,
    optimizer_trajectories,
    training_curves,
    weight_images,
)
from .probe import layer_outputs, unit_outputs, unit_statistics
from .sanity import InitialLossCheck, check_initial_loss

__all__ = ["LayerStatistics", "stat_key", "diagnostic_keys", "layer_outputs", "unit_outputs", "unit_statistics",
           "check_initial_loss", "InitialLossCheck", "decision_surface", "hidden_activations", "weight_images",
           "activation_histograms", "gradient_norms", "diagnostics_over_epochs", "training_curves",
           "confusion_matrix_image", "confusion_matrices", "member_curves", "member_scores",
           "optimizer_trajectories", "lr_search_curve", "figure_png"]
