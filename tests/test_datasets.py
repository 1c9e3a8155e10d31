"""Tests of the shipped data sets: shapes, dtypes, split sizes, descriptions."""

from importlib import resources

import numpy as np
import pytest
from sklearn.utils import Bunch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_rnn.datasets import load_co2, load_japanese_vowels, load_nile

pd = pytest.importorskip("pandas")

# Utterances per speaker in the official split (UCI description).
TRAIN_COUNTS = [30] * 9
TEST_COUNTS = [31, 35, 88, 44, 29, 24, 40, 50, 29]


def test_data_files_are_package_data():
    folder = resources.files("sklearn_rnn.datasets")
    for name in [
        "japanese_vowels_train.csv.gz",
        "japanese_vowels_test.csv.gz",
        "co2_weekly.csv.gz",
        "nile.csv.gz",
    ]:
        assert (folder / "data" / name).is_file()
    for name in ["japanese_vowels.rst", "co2.rst", "nile.rst"]:
        assert (folder / "descr" / name).is_file()


# --- Japanese Vowels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("subset", "n_samples", "counts", "max_len"),
    [
        ("train", 270, TRAIN_COUNTS, 26),
        ("test", 370, TEST_COUNTS, 29),
        ("all", 640, [a + b for a, b in zip(TRAIN_COUNTS, TEST_COUNTS, strict=True)], 29),
    ],
)
def test_japanese_vowels_shapes(subset, n_samples, counts, max_len):
    bunch = load_japanese_vowels(subset=subset)
    assert isinstance(bunch, Bunch)
    X, y = bunch.data, bunch.target
    assert isinstance(X, list)
    assert len(X) == n_samples
    assert y.shape == (n_samples,)
    assert y.dtype == np.int64
    assert np.array_equal(np.unique(y), np.arange(1, 10))
    assert np.bincount(y)[1:].tolist() == counts
    lengths = np.array([x.shape[0] for x in X])
    assert lengths.min() == 7
    assert lengths.max() == max_len
    for x in X:
        assert x.dtype == np.float64
        assert x.ndim == 2
        assert x.shape[1] == 12
        assert np.isfinite(x).all()
    assert bunch.feature_names == [f"c{k}" for k in range(1, 13)]
    assert np.array_equal(bunch.target_names, np.arange(1, 10))


def test_japanese_vowels_values():
    X, y = load_japanese_vowels(return_X_y=True)
    # Values as in the source files (first and last frames of some utterances).
    assert X[0].shape == (20, 12)
    assert X[0][0, 0] == 1.860936
    assert X[0][0, 1] == -0.207383
    assert X[0][-1, -1] == -0.175986
    X_test = load_japanese_vowels(subset="test", return_X_y=True)[0]
    assert X_test[0].shape == (19, 12)
    assert X_test[0][0, 0] == 1.635533
    assert X_test[-1].shape == (11, 12)
    assert X_test[-1][-1, -1] == 0.224688
    # Training speakers come in blocks of 30.
    assert np.array_equal(y, np.repeat(np.arange(1, 10), 30))


def test_japanese_vowels_all_is_train_then_test():
    X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
    X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
    X_all, y_all = load_japanese_vowels(subset="all", return_X_y=True)
    assert np.array_equal(y_all, np.concatenate([y_train, y_test]))
    for a, b in zip(X_all, X_train + X_test, strict=True):
        assert np.array_equal(a, b)


def test_japanese_vowels_return_X_y_matches_bunch():
    bunch = load_japanese_vowels(subset="test")
    X, y = load_japanese_vowels(subset="test", return_X_y=True)
    assert np.array_equal(y, bunch.target)
    assert all(np.array_equal(a, b) for a, b in zip(X, bunch.data, strict=True))


def test_japanese_vowels_sequences_are_independent_arrays():
    X = load_japanese_vowels(return_X_y=True)[0]
    before = X[1].copy()
    X[0][:] = 0.0
    assert np.array_equal(X[1], before)
    assert not np.shares_memory(X[0], X[1])


def test_japanese_vowels_descr():
    descr = load_japanese_vowels().DESCR
    assert "Kudo" in descr
    assert "UCI" in descr
    assert "CC BY 4.0" in descr
    assert "Licence" in descr
    assert "10.24432/C5NS47" in descr


def test_japanese_vowels_bad_subset():
    with pytest.raises(InvalidParameterError, match="subset"):
        load_japanese_vowels(subset="validation")


def test_japanese_vowels_has_no_as_frame():
    with pytest.raises(TypeError):
        load_japanese_vowels(as_frame=True)


# --- CO2 -------------------------------------------------------------------


def test_co2_numpy():
    bunch = load_co2()
    assert bunch.frame is None
    assert bunch.data.shape == (526,)
    assert bunch.data.dtype == np.dtype("datetime64[M]")
    assert bunch.target.shape == (526,)
    assert bunch.target.dtype == np.float64
    assert np.isfinite(bunch.target).all()
    assert str(bunch.data[0]) == "1958-03"
    assert str(bunch.data[-1]) == "2001-12"
    # Regular monthly grid, no gaps.
    assert (np.diff(bunch.data) == np.timedelta64(1, "M")).all()
    assert 310 < bunch.target.min() < bunch.target.max() < 380
    assert bunch.interpolated.dtype == bool
    assert [str(m) for m in bunch.data[bunch.interpolated]] == [
        "1958-06",
        "1958-10",
        "1964-02",
        "1964-03",
        "1964-04",
    ]
    assert bunch.feature_names == ["date"]
    assert bunch.target_names == ["co2"]


def test_co2_matches_pandas_resampling():
    # An independent computation of the documented processing.
    path = resources.files("sklearn_rnn.datasets") / "data" / "co2_weekly.csv.gz"
    with path.open("rb") as f:
        weekly = pd.read_csv(f, compression="gzip")
    weekly.index = pd.to_datetime(weekly["date"].astype(str), format="%Y%m%d")
    assert len(weekly) == 2284
    assert int(weekly["co2"].isna().sum()) == 59
    monthly = weekly["co2"].resample("MS").mean()
    expected_interpolated = monthly.isna().to_numpy()
    monthly = monthly.interpolate(method="linear")

    bunch = load_co2()
    np.testing.assert_allclose(bunch.target, monthly.to_numpy(), rtol=1e-12)
    assert np.array_equal(bunch.interpolated, expected_interpolated)


def test_co2_frame():
    bunch = load_co2(as_frame=True)
    numpy_bunch = load_co2()
    assert list(bunch.frame.columns) == ["date", "co2"]
    assert bunch.frame.shape == (526, 2)
    assert isinstance(bunch.data, pd.DataFrame)
    assert list(bunch.data.columns) == ["date"]
    assert isinstance(bunch.target, pd.Series)
    assert bunch.target.name == "co2"
    assert pd.api.types.is_datetime64_any_dtype(bunch.frame["date"])
    assert bunch.frame["date"].iloc[0] == pd.Timestamp("1958-03-01")
    assert bunch.frame["date"].iloc[-1] == pd.Timestamp("2001-12-01")
    np.testing.assert_array_equal(bunch.target.to_numpy(), numpy_bunch.target)
    assert not bunch.frame.isna().any().any()


def test_co2_return_X_y():
    dates, values = load_co2(return_X_y=True)
    bunch = load_co2()
    assert np.array_equal(dates, bunch.data)
    assert np.array_equal(values, bunch.target)
    data, target = load_co2(return_X_y=True, as_frame=True)
    assert isinstance(data, pd.DataFrame)
    assert isinstance(target, pd.Series)


def test_co2_descr():
    descr = load_co2().DESCR
    assert "Keeling" in descr
    assert "Scripps" in descr
    assert "Licence" in descr
    assert "public domain" in descr
    assert "statsmodels" in descr


# --- Nile ------------------------------------------------------------------


def test_nile_numpy():
    years, volume = load_nile(return_X_y=True)
    assert years.dtype == np.int64
    assert np.array_equal(years, np.arange(1871, 1971))
    assert volume.shape == (100,)
    assert volume.dtype == np.float64
    assert np.isfinite(volume).all()
    assert volume[0] == 1120.0
    assert volume[-1] == 740.0
    assert volume.min() == 456.0


def test_nile_frame():
    bunch = load_nile(as_frame=True)
    assert list(bunch.frame.columns) == ["year", "volume"]
    assert bunch.frame.shape == (100, 2)
    assert list(bunch.data.columns) == ["year"]
    assert bunch.target.name == "volume"
    np.testing.assert_array_equal(bunch.target.to_numpy(), load_nile().target)
    assert load_nile().frame is None


def test_nile_descr():
    descr = load_nile().DESCR
    assert "Cobb" in descr
    assert "Licence" in descr
    assert "public domain" in descr
    assert "statsmodels" in descr


@pytest.mark.parametrize("loader", [load_co2, load_nile])
def test_series_bad_params(loader):
    with pytest.raises(InvalidParameterError):
        loader(as_frame="yes")
