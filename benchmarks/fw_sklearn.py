"""scikit-learn side: MLPClassifier, solver="adam", one ``partial_fit`` pass per epoch."""

from __future__ import annotations

import warnings

import numpy as np

from .runner import Runner


def versions() -> dict:
    import sklearn

    return {"scikit-learn": sklearn.__version__}


def supports(case) -> str | None:
    """None when MLPClassifier can express the case, else the reason it cannot."""
    if case.batchnorm:
        return "MLPClassifier has no BatchNorm"
    if case.net:
        return "MLPClassifier has no convolution"
    if case.optimizer != "adam" or case.dropout:
        return "only the Adam cases without dropout are run with MLPClassifier"
    return None


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    from sklearn.neural_network import MLPClassifier

    reason = supports(case)
    if reason:
        raise NotImplementedError(reason)
    # alpha=0: no L2 term, like the other frameworks; shuffle=True: sklearn shuffles
    # an index array each pass and gathers each batch with one fancy index.
    model = MLPClassifier(
        hidden_layer_sizes=tuple(case.sizes[1:-1]),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=case.batch_size,
        learning_rate_init=1e-3,
        shuffle=True,
        random_state=seed,
    )
    classes = np.arange(case.sizes[-1])
    n = len(X)

    def run(stop):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # partial_fit = one pass over the data it is given (float32 kept as float32).
            model.partial_fit(X[:stop] if stop < n else X, y[:stop] if stop < n else y, classes=classes)
        return float(model.loss_)

    runner = Runner(run, n, case.batch_size)
    runner.info["dtype_check"] = lambda: str(model.coefs_[0].dtype)
    return runner
