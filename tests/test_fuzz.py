"""Fuzzed input: every X, y and parameter either works correctly or is refused.

Property-based tests (hypothesis) over the shapes, dtypes and values of ``X`` and
``y`` and over parameters at and beyond their bounds. Each drawn case carries its
expected outcome, derived from how it was built: either the data the model must
see (values, sequence lengths, dtype), or the ``ValueError``/``TypeError`` message
that names the problem (which sequence, which step, which parameter). Nothing the
user passed may be modified.

Validation alone never reaches the Numba kernels and runs in this process. Fits
and predictions run in a subprocess (this file run as a script), so that a crash
in a kernel fails the test instead of killing the test session.

The examples are derandomized: every run draws the same cases.
"""

import copy
import json
import math
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import type_of_target

from sklearn_rnn._sequences import validate_sequences

#: Fixed, derandomized settings: the same examples on every run, no deadline (the
#: first fit of a kernel signature may load it from Numba's cache).
FUZZ_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)
N_VALIDATION_EXAMPLES = 400
N_FIT_EXAMPLES = 200

FLOAT_DTYPES = ("float64", "float32", "float16")
INT_DTYPES = ("int8", "int64", "uint8", "uint64", "bool")
# dtypes of the whole array: floats keep NaN padding; the others cannot hold NaN.
ARRAY_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("object", "numeric_str")

# -- X: the valid part -------------------------------------------------------------


def _values(dtype):
    """Strategy for one finite value of ``dtype``, extremes included."""
    if dtype in ("float64", "object", "numeric_str"):
        return st.floats(allow_nan=False, allow_infinity=False)  # 5e-324 .. 1.8e308
    if dtype == "float32":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if dtype == "float16":
        return st.floats(allow_nan=False, allow_infinity=False, width=16)
    if dtype == "bool":
        return st.booleans()
    info = np.iinfo(dtype)  # within +-2**53, where the conversion to float64 is exact
    return st.integers(max(int(info.min), -(2**53)), min(int(info.max), 2**53))


def _as_dtype(rows, dtype):
    """A 2-D float64 block (NaN = padding) as an array of the drawn dtype."""
    if dtype == "object":
        out = np.empty(rows.shape, dtype=object)
        for index, value in np.ndenumerate(rows):
            out[index] = float(value)  # Python floats, NaN padding included
        return out
    if dtype == "numeric_str":
        return np.array([[repr(float(v)) for v in row] for row in rows], dtype=str)
    if dtype == "bool":
        return rows.astype(bool)
    return rows.astype(dtype)


def _can_hold_nan(dtype):
    return dtype in FLOAT_DTYPES or dtype == "object"


@st.composite
def valid_sequences(draw, form, max_samples=4, max_steps=5, max_features=3):
    """Draw sequences for a container ``form`` as 2-D float64 blocks, with their lengths.

    Returns a dict: ``dtype`` (of the container to build), ``seqs`` (one
    ``(n_steps_i, n_features)`` float64 block per sequence, trailing NaN rows are
    padding), ``lengths`` (valid steps of each) and ``n_features``.
    """
    n = draw(st.integers(1, max_samples))
    univariate = form in ("2d", "dataframe", "ragged_1d")
    n_features = 1 if univariate else draw(st.integers(1, max_features))
    if form == "dataframe":
        dtype = draw(st.sampled_from(["float64", "int64"]))
    elif form == "lists":
        dtype = "float64"
    else:
        dtype = draw(st.sampled_from(ARRAY_DTYPES))
    values = _values(dtype)
    lengths = draw(st.lists(st.integers(1, max_steps), min_size=n, max_size=n))
    padding = [0] * n
    if _can_hold_nan(dtype):
        padding = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    elif form not in ("ragged", "ragged_1d"):
        lengths = [lengths[0]] * n  # no NaN to pad shorter sequences with
    seqs = []
    for length, pad in zip(lengths, padding, strict=True):
        flat = draw(st.lists(values, min_size=length * n_features, max_size=length * n_features))
        block = np.array([float(v) for v in flat], dtype=np.float64).reshape(length, n_features)
        seqs.append(np.vstack([block, np.full((pad, n_features), np.nan)]))
    return {"dtype": dtype, "seqs": seqs, "lengths": lengths, "n_features": n_features}


def _expected_data(seqs, lengths, dtype):
    n_features = seqs[0].shape[1]
    data = np.zeros((len(seqs), max(lengths), n_features), dtype=dtype)
    for i, (s, length) in enumerate(zip(seqs, lengths, strict=True)):
        data[i, :length] = s[:length]
    return data


# -- X: the faults -----------------------------------------------------------------
# Each fault changes the blocks (or the container) and says what the error must name.


def _fault_nan_inside(draw, case):
    seqs, lengths = case["seqs"], case["lengths"]
    n_features = case["n_features"]
    # NaN in a step that is followed by a valid step, or a partial NaN step anywhere
    candidates = [
        (i, t, partial)
        for i, length in enumerate(lengths)
        for t in range(length)
        for partial in ((False, True) if n_features > 1 else (False,))
        if partial or t < length - 1
    ]
    if not candidates:
        return None
    i, t, partial = draw(st.sampled_from(candidates))
    if partial:
        f = draw(st.integers(0, n_features - 1))
        seqs[i][t, f] = np.nan
    else:
        seqs[i][t, :] = np.nan
    return rf"NaN in sequence {i} at step {t}; NaN is allowed only as trailing padding"


def _fault_inf(draw, case):
    seqs = case["seqs"]
    i = draw(st.integers(0, len(seqs) - 1))
    t = draw(st.integers(0, len(seqs[i]) - 1))  # padding steps included
    f = draw(st.integers(0, case["n_features"] - 1))
    sign = draw(st.sampled_from([1.0, -1.0]))
    seqs[i][t, f] = sign * np.inf
    return rf"(?<![-\w]){'-' if sign < 0 else ''}inf in sequence {i} at step {t}\b"


def _fault_all_nan(draw, case):
    i = draw(st.integers(0, len(case["seqs"]) - 1))
    case["seqs"][i][:] = np.nan
    return rf"Sequence {i} of X is empty \(all its steps are NaN\)"


FAULTS = {
    "nan_inside": _fault_nan_inside,
    "inf": _fault_inf,
    "all_nan": _fault_all_nan,
}


# -- X: the containers ---------------------------------------------------------------


def _pad_to(seqs, n_steps):
    return [np.vstack([s, np.full((n_steps - len(s), s.shape[1]), np.nan)]) for s in seqs]


def _build_rectangular(case, form):
    """2-D (univariate) or 3-D array, or a DataFrame, from equal-width blocks."""
    seqs = case["seqs"]
    n_steps = max(len(s) for s in seqs)
    if not _can_hold_nan(case["dtype"]) and any(len(s) != n_steps for s in seqs):
        return None  # integers cannot hold the NaN padding of shorter sequences
    stacked = np.stack(_pad_to(seqs, n_steps))  # (n, T, F) float64
    if form == "3d":
        flat = _as_dtype(stacked.reshape(len(seqs), -1), case["dtype"])
        return flat.reshape(stacked.shape)
    if case["n_features"] != 1:
        return None
    X = _as_dtype(stacked[:, :, 0], case["dtype"])
    if form == "dataframe":
        if case["dtype"] not in ("float64", "int64"):
            return None
        return pd.DataFrame(X, columns=[f"step{t}" for t in range(n_steps)])
    return X


def _build_ragged(case, one_d):
    dtype = case["dtype"]
    if one_d and case["n_features"] != 1:
        return None
    seqs = [_as_dtype(s, dtype) for s in case["seqs"]]
    return [s[:, 0] if one_d else s for s in seqs]


def _build_lists(case):
    if case["dtype"] != "float64":
        return None
    if case["n_features"] == 1:
        return [[float(v) for v in s[:, 0]] for s in case["seqs"]]
    return [[[float(v) for v in row] for row in s] for s in case["seqs"]]


def _result_dtype(case, form, X):
    if form in ("ragged", "ragged_1d"):
        return np.float32 if all(x.dtype == np.float32 for x in X) else np.float64
    if form in ("2d", "3d") and case["dtype"] == "float32":
        return np.float32
    return np.float64


@st.composite
def x_cases(draw, max_samples=4, max_steps=5, max_features=3):
    """Draw ``X`` with its expected outcome.

    Returns a dict with ``X`` and either ``error`` (a regex the ValueError or
    TypeError must match) or ``data``, ``lengths``, ``dtype`` (what
    ``validate_sequences`` must return), ``n_features`` and ``extreme`` (whether a
    value exceeds 1e10 in magnitude, where training may overflow).
    """
    kind = draw(st.sampled_from(["valid"] * 4 + list(FAULTS) + ["structure"] * 2))
    if kind == "structure":
        return _structural_case(draw)
    form = draw(st.sampled_from(["2d", "3d", "dataframe", "ragged", "ragged_1d", "lists"]))
    case = draw(valid_sequences(form, max_samples, max_steps, max_features))
    error = None
    if kind in FAULTS:
        if not _can_hold_nan(case["dtype"]):
            case["dtype"] = "float64"
        error = FAULTS[kind](draw, case)
        if error is None:
            kind = "valid"
    if form == "lists":
        X = _build_lists(case)
    elif form in ("ragged", "ragged_1d"):
        X = _build_ragged(case, form == "ragged_1d")
        if X is not None and case["dtype"] == "float32" and draw(st.booleans()):
            # sequences of different float dtypes: float64 wins
            j = draw(st.integers(0, len(X) - 1))
            X[j] = X[j].astype(np.float64)
    else:
        X = _build_rectangular(case, form)
    assert X is not None, (form, case["dtype"])
    if error is not None:
        return {"X": X, "error": error}
    dtype = _result_dtype(case, form, X)
    return {
        "X": X,
        "error": None,
        "data": _expected_data(case["seqs"], case["lengths"], dtype),
        "lengths": np.asarray(case["lengths"], dtype=np.int64),
        "dtype": dtype,
        "n_features": case["n_features"],
        "n_features_in": np.shape(X)[1] if _tabular(form, X) else case["n_features"],
        "extreme": any(np.nanmax(np.abs(s), initial=0) > 1e10 for s in case["seqs"]),
    }


def _tabular(form, X):
    """Whether X is read as a 2-D table (its columns are then the features)."""
    if form == "lists":  # equal lengths of scalars: a 2-D array-like
        return len({len(x) for x in X}) == 1 and not isinstance(X[0][0], list)
    return form in ("2d", "dataframe")


def _structural_case(draw):
    """Containers, shapes and dtypes that are wrong whatever their values."""
    n = draw(st.integers(1, 3))
    T = draw(st.integers(1, 4))
    F = draw(st.integers(1, 3))
    rng = np.random.RandomState(draw(st.integers(0, 100)))
    i = draw(st.integers(0, n - 1))
    sequences = [rng.normal(size=(draw(st.integers(1, 4)), F)) for _ in range(n)]
    choices = {
        "empty list": ([], r"Found 0 sample\(s\) \(X is an empty list\)"),
        "no samples 2d": (np.empty((0, T)), r"Found array with 0 sample\(s\)"),
        "no samples 3d": (np.empty((0, T, F)), r"Found array with 0 sample\(s\)"),
        "no steps 2d": (np.empty((n, 0)), r"Found array with 0 feature\(s\)"),
        "no steps 3d": (np.empty((n, 0, F)), r"Found array with 0 step\(s\)"),
        "no features 3d": (np.empty((n, T, 0)), r"Found array with 0 feature\(s\)"),
        "no features ragged": (
            [np.empty((T, 0)) for _ in range(n)],
            r"Found array with 0 feature\(s\) .* in sequence 0 of X",
        ),
        "empty sequence": (
            sequences[:i] + [np.empty((0, F))] + sequences[i + 1 :],
            rf"Sequence {i} of X is empty \(it has no steps\)",
        ),
        "empty list sequence": (
            [[1.0, 2.0]] * i + [[]] + [[1.0, 2.0, 3.0]] * (n - i),
            rf"Sequence {i} of X is empty \(it has no steps\)",
        ),
        "mixed features": (
            sequences + [rng.normal(size=(2, F + 1))],
            rf"same number of features: sequence 0 has {F}, sequence {n} has {F + 1}",
        ),
        "scalar": (draw(st.floats(allow_nan=False)), r"Expected 2D array, got scalar array"),
        "1d": (rng.normal(size=T), r"Expected 2D array, got 1D array"),
        "4d": (rng.normal(size=(n, T, F, 2)), r"Found array with dim 4"),
        "3d sequence": (
            sequences[:i] + [rng.normal(size=(2, F, 2))] + sequences[i + 1 :],
            rf"sequence {i} of X has dim 3",
        ),
        "complex": (rng.normal(size=(n, T, F)) + 1j, r"Complex data not supported"),
        "complex sequence": (
            sequences[:i] + [sequences[i] * 1j] + sequences[i + 1 :],
            rf"Complex data not supported\nsequence {i} of X",
        ),
        "complex 2d real": (rng.normal(size=(n, T)).astype(complex), "Complex data"),
        "strings": (np.full((n, T), "abc"), r"could not convert string to float"),
        "string in object": (
            np.array([[0.5] * T] * (n - 1) + [[0.5] * (T - 1) + ["x"]], dtype=object),
            r"could not convert string to float",
        ),
        "string sequence": (
            sequences[:i] + [np.array(["a"] * 2)] + sequences[i + 1 :],
            rf"Could not convert sequence {i} of X to numbers",
        ),
        "dict in object": (
            np.array([[{"a": 1}] * T] * n, dtype=object),
            r"float\(\) argument must be .* not 'dict'",
        ),
        "sparse": (sp.csr_matrix(rng.normal(size=(n, T))), r"[Ss]parse data was passed for X"),
        "sparse sequence": (
            sequences[:i] + [sp.csr_matrix(sequences[i])] + sequences[i + 1 :],
            rf"Sparse data was passed for sequence {i} of X",
        ),
    }
    name = draw(st.sampled_from(sorted(choices)))
    X, error = choices[name]
    return {"X": X, "error": error}


# -- nothing the user passed is modified ---------------------------------------------


def snapshot(obj):
    """A deep copy of ``obj`` to compare with :func:`unchanged` afterwards."""
    return copy.deepcopy(obj)


def unchanged(before, after):
    """Whether ``after`` equals ``before`` in type, shape, dtype and values (NaN = NaN)."""
    if type(before) is not type(after):
        return False
    if isinstance(before, pd.DataFrame):
        return before.equals(after) and list(before.dtypes) == list(after.dtypes)
    if isinstance(before, pd.Series):
        return before.equals(after) and before.dtype == after.dtype
    if sp.issparse(before):
        return (before != after).nnz == 0
    if isinstance(before, np.ndarray):
        if before.dtype != after.dtype or before.shape != after.shape:
            return False
        if before.dtype.kind in "fc":
            return bool(np.array_equal(before, after, equal_nan=True))
        if before.dtype.kind == "O":
            return all(_same_scalar(a, b) for a, b in zip(before.flat, after.flat, strict=True))
        return bool(np.array_equal(before, after))
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(
            unchanged(a, b) for a, b in zip(before, after, strict=True)
        )
    return _same_scalar(before, after)


def _same_scalar(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and bool(a == b)


# -- validation, in this process ------------------------------------------------------


@settings(FUZZ_SETTINGS, max_examples=N_VALIDATION_EXAMPLES)
@given(case=x_cases())
def test_fuzzed_X_is_converted_exactly_or_refused_with_a_message(case):
    X = case["X"]
    before = snapshot(X)
    est = BaseEstimator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "X does not have valid feature names"
        if case["error"] is not None:
            with pytest.raises((ValueError, TypeError), match=case["error"]):
                validate_sequences(est, X, reset=True)
        else:
            data, lengths = validate_sequences(est, X, reset=True)
            assert data.dtype == case["dtype"]
            assert data.flags.c_contiguous
            np.testing.assert_array_equal(lengths, case["lengths"])
            np.testing.assert_array_equal(data, case["data"])
            assert est.n_features_in_ == case["n_features_in"]
    assert unchanged(before, X), "validate_sequences modified its input"


# -- fits, in a subprocess --------------------------------------------------------------

ESTIMATOR_NAMES = (
    "RecurrentClassifier",
    "RNNClassifier",
    "LSTMClassifier",
    "GRUClassifier",
    "RecurrentRegressor",
    "RNNRegressor",
    "LSTMRegressor",
    "GRURegressor",
)

# (name, value, outcome): outcome None = valid; "diverge" = valid, but training may
# overflow (then a ValueError must say so); a string = the regex of the refusal.
PARAMETER_CASES = [
    ("hidden_layer_sizes", 1, None),
    ("hidden_layer_sizes", (2, 1), None),
    ("hidden_layer_sizes", 0, "hidden_layer_sizes"),
    ("hidden_layer_sizes", (1, 0), "hidden_layer_sizes"),
    ("hidden_layer_sizes", (), "hidden_layer_sizes"),
    ("hidden_layer_sizes", (1.5,), "hidden_layer_sizes"),
    ("hidden_layer_sizes", (True,), "hidden_layer_sizes"),
    ("hidden_layer_sizes", ("2",), "hidden_layer_sizes"),
    ("bidirectional", True, None),
    ("bidirectional", "yes", "bidirectional"),
    ("dropout", 0.0, None),
    ("dropout", 0.999, None),
    ("dropout", 1.0, "dropout"),
    ("dropout", -1e-9, "dropout"),
    ("pooling", "mean", None),
    ("pooling", "max", None),
    ("pooling", "first", "pooling"),
    ("solver", "sgd", None),
    ("solver", "lbfgs", "solver"),
    ("alpha", 0.0, None),
    ("alpha", 1e300, "diverge"),
    ("alpha", -1e-300, "alpha"),
    ("alpha", np.inf, "alpha"),
    ("batch_size", 1, None),
    ("batch_size", 10**9, None),
    ("batch_size", 0, "batch_size"),
    ("learning_rate", "invscaling", None),
    ("learning_rate", "adaptive", None),
    ("learning_rate", "optimal", "learning_rate"),
    ("learning_rate_init", 1e-300, None),
    ("learning_rate_init", 1e6, "diverge"),
    ("learning_rate_init", 0.0, "learning_rate_init"),
    ("power_t", 0.0, None),
    ("power_t", 1e300, None),
    ("power_t", -1.0, "power_t"),
    ("max_iter", 1, None),
    ("max_iter", 0, "max_iter"),
    ("max_iter", 1.5, "max_iter"),
    ("shuffle", False, None),
    ("random_state", 2**32 - 1, None),
    ("random_state", -1, "random_state"),
    ("tol", 0.0, None),
    ("tol", -1e-9, "tol"),
    ("momentum", 0.0, None),
    ("momentum", 1.0, None),
    ("momentum", 1.5, "momentum"),
    ("nesterovs_momentum", False, None),
    ("validation_fraction", 0.0, None),
    ("validation_fraction", 1.0, "validation_fraction"),
    ("beta_1", 0.0, None),
    ("beta_1", 1.0, "beta_1"),
    ("beta_2", 0.0, None),
    ("beta_2", 1.0, "beta_2"),
    ("epsilon", 1e-300, None),
    ("epsilon", 0.0, "epsilon"),
    ("n_iter_no_change", 1, None),
    ("n_iter_no_change", np.inf, None),
    ("n_iter_no_change", 0, "n_iter_no_change"),
    ("max_grad_norm", None, None),
    ("max_grad_norm", 1e-300, None),
    ("max_grad_norm", 0.0, "max_grad_norm"),
    ("warm_start", True, None),
    ("activation", "relu", None),
    ("activation", "logistic", None),
    ("activation", "softmax", "activation"),
    ("cell", "rnn", None),
    ("cell", "gru", None),
    ("cell", "transformer", "cell"),
    ("class_weight", "balanced", None),
    ("class_weight", "often", "class_weight"),
]


#: Values that pass scikit-learn's parameter constraints and are refused by the
#: estimator itself, after them (the entries of hidden_layer_sizes).
LATE_CHECKED = {"hidden_layer_sizes": [(1, 0), (), (1.5,), (True,), ("2",)]}


def _y_values(n, kind, rng):
    """Targets of one kind for n samples, with the type_of_target they have."""
    labels = rng.randint(0, 2, size=n)
    if kind == "binary":
        return labels
    if kind == "binary_str":
        return np.where(labels == 1, "yes", "no")
    if kind == "binary_bool":
        return labels.astype(bool)
    if kind == "multiclass":
        return rng.randint(0, 3, size=n) * 10 - 5
    if kind == "multiclass_str":
        return np.array(["a", "b", "c"])[rng.randint(0, 3, size=n)]
    if kind == "float_labels":
        return rng.randint(0, 3, size=n).astype(float) / 2
    if kind == "multilabel":
        return rng.randint(0, 2, size=(n, 2))
    if kind == "multiclass_multioutput":
        return np.column_stack([np.arange(n) % 3, np.arange(n) % 2 + 3])
    if kind == "continuous":
        return rng.normal(size=n) + 0.5
    if kind == "continuous_float32":
        return (rng.normal(size=n) + 0.5).astype(np.float32)
    if kind == "continuous_multioutput":
        return rng.normal(size=(n, 2)) + 0.5
    if kind == "huge":
        return rng.normal(size=n) * 1e300
    if kind == "tiny":
        return rng.normal(size=n) * 1e-300
    if kind == "nan":
        y = rng.normal(size=n)
        y[rng.randint(n)] = np.nan
        return y
    if kind == "inf":
        y = rng.normal(size=n)
        y[rng.randint(n)] = -np.inf
        return y
    if kind == "complex":
        return rng.normal(size=n) + 1j
    if kind == "mixed_object":
        return np.array([1, "a"] * n, dtype=object)[:n]
    if kind == "3d":
        return rng.normal(size=(n, 2, 2))
    if kind == "wrong_length":
        return rng.randint(0, 2, size=n + 1)
    if kind == "none":
        return None
    raise AssertionError(kind)


Y_VALID_KINDS = (  # valid for a classifier or a regressor, or both
    "binary",
    "binary_str",
    "binary_bool",
    "multiclass",
    "multiclass_str",
    "float_labels",
    "multilabel",
    "multiclass_multioutput",
    "continuous",
    "continuous_float32",
    "continuous_multioutput",
    "huge",
    "tiny",
)
Y_INVALID_KINDS = ("nan", "inf", "complex", "mixed_object", "3d", "wrong_length", "none")
Y_KINDS = Y_VALID_KINDS * 3 + Y_INVALID_KINDS


def _y_error(y, kind, classifier, n):
    """The refusal a fit must give for these targets, or None."""
    if kind == "3d":
        return r"Found array with dim 3"
    if kind == "complex":
        return "Complex data not supported"
    if kind == "nan":
        return "Input y contains NaN"
    if kind == "inf":
        return "Input y contains infinity"
    if classifier:
        target = type_of_target(y)
        if kind == "mixed_object":
            return r"Unknown label type: unknown|Mix of label input types"
        if target in ("continuous", "continuous-multioutput"):
            return rf"Unknown label type: {target}"
        if target == "multiclass-multioutput":
            return "Multioutput target data is not supported"
    elif y.dtype.kind in "USO":
        return r"dtype='numeric' is not compatible|could not convert string to float"
    if kind == "wrong_length":
        return rf"inconsistent numbers of samples: \[{n}, {n + 1}\]"
    return None


@st.composite
def fit_cases(draw):
    """Draw an estimator, its parameters, X and y, with the expected outcome."""
    import sklearn_rnn

    name = draw(st.sampled_from(ESTIMATOR_NAMES))
    Est = getattr(sklearn_rnn, name)
    accepted = Est().get_params()
    classifier = name.endswith("Classifier")
    params = {"hidden_layer_sizes": 2, "max_iter": 2, "random_state": 0}
    options = [p for p in PARAMETER_CASES if p[0] in accepted]
    chosen = draw(st.lists(st.sampled_from(options), max_size=3, unique_by=lambda p: p[0]))
    diverge = False
    early, late = [], []  # scikit-learn's checks (in the order of the names), then ours
    for key, value, outcome in chosen:
        params[key] = value
        if outcome == "diverge":
            diverge = True
        elif outcome is not None:
            (late if value in LATE_CHECKED.get(key, []) else early).append((key, outcome))
    param_error = (min(early) if early else min(late) if late else (None, None))[1]
    early_stopping = draw(st.sampled_from([False] * 4 + [True]))
    if early_stopping:
        params["early_stopping"] = True
        params.setdefault("validation_fraction", draw(st.sampled_from([0.1, 0.5])))

    xcase = draw(x_cases(max_samples=5, max_steps=4))
    X = xcase["X"]
    n = len(xcase["lengths"]) if xcase["error"] is None else 3
    kind = draw(st.sampled_from(Y_KINDS))
    y = _y_values(max(n, 1), kind, np.random.RandomState(draw(st.integers(0, 1000))))
    if isinstance(y, np.ndarray) and y.ndim == 1 and draw(st.booleans()):
        y = draw(st.sampled_from([list, pd.Series]))(y)

    # the order of the checks: parameters, y given, X, y, then the validation split
    error = param_error or ("requires y to be passed" if y is None else xcase["error"])
    if error is None:
        error = _y_error(np.asarray(y), kind, classifier, n)
    if error is None and early_stopping:
        vf = params["validation_fraction"]
        n_val = math.ceil(vf * n)
        if n_val < 2 or n - n_val < 1:
            error = "The validation set is too small"
    diverge = diverge or xcase.get("extreme", False) or kind == "huge"
    return {
        "name": name,
        "params": params,
        "X": X,
        "y": y,
        "error": error,
        "diverge": diverge,
        "xcase": xcase,
        "y_kind": kind,
        "early_stopping": early_stopping,
    }


DIVERGED = r"non-finite|not finite"


def check_fit_case(case, counts):
    """Fit and predict one drawn case; assert the outcome the case expects."""
    import sklearn_rnn

    Est = getattr(sklearn_rnn, case["name"])
    X, y = case["X"], case["y"]
    X_before, y_before = snapshot(X), snapshot(y)
    est = Est(**case["params"])
    refusal = pred = proba = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X, y)
            proba = est.predict_proba(X) if hasattr(est, "predict_proba") else None
            pred = est.predict(X)
        except (ValueError, TypeError) as exc:
            refusal = exc
    assert unchanged(X_before, X), "fit or predict modified X"
    assert unchanged(y_before, y), "fit or predict modified y"
    if refusal is not None:
        expected = case["error"] or (DIVERGED if case["diverge"] else None)
        assert expected is not None, f"a valid case was refused: {refusal!r}"
        assert re.search(expected, str(refusal)), f"{refusal!r} does not match {expected!r}"
        counts["refused"] += 1
        return
    assert case["error"] is None, f"expected a refusal matching {case['error']!r}"
    counts["ok"] += 1
    _check_predictions(est, case, pred, proba)


def _check_predictions(est, case, pred, proba):
    xcase = case["xcase"]
    n = len(xcase["lengths"])
    y = np.asarray(case["y"])
    model_dtype = est.weights_["head.weight"].dtype
    assert model_dtype == xcase["dtype"]
    assert all(np.isfinite(w).all() for w in est.weights_.values())
    if proba is None:  # regressor
        assert pred.shape == ((n,) if y.ndim == 1 else (n, y.shape[1]))
        assert pred.dtype == model_dtype
        assert np.isfinite(pred).all()
        return
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    if type_of_target(y) == "multilabel-indicator":
        assert pred.shape == y.shape
        assert proba.shape == y.shape
        assert set(np.unique(pred)) <= {0, 1}
        return
    classes = np.unique(y)
    np.testing.assert_array_equal(est.classes_, classes)
    assert pred.shape == (n,)
    assert pred.dtype == est.classes_.dtype
    assert set(pred.tolist()) <= set(classes.tolist())
    assert proba.shape == (n, len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-4)
    np.testing.assert_array_equal(pred, est.classes_[proba.argmax(axis=1)])


def run_fit_fuzz(max_examples):
    """Run the fit fuzz in this process; return the counts of outcomes."""
    counts = {"ok": 0, "refused": 0}

    @settings(FUZZ_SETTINGS, max_examples=max_examples)
    @given(case=fit_cases())
    def fuzz(case):
        check_fit_case(case, counts)

    fuzz()
    return counts


def test_fuzzed_fits_work_or_refuse_and_never_crash():
    """Fit and predict fuzzed cases in a subprocess: a crash would show as a signal."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    proc = subprocess.run(
        [sys.executable, __file__, str(N_FIT_EXAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,  # a guard against a hang, far above the normal run
    )
    assert proc.returncode == 0, (
        f"the fuzzing subprocess failed with code {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-8000:]}"
    )
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    # both outcomes were exercised many times: the fuzzing is not vacuous
    assert counts["ok"] >= N_FIT_EXAMPLES // 5, counts
    assert counts["refused"] >= N_FIT_EXAMPLES // 5, counts


if __name__ == "__main__":
    print(json.dumps(run_fit_fuzz(int(sys.argv[1]))))
