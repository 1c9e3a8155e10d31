"""BaseRecurrent: the training loop shared by every estimator.

It follows ``sklearn/neural_network/_multilayer_perceptron.py`` closely: the
``first_pass / warm_start / incremental`` logic, minibatches over shuffled
indices, ``tol``/``n_iter_no_change`` with the optimizer's ``trigger_stopping``,
early stopping on a validation split that restores the best weights, a
``ConvergenceWarning`` at ``max_iter``, a finite-weights check, and a
``KeyboardInterrupt`` that ends training with a usable model.
"""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._loss import OUTPUT_FUNCTIONS
from ._network import (
    Architecture,
    Workspace,
    check_parameters,
    init_parameters,
    loss_and_gradients,
    predict_logits,
)
from ._optim import clip_grad_norm, make_optimizer
from ._parallel import blas_limits
from ._sequences import validate_sequences

#: Output function -> the loss it is the canonical pair of (as in MLP).
LOSS_OF_OUTPUT = {"softmax": "log_loss", "logistic": "binary_log_loss", "identity": "squared_error"}


def _blas_limits():
    """Run BLAS on one thread inside the kernels.

    The per-step products are small; OpenBLAS's threads cost more than they
    give there, and on a busy machine (a parallel search) they spin against
    each other: an epoch measured 18x slower with 2 BLAS threads than with 1.
    """
    return blas_limits()


class BaseRecurrent(BaseEstimator, metaclass=ABCMeta):
    """Base class of the recurrent estimators; use the derived classes.

    Subclasses fix ``_fixed_cell`` (or take ``cell`` as a parameter) and define
    how targets are validated (``_validate_targets``), scored (``_score``) and
    predicted.
    """

    #: The cell of a named estimator (``LSTMClassifier`` ...); None reads ``self.cell``.
    _fixed_cell = None

    # -- the network --------------------------------------------------------------

    def _cell_name(self):
        return self._fixed_cell or self.cell

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple of ints; ValueError unless all are positive ints."""
        sizes = self.hidden_layer_sizes
        # the usual forms first, without numpy: every predict asks
        if type(sizes) is int and sizes >= 1:
            return (sizes,)
        if type(sizes) is tuple and sizes and all(type(s) is int and s >= 1 for s in sizes):
            return sizes
        sizes = [sizes] if np.ndim(sizes) == 0 else list(np.asarray(sizes, dtype=object).ravel())
        ints = all(isinstance(s, Integral) and not isinstance(s, (bool, np.bool_)) for s in sizes)
        if not sizes or np.ndim(self.hidden_layer_sizes) > 1 or not ints or min(sizes) < 1:
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _architecture(self):
        cell = self._cell_name()
        return Architecture(
            cell=cell,
            n_features=self._n_step_features_,
            hidden_sizes=self._hidden_sizes(),
            n_outputs=self.n_outputs_,
            bidirectional=bool(self.bidirectional),
            pooling=self.pooling,
            activation=getattr(self, "activation", "tanh") if cell == "rnn" else "tanh",
        )

    def _model_dtype(self):
        return self.weights_["head.weight"].dtype

    def _logits(self, data, lengths):
        """Outputs of the fitted model's linear head (before the output function)."""
        arch = self._architecture()
        check_parameters(self.weights_, arch, self._model_dtype())
        with _blas_limits():
            logits = predict_logits(
                self.weights_, arch, data.astype(self._model_dtype(), copy=False), lengths
            )
        finite = np.isfinite(logits).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"The model's output is not finite (NaN or inf) for {bad.size} sequence(s) "
                f"of X, the first being sequence {bad[0]}: its values are too large for "
                "the network (scale X), or weights_ holds NaN or inf."
            )
        return logits

    def _forward(self, data, lengths):
        """Outputs of the fitted model (after the output function)."""
        return OUTPUT_FUNCTIONS[self.out_activation_](self._logits(data, lengths))

    def _validated(self, X):
        """X validated against the fitted model, as (data, lengths)."""
        if not hasattr(self, "weights_"):  # scikit-learn's check costs 15-80 us a call
            check_is_fitted(self)
        return validate_sequences(self, X, reset=False)

    def _forward_X(self, X):
        """Validate X against the fitted model, then run it."""
        return self._forward(*self._validated(X))

    # -- fitting ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences: rows of a 2-D array are univariate sequences; a 3-D
            array holds multivariate ones; a list holds sequences of
            different lengths. Trailing all-NaN steps are padding.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels or a multilabel indicator matrix (classifiers);
            targets, several columns for multi-output regression such as a
            multi-step forecast (regressors).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @abstractmethod
    def _validate_targets(self, y, *, incremental, reset):
        """Targets as the 2-D matrix the loss takes; sets classes_ etc. on reset."""

    @abstractmethod
    def _output_activation(self):
        """Name of the output function for the validated targets."""

    @abstractmethod
    def _score(self, data, lengths, y, sample_weight):
        """Score of the model on validated data (for early stopping)."""

    def _target_sample_weight(self, Y):
        """Per-sample weights implied by the targets (class_weight); None by default."""
        return None

    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._hidden_sizes()  # its entries are checked here, before the data
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        first_pass = not hasattr(self, "weights_") or (not self.warm_start and not incremental)
        data, lengths = validate_sequences(self, X, reset=first_pass)
        if not first_pass:  # continue in the model's own dtype
            data = data.astype(self._model_dtype(), copy=False)
        Y = self._validate_targets(y, incremental=incremental, reset=first_pass)
        if Y.shape[0] != data.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{data.shape[0]}, {Y.shape[0]}]"
            )
        Y = Y.astype(data.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, data, dtype=data.dtype)
        target_weight = self._target_sample_weight(Y)
        if target_weight is not None:
            sample_weight = (
                target_weight if sample_weight is None else sample_weight * target_weight
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=data.dtype)
            if target_weight is not None and not (
                np.isfinite(sample_weight).all() and sample_weight.any()
            ):
                raise ValueError(
                    "The weights of the samples (sample_weight times the class_weight of "
                    f"their class) must be finite and not all zero; class_weight="
                    f"{self.class_weight!r} gives {np.unique(target_weight).tolist()}."
                )

        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, data.dtype, random_state)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}."
            )
        arch = self._architecture()
        check_parameters(self.weights_, arch, data.dtype)
        if not first_pass:
            bad = [name for name, w in self.weights_.items() if not np.isfinite(w).all()]
            if bad:
                raise ValueError(
                    f"weights_ holds NaN or inf in {bad}: training cannot continue from it."
                )
        with _blas_limits():
            self._fit_stochastic(data, lengths, Y, sample_weight, arch, incremental, random_state)
        return self

    def _initialize(self, Y, dtype, random_state):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._output_activation()
        self.weights_ = init_parameters(self._architecture(), random_state, dtype)
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._best_weights = None

    def _split_validation(self, data, lengths, Y, sample_weight, random_state):
        """Hold out ``validation_fraction`` of the data, stratified for single-label classes."""
        n_samples = data.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n_samples))
        if n_val < 2 or n_samples - n_val < 1:
            raise ValueError(
                f"The validation set is too small: early_stopping holds out "
                f"validation_fraction={self.validation_fraction} of {n_samples} samples, "
                f"which gives {n_val} validation sample(s); at least 2 are needed, and at "
                f"least 1 left to train on. Increase 'validation_fraction' or the size of "
                f"your dataset, or set early_stopping=False."
            )
        stratify = (
            Y.argmax(axis=1) if is_classifier(self) and self.out_activation_ == "softmax" else None
        )
        if stratify is None and is_classifier(self) and self.n_outputs_ == 1:
            stratify = Y[:, 0]
        # imported here, not at module level: sklearn.model_selection (and the
        # sklearn.metrics it pulls in) would add ~50 ms to every import of sklearn_rnn
        from sklearn.model_selection import train_test_split

        indices = np.arange(n_samples)
        try:
            train, val = train_test_split(
                indices, random_state=random_state, test_size=n_val, stratify=stratify
            )
        except ValueError:  # a class too rare to stratify: fall back to a plain split
            train, val = train_test_split(indices, random_state=random_state, test_size=n_val)
        sw = sample_weight
        return (
            (data[train], lengths[train], Y[train], None if sw is None else sw[train]),
            (data[val], lengths[val], Y[val], None if sw is None else sw[val]),
        )

    def _fit_stochastic(self, data, lengths, Y, sample_weight, arch, incremental, random_state):
        params = list(self.weights_.values())
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(
                self.solver,
                params,
                learning_rate_init=self.learning_rate_init,
                learning_rate=self.learning_rate,
                power_t=self.power_t,
                momentum=self.momentum,
                nesterovs_momentum=self.nesterovs_momentum,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
            )
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        validation = None
        if early_stopping:
            (data, lengths, Y, sample_weight), validation = self._split_validation(
                data, lengths, Y, sample_weight, random_state
            )
        n_samples = data.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. "
                    "It is going to be clipped",
                    stacklevel=3,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        loss_name = LOSS_OF_OUTPUT[self.out_activation_]
        sample_idx = np.arange(n_samples)
        workspace = Workspace()  # the batches' big buffers, allocated once per fit
        # weights at the end of the last completed epoch: what an interruption or a
        # numerical failure leaves behind
        completed = {k: v.copy() for k, v in self.weights_.items()}
        # and the optimizer's state (moments, velocities, step) at that time
        completed_optimizer = copy.deepcopy(self._optimizer)
        try:
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = random_state.permutation(n_samples)
                accumulated_loss = 0.0
                for batch_slice in gen_batches(n_samples, batch_size):
                    idx = sample_idx[batch_slice]
                    batch_weight = None if sample_weight is None else sample_weight[idx]
                    if batch_weight is not None and not batch_weight.any():
                        continue  # a batch of zero weight: no loss, nothing to learn
                    batch_loss, grads = loss_and_gradients(
                        self.weights_, arch, data[idx], lengths[idx], Y[idx], loss_name,
                        sample_weight=batch_weight,
                        alpha=self.alpha, dropout=self.dropout, random_state=random_state,
                        workspace=workspace,
                    )  # fmt: skip
                    accumulated_loss += batch_loss * (batch_slice.stop - batch_slice.start)
                    grad_list = [grads[name] for name in self.weights_]
                    if self.max_grad_norm is not None:
                        clip_grad_norm(grad_list, self.max_grad_norm)
                    self._optimizer.update_params(params, grad_list)
                if not np.isfinite(accumulated_loss) or not all(
                    np.isfinite(w).all() for w in params
                ):
                    self._restore(completed, completed_optimizer)
                    raise ValueError(
                        f"Solver produced non-finite parameter weights or loss in epoch "
                        f"{self.n_iter_ + 1}; the weights of the last finite epoch were kept. "
                        "The input data may contain large values and need to be preprocessed, "
                        "or training diverged: lower learning_rate_init or set max_grad_norm."
                    )
                for name, value in self.weights_.items():
                    np.copyto(completed[name], value)
                completed_optimizer = copy.deepcopy(self._optimizer)
                self.n_iter_ += 1
                self.loss_ = accumulated_loss / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(early_stopping, validation)
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                completed_optimizer = copy.deepcopy(self._optimizer)  # its new learning rate
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                        "and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        except KeyboardInterrupt:
            self._restore(completed, completed_optimizer)
            warnings.warn(
                "Training interrupted by user; the model keeps the weights of the last "
                f"completed epoch ({self.n_iter_}).",
                stacklevel=3,
            )
        if early_stopping and self._best_weights is not None:
            for name, value in self._best_weights.items():
                np.copyto(self.weights_[name], value)

    def _restore(self, weights, optimizer):
        """Go back to the weights and optimizer state of the last completed epoch."""
        for name, value in weights.items():
            np.copyto(self.weights_[name], value)
        self._optimizer = optimizer

    def _update_no_improvement_count(self, early_stopping, validation):
        if early_stopping:
            val_score = self._score(*validation)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print(f"Validation score: {val_score:f}")
            if val_score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if val_score > self.best_validation_score_:
                self.best_validation_score_ = val_score
                self._best_weights = {k: v.copy() for k, v in self.weights_.items()}
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
