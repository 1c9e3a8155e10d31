"""scikit-learn's estimator checks over all eight estimators, with nothing excused."""

from sklearn.utils.estimator_checks import parametrize_with_checks

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

# Small networks keep each check well under a second. A small network learns the
# checks' tasks (e.g. R^2 > 0.5 on make_regression read as sequences) in 200 epochs
# with a larger step; the defaults learn them too, in a few seconds each.
SMALL = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01)

ESTIMATORS = [
    RecurrentClassifier(**SMALL),
    RNNClassifier(**SMALL),
    LSTMClassifier(**SMALL),
    GRUClassifier(**SMALL),
    RecurrentRegressor(**SMALL),
    RNNRegressor(**SMALL),
    LSTMRegressor(**SMALL),
    GRURegressor(**SMALL),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
