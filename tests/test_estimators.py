"""The public estimators: PyTorch equivalence, input forms, the sklearn ecosystem."""

import json
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

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

REFERENCE = Path(__file__).parent / "reference"
CLASSIFIERS = [RecurrentClassifier, RNNClassifier, LSTMClassifier, GRUClassifier]
REGRESSORS = [RecurrentRegressor, RNNRegressor, LSTMRegressor, GRURegressor]
ALL = CLASSIFIERS + REGRESSORS
TINY = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)


def _relerr(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _waves(n=160, steps=20, seed=0):
    """Which noisy wave is this: a slow or a fast sine, random phase."""
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 2 * np.pi, steps)
    y = rng.randint(0, 2, size=n)
    X = np.sin((1 + 1.5 * y)[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    return X + 0.2 * rng.normal(size=X.shape), y


def _sums(n=200, steps=12, seed=0):
    """Regression: the sum of the last three steps."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps))
    return X, X[:, -3:].sum(axis=1)


def _quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


# --------------------------------------------------------------------------- PyTorch


def _reference_cases(dtype):
    with np.load(REFERENCE / f"cases_{dtype}.npz") as data:
        arrays = dict(data)
    cases = {}
    for key, value in arrays.items():
        case, field = key.split("/", 1)
        cases.setdefault(case, {})[field] = value
    for name, case in cases.items():
        case["meta"] = json.loads(str(case["meta"]))
        yield name, case


def _estimator_for(case, **params):
    meta = case["meta"]
    task = meta["task"]
    Y = case["Y"]
    if task == "multiclass":
        y = Y.argmax(axis=1)
        if len(np.unique(y)) != Y.shape[1]:
            return None  # LabelBinarizer only sees the classes present
    elif task == "binary":
        y = Y[:, 0].astype(int)
        if len(np.unique(y)) != 2:
            return None
    elif task == "multilabel":
        y = Y.astype(int)
        if len(np.unique(y[:, 0])) != 2 or len(np.unique(y[:, 1])) != 2:
            return None
    else:
        y = Y[:, 0] if Y.shape[1] == 1 else Y
    Est = RecurrentRegressor if task == "regression" else RecurrentClassifier
    extra = {"activation": meta["activation"]} if meta["cell"] == "rnn" else {}
    est = Est(
        cell=meta["cell"], hidden_layer_sizes=(meta["hidden_size"],) * meta["num_layers"],
        bidirectional=meta["bidirectional"], pooling=meta["pooling"], alpha=meta["alpha"],
        random_state=0, **extra, **params,
    )  # fmt: skip
    X = [x[:n] for x, n in zip(case["X"], case["lengths"], strict=True)]  # ragged input
    return est, X, y


@pytest.mark.parametrize(("dtype", "tol"), [("float64", 1e-10), ("float32", 1e-4)])
def test_loaded_pytorch_weights_predict_like_pytorch(dtype, tol):
    checked = 0
    for name, case in _reference_cases(dtype):
        made = _estimator_for(case, max_iter=1)
        if made is None:
            continue
        est, X, y = made
        _quiet_fit(est, X, y)
        for key in est.weights_:
            est.weights_[key] = case[f"param/{key}"].copy()
        task = case["meta"]["task"]
        if task == "regression":
            got = est.predict(X).reshape(case["output"].shape)
            expected = case["output"]
        else:
            got = est.predict_proba(X)
            out = case["output"]
            expected = np.hstack([1 - out, out]) if task == "binary" else out
        assert got.dtype == np.dtype(dtype)
        assert _relerr(got, expected) < tol, name
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize(("dtype", "tol"), [("float64", 1e-9), ("float32", 1e-3)])
def test_one_sgd_step_is_learning_rate_times_pytorch_gradient(dtype, tol):
    lr = 0.1
    checked = 0
    for name, case in _reference_cases(dtype):
        params = dict(
            solver="sgd", momentum=0.0, shuffle=False, max_grad_norm=None, max_iter=1,
            learning_rate_init=lr, batch_size=case["X"].shape[0],
        )  # fmt: skip
        made = _estimator_for(case, **params)
        if made is None:
            continue
        est, X, y = made
        sw = case.get("sample_weight")
        _quiet_fit(est, X, y, sample_weight=sw)
        for key in est.weights_:
            est.weights_[key] = case[f"param/{key}"].copy()
        est.set_params(warm_start=True)
        _quiet_fit(est, X, y, sample_weight=sw)
        for key, value in est.weights_.items():
            step = case[f"param/{key}"] - value
            assert _relerr(step, lr * case[f"grad/{key}"]) < tol, (name, key)
        checked += 1
    assert checked >= 20


def test_first_adam_step_follows_beta_and_epsilon():
    """beta_1, beta_2 and epsilon reach Adam: its first step from loaded weights, by hand."""
    name, case = next(
        (n, c) for n, c in _reference_cases("float64") if c["meta"]["task"] == "regression"
    )
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-3
    params = dict(solver="adam", beta_1=b1, beta_2=b2, epsilon=eps, learning_rate_init=lr,
                  shuffle=False, max_grad_norm=None, max_iter=1,
                  batch_size=case["X"].shape[0])  # fmt: skip
    est, X, y = _estimator_for(case, **params)
    sw = case.get("sample_weight")
    _quiet_fit(est, X, y, sample_weight=sw)
    for key in est.weights_:
        est.weights_[key] = case[f"param/{key}"].copy()
    est.set_params(warm_start=True)
    _quiet_fit(est, X, y, sample_weight=sw)
    lr_t = lr * np.sqrt(1 - b2) / (1 - b1)
    for key, value in est.weights_.items():
        g = case[f"grad/{key}"]
        expected = -lr_t * ((1 - b1) * g) / (np.sqrt((1 - b2) * g * g) + eps)
        np.testing.assert_allclose(value - case[f"param/{key}"], expected, rtol=1e-8, atol=1e-14)


# ------------------------------------------------------------------ determinism, forms


@pytest.mark.parametrize("Est", [RNNClassifier, LSTMRegressor, GRUClassifier])
def test_same_seed_gives_bitwise_equal_weights(Est):
    X, y = _waves(60) if Est is not LSTMRegressor else _sums(60)
    params = dict(hidden_layer_sizes=(5, 4), bidirectional=True, dropout=0.2, batch_size=16,
                  max_iter=4, random_state=3)  # fmt: skip
    a = _quiet_fit(Est(**params), X, y)
    b = _quiet_fit(Est(**params), X, y)
    c = _quiet_fit(Est(**dict(params, random_state=4)), X, y)
    for key in a.weights_:
        assert np.array_equal(a.weights_[key], b.weights_[key])
    assert any(not np.array_equal(a.weights_[k], c.weights_[k]) for k in a.weights_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_same_data_in_every_form_gives_the_same_model():
    rng = np.random.RandomState(0)
    n, steps = 30, 9
    y = rng.randint(0, 2, size=n)
    full = rng.normal(size=(n, steps))
    lengths = rng.randint(3, steps + 1, size=n)
    lengths[0] = steps
    padded2d = full.copy()
    padded2d[np.arange(steps)[None, :] >= lengths[:, None]] = np.nan
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, batch_size=8)
    # equal lengths: 2-D, 3-D with one feature, list of 1-D and of 2-D arrays
    forms = [full, full[:, :, None], list(full), [row[:, None] for row in full]]
    models = [_quiet_fit(GRUClassifier(**params), X, y).weights_ for X in forms]
    # variable lengths: NaN-padded 2-D and 3-D arrays, ragged lists
    ragged = [
        padded2d,
        padded2d[:, :, None],
        [row[:k] for row, k in zip(full, lengths, strict=True)],
        [row[:k, None] for row, k in zip(full, lengths, strict=True)],
    ]
    ragged_models = [_quiet_fit(GRUClassifier(**params), X, y).weights_ for X in ragged]
    for group in (models, ragged_models):
        for other in group[1:]:
            for key in group[0]:
                assert np.array_equal(group[0][key], other[key]), key
    assert not np.array_equal(models[0]["head.weight"], ragged_models[0]["head.weight"])


def test_float32_trains_and_predicts_in_float32():
    X, y = _sums(50)
    reg = _quiet_fit(LSTMRegressor(**TINY), X.astype(np.float32), y)
    assert all(w.dtype == np.float32 for w in reg.weights_.values())
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    reg64 = _quiet_fit(LSTMRegressor(**TINY), X.astype(np.int64), y.round())
    assert all(w.dtype == np.float64 for w in reg64.weights_.values())


def test_input_is_not_modified():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(20, 6, 2))
    X[3, 4:] = np.nan
    seqs = [x[: rng.randint(2, 7)].copy() for x in X]
    y = rng.randint(0, 3, size=20).astype(float)
    sw = rng.uniform(0.5, 1.5, size=20)
    copies = [X.copy(), [s.copy() for s in seqs], y.copy(), sw.copy()]
    clf = _quiet_fit(LSTMClassifier(**TINY), X, y, sample_weight=sw)
    clf.predict_proba(X)
    _quiet_fit(clone(clf), seqs, y, sample_weight=sw).predict(seqs)
    np.testing.assert_array_equal(X, copies[0])
    for s, c in zip(seqs, copies[1], strict=True):
        np.testing.assert_array_equal(s, c)
    np.testing.assert_array_equal(y, copies[2])
    np.testing.assert_array_equal(sw, copies[3])


# --------------------------------------------------------------------------- ecosystem


def test_pipeline_grid_search_picks_a_cell():
    X, y = _waves(120, steps=16)
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z * 2.0), RecurrentClassifier(**TINY))
    search = GridSearchCV(pipe, {"recurrentclassifier__cell": ["rnn", "lstm", "gru"]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_params_["recurrentclassifier__cell"] in {"rnn", "lstm", "gru"}
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.predict(X).shape == (120,)


def test_searches_in_parallel_match_serial():
    X, y = _sums(90)
    grid = {"cell": ["rnn", "gru"], "pooling": ["last", "mean"]}
    serial = GridSearchCV(RecurrentRegressor(**TINY), grid, cv=2, n_jobs=1)
    parallel = GridSearchCV(RecurrentRegressor(**TINY), grid, cv=2, n_jobs=2)
    randomized = RandomizedSearchCV(
        RecurrentRegressor(**TINY), {"cell": ["rnn", "lstm", "gru"], "alpha": [1e-4, 1e-2]},
        n_iter=3, cv=2, n_jobs=2, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial.fit(X, y)
        parallel.fit(X, y)
        randomized.fit(X, y)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert np.isfinite(randomized.cv_results_["mean_test_score"]).all()


def test_cross_val_score():
    X, y = _waves(90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(LSTMClassifier(**TINY), X, y, cv=3)
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("Est", ALL)
def test_clone_pickle_joblib_round_trips(Est, tmp_path):
    X, y = _waves(40) if Est in CLASSIFIERS else _sums(40)
    est = _quiet_fit(Est(**TINY), X, y)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert not hasattr(cloned, "weights_")
    expected = est.predict(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), expected)
    joblib.dump(est, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict(X), expected)


def test_named_classes_fix_their_cell():
    for Est, cell, gates in [
        (RNNClassifier, "rnn", 1),
        (LSTMRegressor, "lstm", 4),
        (GRUClassifier, "gru", 3),
    ]:
        params = Est().get_params()
        assert "cell" not in params
        assert ("activation" in params) == (cell == "rnn")
        X, y = _waves(30) if Est in CLASSIFIERS else _sums(30)
        est = _quiet_fit(Est(**TINY), X, y)
        assert est.weights_["rnn.weight_hh_l0"].shape == (gates * 6, 6)
    assert RecurrentClassifier().get_params()["cell"] == "lstm"
