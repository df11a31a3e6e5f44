"""What ``fit``, ``evaluate`` and ``predict`` do to the data before the first batch: checking it against the model.

:func:`prepare_dataset` turns ``(X, y)`` pairs into datasets of the model's
dtype and checks them with one forward pass on two rows (in evaluation mode, see
:func:`evaluating`), so that a wrong feature count or targets that do not fit
the outputs are reported before any training happens.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..data import ArrayDataset, as_dataset, check_labels
from ..data.dataset import dataset_rows
from ..errors import ConfigError, DataError
from ..losses.base import registered
from ..tensor import as_tensor, no_grad


@contextlib.contextmanager
def evaluating(model):
    """Run the body with ``model`` in evaluation mode and without building a graph; then restore its mode.

    Evaluation mode makes Dropout pass inputs through and BatchNorm use its
    running statistics; ``no_grad`` skips recording the graph. The model's
    previous mode (training or not) comes back afterwards, also on an error.

    >>> import nnlab
    >>> model = nnlab.nn.Sequential(nnlab.nn.Dropout(keep=0.5))
    >>> with evaluating(model):
    ...     model.training, nnlab.is_grad_enabled()
    (False, False)
    >>> model.training, nnlab.is_grad_enabled()
    (True, True)
    """
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        model.train(was_training)


def loss_by_name(loss):
    """A loss name (``"mse"``, ``"cross_entropy"``, as Keras takes them) as its nnlab Loss; anything else unchanged."""
    if isinstance(loss, str):
        from ..losses import get

        return get(loss)
    return loss


def model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def probe_forward(model, X_rows, name):
    """Run the model on a few rows, turning a shape mismatch into a DataError that names the data.

    The output's ``.data`` (an array, or a multi-head model's dict), or the output
    itself when it has none (a tuple that the user's loss unpacks).
    """
    try:
        output = model(as_tensor(X_rows))
        return getattr(output, "data", output)
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from exc
    except (ConfigError, ValueError, TypeError, IndexError) as exc:
        # Layers report a wrong input width as ConfigError (Linear) or NumPy's ValueError (matmul).
        shape = X_rows.shape[1:]
        raise DataError(f"{name} has samples of shape {shape}, which the model cannot take: {exc}") from exc


def prepare_dataset(model, data, dtype, name, loss=None):
    """A dataset of ``dtype`` features, validated: non-empty, finite, and labels that fit the model's outputs.

    One forward pass on two rows, in evaluation mode under ``no_grad`` (so no
    running statistics move and no randomness is drawn), finds a feature-count
    mismatch and the number of outputs before any training happens.  One target
    per sample for several outputs is read as class labels, unless ``loss`` is an
    nnlab loss that compares targets with outputs element by element (MSE, BCE,
    ...): then the shapes must match.
    """
    if isinstance(data, list) and len(data) == 2 and not np.isscalar(data[0]):
        data = tuple(data)
    try:
        dataset = as_dataset(data, dtype=dtype)
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from None
    if not isinstance(dataset, ArrayDataset):  # the user's own dataset class, read as it is
        if len(dataset) == 0:
            raise DataError(f"{name} is empty: no samples")
        return dataset
    with evaluating(model):
        output = probe_forward(model, dataset.X[:2], name)
    y = dataset.y
    if y is None or not isinstance(output, np.ndarray):  # no targets, or no one array of outputs to check them against
        return dataset
    if output.ndim == 2 and output.shape[1] > 1 and (y.ndim == 1 or y.shape[1:] == (1,)):
        if not _takes_class_indices(loss):
            raise DataError(_shape_mismatch(name, y, output, loss))
        labels = check_labels(y, num_classes=output.shape[1], name=f"{name} labels")
        if labels.dtype != y.dtype or labels.shape != y.shape:
            dataset = ArrayDataset(dataset.X, labels, dtype=dtype)
    elif y.ndim == 1 and output.shape[1:] == (1,) and not _takes_class_indices(loss):
        dataset = ArrayDataset(dataset.X, y.reshape(-1, 1), dtype=dtype)  # one value per sample, as the output
    elif y.ndim >= 2 and output.ndim == y.ndim and y.shape[1:] != output.shape[1:]:
        raise DataError(_shape_mismatch(name, y, output, loss))
    return dataset


def split_validation(dataset, validation_split: float):
    """``(training rows, validation rows)``: Keras's ``validation_split``, the last fraction of the samples.

    The rows are taken in their given order, before any shuffling (as Keras does),
    so the validation rows are the same in every epoch and every run; data sorted
    by class or by time should be shuffled before ``fit``.  Keras's count: the
    first floor(n·(1 - validation_split)) rows train.
    """
    n = len(dataset)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at in (0, n):
        raise ConfigError(f"fit: validation_split={validation_split!r} of train_data's {n} samples leaves "
                          f"{split_at} for training and {n - split_at} for validation; both need at least one")
    return dataset_rows(dataset, 0, split_at), dataset_rows(dataset, split_at, n)


def _takes_class_indices(loss) -> bool:
    """False only for an nnlab loss known to need targets of the outputs' shape; a user's function may take labels."""
    spec = registered(loss)
    return spec is None or spec[0].class_targets


def _shape_mismatch(name, y, output, loss) -> str:
    spec = registered(loss)
    why = f" ({spec[0].__name__} compares them element by element)" if spec and not spec[0].class_targets else ""
    return (f"{name}: targets of shape {y.shape} do not fit the model's outputs of shape "
            f"{(len(y),) + output.shape[1:]}{why}")
