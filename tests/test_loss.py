"""The losses against scikit-learn's MLP losses, bit for bit."""

import numpy as np
import pytest
from sklearn.neural_network._base import LOSS_FUNCTIONS as MLP_LOSS_FUNCTIONS

from sklearn_rnn._loss import LOSS_FUNCTIONS


def _problem(loss_name, dtype, n_outputs, seed):
    rng = np.random.RandomState(seed)
    n_samples = rng.randint(1, 200)
    if loss_name == "log_loss":
        y_true = np.eye(n_outputs, dtype=dtype)[rng.randint(n_outputs, size=n_samples)]
        y_pred = rng.dirichlet(np.ones(n_outputs), size=n_samples).astype(dtype)
    elif loss_name == "binary_log_loss":
        y_true = (rng.uniform(size=(n_samples, n_outputs)) < 0.5).astype(dtype)
        y_pred = rng.uniform(size=(n_samples, n_outputs)).astype(dtype)
    else:
        y_true = rng.normal(size=(n_samples, n_outputs)).astype(dtype)
        y_pred = rng.normal(scale=10.0 ** rng.uniform(-3, 3), size=(n_samples, n_outputs))
        y_pred = y_pred.astype(dtype)
    if loss_name != "squared_error":
        # probabilities of exactly 0 and 1 take MLP's clipping to eps and 1 - eps
        y_pred.flat[rng.choice(y_pred.size, size=min(3, y_pred.size), replace=False)] = 0.0
        y_pred.flat[rng.choice(y_pred.size, size=min(3, y_pred.size), replace=False)] = 1.0
    return y_true, y_pred, rng.uniform(0.1, 3.0, size=n_samples)


@pytest.mark.parametrize("loss_name", sorted(LOSS_FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_losses_are_bitwise_mlps(loss_name, dtype, weighted):
    # Our losses take shortcuts around NumPy's argument handling (they run once
    # per shard of every batch); the numbers must stay MLP's, not merely close.
    ours, _ = LOSS_FUNCTIONS[loss_name]
    for seed in range(40):
        n_outputs = 2 + seed % 3 if loss_name == "log_loss" else 1 + seed % 3
        y_true, y_pred, weights = _problem(loss_name, dtype, n_outputs, seed)
        sample_weight = weights if weighted else None
        before = y_pred.copy()
        got = ours(y_true, y_pred, sample_weight)
        want = MLP_LOSS_FUNCTIONS[loss_name](y_true, y_pred, sample_weight=sample_weight)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert got == want, (seed, got, want)
        np.testing.assert_array_equal(y_pred, before)  # the input is not clipped in place
