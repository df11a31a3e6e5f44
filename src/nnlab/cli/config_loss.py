"""The run configuration's [loss] section: a loss of the registry by name, with the settings of the chosen one."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .config_base import Float, Fraction, _Section


class LossConfig(_Section):
    """A loss of nnlab.losses by its registry name, on the outputs and the labels or their one-hot rows."""

    name: Literal["cross_entropy", "multi_margin", "mse", "euclidean", "l1", "huber", "smooth_l1", "bce_with_logits",
                  "multilabel_soft_margin"] = "cross_entropy"
    label_smoothing: Fraction = 0.0
    delta: Float = Field(1.0, gt=0, description="huber: |error| where the loss turns from quadratic to linear")
    beta: Float = Field(1.0, ge=0, description="smooth_l1: the threshold β (0: the L1 loss)")
    p: Literal[1, 2] = Field(1, description="multi_margin: 1 for the hinge max(0, margin − s_y + s_j), 2 for its square")
    margin: Float = Field(1.0, ge=0, description="multi_margin: the margin by which the true class's score should win")

    ON_LABELS: ClassVar[tuple] = ("cross_entropy", "multi_margin")  # the others get one-hot rows
    PER_CLASS_SIGMOID: ClassVar[tuple] = ("bce_with_logits", "multilabel_soft_margin")  # predict's p_ columns
    # each setting is passed to the loss it belongs to (losses.get(name, **settings))
    ONLY_FOR: ClassVar[dict] = {"label_smoothing": ("name", ("cross_entropy",)), "delta": ("name", ("huber",)),
                                "beta": ("name", ("smooth_l1",)), "p": ("name", ("multi_margin",)),
                                "margin": ("name", ("multi_margin",))}
