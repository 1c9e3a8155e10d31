"""Sequence helpers for pipelines: forecasting windows and per-feature scaling.

- :func:`make_windows` cuts one or several aligned series into training windows
  (``X``: past steps, ``y``: the following steps of a target) for forecasting.
- :class:`SequenceScaler` standardizes each feature of 3-D, ragged or 2-D
  (univariate) sequences over their valid steps, keeping the NaN padding.
"""

from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array, check_is_fitted

from ._sequences import _input_form, validate_sequences

__all__ = ["SequenceScaler", "make_windows"]

_FLOAT_DTYPES = (np.float64, np.float32)


# ---------------------------------------------------------------------------
# Forecasting windows
# ---------------------------------------------------------------------------


def _target_values(series, values, target):
    """Return the 1-D target series chosen by ``target`` (see make_windows)."""
    n_times = values.shape[0]
    if target is None:
        if values.ndim == 1:
            return values
        if values.shape[1] == 1:
            return values[:, 0]
        raise ValueError(
            f"series has {values.shape[1]} columns: pass target= (a column index, a "
            "column name, or an array of shape (n_times,)) to say which one to forecast."
        )
    if isinstance(target, str):
        columns = getattr(series, "columns", None)
        if columns is None:
            raise ValueError(
                f"target={target!r} is a column name, but series has no column names "
                "(it is not a DataFrame)."
            )
        if target not in columns:
            raise ValueError(f"target={target!r} is not a column of series.")
        return values[:, list(columns).index(target)]
    if isinstance(target, Integral) and not isinstance(target, bool):
        n_columns = 1 if values.ndim == 1 else values.shape[1]
        if not -n_columns <= target < n_columns:
            raise ValueError(
                f"target={target} is out of range for series with {n_columns} column(s)."
            )
        return values if values.ndim == 1 else values[:, target]
    target_values = check_array(target, ensure_2d=False, dtype=values.dtype, input_name="target")
    if target_values.ndim != 1 or target_values.shape[0] != n_times:
        raise ValueError(
            "target, given as an array, must have shape (n_times,) = "
            f"({n_times},), the length of series; got shape {target_values.shape}."
        )
    return target_values


@validate_params(
    {
        "series": ["array-like"],
        "window": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "target": [None, Integral, str, "array-like"],
        "step": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_windows(series, window, horizon=1, *, target=None, step=1):
    """Cut a time series into forecasting windows: past steps and future targets.

    Window ``k`` starts at row ``s = k * step``. Its input ``X[k]`` is rows
    ``s, ..., s + window - 1`` of ``series`` and its target ``y[k]`` is rows
    ``s + window, ..., s + window + horizon - 1`` of the target: every target
    lies strictly after every input step of its window (no look-ahead). Only
    windows with a complete target are returned, so the last
    ``horizon`` rows never appear as input of the last window; to forecast
    beyond the end of the data, feed the model ``series[-window:]`` yourself.

    Parameters
    ----------
    series : array-like of shape (n_times,) or (n_times, n_series)
        One series, or several aligned series (one per column, e.g. a
        DataFrame), rows in time order. NaN and inf are rejected: impute
        missing values first (a NaN at the end of a window would otherwise
        read as padding, i.e. a shorter window).
    window : int
        Number of past steps in each input window (>= 1).
    horizon : int, default=1
        Number of future steps of the target to predict (>= 1).
    target : int, str, array-like of shape (n_times,) or None, default=None
        What to forecast: a column index or a column name of ``series``, or a
        separate series aligned with it (then its past values are not part of
        ``X`` unless ``series`` contains them). ``None`` means ``series``
        itself when it has one column; it is required when it has several.
    step : int, default=1
        Stride between the starts of consecutive windows (>= 1).

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_series)
        The input windows, one more axis than ``series``: 2-D (univariate
        sequences, which the estimators of this package and any tabular model
        accept) for a 1-D ``series``, 3-D for a 2-D ``series``. float32 input
        stays float32, anything else becomes float64. A new array, never a
        view of ``series``.
    y : ndarray of shape (n_windows,) or (n_windows, horizon)
        The targets: 1-D when ``horizon == 1``, else one column per step ahead
        (multi-output regression).

    Notes
    -----
    ``n_windows = (n_times - window - horizon) // step + 1``. The windows come
    in time order, so they can be split with
    :class:`~sklearn.model_selection.TimeSeriesSplit`. With ``horizon > 1``
    (and ``step=1``) use ``TimeSeriesSplit(gap=horizon - 1)``: the targets of
    the last training windows would otherwise cover time steps that are
    targets of the first test windows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(6.0), window=3)
    >>> X
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    >>> X, y = make_windows(np.arange(6.0), window=2, horizon=2, step=2)
    >>> X, y
    (array([[0., 1.],
           [2., 3.]]), array([[2., 3.],
           [4., 5.]]))
    >>> two = np.column_stack([np.arange(5.0), 10 * np.arange(5.0)])
    >>> X, y = make_windows(two, window=2, target=1)
    >>> X.shape, y
    ((3, 2, 2), array([20., 30., 40.]))
    """
    values = check_array(
        series, ensure_2d=False, dtype=_FLOAT_DTYPES, input_name="series", ensure_min_samples=1
    )
    if values.ndim != 1 and values.ndim != 2:  # pragma: no cover - check_array rejects others
        raise ValueError(f"series must be 1-D or 2-D, got {values.ndim}-D.")
    target_values = _target_values(series, values, target)

    n_times = values.shape[0]
    if n_times < window + horizon:
        raise ValueError(
            f"series has {n_times} time steps, fewer than window + horizon = "
            f"{window} + {horizon}: no complete window can be made."
        )
    n_windows = (n_times - window - horizon) // step + 1
    starts = np.arange(n_windows) * step

    windows = sliding_window_view(values, window, axis=0)  # (n_times - window + 1, [F,] window)
    if values.ndim == 2:
        windows = np.moveaxis(windows, -1, 1)  # (n_times - window + 1, window, F)
    X = np.ascontiguousarray(windows[starts])
    y = np.ascontiguousarray(sliding_window_view(target_values, horizon)[starts + window])
    if horizon == 1:
        y = y[:, 0].copy()
    return X, y


# ---------------------------------------------------------------------------
# Scaling
# ---------------------------------------------------------------------------


def _restore_form(X, values, lengths):
    """Give ``values`` (n, T_max, F) the form of the original input ``X``.

    Valid steps (``t < lengths[i]``) come from ``values``; every other step is
    NaN padding. A list in gives a list out (each element with its own shape),
    an array in gives an array of the same shape out.
    """
    form, X_array = _input_form(X, "SequenceScaler")
    n_samples, t_max, n_features = values.shape
    valid = np.arange(t_max) < lengths[:, np.newaxis]
    if form == "ragged":
        out = []
        for i, x in enumerate(X):
            shape = np.shape(x)
            seq = np.full((shape[0], n_features), np.nan, dtype=values.dtype)
            seq[: lengths[i]] = values[i, : lengths[i]]
            out.append(seq.reshape(shape))
        return out
    shape = X_array.shape
    out = np.full((n_samples, shape[1], n_features), np.nan, dtype=values.dtype)
    out[:, :t_max] = np.where(valid[:, :, np.newaxis], values, np.nan)
    return out.reshape(shape)


class SequenceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize each feature of sequences over their valid steps.

    The :class:`~sklearn.preprocessing.StandardScaler` of sequence data: for
    each feature, ``z = (x - mean) / std``, where the mean and the standard
    deviation are computed over all valid steps of all sequences of the
    training data. Padding (trailing all-NaN steps, or the missing steps of
    shorter sequences in a list) is ignored when fitting and stays padding
    when transforming.

    It accepts the inputs of this package's estimators and returns the same
    form:

    - 3-D array ``(n_samples, n_steps, n_features)`` → 3-D array of the same
      shape, NaN padding kept;
    - list of arrays ``(n_steps_i, n_features)`` or ``(n_steps_i,)`` → list of
      arrays of the same shapes;
    - 2-D array or DataFrame ``(n_samples, n_steps)`` → 2-D array: each row is
      one univariate sequence, so all its values share one feature, with one
      mean and one standard deviation. This differs from ``StandardScaler``,
      which would scale each column (each time step) on its own and so give
      every step its own offset and scale, distorting the shape of each
      sequence. Scaling ``X`` and scaling ``X[:, :, np.newaxis]`` give the
      same numbers.

    Parameters
    ----------
    with_mean : bool, default=True
        If True, center the data before scaling.
    with_std : bool, default=True
        If True, scale the data to unit variance.

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,) or None
        Mean of each feature over the valid steps of the training data
        (``n_step_features`` is 1 for 2-D input). None when both
        ``with_mean`` and ``with_std`` are False.
    var_ : ndarray of shape (n_step_features,) or None
        Variance of each feature over the valid steps, used to compute
        ``scale_``. None when ``with_std=False``.
    scale_ : ndarray of shape (n_step_features,) or None
        Per-feature scaling factor ``sqrt(var_)``; a feature whose variance is
        zero (up to rounding) gets a factor of 1, as in ``StandardScaler``.
        None when ``with_std=False``.
    n_steps_seen_ : int
        Number of valid steps (over all sequences) used to compute the
        statistics.
    n_features_in_ : int
        Number of features seen in :meth:`fit`: the number of columns for 2-D
        ``X`` (as for any scikit-learn estimator), the number of features per
        step for 3-D and ragged ``X``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns of ``X`` seen in :meth:`fit`, when it was a
        DataFrame with string column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data.

    Notes
    -----
    The input is never modified. Statistics are accumulated in float64;
    float32 input is transformed to float32. NaN is accepted only as trailing
    padding; NaN inside a sequence and inf anywhere raise a ``ValueError``.

    ``get_feature_names_out`` returns the input feature names (the output has
    the same features). ``set_output(transform="pandas")`` applies to 2-D
    input only: 3-D and ragged outputs have no table form.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn.preprocessing import SequenceScaler
    >>> X = [np.array([1.0, 2.0, 3.0]), np.array([5.0])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([2.75]), array([1.47901995]))
    >>> [z.round(2) for z in scaler.transform(X)]
    [array([-1.18, -0.51,  0.17]), array([1.52])]
    >>> X3 = np.array([[[1.0], [3.0]], [[5.0], [np.nan]]])  # 2nd sequence: 1 step
    >>> SequenceScaler().fit_transform(X3)[:, :, 0]
    array([[-1.22474487,  0.        ],
           [ 1.22474487,         nan]])
    """

    _parameter_constraints: dict = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean and standard deviation of each feature over valid steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of array-like
            Sequences: 2-D (univariate, one per row), 3-D, or a list of arrays
            of shape ``(n_steps_i, n_features)`` or ``(n_steps_i,)``; trailing
            all-NaN steps are padding.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
            The fitted scaler.
        """
        data, lengths = validate_sequences(self, X, reset=True)
        valid = np.arange(data.shape[1]) < lengths[:, np.newaxis]
        steps = data[valid]  # (n_valid_steps, n_step_features), a copy
        self.n_steps_seen_ = int(steps.shape[0])

        mean = steps.mean(axis=0, dtype=np.float64)
        var = ((steps - mean) ** 2).mean(axis=0, dtype=np.float64)
        self.mean_ = mean if (self.with_mean or self.with_std) else None
        if self.with_std:
            self.var_ = var
            # StandardScaler's rule: a variance within rounding error of zero
            # marks a constant feature, which is not scaled.
            eps = np.finfo(np.float64).eps
            n = self.n_steps_seen_
            constant = var <= n * eps * var + (n * mean * eps) ** 2
            scale = np.sqrt(var)
            scale[constant] = 1.0
            self.scale_ = scale
        else:
            self.var_ = None
            self.scale_ = None
        return self

    def transform(self, X):
        """Standardize the valid steps of ``X``; keep the padding as NaN.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of array-like
            Sequences in any form accepted by :meth:`fit`, with the features
            seen in :meth:`fit`.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            The same form and shapes as ``X``: a 2-D or 3-D array, or a list
            of arrays. Padding steps are NaN.
        """
        check_is_fitted(self)
        data, lengths = validate_sequences(self, X, reset=False)
        values = data.astype(np.float64)  # a new array: data may be a view of X
        if self.with_mean:
            values -= self.mean_
        if self.with_std:
            values /= self.scale_
        return _restore_form(X, values.astype(data.dtype, copy=False), lengths)

    def inverse_transform(self, X):
        """Undo the scaling: ``x = z * scale_ + mean_`` on valid steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps[, n_features]) or list of array-like
            Scaled sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        X_original : ndarray or list of ndarray
            The same form and shapes as ``X``, in the original units. Padding
            steps are NaN.
        """
        check_is_fitted(self)
        data, lengths = validate_sequences(self, X, reset=False)
        values = data.astype(np.float64)
        if self.with_std:
            values *= self.scale_
        if self.with_mean:
            values += self.mean_
        return _restore_form(X, values.astype(data.dtype, copy=False), lengths)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
