"""scikit-learn MLP's end-of-epoch bookkeeping, as one nnlab callback that ``fit`` runs.

MLPClassifier/MLPRegressor do four things after every epoch; :class:`MLPEpochRule`
does the same four, in the same order, inside :func:`nnlab.train.fit`:

1. record the epoch's mean training loss (penalty included) in ``loss_curve_`` and ``loss_``;
2. count epochs without improvement: with ``early_stopping``, a validation score
   (accuracy, R²) below ``best_validation_score_ + tol``; otherwise a training loss
   above ``best_loss_ - tol``;
3. for ``solver="sgd"`` with ``learning_rate="invscaling"``: η = η₀ / (t + 1)^power_t,
   t = the number of training samples seen so far;
4. after more than ``n_iter_no_change`` such epochs: stop, or for
   ``learning_rate="adaptive"`` divide η by 5 (stop once η <= 1e-6).
"""

from __future__ import annotations

from ..train.callbacks import Callback


class MLPEpochRule(Callback):
    """Apply scikit-learn MLP's per-epoch rule to ``estimator``'s fitted attributes (see the module docstring).

    ``validation`` is ``(X_val, y_val, sample_weight_val or None)`` for early stopping, or None.  With early
    stopping the weights of the best-scoring epoch are kept in ``best_state``.
    """

    def __init__(self, estimator, n_samples: int, validation=None):
        self.estimator = estimator
        self.n_samples = n_samples
        self.validation = validation
        self.best_state = None
        self.message = None

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_curve_.append(loss)
        est.loss_ = loss
        est.n_iter_ += 1
        est.t_ += self.n_samples
        if self.validation is not None:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            worse = score < est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_state = self.model.state_dict()
        else:
            worse = loss > est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, loss)
        est._no_improvement_count = est._no_improvement_count + 1 if worse else 0
        sgd_rule = est.solver == "sgd" and est.schedule is None
        if sgd_rule and est.learning_rate == "invscaling":
            self.optimizer.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            message = (f"{what} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} "
                       "consecutive epochs.")
            if sgd_rule and est.learning_rate == "adaptive" and self.optimizer.lr > 1e-6:
                self.optimizer.lr = self.optimizer.lr / 5.0
                est._no_improvement_count = 0
            else:
                self.message = message + " Stopping."
                self.stop_training = True
