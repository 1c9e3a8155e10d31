"""Tests of the main job, ``python -m sklearn_rnn``: the table, --csv, bad input."""

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import RecurrentClassifier, RecurrentRegressor
from sklearn_rnn._cli import CELLS, build_parser, main, n_parameters

# Small settings for the in-process runs: the table's shape, not its numbers.
FAST = ["--hidden", "4", "--max-iter", "3", "--cv", "2", "--quiet"]

ROW = re.compile(
    r"^(?P<name>rnn|lstm|gru|ridge|last value)\s+(?P<mean>-?[\d.]+(?:e-?\d+)?) ± "
    r"(?P<std>[\d.]+(?:e-?\d+)?)\s+(?P<params>[\d,]+)\s+(?P<fit>[\d.]+|-)$"
)


def _rows(stdout):
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match["name"]] = match
    return rows


def _run_module(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "sklearn_rnn", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _assert_table(stdout, expected):
    rows = _rows(stdout)
    assert sorted(rows) == sorted(expected), stdout
    for name in CELLS:
        row = rows[name]
        assert float(row["std"]) >= 0
        assert int(row["params"].replace(",", "")) > 0
        assert float(row["fit"]) > 0  # a fit time in seconds for every cell
    best = re.search(r"^Best cell: (rnn|lstm|gru) ", stdout, flags=re.MULTILINE)
    assert best, stdout
    return rows


def test_default_data_table_in_a_subprocess():
    # The shipped CO2 series with shorter training than the defaults; the
    # defaults themselves run in tests/test_readme.py, from a fresh clone.
    result = _run_module("--hidden", "8", "--max-iter", "10")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    _assert_table(result.stdout, [*CELLS, "ridge", "last value"])
    assert "Which cell for Mauna Loa CO2" in result.stdout
    # Progress went to stderr, one line per fit of the search.
    assert len(re.findall(r"^\[CV \d/5\] END", result.stderr, flags=re.MULTILINE)) == 15
    assert "Best cell" not in result.stderr


def test_help_explains_every_option():
    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    result = _run_module("--help")
    assert result.returncode == 0
    for action in parser._actions:
        for option in action.option_strings:
            assert option in result.stdout


def _write_csv(path, n_rows, *, shuffle=False, bad_line=None, bad_value="x"):
    t = np.arange(n_rows)
    values = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    dates = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in t]
    lines = [(d, f"{v:.6f}", f"{i}") for i, (d, v) in enumerate(zip(dates, values, strict=True))]
    if bad_line is not None:
        d, _, i = lines[bad_line]
        lines[bad_line] = (d, bad_value, i)
    if shuffle:
        order = np.random.RandomState(0).permutation(n_rows)
        lines = [lines[k] for k in order]
    text = "month,sales,other\n" + "\n".join(",".join(row) for row in lines) + "\n"
    path.write_text(text)
    return values


def test_csv_end_to_end(tmp_path, capsys):
    csv = tmp_path / "sales.csv"
    _write_csv(csv, 150, shuffle=True)
    plot = tmp_path / "curves.png"
    status = main(
        ["--csv", str(csv), "--target", "sales", "--date-col", "month", "--window", "6",
         "--horizon", "2", "--plot", str(plot), *FAST]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    rows = _assert_table(out, [*CELLS, "ridge", "last value"])
    assert "column 'sales'" in out
    # horizon 2: two outputs; a ridge on 6 steps has (6 + 1) * 2 parameters
    assert rows["ridge"]["params"] == "14"
    assert rows["lstm"]["params"] == f"{n_parameters('lstm', 1, 4, 2):,}"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_sorted_by_date_equals_file_in_order(tmp_path, capsys):
    # Shuffled rows with --date-col give the same scores as the rows in order.
    tables = []
    for shuffle in (False, True):
        csv = tmp_path / f"s{shuffle}.csv"
        _write_csv(csv, 80, shuffle=shuffle)
        args = ["--csv", str(csv), "--target", "sales", "--window", "4", *FAST]
        assert main([*args, "--date-col", "month"]) == 0
        rows = _rows(capsys.readouterr().out)
        tables.append({name: row.group("mean", "std", "params") for name, row in rows.items()})
    assert tables[0] == tables[1]  # the same scores and sizes (fit times differ)


def test_csv_level_mode(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    values = _write_csv(csv, 60)
    assert main(["--csv", str(csv), "--target", "sales", "--predict", "level", *FAST]) == 0
    rows = _rows(capsys.readouterr().out)
    # the persistence row is the same forecast whatever the models predict
    X_last = values[11:-1]  # window 12: the last input value of each window
    y = values[12:]
    folds = np.array_split(np.arange(len(y)), 3)[1:]  # TimeSeriesSplit(2): 2 test folds
    expected = np.mean([np.sqrt(np.mean((y[f] - X_last[f]) ** 2)) for f in folds])
    assert float(rows["last value"]["mean"]) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing file", "no such file"),
        ("missing column", "no column 'revenue'; the columns are 'month', 'sales', 'other'"),
        ("non-numeric", "line 7: column 'sales' has 'abc', which is not a finite number"),
        ("empty value", "line 7: column 'sales' is empty"),
        ("infinite value", "line 7: column 'sales' has 'inf', which is not a finite number"),
        ("too short", "the series has 20 values: with --window 12 and --horizon 1"),
        ("bad date", "column 'month' has 'March', which is not an ISO date"),
        ("no target", "--csv needs --target"),
        ("target without csv", "--target needs --csv"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(tmp_path, capsys, case, message):
    csv = tmp_path / "data.csv"
    args = ["--csv", str(csv), "--target", "sales"]
    if case == "missing file":
        csv = tmp_path / "absent.csv"
        args[1] = str(csv)
    elif case == "missing column":
        _write_csv(csv, 50)
        args[3] = "revenue"
    elif case in {"non-numeric", "empty value", "infinite value"}:
        bad = {"non-numeric": "abc", "empty value": "", "infinite value": "inf"}[case]
        _write_csv(csv, 50, bad_line=5, bad_value=bad)
    elif case == "too short":
        _write_csv(csv, 20)
    elif case == "bad date":
        _write_csv(csv, 50)
        csv.write_text(csv.read_text().replace("2000-01", "March"))
        args += ["--date-col", "month"]
    elif case == "no target":
        args = ["--csv", str(csv)]
    elif case == "target without csv":
        args = ["--target", "sales"]
    status = main([*args, "--quiet"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m sklearn_rnn: error: ")
    assert message in lines[0]


def test_bad_csv_in_a_real_process_has_no_traceback(tmp_path):
    csv = tmp_path / "data.csv"
    _write_csv(csv, 50, bad_line=3, bad_value="n/a")
    result = _run_module("--csv", str(csv), "--target", "sales")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"python -m sklearn_rnn: error: {csv}, line 5: column 'sales' has 'n/a', which is "
        "not a finite number; fill or drop such rows first."
    )


def test_duplicate_dates_are_refused(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    _write_csv(csv, 50)
    csv.write_text(csv.read_text().replace("2000-02", "2000-01"))
    assert main(["--csv", str(csv), "--target", "sales", "--date-col", "month"]) == 2
    assert "has the date 2000-01 more than once" in capsys.readouterr().err


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert main(["--plot", "out.png", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err
    assert "pip install 'sklearn-rnn[plot]'" in err


def test_vowels_classification_table(capsys):
    assert main(["--dataset", "vowels", *FAST]) == 0
    out = capsys.readouterr().out
    rows = _assert_table(out, [*CELLS, "ridge"])
    assert "accuracy" in out
    for row in rows.values():
        assert 0 <= float(row["mean"]) <= 1
    # padded to the longest training utterance (26 steps x 12 features), 9 classes
    assert rows["ridge"]["params"] == f"{(26 * 12 + 1) * 9:,}"


def test_forecasting_options_refused_for_classification(capsys):
    assert main(["--dataset", "vowels", "--window", "5"]) == 2
    assert "--window applies to forecasting" in capsys.readouterr().err


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("n_features", "hidden", "n_outputs"), [(1, 3, 1), (4, 5, 3)])
def test_n_parameters_counts_the_weights(cell, n_features, hidden, n_outputs):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(6, 4, n_features))
    if n_outputs == 1:
        model = RecurrentRegressor(cell=cell, hidden_layer_sizes=hidden, max_iter=1)
        y = rng.normal(size=6)
    else:
        model = RecurrentClassifier(cell=cell, hidden_layer_sizes=hidden, max_iter=1)
        y = np.arange(6) % n_outputs
    model.set_params(random_state=0)
    with pytest.warns(ConvergenceWarning):  # after one epoch
        model.fit(X, y)
    assert sum(w.size for w in model.weights_.values()) == n_parameters(
        cell, n_features, hidden, n_outputs
    )
