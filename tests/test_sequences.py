"""Tests for input validation: sklearn_rnn._sequences."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator

from sklearn_rnn._sequences import to_padded, validate_sequences

pd = pytest.importorskip("pandas")


class SeqEstimator(BaseEstimator):
    """Minimal estimator: the ``estimator`` argument of validate_sequences."""


def fit(X, **kwargs):
    est = SeqEstimator()
    data, lengths = validate_sequences(est, X, reset=True, **kwargs)
    return est, data, lengths


def check_output(data, lengths):
    """Invariants of every successful call."""
    assert data.ndim == 3
    assert data.flags.c_contiguous
    assert data.flags.writeable
    assert data.dtype.kind == "f"
    assert lengths.dtype == np.int64
    assert lengths.shape == (data.shape[0],)
    assert lengths.min() >= 1
    assert lengths.max() == data.shape[1]
    assert not np.isnan(data).any()
    for i, n in enumerate(lengths):
        assert not data[i, n:].any(), "padded positions must be zeros"


@pytest.fixture
def univariate():
    """Three univariate sequences of lengths 4, 2, 3, and their expected output."""
    seqs = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0]), np.array([7.0, 8.0, 9.0])]
    expected = np.array([[1, 2, 3, 4], [5, 6, 0, 0], [7, 8, 9, 0]], dtype=np.float64)
    return seqs, expected[:, :, np.newaxis], np.array([4, 2, 3])


@pytest.fixture
def multivariate():
    rng = np.random.RandomState(0)
    lengths = np.array([5, 2, 4, 1])
    seqs = [rng.normal(size=(n, 3)) for n in lengths]
    expected = np.zeros((4, 5, 3))
    for i, s in enumerate(seqs):
        expected[i, : len(s)] = s
    return seqs, expected, lengths


# --------------------------------------------------------------------------- forms


def test_2d_array_is_tabular():
    X = np.arange(12, dtype=np.float64).reshape(3, 4)
    est, data, lengths = fit(X)
    check_output(data, lengths)
    assert data.shape == (3, 4, 1)
    assert_array_equal(data[:, :, 0], X)
    assert_array_equal(lengths, [4, 4, 4])
    assert est.n_features_in_ == 4
    assert est._input_kind_ == "tabular"
    assert est._n_step_features_ == 1
    assert not hasattr(est, "feature_names_in_")


def test_2d_list_of_equal_lists_is_tabular():
    X = [[1, 2, 3], [4, 5, 6]]
    est, data, lengths = fit(X)
    assert est._input_kind_ == "tabular"
    assert est.n_features_in_ == 3
    assert data.dtype == np.float64
    assert_array_equal(data[:, :, 0], X)
    assert_array_equal(lengths, [3, 3])


def test_nested_equal_lists_are_3d():
    X = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]
    est, data, lengths = fit(X)
    assert est._input_kind_ == "sequences"
    assert est.n_features_in_ == 2
    assert_array_equal(data, X)
    assert_array_equal(lengths, [3, 3])


def test_3d_array():
    X = np.random.RandomState(0).normal(size=(5, 7, 3))
    est, data, lengths = fit(X)
    check_output(data, lengths)
    assert_array_equal(data, X)
    assert_array_equal(lengths, [7] * 5)
    assert est.n_features_in_ == 3
    assert est._input_kind_ == "sequences"
    assert est._n_step_features_ == 3


def test_ragged_2d_arrays(multivariate):
    seqs, expected, expected_lengths = multivariate
    est, data, lengths = fit(seqs)
    check_output(data, lengths)
    assert_array_equal(data, expected)
    assert_array_equal(lengths, expected_lengths)
    assert est.n_features_in_ == 3
    assert est._input_kind_ == "sequences"
    # A tuple is a list of sequences too.
    _, data_t, lengths_t = fit(tuple(seqs))
    assert_array_equal(data_t, expected)
    assert_array_equal(lengths_t, expected_lengths)


def test_ragged_1d_arrays_are_univariate(univariate):
    seqs, expected, expected_lengths = univariate
    est, data, lengths = fit(seqs)
    check_output(data, lengths)
    assert_array_equal(data, expected)
    assert_array_equal(lengths, expected_lengths)
    assert est.n_features_in_ == 1
    assert est._input_kind_ == "sequences"


def test_list_of_equal_length_arrays_is_sequences():
    # An ndarray element makes a list a list of sequences, even when lengths agree.
    est, data, lengths = fit([np.arange(3.0), np.arange(3.0)])
    assert est._input_kind_ == "sequences"
    assert est.n_features_in_ == 1
    assert data.shape == (2, 3, 1)


def test_ragged_plain_lists(univariate):
    seqs, expected, expected_lengths = univariate
    est, data, lengths = fit([s.tolist() for s in seqs])
    assert est._input_kind_ == "sequences"
    assert_array_equal(data, expected)
    assert_array_equal(lengths, expected_lengths)
    # Nested plain lists of different lengths: multivariate.
    est, data, lengths = fit([[[1, 2], [3, 4]], [[5, 6]]])
    assert est.n_features_in_ == 2
    assert_array_equal(lengths, [2, 1])
    assert_array_equal(data, [[[1, 2], [3, 4]], [[5, 6], [0, 0]]])


def test_ragged_mixed_1d_and_single_feature_2d(univariate):
    seqs, expected, expected_lengths = univariate
    mixed = [seqs[0], seqs[1][:, np.newaxis], seqs[2].tolist()]
    _, data, lengths = fit(mixed)
    assert_array_equal(data, expected)
    assert_array_equal(lengths, expected_lengths)


def test_ragged_pandas_elements():
    seqs = [
        pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}),
        pd.DataFrame({"a": [5.0], "b": [6.0]}),
    ]
    est, data, lengths = fit(seqs)
    assert est.n_features_in_ == 2
    assert_array_equal(lengths, [2, 1])
    assert_array_equal(data, [[[1, 3], [2, 4]], [[5, 6], [0, 0]]])
    _, data, lengths = fit([pd.Series([1.0, 2.0, 3.0]), pd.Series([4.0])])
    assert_array_equal(lengths, [3, 1])


# ------------------------------------------------------------- NaN padding, lengths


def test_equivalence_of_univariate_forms(univariate):
    """2-D NaN-padded, 3-D with one feature, ragged lists, extra NaN columns."""
    seqs, expected, expected_lengths = univariate
    padded_2d = np.full((3, 4), np.nan)
    for i, s in enumerate(seqs):
        padded_2d[i, : len(s)] = s
    forms = {
        "2d": padded_2d,
        "3d": padded_2d[:, :, np.newaxis],
        "2d extra NaN columns": np.hstack([padded_2d, np.full((3, 5), np.nan)]),
        "ragged 1-D": seqs,
        "ragged 2-D": [s[:, np.newaxis] for s in seqs],
        "ragged lists": [s.tolist() for s in seqs],
        "ragged with trailing NaN": [np.append(s, [np.nan] * i) for i, s in enumerate(seqs)],
        "dataframe": pd.DataFrame(padded_2d),
    }
    for form, X in forms.items():
        _, data, lengths = fit(X)
        check_output(data, lengths)
        assert data.dtype == np.float64, form
        assert_array_equal(data, expected, err_msg=form)
        assert_array_equal(lengths, expected_lengths, err_msg=form)


def test_equivalence_of_multivariate_forms(multivariate):
    seqs, expected, expected_lengths = multivariate
    padded = np.full((4, 6, 3), np.nan)  # one all-NaN step more than needed
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    for X in [padded, seqs, [np.vstack([s, np.full((2, 3), np.nan)]) for s in seqs]]:
        _, data, lengths = fit(X)
        check_output(data, lengths)
        assert_array_equal(data, expected)
        assert_array_equal(lengths, expected_lengths)


def test_trailing_nan_shortens_tabular_rows():
    X = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0], [6.0, np.nan, np.nan]])
    est, data, lengths = fit(X)
    assert est.n_features_in_ == 3
    assert_array_equal(lengths, [2, 3, 1])
    assert_array_equal(data[:, :, 0], [[1, 2, 0], [3, 4, 5], [6, 0, 0]])


def test_nullable_pandas_na_is_padding():
    X = pd.DataFrame(
        {
            "t0": pd.array([1, 2], dtype="Int64"),
            "t1": pd.array([3, None], dtype="Int64"),
        }
    )
    _, data, lengths = fit(X)
    assert data.dtype == np.float64
    assert_array_equal(lengths, [2, 1])
    assert_array_equal(data[:, :, 0], [[1, 3], [2, 0]])


def test_no_copy_when_not_needed():
    X = np.random.RandomState(0).normal(size=(4, 5))
    _, data, _ = fit(X)
    assert np.shares_memory(data, X)
    X3 = np.random.RandomState(0).normal(size=(4, 5, 2))
    _, data, _ = fit(X3)
    assert np.shares_memory(data, X3)


def test_readonly_and_fortran_input():
    X = np.asfortranarray(np.random.RandomState(0).normal(size=(4, 5)))
    _, data, _ = fit(X)
    assert data.flags.c_contiguous
    X3 = np.random.RandomState(0).normal(size=(4, 5, 2))
    X3.flags.writeable = False
    _, data, _ = fit(X3)
    assert data.flags.writeable
    assert_array_equal(data, X3)


class _ArraySubclass(np.ndarray):
    pass


@pytest.mark.parametrize(
    "convert",
    [
        np.asfortranarray,
        lambda X: X.astype(X.dtype.newbyteorder(">")),
        lambda X: X.astype(np.float16),
        lambda X: X.view(_ArraySubclass),
        lambda X: np.repeat(X, 2, axis=2)[:, :, ::2],  # a strided view
    ],
    ids=["fortran", "big-endian", "float16", "ndarray-subclass", "strided-view"],
)
def test_3d_input_that_needs_converting(convert):
    """3-D X that is not already a native C-contiguous float ndarray is converted,
    to the same values; a native one is used as it is (no copy)."""
    X = np.random.RandomState(0).normal(size=(4, 5, 2))
    _, expected, _ = fit(X)
    assert expected is X
    converted = convert(X)
    _, data, lengths = fit(converted)
    assert type(data) is np.ndarray
    assert data.flags.c_contiguous
    assert data.flags.writeable
    assert data.dtype == np.float64
    assert data.dtype.isnative
    assert_array_equal(lengths, [5, 5, 5, 5])
    assert_allclose(data, X, rtol=1e-3 if converted.dtype == np.float16 else 0)


def test_to_padded():
    data, lengths = to_padded([np.ones((2, 2)), np.full((3, 2), 2.0)], np.float32)
    assert data.dtype == np.float32
    assert data.flags.c_contiguous
    assert_array_equal(lengths, [2, 3])
    assert_array_equal(data, [[[1, 1], [1, 1], [0, 0]], [[2, 2], [2, 2], [2, 2]]])


# ------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: a[:, :, np.newaxis],
        lambda a: list(a),
        lambda a: pd.DataFrame(a),
    ],
    ids=["2d", "3d", "ragged", "dataframe"],
)
def test_float32_is_kept(make):
    X = make(np.arange(6, dtype=np.float32).reshape(2, 3))
    _, data, _ = fit(X)
    assert data.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float16, object, np.float64])
@pytest.mark.parametrize(
    "make",
    [lambda a: a, lambda a: a[:, :, np.newaxis], lambda a: list(a)],
    ids=["2d", "3d", "ragged"],
)
def test_other_dtypes_become_float64(dtype, make):
    X = make(np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype))
    _, data, lengths = fit(X)
    assert data.dtype == np.float64
    assert_array_equal(data[:, :, 0], [[1, 0, 1], [0, 1, 1]])
    assert_array_equal(lengths, [3, 3])


def test_mixed_dataframe_becomes_float64():
    X = pd.DataFrame({"a": np.array([1, 2], dtype=np.int32), "b": np.array([0.5, 1.5], np.float32)})
    _, data, _ = fit(X)
    assert data.dtype == np.float64


def test_ragged_mixed_float32_float64_becomes_float64():
    _, data, _ = fit([np.ones(3, np.float32), np.ones(2, np.float64)])
    assert data.dtype == np.float64


@pytest.mark.parametrize(
    "X",
    [
        np.ones((2, 3)),
        np.ones((2, 3, 2), np.float32),
        [np.ones(3, np.float32), np.ones(2)],
    ],
    ids=["2d", "3d", "ragged"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_argument(X, dtype):
    _, data, _ = fit(X, dtype=dtype)
    assert data.dtype == dtype


def test_dtype_argument_must_be_floating():
    with pytest.raises(ValueError, match="dtype must be a floating-point dtype"):
        fit(np.ones((2, 3)), dtype=np.int64)


# ------------------------------------------------------------ input never modified


def test_nan_padded_array_not_modified():
    X = np.array([[1.0, 2.0, np.nan], [3.0, np.nan, np.nan]])
    X_before = X.copy()
    _, data, _ = fit(X)
    assert_array_equal(X, X_before)  # NaN compare equal in assert_array_equal
    assert not np.shares_memory(data, X)

    X3 = np.full((2, 4, 2), np.nan)
    X3[0, :3] = 1.0
    X3[1, :1] = 2.0
    X3_before = X3.copy()
    _, data, _ = fit(X3)
    assert_array_equal(X3, X3_before)
    assert not np.shares_memory(data, X3)


def test_ragged_elements_not_modified():
    seqs = [np.array([[1.0, 2.0], [np.nan, np.nan]]), np.array([[3.0, 4.0]])]
    before = [s.copy() for s in seqs]
    _, data, lengths = fit(seqs)
    assert_array_equal(lengths, [1, 1])
    for s, b in zip(seqs, before, strict=True):
        assert_array_equal(s, b)
        assert not np.shares_memory(data, s)


def test_dataframe_not_modified():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, 3.0]})
    X_before = X.copy()
    fit(X)
    pd.testing.assert_frame_equal(X, X_before)


# --------------------------------------------------------------- NaN / inf errors


def test_nan_inside_sequence_2d():
    X = np.ones((5, 4))
    X[3, 2] = np.nan
    msg = re.escape(
        "Input X contains NaN in sequence 3 at step 2; NaN is allowed only as trailing "
        "padding (whole steps at the end of a sequence)."
    )
    with pytest.raises(ValueError, match=msg):
        fit(X)


def test_nan_first_element_like_check_estimators_nan_inf():
    X = np.random.RandomState(0).uniform(size=(10, 3))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN in sequence 0 at step 0"):
        fit(X)


def test_nan_inside_sequence_3d_and_ragged():
    X = np.ones((3, 5, 2))
    X[1, 1:3] = np.nan  # whole steps, but followed by a real step
    with pytest.raises(ValueError, match="NaN in sequence 1 at step 1"):
        fit(X)
    seqs = [np.ones((2, 2)), np.array([[1.0, 1.0], [np.nan, np.nan], [1.0, 1.0]])]
    with pytest.raises(ValueError, match="NaN in sequence 1 at step 1"):
        fit(seqs)


def test_partly_nan_step_is_an_error():
    X = np.ones((2, 4, 3))
    X[1, 3, 0] = np.nan  # the last step, but only one of its features
    with pytest.raises(ValueError, match="NaN in sequence 1 at step 3"):
        fit(X)
    seqs = [np.ones((2, 3)), np.array([[1.0, 1.0, 1.0], [np.nan, 1.0, 1.0]])]
    with pytest.raises(ValueError, match="NaN in sequence 1 at step 1"):
        fit(seqs)


@pytest.mark.parametrize(("value", "text"), [(np.inf, "inf"), (-np.inf, "-inf")])
def test_inf_anywhere_is_an_error(value, text):
    X = np.ones((3, 4))
    X[2, 1] = value
    with pytest.raises(
        ValueError, match=f"Input X contains {re.escape(text)} in sequence 2 at step 1"
    ):
        fit(X)
    X3 = np.ones((3, 4, 2))
    X3[1, 3, 1] = value
    with pytest.raises(ValueError, match=f"{re.escape(text)} in sequence 1 at step 3"):
        fit(X3)
    with pytest.raises(ValueError, match=f"{re.escape(text)} in sequence 1 at step 0"):
        fit([np.ones(3), np.array([value, 1.0])])


def test_inf_in_trailing_padding_is_an_error():
    X = np.array([[1.0, np.nan, np.inf], [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="inf in sequence 0 at step 2"):
        fit(X)


def test_nan_and_inf_errors_at_predict():
    est, _, _ = fit(np.ones((4, 3)))
    X = np.ones((2, 3))
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN in sequence 1 at step 0"):
        validate_sequences(est, X, reset=False)
    X[1, 0] = np.inf
    with pytest.raises(ValueError, match="inf in sequence 1 at step 0"):
        validate_sequences(est, X, reset=False)


def test_all_nan_sequence_is_empty():
    X = np.ones((3, 4))
    X[1] = np.nan
    with pytest.raises(ValueError, match=r"Sequence 1 of X is empty \(all its steps are NaN\)"):
        fit(X)
    with pytest.raises(ValueError, match="Sequence 0 of X is empty"):
        fit([np.full((2, 2), np.nan), np.ones((3, 2))])


@pytest.mark.parametrize("empty", [np.ones((0, 2)), np.ones(0), []])
def test_ragged_sequence_without_steps(empty):
    with pytest.raises(ValueError, match=r"Sequence 1 of X is empty \(it has no steps\)"):
        fit([np.ones((3, 2)) if np.ndim(empty) == 2 else np.ones(3), empty])


# ----------------------------------------------------------- shape and type errors


def test_zero_samples():
    msg = re.escape("Found array with 0 sample(s) (shape=(0, 3)) while a minimum of 1 is required")
    with pytest.raises(ValueError, match=msg):
        fit(np.empty((0, 3)))
    msg = re.escape(
        "Found array with 0 sample(s) (shape=(0, 4, 2)) while a minimum of 1 is required"
    )
    with pytest.raises(ValueError, match=msg):
        fit(np.empty((0, 4, 2)))
    with pytest.raises(ValueError, match=re.escape("Found 0 sample(s) (X is an empty list)")):
        fit([])


def test_zero_features():
    # The message check_estimators_empty_data_messages expects.
    msg = r"0 feature\(s\) \(shape=\(\d*, 0\)\) while a minimum of \d* is required."
    with pytest.raises(ValueError, match=msg):
        fit(np.empty((12, 0)))
    msg = re.escape("Found array with 0 feature(s) (shape=(12, 5, 0)) while a minimum of 1")
    with pytest.raises(ValueError, match=msg):
        fit(np.empty((12, 5, 0)))
    with pytest.raises(ValueError, match=re.escape("0 feature(s) (shape=(3, 0)) in sequence 0")):
        fit([np.empty((3, 0)), np.empty((2, 0))])


def test_zero_steps_3d():
    msg = re.escape("Found array with 0 step(s) (shape=(12, 0, 3)) while a minimum of 1")
    with pytest.raises(ValueError, match=msg):
        fit(np.empty((12, 0, 3)))


def test_1d_and_scalar_x():
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        fit(np.arange(5.0))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        fit([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Expected 2D array, got scalar array instead"):
        fit(np.float64(1.0))
    with pytest.raises(ValueError, match="Expected a 2-dimensional container"):
        fit(pd.Series([1.0, 2.0]))


def test_4d_x():
    with pytest.raises(ValueError, match=r"Found array with dim 4, while dim <= 3 is required"):
        fit(np.ones((2, 3, 4, 5)))


def test_ragged_feature_mismatch():
    msg = "same number of features: sequence 0 has 3, sequence 2 has 2"
    with pytest.raises(ValueError, match=msg):
        fit([np.ones((4, 3)), np.ones((2, 3)), np.ones((5, 2))])
    with pytest.raises(ValueError, match="sequence 0 has 1, sequence 1 has 2"):
        fit([np.ones(4), np.ones((2, 2))])


def test_ragged_element_of_wrong_dimension():
    with pytest.raises(ValueError, match="sequence 1 of X has dim 3"):
        fit([np.ones((4, 3)), np.ones((2, 3, 1))])
    with pytest.raises(ValueError, match="sequence 1 of X has dim 0"):
        fit([np.ones((4, 3)), 5.0])


def test_inhomogeneous_nested_list():
    with pytest.raises(ValueError, match="got a list that is neither"):
        fit([[[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]]])


@pytest.mark.parametrize(
    "X",
    [
        np.ones((3, 2)) + 1j,
        np.ones((3, 2, 2)) + 1j,
        [np.ones(2) + 1j, np.ones(3)],
        [[1 + 1j, 2], [3, 4]],
    ],
    ids=["2d", "3d", "ragged", "list"],
)
def test_complex_data(X):
    with pytest.raises(ValueError, match="Complex data not supported"):
        fit(X)


def test_strings():
    with pytest.raises(ValueError, match="could not convert string to float"):
        fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="could not convert string to float"):
        fit(np.array([["a", "b"], ["c", "d"]], dtype=object)[:, :, np.newaxis])
    with pytest.raises(ValueError, match="Could not convert sequence 1 of X to numbers"):
        fit([np.ones(2), np.array(["a", "b"])])
    with pytest.raises(ValueError, match="could not convert string to float"):
        fit(pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}))


def test_non_numeric_objects():
    # The message check_dtype_object expects.
    X = np.ones((4, 3)).astype(object)
    X[0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError, match="argument must be .* string.* number"):
        fit(X)
    seq = np.ones(3).astype(object)
    seq[1] = {"foo": "bar"}
    with pytest.raises(TypeError, match="sequence 1 of X .*argument must be .* string.* number"):
        fit([np.ones(2), seq])


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.coo_array])
def test_sparse(container):
    X = container(np.eye(3))
    with pytest.raises(TypeError, match="sparse input is not supported"):
        fit(X)
    est, _, _ = fit(np.ones((3, 3)))
    with pytest.raises(TypeError, match="[Ss]parse"):
        validate_sequences(est, X, reset=False)
    with pytest.raises(TypeError, match="Sparse data was passed for sequence 0 of X"):
        fit([X, np.ones((2, 3))])


def test_sparse_dataframe():
    X = pd.DataFrame({"a": pd.arrays.SparseArray([0.0, 1.0], fill_value=0.0)})
    with pytest.raises(TypeError, match="[Ss]parse"):
        fit(X)


# ------------------------------------------------------------ features and names


def test_n_features_mismatch_3d():
    est, _, _ = fit(np.ones((4, 5, 3)))
    msg = re.escape("X has 1 features, but SeqEstimator is expecting 3 features as input.")
    with pytest.raises(ValueError, match=msg):
        validate_sequences(est, np.ones((4, 5, 1)), reset=False)
    msg = re.escape("X has 2 features, but SeqEstimator is expecting 3 features as input.")
    with pytest.raises(ValueError, match=msg):
        validate_sequences(est, [np.ones((4, 2))], reset=False)
    # Any number of steps is fine.
    data, lengths = validate_sequences(est, np.ones((2, 9, 3)), reset=False)
    assert data.shape == (2, 9, 3)
    data, lengths = validate_sequences(est, [np.ones((1, 3)), np.ones((11, 3))], reset=False)
    assert_array_equal(lengths, [1, 11])


def test_n_features_mismatch_2d_uses_sklearn_check():
    est, _, _ = fit(np.ones((15, 4)))
    msg = re.escape("X has 1 features, but SeqEstimator is expecting 4 features as input.")
    with pytest.raises(ValueError, match=msg):
        validate_sequences(est, np.ones((15, 1)), reset=False)


def test_predict_does_not_change_fitted_attributes():
    est, _, _ = fit(np.ones((4, 5, 3)))
    before = dict(est.__dict__)
    validate_sequences(est, [np.ones((2, 3))], reset=False)
    assert est.__dict__ == before
    est, _, _ = fit(np.ones((4, 5)))
    before = dict(est.__dict__)
    validate_sequences(est, np.ones((2, 5)), reset=False)
    validate_sequences(est, np.ones((2, 7, 1)), reset=False)
    assert est.__dict__ == before


def test_dataframe_feature_names():
    X = pd.DataFrame(np.ones((3, 4)), columns=["t0", "t1", "t2", "t3"])
    est, data, _ = fit(X)
    assert data.shape == (3, 4, 1)
    assert_array_equal(est.feature_names_in_, ["t0", "t1", "t2", "t3"])
    assert est.n_features_in_ == 4

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_sequences(est, X, reset=False)

    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        validate_sequences(est, X.to_numpy(), reset=False)

    renamed = X.rename(columns={"t3": "u3"})
    with pytest.raises(ValueError, match="The feature names should match those"):
        validate_sequences(est, renamed, reset=False)

    reordered = X[["t1", "t0", "t2", "t3"]]
    with pytest.raises(ValueError, match="must be in the same order"):
        validate_sequences(est, reordered, reset=False)


def test_dataframe_at_predict_after_array_fit_warns():
    est, _, _ = fit(np.ones((3, 2)))
    with pytest.warns(
        UserWarning, match="X has feature names, but SeqEstimator was fitted without"
    ):
        validate_sequences(est, pd.DataFrame(np.ones((2, 2)), columns=["a", "b"]), reset=False)


def test_refit_resets_feature_names():
    est, _, _ = fit(pd.DataFrame(np.ones((3, 2)), columns=["a", "b"]))
    assert hasattr(est, "feature_names_in_")
    validate_sequences(est, np.ones((3, 2)), reset=True)
    assert not hasattr(est, "feature_names_in_")

    est, _, _ = fit(pd.DataFrame(np.ones((3, 2)), columns=["a", "b"]))
    validate_sequences(est, np.ones((3, 2, 5)), reset=True)
    assert not hasattr(est, "feature_names_in_")
    assert est.n_features_in_ == 5
    assert est._input_kind_ == "sequences"
    validate_sequences(est, np.ones((3, 2)), reset=True)
    assert est._input_kind_ == "tabular"
    assert est.n_features_in_ == 2


# --------------------------------------------------- predict-time rules by kind


def test_tabular_model_accepts_sequences_with_one_feature():
    est, _, _ = fit(np.ones((5, 4)))
    data, lengths = validate_sequences(est, np.ones((2, 7, 1)), reset=False)
    assert data.shape == (2, 7, 1)
    data, lengths = validate_sequences(est, [np.ones(2), np.ones(9)], reset=False)
    assert_array_equal(lengths, [2, 9])
    assert data.shape == (2, 9, 1)


def test_tabular_model_accepts_sequences_without_feature_name_warnings():
    est, _, _ = fit(pd.DataFrame(np.ones((5, 4)), columns=list("abcd")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_sequences(est, np.ones((2, 7, 1)), reset=False)
        validate_sequences(est, [np.ones(3)], reset=False)


def test_tabular_model_rejects_multivariate_sequences():
    est, _, _ = fit(np.ones((5, 3)))
    msg = re.escape("X has 3 features, but SeqEstimator is expecting 1 features as input.")
    with pytest.raises(ValueError, match=msg):
        validate_sequences(est, np.ones((2, 3, 3)), reset=False)
    with pytest.raises(ValueError, match="fitted on 2-D X"):
        validate_sequences(est, [np.ones((4, 2))], reset=False)


def test_tabular_model_checks_column_count():
    est, _, _ = fit(np.ones((5, 4)))
    with pytest.raises(ValueError, match="X has 6 features, but SeqEstimator is expecting 4"):
        validate_sequences(est, np.ones((2, 6)), reset=False)


def test_univariate_sequence_model_accepts_2d_of_any_length():
    est, _, _ = fit([np.ones(3), np.ones(5)])
    assert est.n_features_in_ == 1
    for n_steps in [1, 5, 12]:
        data, lengths = validate_sequences(est, np.ones((2, n_steps)), reset=False)
        assert data.shape == (2, n_steps, 1)
        assert_array_equal(lengths, [n_steps] * 2)
    # A DataFrame: its columns are steps; no feature-name warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_sequences(
            est, pd.DataFrame(np.ones((2, 8)), columns=list("abcdefgh")), reset=False
        )
    assert est.n_features_in_ == 1
    # 2-D errors still come from check_array.
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        validate_sequences(est, np.ones(3), reset=False)


def test_multivariate_sequence_model_rejects_2d():
    est, _, _ = fit(np.ones((4, 5, 3)))
    msg = re.escape("X has 1 features, but SeqEstimator is expecting 3 features as input.")
    with pytest.raises(ValueError, match=msg):
        validate_sequences(est, np.ones((4, 3)), reset=False)
    with pytest.raises(ValueError, match="A 2-D X is read as univariate sequences"):
        validate_sequences(est, np.ones((4, 5)), reset=False)


def test_reset_false_before_fit_checks_nothing_about_features():
    est = SeqEstimator()
    for X in [np.ones((2, 3)), np.ones((2, 3, 4)), [np.ones((2, 2))]]:
        data, lengths = validate_sequences(est, X, reset=False)
        check_output(data, lengths)
    assert not hasattr(est, "n_features_in_")
    assert not hasattr(est, "_input_kind_")


def test_failed_validation_does_not_record_input_kind():
    est = SeqEstimator()
    with pytest.raises(ValueError, match="NaN"):
        validate_sequences(est, np.array([[np.nan, 1.0]])[:, :, np.newaxis], reset=True)
    assert not hasattr(est, "_input_kind_")
    assert not hasattr(est, "n_features_in_")


# ----------------------------------------------------------------------- speed


def test_large_padded_array_is_vectorized():
    """A (20000, 100, 4) NaN-padded array validates in well under a second."""
    import time

    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 100, 4))
    lengths = rng.randint(1, 101, size=20000)
    X[np.arange(100) >= lengths[:, np.newaxis]] = np.nan
    start = time.perf_counter()
    _, data, found = fit(X)
    elapsed = time.perf_counter() - start
    assert_array_equal(found, lengths)
    assert elapsed < 5.0
