"""The eight public estimators.

They are one estimator: ``RecurrentClassifier`` and ``RecurrentRegressor``
take the cell as a hyperparameter; the six named classes fix it. Their
parameters are listed once, in ``_PARAMETERS`` (default, constraint and
documentation), and each class's signature, ``_parameter_constraints`` and
docstring are made from that list, so the eight cannot drift apart.
"""

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import compute_class_weight, compute_sample_weight
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_array, column_or_1d

from ._base import BaseRecurrent

_CELL_NAMES = {"rnn": "vanilla (Elman) RNN", "lstm": "LSTM", "gru": "GRU"}
_POSITIVE_INT = Interval(Integral, 1, None, closed="left")
_NON_NEGATIVE = Interval(Real, 0, None, closed="left")
_POSITIVE = Interval(Real, 0, None, closed="neither")
_FRACTION = Interval(Real, 0, 1, closed="left")


def _param(name, default, constraints, doc, *, only=None):
    return {"name": name, "default": default, "constraints": constraints, "doc": doc, "only": only}


# ``only`` restricts a parameter to some classes: "cell" (the two generic
# classes), "rnn_activation" (classes whose cell may be the RNN), "classifier".
_PARAMETERS = [
    _param("cell", "lstm", [StrOptions({"rnn", "lstm", "gru"})], """\
cell : {"rnn", "lstm", "gru"}, default="lstm"
    The recurrent cell: the vanilla (Elman) RNN, the LSTM or the GRU, with
    PyTorch's formulas and weight layout. A hyperparameter, so that a search
    over it answers which cell suits the data.""", only="cell"),
    _param("hidden_layer_sizes", (64,), ["array-like", _POSITIVE_INT], """\
hidden_layer_sizes : int or tuple of int, default=(64,)
    Hidden units of each stacked recurrent layer (per direction); layer k
    feeds its hidden sequence to layer k+1. Smaller than MLP's (100,): a
    recurrent step costs O(H^2) per time step."""),
    _param("activation", "tanh", [StrOptions({"tanh", "relu", "logistic"})], """\
activation : {"tanh", "relu", "logistic"}, default="tanh"
    Activation of the RNN cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).
    "logistic" is the sigmoid RNN of the textbooks. Ignored by the LSTM and
    GRU cells, whose gate functions are fixed.""", only="rnn_activation"),
    _param("bidirectional", False, ["boolean"], """\
bidirectional : bool, default=False
    Whether each layer also reads every sequence backwards (within its own
    length) and concatenates both directions, doubling its output."""),
    _param("dropout", 0.0, [_FRACTION], """\
dropout : float in [0, 1), default=0.0
    Inverted-dropout rate on the output sequence of every recurrent layer,
    the last one included, during training only. Masks are drawn from
    ``random_state``; predictions are deterministic."""),
    _param("pooling", "last", [StrOptions({"last", "mean", "max"})], """\
pooling : {"last", "mean", "max"}, default="last"
    How the top layer's hidden sequence becomes one vector for the output
    layer: its last valid step (for the backward direction, its first step),
    or the mean or maximum over valid steps."""),
    _param("solver", "adam", [StrOptions({"adam", "sgd"})], """\
solver : {"adam", "sgd"}, default="adam"
    The optimizer: "adam" (Kingma and Ba) or "sgd" (stochastic gradient
    descent with optional momentum)."""),
    _param("alpha", 0.0001, [_NON_NEGATIVE], """\
alpha : float, default=0.0001
    Strength of the L2 penalty 0.5 * alpha * sum ||W||^2 / n_samples over
    the weight matrices (not the biases), as MLP's."""),
    _param("batch_size", "auto", [StrOptions({"auto"}), _POSITIVE_INT], """\
batch_size : int or "auto", default="auto"
    Size of the minibatches; "auto" is min(200, n_samples)."""),
    _param("learning_rate", "constant", [StrOptions({"constant", "invscaling", "adaptive"})], """\
learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
    Learning-rate schedule of the "sgd" solver, as MLP's: constant, scaled by
    1 / t^power_t, or divided by 5 whenever the loss stops improving."""),
    _param("learning_rate_init", 0.001, [_POSITIVE], """\
learning_rate_init : float, default=0.001
    The initial step size."""),
    _param("power_t", 0.5, [_NON_NEGATIVE], """\
power_t : float, default=0.5
    Exponent of the "invscaling" schedule (solver "sgd")."""),
    _param("max_iter", 200, [_POSITIVE_INT], """\
max_iter : int, default=200
    Maximum number of epochs (passes over the training data)."""),
    _param("shuffle", True, ["boolean"], """\
shuffle : bool, default=True
    Whether to shuffle the samples before each epoch."""),
    _param("random_state", None, ["random_state"], """\
random_state : int, RandomState instance or None, default=None
    The only source of randomness: weight initialisation, shuffling, the
    validation split and dropout masks. An int gives reproducible fits."""),
    _param("tol", 1e-4, [_NON_NEGATIVE], """\
tol : float, default=1e-4
    Tolerance of the stopping rule: training stops (or, with "adaptive", the
    rate drops) when the loss (or the validation score) has not improved by
    at least tol for n_iter_no_change consecutive epochs."""),
    _param("verbose", False, ["verbose"], """\
verbose : bool, default=False
    Whether to print the loss (and validation score) after every epoch."""),
    _param("warm_start", False, ["boolean"], """\
warm_start : bool, default=False
    Whether ``fit`` continues from the current ``weights_`` (for example
    weights loaded from PyTorch) instead of initialising new ones."""),
    _param("momentum", 0.9, [Interval(Real, 0, 1, closed="both")], """\
momentum : float in [0, 1], default=0.9
    Momentum of the "sgd" solver."""),
    _param("nesterovs_momentum", True, ["boolean"], """\
nesterovs_momentum : bool, default=True
    Whether the "sgd" solver uses Nesterov's momentum."""),
    _param("early_stopping", False, ["boolean"], """\
early_stopping : bool, default=False
    Whether to hold out ``validation_fraction`` of the training data
    (stratified for single-label classification) and stop when its score
    stops improving; the weights of the best validation score are restored."""),
    _param("validation_fraction", 0.1, [_FRACTION], """\
validation_fraction : float in [0, 1), default=0.1
    Share of the training data held out for early stopping."""),
    _param("beta_1", 0.9, [_FRACTION], """\
beta_1 : float in [0, 1), default=0.9
    Decay of Adam's first-moment estimate."""),
    _param("beta_2", 0.999, [_FRACTION], """\
beta_2 : float in [0, 1), default=0.999
    Decay of Adam's second-moment estimate."""),
    _param("epsilon", 1e-8, [_POSITIVE], """\
epsilon : float, default=1e-8
    Adam's numerical-stability term."""),
    _param("n_iter_no_change", 10, [_POSITIVE_INT, Options(Real, {np.inf})], """\
n_iter_no_change : int, default=10
    Number of epochs without an improvement of at least tol before the
    stopping rule acts."""),
    _param("max_grad_norm", 5.0, [_POSITIVE, None], """\
max_grad_norm : float or None, default=5.0
    Before each update, the gradient of all parameters together is scaled
    down to this Euclidean norm when it is larger (clipping against exploding
    gradients). None turns clipping off."""),
    _param("class_weight", None, [dict, StrOptions({"balanced"}), None], """\
class_weight : dict, "balanced" or None, default=None
    Weights of the classes in the loss, multiplied into ``sample_weight``: a
    dict {label: weight}, or "balanced" for n_samples / (n_classes * counts)
    (per output for multilabel targets, where a dict is not accepted).""", only="classifier"),
]  # fmt: skip

_COMMON_ATTRIBUTES = """\
weights_ : dict of str to ndarray
    The model: every parameter, named and shaped exactly as the
    ``state_dict()`` of a PyTorch module with attributes ``rnn``
    (``nn.RNN``/``nn.LSTM``/``nn.GRU``, ``batch_first=True``) and ``head``
    (``nn.Linear``): ``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``,
    ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``, ``..._l1``, ``..._l0_reverse``,
    ``head.weight``, ``head.bias``. ``predict`` reads it; ``warm_start`` and
    ``partial_fit`` continue from it.
loss_ : float
    The loss at the end of the last epoch (data term plus L2 penalty).
best_loss_ : float or None
    The smallest training loss seen; None when ``early_stopping`` is on.
loss_curve_ : list of float
    The loss at the end of every epoch.
validation_scores_ : list of float or None
    The validation score after every epoch when ``early_stopping`` is on.
best_validation_score_ : float or None
    The best validation score when ``early_stopping`` is on.
n_iter_ : int
    Number of epochs run.
t_ : int
    Number of training samples seen by the optimizer.
n_outputs_ : int
    Number of output units.
out_activation_ : str
    Output function: "softmax", "logistic" or "identity".
n_features_in_ : int
    Number of features seen during fit: the number of columns of 2-D X
    (each row one univariate sequence), or the features per step of 3-D and
    ragged X.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Column names of a DataFrame X, when they are all strings."""

_CLASSIFIER_ATTRIBUTES = """\
classes_ : ndarray or list of ndarray
    Class labels (for each output)."""


def _signature(params):
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature(
        [self_param]
        + [
            inspect.Parameter(p["name"], inspect.Parameter.KEYWORD_ONLY, default=p["default"])
            for p in params
        ]
    )


def _estimator_class(name, bases, *, cell, summary, example, classifier):
    """Build one public estimator from the parameter table."""
    wanted = {None, "classifier"} if classifier else {None}
    if cell is None:
        wanted |= {"cell", "rnn_activation"}
    elif cell == "rnn":
        wanted.add("rnn_activation")
    params = [p for p in _PARAMETERS if p["only"] in wanted]
    signature = _signature(params)

    def __init__(self, **kwargs):
        bound = signature.bind(self, **kwargs)
        bound.apply_defaults()
        for key, value in bound.arguments.items():
            if key != "self":
                setattr(self, key, value)

    __init__.__signature__ = signature
    __init__.__doc__ = f"Initialise a {name}; see the class docstring."
    attributes = _COMMON_ATTRIBUTES + ("\n" + _CLASSIFIER_ATTRIBUTES if classifier else "")
    doc = (
        f"{summary}\n\n"
        "Read more in the :ref:`user guide <user_guide>`.\n\n"
        "Parameters\n----------\n" + "\n".join(p["doc"] for p in params) + "\n\n"
        "Attributes\n----------\n" + attributes + "\n\n"
        "See Also\n--------\n"
        "RecurrentClassifier : Any cell, chosen by a hyperparameter (classification).\n"
        "RecurrentRegressor : Any cell, chosen by a hyperparameter (regression).\n\n"
        f"Examples\n--------\n{example}"
    )
    namespace = {
        "__init__": __init__,
        "__doc__": doc,
        "__module__": "sklearn_rnn",
        "_parameter_constraints": {p["name"]: p["constraints"] for p in params},
        "_fixed_cell": cell,
    }
    return type(name, bases, namespace)


class _ClassifierMixin(ClassifierMixin):
    """Classification on top of BaseRecurrent: labels, class weights, probabilities."""

    def _validate_targets(self, y, *, incremental, reset):
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y)
        return np.asarray(Y, dtype=np.float64)

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _target_sample_weight(self, Y):
        if self.class_weight is None:
            return None
        y = self._label_binarizer.inverse_transform(Y)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if self.class_weight != "balanced":
                raise ValueError(
                    "class_weight must be None or 'balanced' for multilabel targets, not a dict."
                )
            return compute_sample_weight("balanced", y)
        if self.class_weight == "balanced":
            present = np.unique(y)
            weights = compute_class_weight("balanced", classes=present, y=y)
            return weights[np.searchsorted(present, y)]
        unknown = [c for c in self.class_weight if c not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown} that are not among the classes "
                f"{self.classes_.tolist()}."
            )
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return weights[np.searchsorted(self.classes_, y)]

    def _labels_of(self, out):
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def _score(self, data, lengths, Y, sample_weight):
        from sklearn.metrics import accuracy_score  # here: see _split_validation

        y_true = self._labels_of(Y)
        return accuracy_score(
            y_true, self._labels_of(self._forward(data, lengths)), sample_weight=sample_weight
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, as for ``fit``.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.
        classes : array-like of shape (n_classes,), default=None
            All classes across the calls to ``partial_fit``; required on the
            first call, ignored afterwards.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the balance of "
                "one batch says little about the data. Compute the weights once with "
                "sklearn.utils.compute_class_weight('balanced', classes=classes, y=y) on "
                "a large enough sample and pass them as a class_weight dict."
            )
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict the class labels of sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, in the form used for ``fit``.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels.
        """
        return self._labels_of(self._forward_X(X))

    def decision_function(self, X):
        """Scores of the linear head (the logits) for sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, in the form used for ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The logits: one column per class (multiclass) or label
            (multilabel); one value per sample for binary problems, where a
            positive score predicts ``classes_[1]``.
        """
        logits = self._logits(*self._validated(X))
        return logits.ravel() if self.n_outputs_ == 1 else logits

    def predict_proba(self, X):
        """Probability of each class for sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, in the form used for ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        out = self._forward_X(X)
        if self.n_outputs_ == 1:
            p = out.ravel()
            if len(self.classes_) == 1:  # fitted on one class: it is certain
                return np.ones((p.shape[0], 1), dtype=p.dtype)
            return np.vstack([1 - p, p]).T
        return out

    def predict_log_proba(self, X):
        """Log of the probability of each class for sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, in the form used for ``fit``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.classifier_tags.multi_label = True
        return tags


class _RegressorMixin(RegressorMixin):
    """Regression on top of BaseRecurrent: numeric targets, one or several outputs."""

    def _validate_targets(self, y, *, incremental, reset):
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got an array of shape {y.shape}.")
        return np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)

    def _output_activation(self):
        return "identity"

    def _score(self, data, lengths, Y, sample_weight):
        from sklearn.metrics import r2_score  # here: see _split_validation

        return r2_score(Y, self._forward(data, lengths), sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, as for ``fit``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets of sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of arrays
            Sequences, in the form used for ``fit``.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values.
        """
        out = self._forward_X(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        return tags


_CLASSIFIER_EXAMPLE = """\
>>> import numpy as np
>>> from sklearn_rnn import {name}
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(60, 12, 2))        # 60 sequences, 12 steps, 2 features
>>> y = np.where(X[:, :, 0].sum(axis=1) > 0, "up", "down")
>>> clf = {name}({extra}hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
>>> clf.classes_.tolist()
['down', 'up']
>>> clf.predict_proba(X[:2]).shape
(2, 2)
>>> bool(clf.score(X, y) > 0.9)
True
>>> sorted(clf.weights_)[:2]
['head.bias', 'head.weight']
"""

_REGRESSOR_EXAMPLE = """\
>>> import numpy as np
>>> from sklearn_rnn import {name}
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(80, 10))           # 80 univariate sequences of 10 steps
>>> y = X[:, -3:].sum(axis=1)               # the sum of the last three steps
>>> reg = {name}({extra}hidden_layer_sizes=(16,), max_iter=400, random_state=0).fit(X, y)
>>> reg.predict(X[:2]).shape
(2,)
>>> bool(reg.score(X, y) > 0.9)
True
"""


def _summary(cell, classifier):
    task = "classifier" if classifier else "regressor"
    generic = "RecurrentClassifier" if classifier else "RecurrentRegressor"
    if cell is None:
        first = (
            f"Recurrent neural network {task} whose cell (RNN, LSTM or GRU) is a hyperparameter."
        )
    else:
        first = f'{_CELL_NAMES[cell]} {task}: {generic} with ``cell="{cell}"``.'
    return (
        f"{first}\n\n"
        "Stacked recurrent layers read each sequence; their hidden sequence is pooled\n"
        "into one vector and a linear layer gives the output, trained as scikit-learn's\n"
        f"MLP{task.capitalize()} is (same loss, solvers and stopping rules)."
    )


def _make(name, cell, classifier):
    mixin = _ClassifierMixin if classifier else _RegressorMixin
    example = (_CLASSIFIER_EXAMPLE if classifier else _REGRESSOR_EXAMPLE).format(
        name=name, extra='cell="gru", ' if cell is None else ""
    )
    return _estimator_class(
        name, (mixin, BaseRecurrent), cell=cell, summary=_summary(cell, classifier),
        example=example, classifier=classifier,
    )  # fmt: skip


RecurrentClassifier = _make("RecurrentClassifier", None, True)
RNNClassifier = _make("RNNClassifier", "rnn", True)
LSTMClassifier = _make("LSTMClassifier", "lstm", True)
GRUClassifier = _make("GRUClassifier", "gru", True)
RecurrentRegressor = _make("RecurrentRegressor", None, False)
RNNRegressor = _make("RNNRegressor", "rnn", False)
LSTMRegressor = _make("LSTMRegressor", "lstm", False)
GRURegressor = _make("GRURegressor", "gru", False)
