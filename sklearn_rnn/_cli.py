"""The main job, ``python -m sklearn_rnn``: which recurrent cell for this data?

It cross-validates the three cells (a :class:`~sklearn.model_selection.GridSearchCV`
over ``cell``) and a non-recurrent baseline on one data set, then prints a table of
score, parameter count and fit time, and names the best cell. Run
``python -m sklearn_rnn --help`` for the options.

Forecasting (the CO2 and Nile series, or a column of the user's CSV file): the
series is cut into windows of ``--window`` past values with
:func:`~sklearn_rnn.preprocessing.make_windows`, the windows are split with
:class:`~sklearn.model_selection.TimeSeriesSplit`, and the models are pipelines in
which every scaling step is fitted on the training fold only. The baseline is
ridge regression on the same windows; the "last value" row is the persistence
forecast. Classification (Japanese Vowels): stratified folds of the official
training set; the baseline is a ridge classifier on the sequences padded to a
fixed length and flattened.
"""

import argparse
import contextlib
import csv
import math
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold, TimeSeriesSplit, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._estimators import RecurrentClassifier, RecurrentRegressor
from .datasets import load_co2, load_japanese_vowels, load_nile
from .preprocessing import SequenceScaler, make_windows

CELLS = ("rnn", "lstm", "gru")
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_PROG = "python -m sklearn_rnn"

_DESCRIPTION = """\
Which recurrent cell for this data? Cross-validates the vanilla RNN, the LSTM and
the GRU (a GridSearchCV over the `cell` parameter of RecurrentRegressor or
RecurrentClassifier) and a non-recurrent baseline, then prints each one's score
(mean ± standard deviation over the folds), number of parameters and mean fit time
per fold, and names the best cell. Progress goes to stderr, the table to stdout.

With no arguments it forecasts the shipped monthly Mauna Loa CO2 series one month
ahead. With --csv FILE --target COLUMN it does the same on your own series."""

_EPILOG = """\
forecasting: the series is cut into windows of --window past values (the input
sequences) and the --horizon values that follow (the targets); folds come from
TimeSeriesSplit, so every model is trained on the past and scored on the future.
Inputs and targets are standardized inside each model's pipeline, on the
training fold only. Score: root mean squared error (RMSE) of the forecasts, in
the units of the series (lower is better). Baselines: "ridge" (RidgeCV on the
same windows) and "last value" (the persistence forecast).

classification (--dataset vowels): stratified folds of the 270 training
utterances of Japanese Vowels (9 speakers, sequences of 7 to 26 steps of 12
features). Score: accuracy (higher is better). Baseline: "ridge"
(RidgeClassifierCV on the sequences padded to the longest training sequence,
padding imputed with the mean, and flattened).

examples:
  python -m sklearn_rnn
  python -m sklearn_rnn --dataset vowels --plot curves.png
  python -m sklearn_rnn --csv sales.csv --target units --date-col month --window 12

exit status: 0 on success, 2 for bad options or unusable input (one-line error
on stderr)."""


class InputError(Exception):
    """Unusable options or data: reported as one line on stderr, exit status 2."""


def _progress(message):
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def build_parser():
    """The argument parser of ``python -m sklearn_rnn``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser; ``parser.parse_args([])`` gives the defaults.
    """
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=["co2", "nile", "vowels"],
        default="co2",
        help="shipped data set used when --csv is not given: 'co2' (monthly Mauna Loa "
        "CO2, 526 months, forecasting), 'nile' (annual Nile flow, 100 years, "
        "forecasting) or 'vowels' (Japanese Vowels, speaker classification). "
        "Default: co2.",
    )
    data.add_argument(
        "--csv",
        metavar="FILE",
        help="your own series: a CSV file with a header row, one row per time step, "
        "in time order (or give --date-col). Needs --target.",
    )
    data.add_argument(
        "--target",
        metavar="COLUMN",
        help="with --csv: the column holding the series to forecast (numbers, no gaps).",
    )
    data.add_argument(
        "--date-col",
        metavar="COLUMN",
        help="with --csv: a column of ISO dates or times (e.g. 2021-03 or 2021-03-31); "
        "the rows are sorted by it before the series is cut into windows.",
    )
    forecast = parser.add_argument_group("forecasting")
    forecast.add_argument(
        "--window",
        type=_positive_int,
        default=None,
        help="number of past values in each input sequence. Default: 12 for co2 (one "
        "yearly cycle) and for --csv, 10 for nile.",
    )
    forecast.add_argument(
        "--horizon",
        type=_positive_int,
        default=1,
        help="number of future values to forecast from each window (a multi-output "
        "regression when > 1; the folds then leave a gap of horizon - 1). Default: 1.",
    )
    forecast.add_argument(
        "--predict",
        choices=["change", "level"],
        default="change",
        help="'change': every window is taken relative to its last value and the models "
        "forecast the change from it, which suits series with a trend (such as CO2); "
        "'level': the models see and forecast the values themselves, which suits "
        "series that return to a mean. The score is on the values either way. "
        "Default: change.",
    )
    model = parser.add_argument_group("models and search")
    model.add_argument(
        "--cv",
        type=_positive_int,
        default=5,
        help="number of cross-validation folds (TimeSeriesSplit for series, "
        "StratifiedKFold for classification); at least 2. Default: 5.",
    )
    model.add_argument(
        "--hidden",
        type=_positive_int,
        default=32,
        help="hidden units of the one recurrent layer of every cell. Default: 32.",
    )
    model.add_argument(
        "--max-iter",
        type=_positive_int,
        default=100,
        help="maximum number of training epochs of each fit (training stops earlier "
        "when the loss stops improving). Default: 100.",
    )
    model.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.005,
        help="Adam's learning_rate_init. Default: 0.005.",
    )
    model.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random_state of the models and of the classification folds, so that "
        "runs are reproducible. Default: 0.",
    )
    model.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="processes for the search (GridSearchCV's n_jobs; -1: all cores). With "
        "more than one, the per-fit progress lines come from the worker processes. "
        "Default: 1.",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--plot",
        metavar="FILE",
        help="save the learning curves (the training loss after every epoch) of the "
        "three cells, each refitted on all the data, to FILE (PNG, PDF or SVG). "
        "Needs matplotlib: pip install 'sklearn-rnn[plot]'.",
    )
    output.add_argument(
        "--quiet",
        action="store_true",
        help="print only the table, no progress on stderr.",
    )
    return parser


def _check_options(args):
    if args.csv is None:
        for option in ("target", "date_col"):
            if getattr(args, option) is not None:
                raise InputError(f"--{option.replace('_', '-')} needs --csv.")
    elif args.target is None:
        raise InputError("--csv needs --target COLUMN: the column to forecast.")
    if args.cv < 2:
        raise InputError(f"--cv must be at least 2, got {args.cv}.")
    if args.dataset == "vowels" and args.csv is None:
        for option, default in (("window", None), ("horizon", 1), ("predict", "change")):
            if getattr(args, option) != default:
                raise InputError(f"--{option} applies to forecasting, not to --dataset vowels.")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError(
                "--plot needs matplotlib, which is not installed: "
                "pip install 'sklearn-rnn[plot]' (or pip install matplotlib)."
            ) from None


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def read_csv_series(path, target, date_col=None):
    """Read one numeric column of a CSV file as a series in time order.

    Parameters
    ----------
    path : str
        A CSV file with a header row.
    target : str
        The column to read.
    date_col : str or None, default=None
        A column of ISO dates; when given, the rows are sorted by it.

    Returns
    -------
    series : ndarray of shape (n_times,)
        The values of ``target``, float64.

    Raises
    ------
    InputError
        With a one-line message when the file cannot be read, a column is
        missing, or a value is not a finite number or not a date.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot be read as a CSV file ({exc}).") from None
    if not rows:
        raise InputError(f"{path}: the file is empty.")
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]

    def column(name):
        if name not in header:
            shown = ", ".join(repr(h) for h in header[:10]) + (", ..." if len(header) > 10 else "")
            raise InputError(f"{path}: no column {name!r}; the columns are {shown}.")
        return header.index(name)

    j = column(target)
    k = None if date_col is None else column(date_col)
    values = np.empty(len(body))
    dates = [] if k is not None else None
    for i, row in enumerate(body):
        line = i + 2  # the header is line 1
        text = row[j].strip() if j < len(row) else ""
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            what = "is empty" if not text else f"has {text!r}, which is not a finite number"
            raise InputError(
                f"{path}, line {line}: column {target!r} {what}; fill or drop such rows first."
            )
        values[i] = value
        if k is not None:
            stamp = row[k].strip() if k < len(row) else ""
            try:
                dates.append(np.datetime64(stamp))
            except ValueError:
                raise InputError(
                    f"{path}, line {line}: column {date_col!r} has {stamp!r}, which is not an "
                    "ISO date (such as 2021-03 or 2021-03-31)."
                ) from None
    if k is not None and len(body):
        stamps = np.array(dates)
        order = np.argsort(stamps, kind="stable")
        sorted_stamps = stamps[order]
        repeated = sorted_stamps[1:] == sorted_stamps[:-1]
        if repeated.any():
            raise InputError(
                f"{path}: column {date_col!r} has the date {sorted_stamps[1:][repeated][0]} "
                "more than once; one row per time step is needed."
            )
        values = values[order]
    return values


class _Forecast:
    """The forecasting task: windows, folds, the models and how they are scored."""

    kind = "forecast"
    score_name = "RMSE"
    higher_is_better = False

    def __init__(self, series, *, window, horizon, predict, n_folds, title):
        n_times = len(series)
        gap = horizon - 1
        n_windows = n_times - window - horizon + 1
        # each validation fold and the first training fold get at least 2 windows
        needed = 2 * (n_folds + 1) + gap
        if n_windows < needed:
            raise InputError(
                f"the series has {n_times} values: with --window {window} and --horizon "
                f"{horizon} that makes {max(n_windows, 0)} windows, fewer than the {needed} "
                f"needed for {n_folds} time-series folds; use a shorter --window, a smaller "
                "--horizon or fewer --cv folds, or a longer series."
            )
        X, y = make_windows(np.asarray(series, dtype=np.float64), window, horizon)
        last = X[:, -1:]  # the last value of each window, shape (n_windows, 1)
        # the error of the persistence forecast, which is also the change to forecast
        self.persistence_error = y - (last[:, 0] if horizon == 1 else last)
        if predict == "change":
            X, y = X - last, self.persistence_error
        self.X, self.y = X, y
        self.window = window
        self.n_features, self.n_outputs = 1, horizon
        self.cv = TimeSeriesSplit(n_splits=n_folds, gap=gap)
        self.scoring = "neg_root_mean_squared_error"
        self.title = title
        self.setup = (
            f"{n_windows} windows of {window} steps, forecasting {horizon} step(s) ahead "
            f"({predict}); {n_folds}-fold TimeSeriesSplit"
        )

    @staticmethod
    def _wrap(model):
        pipeline = Pipeline([("scale", SequenceScaler()), ("model", model)])
        return TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())

    def recurrent(self, **params):
        return self._wrap(RecurrentRegressor(**params))

    cell_param = "regressor__model__cell"

    def baseline(self):
        return self._wrap(RidgeCV(alphas=np.logspace(-3, 3, 13)))

    def baseline_parameters(self):
        return (self.window + 1) * self.n_outputs

    def shown(self, score):
        return -score  # RMSE from the negated scorer

    def extra_rows(self):
        """The persistence forecast ("last value") on the same folds."""
        error = self.persistence_error
        scores = [math.sqrt(float(np.mean(error[test] ** 2))) for _, test in self.cv.split(self.X)]
        return [("last value", np.mean(scores), np.std(scores), 0, None)]


class _Classify:
    """The classification task: Japanese Vowels' training set, stratified folds."""

    kind = "classify"
    score_name = "accuracy"
    higher_is_better = True
    cell_param = "model__cell"

    def __init__(self, *, n_folds, seed):
        self.X, self.y = load_japanese_vowels(return_X_y=True)
        self.n_features, self.n_outputs = 12, 9
        self.cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        self.scoring = "accuracy"
        self.title = "Japanese Vowels (speaker classification, 9 speakers)"
        lengths = [len(x) for x in self.X]
        self.max_length = max(lengths)
        self.setup = (
            f"{len(self.X)} training utterances of {min(lengths)} to {self.max_length} steps "
            f"x 12 features; {n_folds}-fold StratifiedKFold"
        )

    def recurrent(self, **params):
        return Pipeline([("scale", SequenceScaler()), ("model", RecurrentClassifier(**params))])

    def baseline(self):
        return make_pipeline(
            _PadFlatten(),
            SimpleImputer(keep_empty_features=True),
            StandardScaler(),
            RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)),
        )

    def baseline_parameters(self):
        return (self.max_length * self.n_features + 1) * self.n_outputs

    def shown(self, score):
        return score

    def extra_rows(self):
        return []


class _PadFlatten(TransformerMixin, BaseEstimator):
    """Pad a list of (n_steps_i, n_features) sequences with NaN and flatten each one.

    ``fit`` records the longest training sequence; ``transform`` pads every
    sequence to that length (cutting longer ones there) and returns one row of
    ``n_steps_ * n_features`` values per sequence.
    """

    def fit(self, X, y=None):
        self.n_steps_ = max(len(x) for x in X)
        return self

    def transform(self, X):
        out = np.full((len(X), self.n_steps_, np.shape(X[0])[1]), np.nan)
        for i, x in enumerate(X):
            x = np.asarray(x)[: self.n_steps_]
            out[i, : len(x)] = x
        return out.reshape(len(X), -1)


# ---------------------------------------------------------------------------
# Search and report
# ---------------------------------------------------------------------------


def n_parameters(cell, n_features, hidden, n_outputs):
    """Number of trainable parameters of a one-layer network of this package.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent cell.
    n_features : int
        Features per time step.
    hidden : int
        Hidden units.
    n_outputs : int
        Output units of the linear head.

    Returns
    -------
    n : int
        The size of all arrays in ``weights_`` together.

    Examples
    --------
    >>> n_parameters("lstm", 1, 32, 1)
    4513
    """
    rows = _GATES[cell] * hidden
    return rows * (n_features + hidden) + 2 * rows + hidden * n_outputs + n_outputs


def _warm_up(quiet):
    """Compile (or load from Numba's disk cache) the kernels before anything is timed.

    One tiny float64 fit per cell prepares exactly the kernels this job uses.
    (:func:`sklearn_rnn.warmup` prepares float32 ones too, which on a cold
    cache would make the first run wait for kernels it never calls.)
    """
    start = time.perf_counter()
    X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    y = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in CELLS:
            RecurrentRegressor(cell=cell, hidden_layer_sizes=2, max_iter=1).fit(X, y).predict(X)
    if not quiet:
        _progress(
            f"kernels ready in {time.perf_counter() - start:.1f} s "
            "(compiled on the first run, then loaded from the disk cache)"
        )


def _make_task(args):
    if args.csv is None and args.dataset == "vowels":
        return _Classify(n_folds=args.cv, seed=args.seed)
    if args.csv is not None:
        series = read_csv_series(args.csv, args.target, args.date_col)
        title, window = f"{args.csv}, column {args.target!r}", 12
    elif args.dataset == "co2":
        series, title, window = load_co2().target, "Mauna Loa CO2, monthly, ppmv", 12
    else:
        series, title, window = load_nile().target, "Nile flow at Aswan, annual", 10
    return _Forecast(
        series,
        window=window if args.window is None else args.window,
        horizon=args.horizon,
        predict=args.predict,
        n_folds=args.cv,
        title=title,
    )


def run(args):
    """Run the comparison described by parsed arguments and print the table.

    Parameters
    ----------
    args : argparse.Namespace
        Options from :func:`build_parser`.

    Returns
    -------
    rows : list of tuple
        ``(name, mean score, std score, n parameters, mean fit time or None)``
        for every row of the table, in the order printed.
    """
    _check_options(args)
    task = _make_task(args)
    quiet = args.quiet
    if not quiet:
        _progress(f"{task.title}: {task.setup}")
    _warm_up(quiet)

    params = dict(
        hidden_layer_sizes=(args.hidden,),
        max_iter=args.max_iter,
        learning_rate_init=args.learning_rate,
        random_state=args.seed,
    )
    search = GridSearchCV(
        task.recurrent(**params),
        {task.cell_param: list(CELLS)},
        scoring=task.scoring,
        cv=task.cv,
        n_jobs=args.n_jobs,
        refit=False,
        verbose=0 if quiet else 3,
        error_score="raise",
    )
    n_fits = len(CELLS) * task.cv.get_n_splits()
    if not quiet:
        _progress(f"cross-validating {', '.join(CELLS)}: {n_fits} fits")
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        # max_iter is kept small on purpose, so most fits stop at it
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(task.X, task.y)

    def row(name, scores, n_params, fit_time):
        scores = [task.shown(score) for score in scores]
        return (name, float(np.mean(scores)), float(np.std(scores)), n_params, float(fit_time))

    results = search.cv_results_
    n_splits = task.cv.get_n_splits()
    rows = [
        row(
            candidate[task.cell_param],
            [results[f"split{k}_test_score"][i] for k in range(n_splits)],
            n_parameters(candidate[task.cell_param], task.n_features, args.hidden, task.n_outputs),
            results["mean_fit_time"][i],
        )
        for i, candidate in enumerate(results["params"])
    ]
    if not quiet:
        _progress("cross-validating the ridge baseline")
    baseline = cross_validate(task.baseline(), task.X, task.y, scoring=task.scoring, cv=task.cv)
    rows.append(
        row(
            "ridge",
            baseline["test_score"],
            task.baseline_parameters(),
            np.mean(baseline["fit_time"]),
        )
    )
    rows.extend(task.extra_rows())

    print(format_report(task, rows, args))
    if args.plot is not None:
        _plot(task, params, args.plot, quiet)
    return rows


def format_report(task, rows, args):
    """The table and the verdict, as printed on stdout."""
    better = max if task.higher_is_better else min
    cells = [row for row in rows if row[0] in CELLS]
    best = better(cells, key=lambda row: row[1])
    best_other = better(rows, key=lambda row: row[1])
    sense = "higher is better" if task.higher_is_better else "lower is better"
    score_title = f"{task.score_name} (mean ± std)"
    header = f"{'model':<12}{score_title:>24}{'parameters':>12}{'fit (s)':>10}"
    lines = [
        f"Which cell for {task.title}?",
        f"{task.setup}; {task.score_name}: {sense}.",
        "",
        header,
        "-" * len(header),
    ]
    for name, mean, std, n_params, fit_time in rows:
        # 3 significant digits: a fit of a few milliseconds would print as 0.00
        fit = "-" if fit_time is None else f"{fit_time:.3g}"
        score = f"{mean:.4g} ± {std:.2g}"
        lines.append(f"{name:<12}{score:>24}{n_params:>12,}{fit:>10}")
    lines.append("")
    lines.append(
        f"Best cell: {best[0]} ({task.score_name} {best[1]:.4g} ± {best[2]:.2g} over "
        f"{task.cv.get_n_splits()} folds; {args.hidden} hidden units, at most "
        f"{args.max_iter} epochs)."
    )
    close = [row[0] for row in cells if row is not best and abs(row[1] - best[1]) <= best[2]]
    if close:
        lines.append(
            f"Within one standard deviation of it: {', '.join(close)}; the folds do not "
            "separate them clearly."
        )
    if best_other is not best:
        lines.append(
            f"The baseline '{best_other[0]}' scores better ({best_other[1]:.4g}): on this "
            "data and at these settings, no recurrent cell beats it."
        )
    return "\n".join(lines)


def _plot(task, params, path, quiet):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for cell in CELLS:
        model = task.recurrent(**params).set_params(**{task.cell_param: cell})
        if not quiet:
            _progress(f"refitting {cell} on all the data for the plot")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(task.X, task.y)
        net = model.regressor_[-1] if task.kind == "forecast" else model[-1]
        ax.plot(np.arange(1, len(net.loss_curve_) + 1), net.loss_curve_, label=cell)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss" + (" (standardized target)" if task.kind == "forecast" else ""))
    ax.set_title(f"Learning curves: {task.title}")
    ax.legend()
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot save the plot to {path}: {exc}") from None
    if not quiet:
        _progress(f"learning curves saved to {path}")


def main(argv=None):
    """Entry point of ``python -m sklearn_rnn``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for unusable options or data (after a one-line message
        on stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0
