"""Recurrent neural networks (RNN, LSTM, GRU) as scikit-learn estimators."""

from ._estimators import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RecurrentClassifier,
    RecurrentRegressor,
    RNNClassifier,
    RNNRegressor,
)
from ._warmup import warmup

__version__ = "0.1.0.dev0"

__all__ = [
    "GRUClassifier",
    "GRURegressor",
    "LSTMClassifier",
    "LSTMRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "RecurrentClassifier",
    "RecurrentRegressor",
    "warmup",
]
