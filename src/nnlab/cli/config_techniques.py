"""The run configuration's sections for the notes' techniques of issue 13: [pretrain], [ensemble], [tasks.<name>]."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from .. import optim
from .config_base import Bool, Float, Fraction, Int, _Section


class PretrainConfig(_Section):
    """Greedy layer-wise pretraining of the hidden layers before the supervised training (nnlab.pretrain)."""

    method: Literal["none", "autoencoder", "rbm"] = "none"
    epochs: list[Annotated[Int, Field(ge=1)]] | Annotated[Int, Field(ge=1)] = Field(
        5, description="epochs per hidden layer: one number for all or one per layer")
    batch_size: Int = Field(32, ge=1)
    lr: list[Annotated[Float, Field(ge=0)]] | Annotated[Float, Field(ge=0)] = Field(
        0.01, description="learning rate per layer (one number or a list)")
    optimizer: Literal[optim.names(with_setting="lr")] = "adam"  # the registry's names (pretrain passes lr)
    tied: Bool = Field(True, description="autoencoder: decoder W^T (TiedLinear) or a decoder of its own")
    decoder_activation: Literal["auto", "linear", "same"] = "auto"
    noise_std: list[Annotated[Float, Field(ge=0)]] | Annotated[Float, Field(ge=0)] = Field(
        0.0, description="autoencoder: Gaussian input noise (denoising)")
    mask_fraction: list[Fraction] | Fraction = Field(0.0, description="autoencoder: fraction of inputs set to 0")
    cd_k: Int = Field(1, ge=1, description="rbm: Gibbs steps of contrastive divergence")
    visible: Literal["bernoulli", "gaussian"] = Field("bernoulli", description="rbm: first layer's visible units")

    ONLY_FOR: ClassVar[dict] = {key: ("method", ("autoencoder",)) for key in
                                ("tied", "decoder_activation", "noise_std", "mask_fraction")} | {
                                key: ("method", ("rbm",)) for key in ("cd_k", "visible")}


class EnsembleConfig(_Section):
    """Bagging: n_models networks of the [model] section, each on its own bootstrap sample (nnlab.ensemble)."""

    method: Literal["none", "bagging"] = "none"
    n_models: Int = Field(10, ge=1)
    voting: Literal["soft", "hard"] = "soft"
    sample_fraction: Float = Field(1.0, gt=0, description="bootstrap sample size as a fraction of the rows")
    replace: Bool = Field(True, description="sample with replacement (the notes' bagging)")
    feature_fraction: Float = Field(1.0, gt=0, le=1, description="fraction of the features each member sees")
    n_jobs: Int = Field(-1, ge=-1, description="parallel processes (-1: one per core; 0 is not allowed)")

    @model_validator(mode="after")
    def _check(self):
        if self.n_jobs == 0:
            raise ValueError("ensemble.n_jobs must be -1 (one process per core) or a whole number >= 1, got 0")
        return self


class TaskConfig(_Section):
    """One task of a multi-task run ([tasks.<name>]): its target, its loss and its weight in the sum."""

    target: str = Field(min_length=1, description="CSV: a target column; other sources: 'label' or 'parity'")
    loss: Literal["cross_entropy", "mse"] = Field(
        "cross_entropy", description="cross_entropy: a classification head; mse: a regression head (1 output)")
    weight: Float = Field(1.0, ge=0, description="w of the task in L = Σ w·L_task")
