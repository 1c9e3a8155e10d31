"""Numerical faults and interruptions never leave a half-updated model behind.

Exploding training ends in a ValueError that says so, with the weights and the
optimizer state of the last completed epoch (bitwise those of a run stopped
there); gradient clipping keeps the same run finite. A KeyboardInterrupt during
``fit`` or ``partial_fit`` warns and keeps the last completed epoch too. Outputs
that overflow at predict time are an error, never a silent NaN.
"""

import copy
import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from sklearn_rnn import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sklearn_rnn._network import init_parameters
from sklearn_rnn._optim import AdamOptimizer, SGDOptimizer


def assert_same_weights(a, b):
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)


def optimizer_state(opt):
    """Every array and scalar of an optimizer, flattened to (name, value) pairs."""
    state = []
    for key, value in sorted(vars(opt).items()):
        if isinstance(value, list):
            state += [(f"{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            state.append((key, value))
    return state


def assert_same_optimizer(a, b):
    assert type(a) is type(b)
    for (key_a, va), (key_b, vb) in zip(optimizer_state(a), optimizer_state(b), strict=True):
        assert key_a == key_b
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb, err_msg=key_a, strict=True)
        else:
            assert va == vb, key_a


def _exploding_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6, 2))
    return X, 100 * X[:, :, 0].sum(axis=1)


# A plain SGD step far too large: the loss grows by orders of magnitude each epoch
# until it overflows (after about a dozen epochs), unless the gradient is clipped.
EXPLODING = dict(
    solver="sgd",
    learning_rate_init=1e3,
    momentum=0.5,
    hidden_layer_sizes=(4,),
    batch_size=10,
    max_iter=60,
    tol=0.0,
    n_iter_no_change=1000,
    random_state=0,
)


OVERFLOW = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


@OVERFLOW
@pytest.mark.parametrize("Est", [RNNRegressor, LSTMRegressor])
def test_exploding_training_raises_and_keeps_the_last_completed_epoch(Est):
    X, y = _exploding_data()
    est = Est(max_grad_norm=None, **EXPLODING)
    with pytest.raises(ValueError, match="non-finite parameter weights or loss") as info:
        est.fit(X, y)
    message = str(info.value)
    assert "max_grad_norm" in message  # what to do about it
    assert "learning_rate_init" in message
    failed_epoch = int(re.search(r"in epoch (\d+)", message).group(1))
    assert failed_epoch >= 2, "the run must diverge after some completed epochs"

    # the model is that of the last completed epoch, whole: weights, optimizer,
    # counters; bitwise what a run stopped there gives
    completed = failed_epoch - 1
    assert est.n_iter_ == completed
    assert len(est.loss_curve_) == completed
    assert np.isfinite(est.loss_curve_).all()
    assert all(np.isfinite(w).all() for w in est.weights_.values())
    with pytest.warns(ConvergenceWarning):
        reference = Est(max_grad_norm=None, **dict(EXPLODING, max_iter=completed)).fit(X, y)
    assert_same_weights(est.weights_, reference.weights_)
    assert_same_optimizer(est._optimizer, reference._optimizer)
    assert est.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(est.predict(X), reference.predict(X))


@pytest.mark.parametrize("Est", [RNNRegressor, LSTMRegressor])
def test_gradient_clipping_keeps_the_same_run_finite(Est):
    X, y = _exploding_data()
    with pytest.warns(ConvergenceWarning):
        est = Est(max_grad_norm=1.0, **EXPLODING).fit(X, y)
    assert est.n_iter_ == EXPLODING["max_iter"]
    assert np.isfinite(est.loss_curve_).all()
    assert all(np.isfinite(w).all() for w in est.weights_.values())
    assert np.isfinite(est.predict(X)).all()


@OVERFLOW
def test_partial_fit_that_diverges_leaves_the_model_as_before_the_call():
    X, y = _exploding_data()
    est = RNNRegressor(max_grad_norm=None, **EXPLODING)
    for _ in range(EXPLODING["max_iter"]):
        before = copy.deepcopy(est)
        try:
            est.partial_fit(X, y)
        except ValueError as exc:
            error = exc
            break
    else:
        pytest.fail("partial_fit never diverged")
    assert "non-finite" in str(error)
    assert before.n_iter_ >= 1
    assert est.n_iter_ == before.n_iter_
    assert est.t_ == before.t_
    assert est.loss_curve_ == before.loss_curve_
    assert_same_weights(est.weights_, before.weights_)
    assert_same_optimizer(est._optimizer, before._optimizer)


def test_early_stopping_with_too_little_data_says_so():
    rng = np.random.RandomState(0)
    for n_samples, fraction in [(3, 0.1), (10, 0.1), (2, 0.5), (5, 0.9)]:
        X = rng.normal(size=(n_samples, 4))
        est = GRUClassifier(early_stopping=True, validation_fraction=fraction, max_iter=2)
        with pytest.raises(ValueError, match="validation set is too small") as info:
            est.fit(X, np.arange(n_samples) % 2)
        message = str(info.value)
        assert f"validation_fraction={fraction}" in message
        assert f"of {n_samples} samples" in message
        assert "early_stopping=False" in message  # the way out
    # just enough: 2 validation samples and some left to train on
    X = rng.normal(size=(20, 4))
    est = GRUClassifier(
        early_stopping=True, validation_fraction=0.1, hidden_layer_sizes=(3,), max_iter=2
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, np.arange(20) % 2)
    assert len(est.validation_scores_) == 2


# -- interruption -------------------------------------------------------------------


def _interrupt_at(monkeypatch, Optimizer, k):
    """Make the k-th call of ``update_params`` raise KeyboardInterrupt (1-based)."""
    calls = {"n": 0}
    original = Optimizer.update_params

    def update_params(self, params, grads):
        calls["n"] += 1
        if calls["n"] == k:
            raise KeyboardInterrupt
        return original(self, params, grads)

    monkeypatch.setattr(Optimizer, "update_params", update_params)
    return calls


INTERRUPTED = dict(hidden_layer_sizes=(3,), batch_size=10, max_iter=5, random_state=0)


@pytest.mark.parametrize(("solver", "Optimizer"), [("adam", AdamOptimizer), ("sgd", SGDOptimizer)])
@pytest.mark.parametrize("k", [1, 5, 9, 10])  # 3 updates per epoch
def test_keyboard_interrupt_keeps_the_last_completed_epoch(monkeypatch, solver, Optimizer, k):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(30, 5, 2)), np.arange(30) % 3
    params = dict(INTERRUPTED, solver=solver)
    completed = (k - 1) // 3
    with monkeypatch.context() as patch:
        calls = _interrupt_at(patch, Optimizer, k)
        with pytest.warns(UserWarning, match=rf"interrupted.*last completed epoch \({completed}\)"):
            est = LSTMClassifier(**params).fit(X, y)
    assert calls["n"] == k
    assert est.n_iter_ == completed
    assert len(est.loss_curve_) == completed
    if completed:
        with pytest.warns(ConvergenceWarning):
            reference = LSTMClassifier(**dict(params, max_iter=completed)).fit(X, y)
        assert_same_weights(est.weights_, reference.weights_)
        assert_same_optimizer(est._optimizer, reference._optimizer)
        np.testing.assert_array_equal(est.predict_proba(X), reference.predict_proba(X))
    else:  # interrupted in the first epoch: the initial weights
        initial = init_parameters(est._architecture(), check_random_state(0), np.float64)
        assert_same_weights(est.weights_, initial)
    # the model is usable: it predicts, and trains on
    assert set(est.predict(X)) <= set(est.classes_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.partial_fit(X, y)
    assert est.n_iter_ == completed + 1


def test_keyboard_interrupt_during_partial_fit_keeps_the_model_before_the_call(monkeypatch):
    rng = np.random.RandomState(1)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    est = GRURegressor(**INTERRUPTED)
    est.partial_fit(X, y)
    before = copy.deepcopy(est)
    with monkeypatch.context() as patch:
        _interrupt_at(patch, AdamOptimizer, 2)
        with pytest.warns(UserWarning, match="interrupted"):
            est.partial_fit(X, y)
    assert est.n_iter_ == before.n_iter_ == 1
    assert_same_weights(est.weights_, before.weights_)
    assert_same_optimizer(est._optimizer, before._optimizer)
    np.testing.assert_array_equal(est.predict(X), before.predict(X))


# -- non-finite values that reach the model --------------------------------------------


def test_outputs_that_overflow_at_predict_are_an_error():
    X = np.ones((3, 4, 2))
    est = RNNRegressor(activation="relu", hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, np.arange(3.0))
    for name in est.weights_:  # weights as one could load them: all ones
        est.weights_[name][...] = 1.0
    assert np.isfinite(est.predict(X)).all()
    huge = np.full((3, 4, 2), 1e308)
    huge[1] = 1.0
    with pytest.raises(ValueError, match=r"not finite .* for 2 sequence\(s\) .* sequence 0"):
        est.predict(huge)
    est.weights_["head.bias"][0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        est.predict(X)
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r"weights_ holds NaN or inf in \['head.bias'\]"):
        est.fit(X, np.arange(3.0))


def test_batches_of_zero_weight_are_skipped():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(8, 5)), np.array([0, 1] * 4)
    params = dict(hidden_layer_sizes=(3,), batch_size=2, shuffle=False, max_iter=3)
    params.update(tol=0.0, n_iter_no_change=100, random_state=0)
    weight = np.array([0.0] * 4 + [1.0] * 4)
    with pytest.warns(ConvergenceWarning):
        est = RNNClassifier(**params).fit(X, y, sample_weight=weight)
    with pytest.warns(ConvergenceWarning):
        reference = RNNClassifier(**params).fit(X[4:], y[4:])  # the same batches, minus two
    assert_same_weights(est.weights_, reference.weights_)


@pytest.mark.parametrize(
    "class_weight", [{0: 0.0, 1: 0.0}, {0: np.inf, 1: 1.0}, {0: np.nan, 1: 1.0}]
)
def test_class_weights_that_leave_nothing_to_learn_are_refused(class_weight):
    X, y = np.random.RandomState(0).normal(size=(6, 3)), np.array([0, 1] * 3)
    with pytest.raises(ValueError, match="must be finite and not all zero; class_weight="):
        RNNClassifier(class_weight=class_weight, max_iter=1).fit(X, y)


def test_huge_power_t_lets_the_learning_rate_underflow_to_zero():
    X, y = np.random.RandomState(0).normal(size=(10, 4)), np.arange(10.0)
    params = dict(solver="sgd", learning_rate="invscaling", momentum=0.0, random_state=0)
    params.update(hidden_layer_sizes=(3,), tol=0.0, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        one = GRURegressor(power_t=1e300, max_iter=1, **params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        three = GRURegressor(power_t=1e300, max_iter=3, **params).fit(X, y)
    assert three._optimizer.learning_rate == 0.0
    assert_same_weights(one.weights_, three.weights_)  # later epochs step by zero
