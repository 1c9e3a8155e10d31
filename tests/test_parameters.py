"""Every parameter does what its docstring says; learning works with the defaults."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RecurrentClassifier,
    RecurrentRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sklearn_rnn._base import BaseRecurrent

TINY = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)


def _sums(n=200, steps=12, seed=0, features=None):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps) if features is None else (n, steps, features))
    flat = X if features is None else X[:, :, 0]
    return X, flat[:, -3:].sum(axis=1)


def _waves(n=160, steps=20, seed=0):
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 2 * np.pi, steps)
    y = rng.randint(0, 2, size=n)
    X = np.sin((1 + 1.5 * y)[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    return X + 0.2 * rng.normal(size=X.shape), y


def _fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


def _differ(a, b):
    return any(not np.array_equal(a.weights_[k], b.weights_[k]) for k in a.weights_)


# ------------------------------------------------------------------- learning works


@pytest.mark.parametrize("Est", [RNNClassifier, LSTMClassifier, GRUClassifier])
def test_each_cell_learns_which_wave(Est):
    X, y = _waves(300)
    clf = _fit(Est(random_state=0), X[:200], y[:200])
    assert clf.score(X[200:], y[200:]) >= 0.9


@pytest.mark.parametrize("Est", [RNNRegressor, LSTMRegressor, GRURegressor])
def test_each_cell_learns_the_sum_of_the_last_steps(Est):
    X, y = _sums(400)
    reg = _fit(Est(random_state=0), X[:300], y[:300])
    assert reg.score(X[300:], y[300:]) >= 0.9


# ------------------------------------------------------------------- architecture


def test_cell_and_hidden_layer_sizes_shape_the_weights():
    X, y = _sums(30, features=3)
    for cell, gates in [("rnn", 1), ("lstm", 4), ("gru", 3)]:
        reg = _fit(RecurrentRegressor(cell=cell, hidden_layer_sizes=(5, 4), max_iter=1), X, y)
        w = reg.weights_
        assert w["rnn.weight_ih_l0"].shape == (gates * 5, 3)
        assert w["rnn.weight_hh_l0"].shape == (gates * 5, 5)
        assert w["rnn.weight_ih_l1"].shape == (gates * 4, 5)
        assert w["rnn.bias_hh_l1"].shape == (gates * 4,)
        assert w["head.weight"].shape == (1, 4)
    reg = _fit(RecurrentRegressor(hidden_layer_sizes=7, max_iter=1), X, y)
    assert reg.weights_["rnn.weight_hh_l0"].shape == (28, 7)


def test_activation_changes_the_rnn_and_is_ignored_by_gated_cells():
    X, y = _sums(40)
    tanh = _fit(RNNRegressor(activation="tanh", **TINY), X, y)
    relu = _fit(RNNRegressor(activation="relu", **TINY), X, y)
    logistic = _fit(RNNRegressor(activation="logistic", **TINY), X, y)
    assert _differ(tanh, relu)
    assert _differ(tanh, logistic)
    for cell in ("lstm", "gru"):
        a = _fit(RecurrentRegressor(cell=cell, activation="tanh", **TINY), X, y)
        b = _fit(RecurrentRegressor(cell=cell, activation="relu", **TINY), X, y)
        assert not _differ(a, b)


def test_bidirectional_adds_a_reversed_pass():
    X, y = _sums(30)
    reg = _fit(GRURegressor(bidirectional=True, hidden_layer_sizes=(5, 3), max_iter=1), X, y)
    assert reg.weights_["rnn.weight_ih_l0_reverse"].shape == (15, 1)
    assert reg.weights_["rnn.weight_ih_l1"].shape == (9, 10)
    assert reg.weights_["head.weight"].shape == (1, 6)


def _memoryless_rnn(pooling):
    """An RNN whose state forgets: h_t = tanh(w x_t + b), so each pooling can be seen."""
    X, y = _sums(20, steps=6, features=1)  # fitted on sequences: any length at predict
    reg = _fit(RNNRegressor(hidden_layer_sizes=(3,), pooling=pooling, max_iter=1), X, y)
    reg.weights_["rnn.weight_hh_l0"][:] = 0
    reg.weights_["rnn.weight_ih_l0"][:] = [[1.0], [-0.5], [2.0]]
    return reg


def test_pooling_last_reads_only_the_last_valid_step():
    reg = _memoryless_rnn("last")
    rng = np.random.RandomState(0)
    a = rng.normal(size=(1, 6, 1))
    b = a.copy()
    b[0, :5] = rng.normal(size=(5, 1))
    assert reg.predict(a) == pytest.approx(reg.predict(b))
    c = a.copy()
    c[0, 5] += 1
    assert reg.predict(a) != pytest.approx(reg.predict(c))
    # a shorter (NaN-padded) sequence ends at its own last valid step
    d = np.full((1, 6, 1), np.nan)
    d[0, :3] = a[0, 3:]
    assert reg.predict(d) == pytest.approx(reg.predict(a))


def test_pooling_mean_and_max_ignore_order_and_padding():
    rng = np.random.RandomState(1)
    a = rng.normal(size=(1, 6, 1))
    shuffled = a[:, rng.permutation(6)]
    for pooling in ("mean", "max"):
        reg = _memoryless_rnn(pooling)
        assert reg.predict(shuffled) == pytest.approx(reg.predict(a))
        padded = np.concatenate([a, np.full((1, 3, 1), np.nan)], axis=1)
        assert reg.predict(padded) == pytest.approx(reg.predict(a))
    # repeating a step moves the mean but not the max
    repeated = np.concatenate([a, a[:, :1]], axis=1)
    mean, maxi = _memoryless_rnn("mean"), _memoryless_rnn("max")
    assert mean.predict(repeated) != pytest.approx(mean.predict(a))
    assert maxi.predict(repeated) == pytest.approx(maxi.predict(a))


def test_dropout_changes_training_not_prediction_determinism():
    X, y = _waves(60)
    plain = _fit(LSTMClassifier(**TINY), X, y)
    dropped = _fit(LSTMClassifier(dropout=0.5, **TINY), X, y)
    assert _differ(plain, dropped)
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))


# ------------------------------------------------------------------- optimisation


def test_solver_sgd_and_adam_differ():
    X, y = _sums(40)
    assert _differ(_fit(LSTMRegressor(solver="sgd", **TINY), X, y),
                   _fit(LSTMRegressor(solver="adam", **TINY), X, y))  # fmt: skip


def test_alpha_shrinks_the_weights():
    X, y = _sums(60)
    norms = []
    for alpha in (0.0, 100.0):
        reg = _fit(GRURegressor(alpha=alpha, learning_rate_init=0.01, hidden_layer_sizes=(6,),
                                max_iter=60, random_state=0), X, y)  # fmt: skip
        norms.append(sum(float((w**2).sum()) for k, w in reg.weights_.items() if "weight" in k))
    assert norms[1] < 0.5 * norms[0]


def test_batch_size_sets_the_number_of_updates():
    X, y = _sums(50)
    reg = _fit(LSTMRegressor(batch_size=10, **TINY), X, y)
    assert reg._optimizer.t == 5 * reg.n_iter_
    reg = _fit(LSTMRegressor(**TINY), X, y)  # "auto": min(200, n) -> one batch
    assert reg._optimizer.t == reg.n_iter_
    with pytest.warns(UserWarning, match="batch_size"):
        _fit(LSTMRegressor(batch_size=500, **TINY), X, y)


def test_learning_rate_schedules():
    X, y = _sums(40)
    common = dict(solver="sgd", learning_rate_init=0.01, hidden_layer_sizes=(4,), random_state=0)
    inv = _fit(RNNRegressor(learning_rate="invscaling", power_t=0.3, max_iter=3, **common), X, y)
    assert inv._optimizer.learning_rate == pytest.approx(0.01 / (inv.t_ + 1) ** 0.3)
    # "adaptive": a loss that cannot improve by tol divides the rate by 5 instead of stopping
    ada = _fit(RNNRegressor(learning_rate="adaptive", tol=1e6, n_iter_no_change=2, max_iter=7,
                            **common), X, y)  # fmt: skip
    assert ada.n_iter_ == 7
    assert ada._optimizer.learning_rate == pytest.approx(0.01 / 25)
    const = _fit(RNNRegressor(tol=1e6, n_iter_no_change=2, max_iter=7, **common), X, y)
    # constant: stops once n_iter_no_change epochs after the first have not improved (as MLP)
    assert const.n_iter_ == 4


def test_learning_rate_init_scales_the_sgd_step():
    X, y = _sums(30)
    common = dict(solver="sgd", momentum=0.0, shuffle=False, max_grad_norm=None, max_iter=1,
                  batch_size=30, hidden_layer_sizes=(4,), random_state=0)  # fmt: skip
    start = _fit(LSTMRegressor(**common), X, y).weights_
    steps = []
    for lr in (0.01, 0.02):
        reg = _fit(LSTMRegressor(learning_rate_init=lr, **common), X, y)
        reg.weights_ = {k: v.copy() for k, v in start.items()}
        reg.set_params(warm_start=True)
        _fit(reg, X, y)
        steps.append(reg.weights_["rnn.weight_hh_l0"] - start["rnn.weight_hh_l0"])
    np.testing.assert_allclose(steps[1], 2 * steps[0], rtol=1e-9, atol=1e-15)


def test_max_iter_and_convergence_warning():
    X, y = _sums(30)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        reg = GRURegressor(hidden_layer_sizes=(4,), max_iter=3, tol=0, random_state=0).fit(X, y)
    assert reg.n_iter_ == 3
    assert len(reg.loss_curve_) == 3
    assert reg.t_ == 90


def test_shuffle_changes_the_minibatches():
    X, y = _sums(40)
    common = dict(batch_size=8, **TINY)
    a = _fit(LSTMRegressor(shuffle=True, **common), X, y)
    b = _fit(LSTMRegressor(shuffle=False, **common), X, y)
    assert _differ(a, b)
    # without shuffling, the random state only draws the initial weights
    c = _fit(LSTMRegressor(shuffle=False, **common), X, y)
    assert not _differ(b, c)


def test_random_state_is_the_only_randomness():
    X, y = _waves(40)
    params = dict(dropout=0.3, batch_size=10, hidden_layer_sizes=(4,), max_iter=3)
    a = _fit(GRUClassifier(random_state=1, **params), X, y)
    b = _fit(GRUClassifier(random_state=np.random.RandomState(1), **params), X, y)
    c = _fit(GRUClassifier(random_state=2, **params), X, y)
    assert not _differ(a, b)
    assert _differ(a, c)


def test_tol_and_n_iter_no_change_stop_training():
    X, y = _sums(30)
    reg = _fit(LSTMRegressor(tol=1e6, n_iter_no_change=4, max_iter=50, **{
        k: v for k, v in TINY.items() if k != "max_iter"}), X, y)  # fmt: skip
    assert reg.n_iter_ == 6
    reg = _fit(
        LSTMRegressor(tol=0.0, n_iter_no_change=np.inf, max_iter=12, hidden_layer_sizes=(4,)), X, y
    )
    assert reg.n_iter_ == 12


def test_verbose_prints_every_epoch(capsys):
    X, y = _waves(40)
    _fit(RNNClassifier(verbose=True, early_stopping=True, **TINY), X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration ") == 5
    assert "Iteration 1, loss = " in out
    assert out.count("Validation score: ") == 5


def test_warm_start_continues_from_weights():
    X, y = _sums(60)
    reg = _fit(LSTMRegressor(warm_start=True, **TINY), X, y)
    first_curve = list(reg.loss_curve_)
    _fit(reg, X, y)
    assert len(reg.loss_curve_) == 10
    assert reg.loss_curve_[5] < first_curve[0]
    cold = _fit(LSTMRegressor(**TINY), X, y)
    _fit(cold, X, y)
    assert cold.loss_curve_ == first_curve  # without warm_start, fit starts over


def test_partial_fit_runs_one_epoch_and_continues():
    X, y = _waves(60)
    clf = LSTMClassifier(**TINY)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1])
    assert clf.n_iter_ == 1
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 2
    assert clf.t_ == 60
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:5], np.full(5, 7))


def test_momentum_and_nesterov_change_sgd():
    X, y = _sums(40)
    common = dict(solver="sgd", batch_size=10, **TINY)
    plain = _fit(GRURegressor(momentum=0.0, **common), X, y)
    heavy = _fit(GRURegressor(momentum=0.9, nesterovs_momentum=False, **common), X, y)
    nesterov = _fit(GRURegressor(momentum=0.9, nesterovs_momentum=True, **common), X, y)
    assert _differ(plain, heavy)
    assert _differ(heavy, nesterov)


def test_early_stopping_restores_the_best_validation_weights(monkeypatch):
    X, y = _waves(100)
    held_out = {}
    original = BaseRecurrent._split_validation

    def spy(self, *args):
        train, val = original(self, *args)
        held_out["val"] = val
        return train, val

    monkeypatch.setattr(BaseRecurrent, "_split_validation", spy)
    clf = _fit(LSTMClassifier(early_stopping=True, validation_fraction=0.3, n_iter_no_change=3,
                              learning_rate_init=0.05, hidden_layer_sizes=(6,), max_iter=40,
                              random_state=0), X, y)  # fmt: skip
    data, lengths, Y, _ = held_out["val"]
    assert data.shape[0] == 30
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf._score(data, lengths, Y, None) == clf.best_validation_score_
    assert clf.best_loss_ is None


def test_early_stopping_needs_enough_data():
    X, y = _waves(10)
    with pytest.raises(ValueError, match="validation set is too small"):
        LSTMClassifier(early_stopping=True, validation_fraction=0.1, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        LSTMClassifier(early_stopping=True, **TINY).partial_fit(X, y, classes=[0, 1])


def test_max_grad_norm_bounds_the_step():
    X, y = _sums(30)
    y = y * 1e3  # huge gradients
    common = dict(solver="sgd", momentum=0.0, learning_rate_init=0.01, batch_size=30,
                  shuffle=False, max_iter=1, hidden_layer_sizes=(4,), random_state=0)  # fmt: skip
    start = _fit(LSTMRegressor(**common), X, y).weights_

    def step_norm(max_grad_norm):
        reg = _fit(LSTMRegressor(max_grad_norm=max_grad_norm, **common), X, y)
        reg.weights_ = {k: v.copy() for k, v in start.items()}
        reg.set_params(warm_start=True)
        _fit(reg, X, y)
        return np.sqrt(sum(((reg.weights_[k] - start[k]) ** 2).sum() for k in start))

    assert step_norm(1.0) == pytest.approx(0.01, rel=1e-5)
    assert step_norm(None) > 1.0


def test_class_weight_balanced_changes_an_imbalanced_fit():
    rng = np.random.RandomState(0)
    X, y = _waves(200)
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:15]])
    X, y = X[keep], y[keep]
    X = X + 0.8 * rng.normal(size=X.shape)  # hard enough that the minority is neglected
    params = dict(hidden_layer_sizes=(4,), learning_rate_init=0.01, max_iter=40, random_state=0)
    plain = _fit(GRUClassifier(**params), X, y)
    balanced = _fit(GRUClassifier(class_weight="balanced", **params), X, y)
    minority = y == 1
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
    assert balanced.score(X[minority], y[minority]) >= plain.score(X[minority], y[minority])


def test_class_weight_dict_equals_sample_weight():
    X, y = _waves(40)
    cw = {0: 1.0, 1: 3.0}
    a = _fit(RNNClassifier(class_weight=cw, alpha=0, **TINY), X, y)
    b = _fit(RNNClassifier(alpha=0, **TINY), X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    # class weights multiply sample weights; a uniform factor leaves the weighted mean alone
    c = _fit(RNNClassifier(class_weight=cw, alpha=0, **TINY), X, y, sample_weight=np.full(40, 2.0))
    for k in a.weights_:
        np.testing.assert_allclose(a.weights_[k], b.weights_[k], rtol=1e-12)
        np.testing.assert_allclose(a.weights_[k], c.weights_[k], rtol=1e-12)
    with pytest.raises(ValueError, match="not among the classes"):
        _fit(RNNClassifier(class_weight={0: 1.0, 5: 2.0}, **TINY), X, y)
    with pytest.raises(ValueError, match="partial_fit"):
        RNNClassifier(class_weight="balanced", **TINY).partial_fit(X, y, classes=[0, 1])


def test_sample_weight_zero_equals_dropping_samples():
    X, y = _sums(40)
    sw = np.ones(40)
    sw[::4] = 0
    params = dict(shuffle=False, **TINY)
    a = _fit(GRURegressor(**params), X, y, sample_weight=sw)
    b = _fit(GRURegressor(**params), X[sw > 0], y[sw > 0])
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10)


# ------------------------------------------------------------------- outputs


def test_multilabel_and_multioutput():
    X, _ = _sums(50, features=2)
    Y = (X[:, -3:, :].sum(axis=1) > 0).astype(int)
    clf = _fit(RecurrentClassifier(**TINY), X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (50, 2)
    assert clf.predict_proba(X).shape == (50, 2)
    reg = _fit(RecurrentRegressor(**TINY), X, X[:, -3:, 0])  # a 3-step "forecast"
    assert reg.n_outputs_ == 3
    assert reg.predict(X).shape == (50, 3)


def test_predict_proba_and_log_proba():
    X, y = _waves(40)
    y3 = np.where(y == 1, "fast", np.where(X[:, 0] > 0, "slow+", "slow-"))
    clf = _fit(LSTMClassifier(**TINY), X, y3)
    assert clf.out_activation_ == "softmax"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_decision_function_is_the_logit():
    X, y = _waves(40)
    clf = _fit(GRUClassifier(**TINY), X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (40,)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-scores)))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])
