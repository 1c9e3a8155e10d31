"""Output functions and losses, with their gradients.

The losses are exactly scikit-learn's ``MLPClassifier``/``MLPRegressor`` ones
(``sklearn/neural_network/_base.py``), so a model's loss can be checked against
scikit-learn's and PyTorch's. Each output function is paired with its canonical
loss, for which the gradient with respect to the logits is ``output - y`` (scaled
by the sample weights), as in MLP's backpropagation.
"""

import numpy as np
from scipy.special import expit, xlogy


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _logistic(logits):
    return expit(logits)


def _identity(logits):
    return logits.copy()


#: Output-function name (MLP's ``out_activation_``) -> function of the logits.
OUTPUT_FUNCTIONS = {"softmax": _softmax, "logistic": _logistic, "identity": _identity}


def _weighted_mean(values, sample_weight):
    """Mean over samples (axis 0), weighted when ``sample_weight`` is given.

    ``np.average``'s result, bit for bit; the unweighted case skips its argument
    handling, which costs more than the mean itself on a batch.
    """
    if sample_weight is None:
        # np.mean's own arithmetic (a sum in the values' dtype, then a division by the
        # count), without its argument handling
        return np.add.reduce(values, axis=0) / values.shape[0]
    return np.average(values, weights=sample_weight, axis=0)


def _clip_probabilities(y_prob):
    """``np.clip(y_prob, eps, 1 - eps)`` (MLP's guard before the log), as two ufunc calls."""
    eps = np.finfo(y_prob.dtype).eps
    return np.minimum(np.maximum(y_prob, eps), 1 - eps)


def squared_loss(y_true, y_pred, sample_weight=None):
    """Half the squared error, averaged over samples then over outputs."""
    return 0.5 * _weighted_mean((y_true - y_pred) ** 2, sample_weight).mean()


def log_loss(y_true, y_prob, sample_weight=None):
    """Cross-entropy of a softmax output, averaged over samples."""
    y_prob = _clip_probabilities(y_prob)
    return -_weighted_mean(xlogy(y_true, y_prob), sample_weight).sum()


def binary_log_loss(y_true, y_prob, sample_weight=None):
    """Binary cross-entropy of logistic outputs, averaged over samples, summed over outputs."""
    y_prob = _clip_probabilities(y_prob)
    return -_weighted_mean(
        xlogy(y_true, y_prob) + xlogy(1 - y_true, 1 - y_prob), sample_weight
    ).sum()


#: Loss name -> (loss function, output-function name it is the canonical loss of).
LOSS_FUNCTIONS = {
    "squared_error": (squared_loss, "identity"),
    "log_loss": (log_loss, "softmax"),
    "binary_log_loss": (binary_log_loss, "logistic"),
}


def loss_and_gradient(loss_name, logits, y_true, sample_weight=None, weight_sum=None):
    """Loss of the logits and its gradient with respect to them.

    Parameters
    ----------
    loss_name : {"squared_error", "log_loss", "binary_log_loss"}
        The loss; it fixes the output function applied to the logits.
    logits : ndarray of shape (n_samples, n_outputs)
        Outputs of the linear head.
    y_true : ndarray of shape (n_samples, n_outputs)
        Targets: one-hot rows for ``log_loss``, 0/1 for ``binary_log_loss``.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the samples in the mean.
    weight_sum : float or None
        Total weight the mean divides by: by default these samples' own
        (``sample_weight.sum()``, or ``n_samples``). A part of a batch passes the
        whole batch's, to get its share of the batch's loss, and exactly the
        batch's gradient for its samples.

    Returns
    -------
    loss : float
        The data term of the loss (no penalty).
    grad : ndarray of shape (n_samples, n_outputs)
        Gradient of ``loss`` with respect to ``logits``, in their dtype.
    """
    loss_function, out_name = LOSS_FUNCTIONS[loss_name]
    output = OUTPUT_FUNCTIONS[out_name](logits)
    own_weight = logits.shape[0] if sample_weight is None else float(sample_weight.sum())
    if weight_sum is None:
        weight_sum = own_weight
    loss = 0.0  # a part of a batch may have no weight at all (np.average would raise)
    if own_weight > 0:
        loss = float(loss_function(y_true, output, sample_weight)) * (own_weight / weight_sum)
    grad = output - y_true
    if sample_weight is not None:
        grad *= sample_weight.reshape(-1, 1)
    # The squared loss averages over outputs too, so its gradient does as well.
    # (MLP's own backpropagation leaves this factor out for several outputs; we
    # follow the loss it reports, which is also PyTorch's MSE / 2.)
    scale = weight_sum * (logits.shape[1] if loss_name == "squared_error" else 1)
    grad /= scale
    return loss, grad.astype(logits.dtype, copy=False)
