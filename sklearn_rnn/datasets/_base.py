"""Loaders for the small real data sets shipped with sklearn-rnn.

Every file is read from the installed package (``data/``, ``descr/``) with
:mod:`importlib.resources`; nothing is downloaded at run time.
"""

import gzip
from importlib import resources

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

DATA_MODULE = "sklearn_rnn.datasets"

_N_LPC = 12


def _open_data(file_name):
    """Open ``data/<file_name>`` (gzip-compressed text) for reading."""
    path = resources.files(DATA_MODULE) / "data" / file_name
    return gzip.open(path.open("rb"), mode="rt", encoding="utf-8")


def _load_descr(file_name):
    """Return the text of ``descr/<file_name>``."""
    return (resources.files(DATA_MODULE) / "descr" / file_name).read_text(encoding="utf-8")


def _pandas(caller):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in the test env
        raise ImportError(f"{caller} with as_frame=True requires pandas.") from exc
    return pd


def _read_japanese_vowels(subset):
    with _open_data(f"japanese_vowels_{subset}.csv.gz") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    utterance = table[:, 0].astype(np.int64)
    lengths = np.bincount(utterance)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    values = table[:, 3:]
    data = [values[s:e].copy() for s, e in zip(starts, ends, strict=True)]
    target = table[starts, 1].astype(np.int64)
    return data, target


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_japanese_vowels(*, subset="train", return_X_y=False):
    """Load the Japanese Vowels data set (speaker classification, ragged).

    Nine male speakers each uttered the Japanese vowels /ae/; every utterance is
    a multivariate time series of 12 LPC cepstrum coefficients per frame, 7 to
    29 frames long. The task is to tell the speaker (9 classes). The official
    split has 270 training utterances (30 per speaker) and 370 test utterances
    (24 to 88 per speaker), recorded on different occasions.

    =================   =========================================
    Classes             9 (speakers ``1`` to ``9``)
    Samples             270 (train), 370 (test), 640 (all)
    Features per step   12 (LPC cepstrum coefficients ``c1``-``c12``)
    Steps per sample    7 to 29 (train: 7 to 26, test: 7 to 29)
    =================   =========================================

    Read more in the ``DESCR`` of the returned bunch (source, licence and
    citation).

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part of the official split to load. ``"all"`` returns the 270
        training utterances followed by the 370 test utterances.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : list of ndarray of shape (n_steps_i, 12), dtype float64
            One array per utterance, frames in time order. The list is ragged
            (``n_steps_i`` varies), which is one of the input forms the
            estimators of this package accept directly.
        target : ndarray of shape (n_samples,), dtype int64
            The speaker of each utterance, ``1`` to ``9`` (the numbering of
            the original data).
        feature_names : list of str
            ``["c1", ..., "c12"]``, the names of the 12 coefficients.
        target_names : ndarray of shape (9,), dtype int64
            The speaker labels, ``[1, 2, ..., 9]``.
        DESCR : str
            Description of the data set: source, licence and citation.

    (data, target) : tuple if ``return_X_y`` is True
        The list of sequences and the int64 label array described above.

    Notes
    -----
    There is no ``as_frame`` option: the samples are sequences of different
    lengths, which do not fit one rectangular table. Pad them yourself (for
    example with trailing NaN, the padding convention of this package) if a 3-D
    array is needed.

    Examples
    --------
    >>> from sklearn_rnn.datasets import load_japanese_vowels
    >>> X, y = load_japanese_vowels(return_X_y=True)
    >>> len(X), X[0].shape, y[:3]
    (270, (20, 12), array([1, 1, 1]))
    >>> X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
    >>> len(X_test)
    370
    """
    if subset == "all":
        data_train, target_train = _read_japanese_vowels("train")
        data_test, target_test = _read_japanese_vowels("test")
        data = data_train + data_test
        target = np.concatenate([target_train, target_test])
    else:
        data, target = _read_japanese_vowels(subset)

    if return_X_y:
        return data, target

    return Bunch(
        data=data,
        target=target,
        feature_names=[f"c{k}" for k in range(1, _N_LPC + 1)],
        target_names=np.arange(1, 10, dtype=np.int64),
        DESCR=_load_descr("japanese_vowels.rst"),
    )


def _series_bunch(time, values, *, time_name, value_name, as_frame, return_X_y, descr, **extra):
    """Pack one univariate series: ``data`` = time stamps, ``target`` = values."""
    frame = None
    if as_frame:
        pd = _pandas(f"load_{value_name}")
        frame = pd.DataFrame({time_name: time, value_name: values})
        data, target = frame[[time_name]], frame[value_name]
    else:
        data, target = time, values
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=[time_name],
        target_names=[value_name],
        DESCR=descr,
        **extra,
    )


@validate_params(
    {"return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_co2(*, return_X_y=False, as_frame=False):
    """Load the monthly Mauna Loa atmospheric CO2 series (forecasting).

    Monthly means of the weekly CO2 concentrations measured by the Scripps
    Institution of Oceanography at Mauna Loa Observatory, Hawaii, from March
    1958 to December 2001: a trend with a yearly seasonal cycle.

    =================   ==========================================
    Observations        526 (months 1958-03 to 2001-12, no gaps)
    Values              CO2 concentration, ppmv, float64
    Interpolated        5 months without any weekly value
    =================   ==========================================

    The shipped file is the weekly series as published (2284 weeks, 59 of them
    missing). Each month's value is the mean of the weekly values dated in that
    month; the 5 months with no weekly value at all (1958-06, 1958-10,
    1964-02 to 1964-04) are filled by linear interpolation between the
    neighbouring months, and flagged in ``interpolated``.

    For a single series, this loader follows scikit-learn's Bunch layout with
    the time stamps as ``data`` and the observed values as ``target``. To turn
    the values into training windows, see
    :func:`sklearn_rnn.preprocessing.make_windows`.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with one column ``"date"``
        (datetime64, first day of each month), ``target`` a pandas Series
        ``"co2"``, and ``frame`` a DataFrame with both columns. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (526,), dtype datetime64[M], or DataFrame of shape (526, 1)
            The month of each observation, in time order.
        target : ndarray of shape (526,), dtype float64, or Series of shape (526,)
            Monthly mean CO2 concentration in ppmv (parts per million by
            volume, 1999 calibration scale).
        frame : DataFrame of shape (526, 2) or None
            Columns ``"date"`` and ``"co2"``; only when ``as_frame=True``.
        interpolated : ndarray of shape (526,), dtype bool
            True for the months whose value was interpolated.
        feature_names : list of str
            ``["date"]``.
        target_names : list of str
            ``["co2"]``.
        DESCR : str
            Description of the data set: source, licence and citation.

    (data, target) : tuple if ``return_X_y`` is True
        The time stamps and the values described above.

    Examples
    --------
    >>> from sklearn_rnn.datasets import load_co2
    >>> co2 = load_co2()
    >>> co2.target.shape, str(co2.data[0]), str(co2.data[-1])
    ((526,), '1958-03', '2001-12')
    >>> float(co2.target[0])
    316.1
    """
    with _open_data("co2_weekly.csv.gz") as f:
        weekly = np.genfromtxt(f, delimiter=",", skip_header=1, dtype=np.float64)
    stamp = weekly[:, 0].astype(np.int64)
    values = weekly[:, 1]
    years, months = stamp // 10000, (stamp // 100) % 100
    month_index = (years - 1970) * 12 + (months - 1)  # months since 1970-01
    first = month_index[0]
    position = month_index - first
    n_months = position[-1] + 1

    observed = ~np.isnan(values)
    total = np.bincount(position[observed], weights=values[observed], minlength=n_months)
    count = np.bincount(position[observed], minlength=n_months)
    interpolated = count == 0
    monthly = np.empty(n_months, dtype=np.float64)
    monthly[~interpolated] = total[~interpolated] / count[~interpolated]
    steps = np.arange(n_months)
    monthly[interpolated] = np.interp(
        steps[interpolated], steps[~interpolated], monthly[~interpolated]
    )
    time = (first + steps).astype("datetime64[M]")

    if as_frame:
        time = time.astype("datetime64[ns]")
    return _series_bunch(
        time,
        monthly,
        time_name="date",
        value_name="co2",
        as_frame=as_frame,
        return_X_y=return_X_y,
        descr=_load_descr("co2.rst"),
        interpolated=interpolated,
    )


@validate_params(
    {"return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_nile(*, return_X_y=False, as_frame=False):
    """Load the annual flow of the river Nile at Aswan, 1871-1970 (forecasting).

    A classic short series (100 values) with a change of level around 1898,
    used throughout the state-space and change-point literature.

    =================   ==========================================
    Observations        100 (years 1871 to 1970, no gaps)
    Values              annual flow volume, 10^8 m^3, float64
    =================   ==========================================

    For a single series, this loader follows scikit-learn's Bunch layout with
    the time stamps as ``data`` and the observed values as ``target``. To turn
    the values into training windows, see
    :func:`sklearn_rnn.preprocessing.make_windows`.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with one column ``"year"``,
        ``target`` a pandas Series ``"volume"``, and ``frame`` a DataFrame with
        both columns. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (100,), dtype int64, or DataFrame of shape (100, 1)
            The year of each observation, in time order.
        target : ndarray of shape (100,), dtype float64, or Series of shape (100,)
            Annual flow volume at Aswan, in 10^8 m^3.
        frame : DataFrame of shape (100, 2) or None
            Columns ``"year"`` and ``"volume"``; only when ``as_frame=True``.
        feature_names : list of str
            ``["year"]``.
        target_names : list of str
            ``["volume"]``.
        DESCR : str
            Description of the data set: source, licence and citation.

    (data, target) : tuple if ``return_X_y`` is True
        The years and the values described above.

    Examples
    --------
    >>> from sklearn_rnn.datasets import load_nile
    >>> years, volume = load_nile(return_X_y=True)
    >>> int(years[0]), int(years[-1]), volume.shape
    (1871, 1970, (100,))
    """
    with _open_data("nile.csv.gz") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    return _series_bunch(
        table[:, 0].astype(np.int64),
        table[:, 1],
        time_name="year",
        value_name="volume",
        as_frame=as_frame,
        return_X_y=return_X_y,
        descr=_load_descr("nile.rst"),
    )
