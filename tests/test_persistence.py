"""Fitted models survive pickle, joblib and skops, and resume training exactly.

What a fitted estimator holds is plain data, checked recursively: numpy arrays,
Python scalars (``int``, ``float``, ``bool``, ``str``, ``None``) and lists, tuples
and str-keyed dicts of them, plus exactly three kinds of objects whose own state
is such plain data: scikit-learn's ``LabelBinarizer`` (classifiers) and our
``AdamOptimizer`` / ``SGDOptimizer``. The only other object allowed is the
``numpy.random.RandomState`` a user passes as ``random_state``. No Numba
dispatcher, function, or architecture object is kept, so the formats need no
custom ``__getstate__`` and skops loads a model trusting only our own classes.
"""

import copy
import io
import pickle

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer

import sklearn_rnn
from sklearn_rnn._optim import AdamOptimizer, SGDOptimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [
    obj
    for obj in (getattr(sklearn_rnn, name) for name in sklearn_rnn.__all__)
    if isinstance(obj, type) and issubclass(obj, BaseEstimator)
]
SMALL = dict(hidden_layer_sizes=(3, 2), bidirectional=True, max_iter=3, random_state=0)


def _data(dtype, classifier, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(24, 5, 2)).astype(dtype)
    if classifier:
        y = np.array(["cat", "dog", "emu"])[np.arange(24) % 3]
    else:
        y = np.column_stack([X[:, -1, 0], X[:, :, 1].mean(axis=1)]).astype(np.float64)
    return X, y


def test_every_public_estimator_is_covered():
    assert sorted(Est.__name__ for Est in ESTIMATORS) == sorted(
        f"{kind}{task}"
        for kind in ("Recurrent", "RNN", "LSTM", "GRU")
        for task in ("Classifier", "Regressor")
    )


@pytest.fixture(scope="module")
def fitted():
    """Every estimator fitted in float32 and float64, with its data."""
    models = {}
    for Est in ESTIMATORS:
        for dtype in (np.float32, np.float64):
            classifier = Est.__name__.endswith("Classifier")
            X, y = _data(dtype, classifier)
            models[Est.__name__, np.dtype(dtype).name] = (Est(**SMALL).fit(X, y), X)
    return models


def _round_trip(est, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(est))
    if how == "joblib":
        joblib.dump(est, tmp_path / "model.joblib")
        return joblib.load(tmp_path / "model.joblib")
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    # only our own classes need trust: LabelBinarizer, numpy and builtins are known
    optimizer = type(est._optimizer).__name__
    assert sorted(untrusted) == sorted(
        [f"sklearn_rnn.{type(est).__name__}", f"sklearn_rnn._optim.{optimizer}"]
    )
    return sio.load(path, trusted=untrusted)


def assert_same_model(a, b):
    assert type(a) is type(b)
    params_a, params_b = a.get_params(), b.get_params()
    seed_a, seed_b = params_a.pop("random_state"), params_b.pop("random_state")
    assert params_a == params_b
    if isinstance(seed_a, np.random.RandomState):  # the generator's state travels too
        for part_a, part_b in zip(seed_a.get_state(), seed_b.get_state(), strict=True):
            np.testing.assert_array_equal(part_a, part_b)
    else:
        assert seed_a == seed_b
    assert list(a.weights_) == list(b.weights_)
    for name in a.weights_:
        np.testing.assert_array_equal(a.weights_[name], b.weights_[name], strict=True)
    for attr in ("n_iter_", "t_", "loss_", "loss_curve_", "n_outputs_", "out_activation_"):
        assert getattr(a, attr) == getattr(b, attr), attr
    if hasattr(a, "classes_"):
        np.testing.assert_array_equal(a.classes_, b.classes_, strict=True)


@pytest.mark.parametrize("how", ["pickle", "joblib", "skops"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda Est: Est.__name__)
def test_round_trip_predicts_identically(fitted, Est, dtype, how, tmp_path):
    est, X = fitted[Est.__name__, dtype]
    loaded = _round_trip(est, how, tmp_path)
    assert_same_model(est, loaded)
    assert loaded.weights_["head.weight"].dtype == dtype
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X), strict=True)
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X), strict=True)
    assert loaded.score(X, est.predict(X)) == est.score(X, est.predict(X))


def _continue(est, X, y, n_calls, classes=None):
    for _ in range(n_calls):
        if classes is None:
            est.partial_fit(X, y)
        else:
            est.partial_fit(X, y, classes=classes)
    return est


@pytest.mark.parametrize("how", ["pickle", "skops"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("seed", ["int", "RandomState"])
@pytest.mark.parametrize("Est", [sklearn_rnn.LSTMClassifier, sklearn_rnn.GRURegressor])
def test_model_pickled_mid_partial_fit_resumes_identically(Est, seed, solver, how, tmp_path):
    classifier = Est.__name__.endswith("Classifier")
    X, y = _data(np.float64, classifier, seed=1)
    random_state = 0 if seed == "int" else np.random.RandomState(0)
    # dropout and shuffling draw from random_state at every epoch: its state
    # must travel with the model for the next epochs to match
    est = Est(
        hidden_layer_sizes=(3,), solver=solver, dropout=0.3, batch_size=7, random_state=random_state
    )
    classes = np.unique(y) if classifier else None
    _continue(est, X, y, 2, classes)
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(est))
    else:
        restored = sio.loads(sio.dumps(est), trusted=sio.get_untrusted_types(data=sio.dumps(est)))
    _continue(est, X, y, 3, classes)
    _continue(restored, X, y, 3, classes)
    assert est.n_iter_ == 5
    assert_same_model(est, restored)
    np.testing.assert_array_equal(restored.predict(X), est.predict(X), strict=True)
    # the optimizer state (moments or velocities, step, learning rate) matches too
    assert vars(est._optimizer).keys() == vars(restored._optimizer).keys()
    for key, value in vars(est._optimizer).items():
        other = getattr(restored._optimizer, key)
        if isinstance(value, np.ndarray):  # the flat state vectors
            np.testing.assert_array_equal(value, other, strict=True)
        else:
            assert value == other, key


# -- the fitted state is plain data ---------------------------------------------------

#: Objects a fitted model may hold besides plain data; their state is checked too.
PLAIN_OBJECTS = (LabelBinarizer, AdamOptimizer, SGDOptimizer)
SCALARS = (int, float, bool, str, type(None))


def plain_data_violations(value, path="est"):
    """Paths inside ``value`` that are not plain data (see the module docstring)."""
    if type(value) in SCALARS:
        return []
    if type(value) is np.ndarray:
        if value.dtype.kind == "O":  # only labels may be Python objects
            return [] if path.endswith("classes_") else [f"{path}: object array"]
        return []
    if type(value) in (list, tuple):
        return [
            v for i, item in enumerate(value) for v in plain_data_violations(item, f"{path}[{i}]")
        ]
    if type(value) is dict:
        bad = [f"{path}: key {k!r}" for k in value if type(k) is not str]
        return bad + [
            v for k, item in value.items() for v in plain_data_violations(item, f"{path}[{k!r}]")
        ]
    if type(value) in PLAIN_OBJECTS:
        return [
            v for k, item in vars(value).items() for v in plain_data_violations(item, f"{path}.{k}")
        ]
    return [f"{path}: {type(value).__module__}.{type(value).__qualname__}"]


def fitted_state_violations(est):
    state = dict(vars(est))
    if isinstance(state.get("random_state"), np.random.RandomState):
        del state["random_state"]  # the user's own generator, as passed
    return [v for k, item in state.items() for v in plain_data_violations(item, f"est.{k}")]


def test_the_checker_finds_what_is_not_plain_data():
    est = sklearn_rnn.RNNRegressor()
    est.stuff_ = {"f": len, "x": [np.float64(1.0), (np.zeros(2), object())]}
    assert fitted_state_violations(est) == [
        "est.stuff_['f']: builtins.builtin_function_or_method",
        "est.stuff_['x'][0]: numpy.float64",
        "est.stuff_['x'][1][1]: builtins.object",
    ]


def test_fitted_state_is_plain_data(fitted):
    for est, _ in fitted.values():
        assert fitted_state_violations(est) == [], type(est).__name__
    # and in the other states a model can be in
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(30, 4)), np.arange(30) % 2
    models = [
        sklearn_rnn.GRUClassifier(early_stopping=True, validation_fraction=0.2, max_iter=3),
        sklearn_rnn.RNNClassifier(solver="sgd", learning_rate="adaptive", random_state=rng),
        sklearn_rnn.LSTMClassifier(class_weight="balanced", max_iter=2),
    ]
    for est in models:
        est.set_params(hidden_layer_sizes=(2,), max_iter=2)
        with pytest.warns(ConvergenceWarning):
            est.fit(X, y)
        assert fitted_state_violations(est) == [], type(est).__name__
    multilabel = sklearn_rnn.LSTMClassifier(hidden_layer_sizes=(2,), max_iter=2)
    multilabel.partial_fit(X, np.column_stack([y, 1 - y]), classes=[0, 1])
    assert fitted_state_violations(multilabel) == []
    assert fitted_state_violations(copy.deepcopy(multilabel)) == []
    buffer = io.BytesIO()
    joblib.dump(multilabel, buffer)
    buffer.seek(0)
    assert fitted_state_violations(joblib.load(buffer)) == []
