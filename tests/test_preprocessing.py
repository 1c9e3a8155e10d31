"""Tests of sklearn_rnn.preprocessing: forecasting windows and sequence scaling."""

import numpy as np
import pytest
from sklearn.model_selection import TimeSeriesSplit
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rnn.preprocessing import SequenceScaler, make_windows

pd = pytest.importorskip("pandas")


# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------


@parametrize_with_checks(
    [
        SequenceScaler(),
        SequenceScaler(with_mean=False),
        SequenceScaler(with_std=False),
        SequenceScaler(with_mean=False, with_std=False),
    ],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------
# make_windows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("window", [1, 3, 5])
@pytest.mark.parametrize("horizon", [1, 2, 4])
@pytest.mark.parametrize("step", [1, 2, 3])
def test_make_windows_known_series(window, horizon, step):
    # With series = arange, every value is its own time index.
    n_times = 23
    X, y = make_windows(np.arange(n_times, dtype=float), window, horizon, step=step)
    n_windows = (n_times - window - horizon) // step + 1
    assert X.shape == (n_windows, window)
    assert y.shape == ((n_windows,) if horizon == 1 else (n_windows, horizon))
    y2 = y.reshape(n_windows, horizon)
    for k in range(n_windows):
        start = k * step
        np.testing.assert_array_equal(X[k], np.arange(start, start + window))
        np.testing.assert_array_equal(y2[k], np.arange(start + window, start + window + horizon))
        # No look-ahead: every target is after every input step of its window.
        assert X[k].max() < y2[k].min()
    # The last complete window is as late as the stride allows.
    assert y2[-1, -1] > n_times - 1 - step


def test_make_windows_multivariate():
    n_times = 12
    t = np.arange(n_times, dtype=float)
    series = np.column_stack([t, 100 + t, 1000 + t])
    X, y = make_windows(series, window=4, horizon=2, target=1)
    assert X.shape == (n_times - 4 - 2 + 1, 4, 3)
    # Step j of window k is row k + j, all columns.
    for k in range(X.shape[0]):
        np.testing.assert_array_equal(X[k], series[k : k + 4])
        np.testing.assert_array_equal(y[k], 100 + np.arange(k + 4, k + 6))
    # Negative column index, like Python.
    _, y_last = make_windows(series, window=4, horizon=2, target=-1)
    np.testing.assert_array_equal(y_last[:, 0], 1000 + np.arange(4, n_times - 1))


def test_make_windows_single_column_2d_is_3d():
    series = np.arange(10.0).reshape(-1, 1)
    X, y = make_windows(series, window=3)
    assert X.shape == (7, 3, 1)
    np.testing.assert_array_equal(X[:, :, 0], make_windows(series[:, 0], window=3)[0])
    np.testing.assert_array_equal(y, np.arange(3.0, 10.0))


def test_make_windows_dataframe_target_by_name():
    frame = pd.DataFrame({"temp": np.arange(8.0), "load": 10 * np.arange(8.0)})
    X, y = make_windows(frame, window=3, target="load")
    assert X.shape == (5, 3, 2)
    np.testing.assert_array_equal(y, 10 * np.arange(3.0, 8.0))
    # A pandas Series is a 1-D series.
    X1, y1 = make_windows(frame["temp"], window=3)
    assert X1.shape == (5, 3)
    np.testing.assert_array_equal(y1, np.arange(3.0, 8.0))


def test_make_windows_separate_target_array():
    features = np.column_stack([np.arange(10.0), -np.arange(10.0)])
    target = np.arange(10.0) ** 2
    X, y = make_windows(features, window=2, horizon=3, target=target)
    assert X.shape == (6, 2, 2)
    np.testing.assert_array_equal(y[0], target[2:5])
    np.testing.assert_array_equal(y[-1], target[7:10])


def test_make_windows_dtype_and_copy():
    series = np.arange(10, dtype=np.float32)
    original = series.copy()
    X, y = make_windows(series, window=3)
    assert X.dtype == np.float32
    assert y.dtype == np.float32
    assert not np.shares_memory(X, series)
    assert not np.shares_memory(y, series)
    assert X.flags.c_contiguous
    X[:] = -1
    y[:] = -1
    np.testing.assert_array_equal(series, original)
    X_int, _ = make_windows(np.arange(10), window=3)
    assert X_int.dtype == np.float64


def test_make_windows_errors():
    two = np.zeros((10, 2))
    with pytest.raises(ValueError, match="pass target="):
        make_windows(two, window=3)
    with pytest.raises(ValueError, match="out of range"):
        make_windows(two, window=3, target=2)
    with pytest.raises(ValueError, match="no column names"):
        make_windows(two, window=3, target="a")
    with pytest.raises(ValueError, match="not a column"):
        make_windows(pd.DataFrame(two, columns=["a", "b"]), window=3, target="c")
    with pytest.raises(ValueError, match=r"shape \(n_times,\)"):
        make_windows(two, window=3, target=np.zeros(9))
    with pytest.raises(ValueError, match="fewer than window"):
        make_windows(np.zeros(4), window=3, horizon=2)
    with pytest.raises(ValueError, match="NaN"):
        make_windows(np.array([0.0, 1.0, np.nan, 3.0, 4.0]), window=2)
    with pytest.raises(InvalidParameterError):
        make_windows(np.zeros(10), window=0)
    with pytest.raises(InvalidParameterError):
        make_windows(np.zeros(10), window=2, horizon=0)
    with pytest.raises(InvalidParameterError):
        make_windows(np.zeros(10), window=2, step=0)
    with pytest.raises(ValueError, match="dim 3"):
        make_windows(np.zeros((4, 3, 2)), window=2)


@pytest.mark.parametrize("horizon", [1, 3])
def test_make_windows_with_time_series_split(horizon):
    # series = arange: values are time indices, so leakage shows in the numbers.
    X, y = make_windows(np.arange(60.0), window=5, horizon=horizon)
    y2 = y.reshape(len(y), -1)
    cv = TimeSeriesSplit(n_splits=4, gap=horizon - 1)
    for train, test in cv.split(X):
        last_train_time = max(X[train].max(), y2[train].max())
        # Nothing the model trains on is at or after the first target it is scored on.
        assert last_train_time < y2[test].min()
        # And test inputs never see their own targets.
        assert (X[test].max(axis=1) < y2[test].min(axis=1)).all()


# ---------------------------------------------------------------------------
# SequenceScaler
# ---------------------------------------------------------------------------


def _ragged(rng, n_features=3, lengths=(5, 2, 7, 1, 4)):
    return [rng.normal(3.0, 2.0, size=(n, n_features)) * [1, 10, 100] for n in lengths]


def _pad(sequences, n_steps=None):
    n_steps = n_steps or max(len(s) for s in sequences)
    out = np.full((len(sequences), n_steps, sequences[0].shape[1]), np.nan)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
    return out


def test_scaler_statistics_over_valid_steps():
    rng = np.random.RandomState(0)
    seqs = _ragged(rng)
    steps = np.concatenate(seqs)
    scaler = SequenceScaler().fit(_pad(seqs, n_steps=9))  # 2 extra all-NaN steps
    reference = StandardScaler().fit(steps)
    np.testing.assert_allclose(scaler.mean_, reference.mean_)
    np.testing.assert_allclose(scaler.var_, reference.var_)
    np.testing.assert_allclose(scaler.scale_, reference.scale_)
    assert scaler.n_steps_seen_ == len(steps) == 19
    assert scaler.n_features_in_ == 3


def test_scaler_3d_zero_mean_unit_variance_keeps_padding():
    rng = np.random.RandomState(1)
    seqs = _ragged(rng)
    X = _pad(seqs, n_steps=9)
    original = X.copy()
    Z = SequenceScaler().fit_transform(X)
    assert Z.shape == X.shape
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(X))
    valid = Z[~np.isnan(Z).all(axis=2)]
    np.testing.assert_allclose(valid.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(valid.std(axis=0), 1.0)
    np.testing.assert_array_equal(X, original)  # input not modified


def test_scaler_ragged_in_ragged_out():
    rng = np.random.RandomState(2)
    seqs = _ragged(rng)
    copies = [s.copy() for s in seqs]
    scaler = SequenceScaler().fit(seqs)
    Z = scaler.transform(seqs)
    assert isinstance(Z, list)
    assert [z.shape for z in Z] == [s.shape for s in seqs]
    Z3 = SequenceScaler().fit_transform(_pad(seqs))
    for i, z in enumerate(Z):
        np.testing.assert_allclose(z, Z3[i, : len(z)])
    for s, c in zip(seqs, copies, strict=True):
        np.testing.assert_array_equal(s, c)
    back = scaler.inverse_transform(Z)
    assert isinstance(back, list)
    for b, s in zip(back, seqs, strict=True):
        np.testing.assert_allclose(b, s)


def test_scaler_ragged_univariate_and_trailing_nan_in_elements():
    seqs = [np.array([1.0, 2.0, 3.0, np.nan]), np.array([5.0]), np.array([0.0, 4.0])]
    scaler = SequenceScaler().fit(seqs)
    values = np.array([1.0, 2.0, 3.0, 5.0, 0.0, 4.0])
    np.testing.assert_allclose(scaler.mean_, [values.mean()])
    np.testing.assert_allclose(scaler.scale_, [values.std()])
    Z = scaler.transform(seqs)
    assert [z.shape for z in Z] == [(4,), (1,), (2,)]
    assert np.isnan(Z[0][3])
    np.testing.assert_allclose(Z[0][:3], (values[:3] - values.mean()) / values.std())
    # Input untouched.
    assert np.isnan(seqs[0][3])
    assert seqs[0][0] == 1.0


def test_scaler_2d_is_univariate():
    rng = np.random.RandomState(3)
    X = rng.normal(5.0, 3.0, size=(6, 8))
    X[1, 5:] = np.nan  # a shorter sequence
    X[4, 2:] = np.nan
    scaler = SequenceScaler().fit(X)
    valid = X[~np.isnan(X)]
    assert scaler.n_features_in_ == 8
    assert scaler.mean_.shape == (1,)
    np.testing.assert_allclose(scaler.mean_, [valid.mean()])
    np.testing.assert_allclose(scaler.scale_, [valid.std()])
    Z = scaler.transform(X)
    assert Z.shape == X.shape
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(X))
    np.testing.assert_allclose((X - valid.mean()) / valid.std(), Z)
    # The same numbers as the 3-D form with one feature.
    Z3 = SequenceScaler().fit_transform(X[:, :, np.newaxis])
    np.testing.assert_allclose(Z3[:, :, 0], Z)


@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_scaler_options_match_standard_scaler(with_mean, with_std):
    rng = np.random.RandomState(4)
    seqs = _ragged(rng)
    steps = np.concatenate(seqs)
    scaler = SequenceScaler(with_mean=with_mean, with_std=with_std).fit(seqs)
    reference = StandardScaler(with_mean=with_mean, with_std=with_std).fit(steps)
    for name in ["mean_", "var_", "scale_"]:
        ours, theirs = getattr(scaler, name), getattr(reference, name)
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs)
    Z = np.concatenate(scaler.transform(seqs))
    np.testing.assert_allclose(Z, reference.transform(steps))


def test_scaler_constant_feature_is_not_scaled():
    X = np.ones((4, 5, 2))
    X[:, :, 1] = np.arange(20.0).reshape(4, 5)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    Z = scaler.transform(X)
    np.testing.assert_array_equal(Z[:, :, 0], 0.0)


@pytest.mark.parametrize("form", ["2d", "3d", "ragged"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scaler_inverse_round_trip(form, dtype):
    rng = np.random.RandomState(5)
    seqs = [s.astype(dtype) for s in _ragged(rng, n_features=1)]
    if form == "ragged":
        X = seqs
    else:
        X = _pad(seqs).astype(dtype)
        if form == "2d":
            X = X[:, :, 0]
    scaler = SequenceScaler().fit(X)
    Z = scaler.transform(X)
    back = scaler.inverse_transform(Z)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    if form == "ragged":
        for b, x in zip(back, X, strict=True):
            assert b.dtype == dtype
            np.testing.assert_allclose(b, x, rtol=rtol)
    else:
        assert Z.dtype == dtype
        assert back.dtype == dtype
        assert back.shape == X.shape
        np.testing.assert_allclose(back, X, rtol=rtol)  # NaN in the same places


def test_scaler_errors():
    X = np.random.RandomState(6).rand(4, 5, 2)
    scaler = SequenceScaler().fit(X)
    bad = X.copy()
    bad[1, 2, 0] = np.nan  # inside a sequence, not padding
    with pytest.raises(ValueError, match="NaN"):
        scaler.transform(bad)
    with pytest.raises(ValueError, match="NaN"):
        SequenceScaler().fit(bad)
    with pytest.raises(ValueError, match="expecting 2 features"):
        scaler.transform(np.zeros((3, 5, 3)))
    with pytest.raises(ValueError, match="features"):
        scaler.transform([np.zeros((3, 3))])


def test_scaler_feature_names_and_pandas_output():
    frame = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=["t0", "t1", "t2", "t3"])
    scaler = SequenceScaler().set_output(transform="pandas").fit(frame)
    np.testing.assert_array_equal(scaler.get_feature_names_out(), frame.columns)
    out = scaler.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns)
    np.testing.assert_allclose(out.to_numpy().mean(), 0.0, atol=1e-12)
    seq_scaler = SequenceScaler().fit(np.zeros((2, 3, 2)))
    np.testing.assert_array_equal(seq_scaler.get_feature_names_out(), ["x0", "x1"])
