"""Bad input gets a clear ValueError or TypeError that names the problem."""

import numpy as np
import pytest

from sklearn_rnn import GRURegressor, LSTMClassifier, RecurrentClassifier, RNNRegressor

TINY = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def fitted_3d():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 5, 3))
    return LSTMClassifier(**TINY).fit(X, np.arange(20) % 2), X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]]), "NaN"),
        (np.array([[1.0, np.inf, 2.0], [1.0, 2.0, 3.0]]), "inf"),
        (np.array([[np.nan, np.nan, np.nan], [1.0, 2.0, 3.0]]), "empty|no valid|length 0"),
        ([np.ones((3, 2)), np.ones((0, 2))], "empty|no valid|length 0"),
        ([np.ones((3, 2)), np.ones((3, 4))], "features"),
        (np.ones(5), "2D|1D|dimension"),
        (np.ones((2, 3, 4, 5)), "dimension|4"),
        (np.empty((0, 3)), "0 sample"),
        (np.array([[1 + 2j, 3.0], [1.0, 2.0]]), "[Cc]omplex"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "string|float|numeric"),
    ],
)
def test_bad_X_is_refused(X, match):
    y = np.array([0, 1]) if not isinstance(X, np.ndarray) or X.ndim < 2 or len(X) == 2 else None
    if y is None:
        y = np.arange(len(X)) % 2
    with pytest.raises((ValueError, TypeError), match=match):
        LSTMClassifier(**TINY).fit(X, y[: len(X)] if len(X) else y[:0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sparse_is_refused():
    from scipy import sparse

    with pytest.raises(TypeError, match="[Ss]parse"):
        LSTMClassifier(**TINY).fit(sparse.csr_matrix(np.ones((4, 3))), [0, 1, 0, 1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mismatched_lengths_of_X_and_y():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GRURegressor(**TINY).fit(np.ones((5, 3)), np.ones(4))
    with pytest.raises(ValueError, match="sample_weight"):
        GRURegressor(**TINY).fit(np.ones((5, 3)), np.ones(5), sample_weight=np.ones(3))


def test_y_none_and_bad_targets():
    with pytest.raises(ValueError, match="requires y"):
        GRURegressor(**TINY).fit(np.ones((5, 3)), None)
    with pytest.raises(ValueError, match="Unknown label type"):
        LSTMClassifier(**TINY).fit(np.ones((5, 3)), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="NaN|inf"):
        GRURegressor(**TINY).fit(np.ones((3, 3)), [1.0, np.nan, 2.0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_wrong_number_of_features_at_predict(fitted_3d):
    clf, X = fitted_3d
    with pytest.raises(ValueError, match="X has 2 features, but LSTMClassifier is expecting 3"):
        clf.predict(X[:, :, :2])
    with pytest.raises(ValueError, match="features"):
        clf.predict([x[:, :2] for x in X])
    reg = RNNRegressor(**TINY).fit(np.ones((6, 4)), np.arange(6.0))
    with pytest.raises(ValueError, match="X has 5 features, but RNNRegressor is expecting 4"):
        reg.predict(np.ones((2, 5)))


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": 0},
        {"hidden_layer_sizes": (4, 0)},
        {"cell": "transformer"},
        {"pooling": "first"},
        {"dropout": 1.0},
        {"max_grad_norm": 0.0},
        {"solver": "lbfgs"},
        {"batch_size": 0},
        {"class_weight": "often"},
    ],
)
def test_invalid_parameters(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        RecurrentClassifier(**dict(TINY, **params)).fit(np.ones((4, 3)), [0, 1, 0, 1])


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LSTMClassifier().predict(np.ones((2, 3)))


def test_non_finite_weights_after_training_keep_the_last_finite_epoch():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 6))
    y = 1e150 * rng.normal(size=30)
    reg = RNNRegressor(solver="sgd", learning_rate_init=10.0, max_grad_norm=None,
                       hidden_layer_sizes=(4,), max_iter=20, random_state=0)  # fmt: skip
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X, y)
    assert all(np.isfinite(w).all() for w in reg.weights_.values())


def test_loaded_weights_of_the_wrong_shape(fitted_3d):
    clf, X = fitted_3d
    bad = LSTMClassifier(**TINY).fit(X, np.arange(20) % 2)
    bad.weights_["rnn.weight_hh_l0"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match="weight_hh_l0"):
        bad.predict(X)
