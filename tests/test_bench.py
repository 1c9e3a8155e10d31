"""The benchmark's verdict on the speed targets (``benchmarks/bench.py``, its "Targets" table).

Only the arithmetic is tested here: the benchmark itself needs PyTorch and
minutes, and is run by hand (see ``benchmarks/RESULTS.md``).
"""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench", Path(__file__).parent.parent / "benchmarks" / "bench.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# n, T, µs per sample-step, fit peak MB, predict peak MB, whole data set's activations MB
SCALING = [
    (128, 100, 1.6, 6.6, 0.23, 20),
    (128, 1000, 0.90, 49, 0.23, 195),
    (128, 10000, 0.94, 477, 0.23, 977),
    (1000, 50, 1.46, 5.0, 2.5, 12),
    (4000, 50, 0.99, 4.0, 5.2, 49),
    (16000, 50, 0.93, 4.4, 9.0, 195),
]


def _verdicts(measured):
    return {
        row.split(" | ")[0].lstrip("| "): row.endswith("| yes |")
        for row in bench.target_rows(measured)
    }


def test_a_ratio_over_the_target_by_less_than_the_rounding_is_a_miss():
    measured = {
        "fit": {("large LSTM x2", "float32"): 0.5003, ("small LSTM", "float32"): 0.4997},
        "predict": {("mid GRU", "float32"): 0.99},
    }
    rows = bench.target_rows(measured)
    assert "| fit, large LSTM x2, float32 | 0.5003 | ≤ 0.5 | **no** |" in rows
    assert _verdicts(measured) == {
        "fit, small LSTM, float32": True,
        "fit, large LSTM x2, float32": False,
        "predict, mid GRU, float32": True,  # its target is 1.0
    }


def test_float64_targets_and_the_gemm_share():
    measured = {
        "fit": {("mid GRU", "float64"): 1.01, ("large LSTM x2", "float64"): 0.4},
        "gemm_share": 0.24,
    }
    assert _verdicts(measured) == {
        "fit, mid GRU, float64": False,
        "fit, large LSTM x2, float64": True,
        "fit, large LSTM x2, float32: share of the GEMM peak": False,  # at least 25%
    }


def test_linearity_and_memory_from_the_scaling_table():
    rows = bench.target_rows({"scaling": SCALING})
    assert rows == [
        "| time per sample-step, T 1000 to 10000 | +4% | ≤ 25% | yes |",
        "| time per sample-step, n_samples 4000 to 16000 | -6% | ≤ 25% | yes |",
        "| fit peak, T=10000, n=128 / the whole data set's activations | 477 / 977 MB "
        "| ≤ 1 | yes |",
        "| predict peak, largest over T=100 to 10000 / at T=100 | 1.00 | ≤ 2 | yes |",
    ]
    slower = [list(r) for r in SCALING]
    slower[2][2] = 1.2  # 0.90 -> 1.2 µs per sample-step: +33%, not linear
    slower[2][3] = 990  # the whole data set's activations held
    slower[2][4] = 23  # predict's memory grows with T
    verdicts = _verdicts({"scaling": [tuple(r) for r in slower]})
    assert verdicts == {
        "time per sample-step, T 1000 to 10000": False,
        "time per sample-step, n_samples 4000 to 16000": True,
        "fit peak, T=10000, n=128 / the whole data set's activations": False,
        "predict peak, largest over T=100 to 10000 / at T=100": False,
    }


@pytest.mark.parametrize(
    ("cold", "warm", "met"), [(29.9, 2.9, (True, True)), (30.2, 3.1, (False, False))]
)
def test_compile_cost_targets(cold, warm, met):
    verdicts = _verdicts({"cold": cold, "warm": warm})
    assert tuple(verdicts.values()) == met


def test_nothing_measured_no_rows():
    assert bench.target_rows({"fit": {}, "predict": {}}) == []
