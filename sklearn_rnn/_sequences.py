"""Input validation and conversion: arrays, ragged lists, NaN padding -> (data, lengths).

Every estimator method that receives ``X`` calls :func:`validate_sequences`, which
accepts the forms of DESIGN.md section 4 and returns one layout for the network:

- ``data``, a float array of shape ``(n_samples, T_max, n_step_features)``,
  C-contiguous, with zeros after the end of each sequence;
- ``lengths``, an int64 array of shape ``(n_samples,)`` with values in ``[1, T_max]``.

Accepted ``X`` (tslearn's conventions for sequences):

- a 2-D array-like or DataFrame ``(n_samples, n_steps)``: each row is a univariate
  sequence ("tabular" input). It goes through scikit-learn's ``validate_data``, so
  ``n_features_in_`` (the number of columns) and ``feature_names_in_`` are set and
  checked by scikit-learn itself;
- a 3-D array ``(n_samples, n_steps, n_features)``;
- a list or tuple of arrays, each 2-D ``(n_steps_i, n_features)`` or 1-D (univariate),
  of any lengths. A list of plain Python lists of equal lengths is an array-like
  (2-D, or 3-D when nested twice); a list of plain lists of different lengths is a
  list of sequences;
- any of these with trailing all-NaN steps: that sequence ends before them.

NaN anywhere else, and inf anywhere, is a ``ValueError`` that says where.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, validate_data

__all__ = ["to_padded", "validate_sequences"]

#: Accepted dtypes when none is requested: float64 and float32 are kept, anything
#: else becomes float64 (``check_array`` converts to the first one).
_DEFAULT_DTYPES = (np.float64, np.float32)

_NAN_MESSAGE = (
    "Input X contains NaN in sequence {i} at step {t}; NaN is allowed only as "
    "trailing padding (whole steps at the end of a sequence)."
)
_SPARSE_MESSAGE = (
    "Sparse data was passed for {where}, but dense data is required by {name}: "
    "sparse input is not supported. Use '.toarray()' to convert to a dense numpy array."
)
_FORMS = (
    "X must be a 2-D array (n_samples, n_steps), a 3-D array (n_samples, n_steps, "
    "n_features), or a list of 1-D (n_steps,) or 2-D (n_steps, n_features) arrays"
)


def validate_sequences(estimator, X, *, reset, dtype=None):
    """Validate ``X`` and convert it to a zero-padded 3-D array and sequence lengths.

    Parameters
    ----------
    estimator : estimator instance
        The estimator the data is validated for. On ``reset=True`` it receives
        ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame with string
        column names), ``_input_kind_`` (``"tabular"`` for 2-D ``X``,
        ``"sequences"`` for 3-D or ragged ``X``) and ``_n_step_features_`` (the
        number of features per step the model reads: 1 for tabular input). On
        ``reset=False`` ``X`` is checked against them.
    X : array-like, DataFrame, or list of array-like
        One of:

        - 2-D array-like or DataFrame of shape ``(n_samples, n_steps)``: each row
          is one univariate sequence, the columns are the steps, in order;
        - 3-D array-like of shape ``(n_samples, n_steps, n_features)``;
        - list or tuple of ``n_samples`` arrays, each of shape
          ``(n_steps_i, n_features)`` or ``(n_steps_i,)`` (univariate), of any
          lengths.

        Trailing steps made only of NaN are padding: the sequence ends before
        them. NaN anywhere else, and inf anywhere, raise a ``ValueError``.
    reset : bool
        Whether this is a first fit (``True``: record the input's kind and feature
        count) or a later call (``False``: check against them).

        At ``reset=False``, a model fitted on 2-D ``X`` accepts 2-D ``X`` with
        ``n_features_in_`` columns (scikit-learn's check, feature names
        included) or 3-D / ragged ``X`` with one feature per step, of any length;
        a model fitted on 3-D or ragged ``X`` accepts 3-D / ragged ``X`` with
        ``n_features_in_`` features, and 2-D ``X`` (univariate sequences of any
        length) only when ``n_features_in_ == 1``.
    dtype : floating dtype, default=None
        Dtype of ``data``. By default float32 input stays float32 and anything
        else (integers, booleans, float16, objects, mixed DataFrames) becomes
        float64.

    Returns
    -------
    data : ndarray of shape (n_samples, T_max, n_step_features)
        C-contiguous and writeable; zeros after the end of each sequence (never
        NaN). ``T_max`` is the longest sequence's length: padding steps that no
        sequence uses are dropped. When no conversion is needed (a C-contiguous
        float array without NaN), ``data`` is a view of ``X``: callers must not
        write into it. ``X`` itself is never modified.
    lengths : ndarray of shape (n_samples,), dtype int64
        Length of each sequence, in ``[1, T_max]``.

    Raises
    ------
    ValueError
        For NaN inside a sequence, inf anywhere, an empty sequence, no samples,
        no features or no steps, a dimension other than 2 or 3, ragged sequences
        with different feature counts or of the wrong dimension, complex or
        non-numeric data, or a feature count that does not match the fitted one.
    TypeError
        For sparse input, and objects that cannot be converted to numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_rnn._sequences import validate_sequences
    >>> est = BaseEstimator()
    >>> X = [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])]
    >>> data, lengths = validate_sequences(est, X, reset=True)
    >>> data[:, :, 0]
    array([[1., 2., 3.],
           [4., 5., 0.]])
    >>> lengths
    array([3, 2])
    >>> est.n_features_in_, est._input_kind_
    (1, 'sequences')
    >>> data, lengths = validate_sequences(est, [[1.0, 2.0], [3.0, np.nan]], reset=False)
    >>> lengths
    array([2, 1])
    """
    dtype = _resolve_dtype(dtype)
    name = type(estimator).__name__
    if sp.issparse(X):
        raise TypeError(_SPARSE_MESSAGE.format(where="X", name=name))

    form, X = _input_form(X, name)
    if form == "ragged":
        sequences = [_as_sequence(x, i, name) for i, x in enumerate(X)]
        n_step_features = _common_n_features(sequences, name)
        _check_step_features(estimator, n_step_features, reset=reset, two_d=False)
        if dtype is _DEFAULT_DTYPES:
            all_32 = all(s.dtype == np.float32 for s in sequences)
            dtype = np.float32 if all_32 else np.float64
        data, lengths = to_padded(sequences, dtype)
        owned = True
    elif form == "3d":
        data = X
        if not _is_ready(X, dtype):
            data = check_array(
                X,
                dtype=dtype,
                order="C",
                force_writeable=True,
                ensure_all_finite=False,
                allow_nd=True,
                estimator=estimator,
                input_name="X",
            )
        n_samples, n_steps, n_step_features = data.shape
        context = f" by {name}"
        if n_step_features == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={data.shape}) while a minimum "
                f"of 1 is required{context}."
            )
        if n_steps == 0:
            raise ValueError(
                f"Found array with 0 step(s) (shape={data.shape}) while a minimum "
                f"of 1 is required{context}."
            )
        _check_step_features(estimator, n_step_features, reset=reset, two_d=False)
        lengths = np.full(n_samples, n_steps, dtype=np.int64)
        owned = False
    else:  # "2d", or lower: check_array reports 0-D and 1-D input.
        fitted_on_sequences = getattr(estimator, "_input_kind_", None) == "sequences"
        params = {
            "dtype": dtype,
            "order": "C",
            "force_writeable": True,
            "ensure_all_finite": False,
        }
        if reset or not fitted_on_sequences:
            # Columns are features for scikit-learn: it sets or checks
            # n_features_in_ and feature_names_in_, with its own errors and warnings.
            X2d = validate_data(estimator, X, reset=reset, **params)
        else:
            # Univariate sequences of any length for a model fitted on sequences:
            # the column count is the number of steps, not checked.
            X2d = check_array(X, estimator=estimator, input_name="X", **params)
            _check_step_features(estimator, 1, reset=False, two_d=True)
        n_step_features = 1
        data = X2d[:, :, np.newaxis]
        lengths = np.full(data.shape[0], data.shape[1], dtype=np.int64)
        owned = False

    data, lengths = _strip_nan_padding(data, lengths, owned=owned)

    if reset:
        if form == "2d":
            estimator._input_kind_ = "tabular"
        else:
            estimator._input_kind_ = "sequences"
            estimator.n_features_in_ = n_step_features
            if hasattr(estimator, "feature_names_in_"):
                # Fitted before on a DataFrame: its names do not describe this X.
                del estimator.feature_names_in_
        estimator._n_step_features_ = n_step_features
    return data, lengths


def to_padded(sequences, dtype):
    """Stack sequences of different lengths into one zero-padded 3-D array.

    Parameters
    ----------
    sequences : sequence of ndarray of shape (n_steps_i, n_features)
        Numeric 2-D arrays with the same number of features. Not validated
        further: NaN values are copied as they are.
    dtype : floating dtype
        Dtype of the result.

    Returns
    -------
    data : ndarray of shape (n_samples, max(n_steps_i), n_features)
        C-contiguous; ``data[i, :n_steps_i]`` is ``sequences[i]``, the rest zeros.
    lengths : ndarray of shape (n_samples,), dtype int64
        ``n_steps_i`` of each sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn._sequences import to_padded
    >>> data, lengths = to_padded([np.ones((2, 1)), np.ones((3, 1))], np.float64)
    >>> data[:, :, 0]
    array([[1., 1., 0.],
           [1., 1., 1.]])
    >>> lengths
    array([2, 3])
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    n_features = sequences[0].shape[1] if len(sequences) else 0
    n_steps = int(lengths.max()) if len(sequences) else 0
    data = np.zeros((len(sequences), n_steps, n_features), dtype=dtype)
    for i, s in enumerate(sequences):
        data[i, : len(s)] = s
    return data, lengths


def _resolve_dtype(dtype):
    """Return the ``dtype`` argument for ``check_array``: a floating dtype, or the
    default tuple (float64 and float32 kept, anything else to float64)."""
    if dtype is None:
        return _DEFAULT_DTYPES
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point dtype, got {resolved}.")
    return resolved


def _is_ready(X, dtype):
    """Whether ``check_array`` would return the 3-D ``X`` itself: a C-contiguous,
    writeable ndarray of an accepted float dtype, with samples.

    Such an ``X`` skips ``check_array``, whose own checks (for data frames, array
    namespaces, ...) cost 0.3-0.5 ms: a tenth of the predict of a small model.
    """
    accepted = X.dtype in dtype if isinstance(dtype, tuple) else X.dtype == dtype
    return (
        type(X) is np.ndarray
        and accepted
        and X.flags.c_contiguous
        and X.flags.writeable
        and X.shape[0] > 0
    )


def _input_form(X, name):
    """Classify ``X`` as ``"ragged"`` (a list of sequences), ``"3d"`` or ``"2d"``.

    Returns the form and ``X``, converted to an ndarray when it was a list read as
    one array. Forms of dimension 0 and 1 are reported as ``"2d"``: the 2-D path's
    ``check_array`` raises scikit-learn's errors for them.
    """
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(
                f"Found 0 sample(s) (X is an empty {type(X).__name__}) while a "
                f"minimum of 1 is required by {name}."
            )
        if _is_list_of_sequences(X):
            return "ragged", X
        try:
            X = np.asarray(X)
        except ValueError as exc:
            raise ValueError(f"{_FORMS}; got a list that is neither: {exc}") from exc
    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X)
        shape = X.shape
    ndim = len(shape)
    if ndim > 3:
        raise ValueError(
            f"Found array with dim {ndim}, while dim <= 3 is required by {name}. {_FORMS}."
        )
    return ("3d" if ndim == 3 else "2d"), X


def _is_list_of_sequences(X):
    """Whether a non-empty list is a list of sequences rather than one array.

    It is if any element is an array (anything with a shape of dimension >= 1), or
    if all elements are plain lists or tuples and their lengths differ.
    """
    if any(len(getattr(x, "shape", ())) >= 1 for x in X):
        return True
    if not all(isinstance(x, (list, tuple)) for x in X):
        return False
    return len({len(x) for x in X}) > 1


def _as_sequence(x, i, name):
    """Return element ``i`` of a ragged ``X`` as a numeric 2-D ndarray.

    Float and integer arrays are returned without a copy (``to_padded`` copies
    them); other kinds are converted to float64 or rejected.
    """
    where = f"sequence {i} of X"
    if sp.issparse(x):
        raise TypeError(_SPARSE_MESSAGE.format(where=where, name=name))
    x = np.asarray(x)
    if x.dtype.kind == "c":
        raise ValueError(f"Complex data not supported\n{where}: {x}\n")
    if x.dtype.kind not in "biuf":
        try:
            x = x.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Could not convert {where} to numbers: {exc}") from exc
    if x.ndim == 1:
        x = x[:, np.newaxis]
    elif x.ndim != 2:
        raise ValueError(
            f"Each sequence of a list X must be 1-D (n_steps,) or 2-D (n_steps, "
            f"n_features); {where} has dim {x.ndim} (shape={x.shape})."
        )
    if x.shape[0] == 0:
        raise ValueError(
            f"Sequence {i} of X is empty (it has no steps); every sequence needs at least one step."
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={x.shape}) in {where} while a "
            f"minimum of 1 is required by {name}."
        )
    return x


def _common_n_features(sequences, name):
    """Return the feature count shared by all sequences, or raise."""
    n_features = sequences[0].shape[1]
    for i, s in enumerate(sequences):
        if s.shape[1] != n_features:
            raise ValueError(
                "All sequences of X must have the same number of features: sequence "
                f"0 has {n_features}, sequence {i} has {s.shape[1]} (shape={s.shape})."
            )
    return n_features


def _check_step_features(estimator, n_features, *, reset, two_d):
    """Check the per-step feature count of ``X`` against the fitted one.

    ``two_d`` says that ``X`` was 2-D given to a model fitted on sequences (read as
    univariate sequences). Nothing is checked on reset or before a first fit.
    """
    expected = getattr(estimator, "_n_step_features_", None)
    if reset or expected is None or n_features == expected:
        return
    message = (
        f"X has {n_features} features, but {type(estimator).__name__} is expecting "
        f"{expected} features as input."
    )
    if two_d:
        message += (
            " A 2-D X is read as univariate sequences (1 feature per step); pass a "
            f"3-D array (n_samples, n_steps, {expected}) or a list of arrays of shape "
            f"(n_steps, {expected})."
        )
    elif getattr(estimator, "_input_kind_", None) == "tabular":
        message += (
            " It was fitted on 2-D X, whose columns are the steps of univariate "
            "sequences: 3-D or ragged X must have 1 feature per step."
        )
    raise ValueError(message)


def _strip_nan_padding(data, max_lengths, *, owned):
    """Find each sequence's length from trailing all-NaN steps and zero the padding.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_steps, n_features)
        Float data. Steps at or after ``max_lengths[i]`` are padding already.
    max_lengths : ndarray of shape (n_samples,), dtype int64
        Length of each sequence before removing trailing NaN steps (all >= 1).
    owned : bool
        Whether ``data`` may be written into (it was allocated here, not a view of
        the user's X). Otherwise a copy is made when NaN must be replaced.

    Returns
    -------
    data : ndarray of shape (n_samples, max(lengths), n_features)
        C-contiguous, zeros at padded positions.
    lengths : ndarray of shape (n_samples,), dtype int64
    """
    with np.errstate(over="ignore", invalid="ignore"):
        # scikit-learn's trick: one pass, no temporary; the sum is finite if and
        # only if every value is (an overflow only sends us to the full scan).
        if np.isfinite(data.sum()):
            return data, max_lengths

    n_samples, n_steps, _ = data.shape
    is_inf = np.isinf(data)
    if is_inf.any():
        i, t, f = np.unravel_index(np.argmax(is_inf), data.shape)
        sign = "-" if data[i, t, f] < 0 else ""
        raise ValueError(
            f"Input X contains {sign}inf in sequence {i} at step {t}; infinite "
            "values are not supported."
        )
    del is_inf

    is_nan = np.isnan(data)
    steps = np.arange(n_steps)
    present = ~is_nan.all(axis=2) & (steps < max_lengths[:, np.newaxis])
    # Length = 1 + the last step that is not all NaN (0 when there is none).
    lengths = n_steps - np.argmax(present[:, ::-1], axis=1).astype(np.int64)
    lengths[~present.any(axis=1)] = 0
    if (lengths == 0).any():
        i = int(np.argmax(lengths == 0))
        raise ValueError(
            f"Sequence {i} of X is empty (all its steps are NaN); every sequence "
            "needs at least one step."
        )
    inside = is_nan.any(axis=2) & (steps < lengths[:, np.newaxis])
    if inside.any():
        i, t = divmod(int(np.argmax(inside)), n_steps)
        raise ValueError(_NAN_MESSAGE.format(i=i, t=t))

    t_max = int(lengths.max())
    if owned:
        data[is_nan] = 0
        if t_max < n_steps:
            data = np.ascontiguousarray(data[:, :t_max])
    else:
        data = data[:, :t_max].copy()
        data[is_nan[:, :t_max]] = 0
    return data, lengths
