"""Same data and random_state give bitwise-identical models wherever they run.

Across runs in one process, across processes (with different hash seeds), and
across 1 and 2 threads (Numba's and the BLAS pools'). The reference fits cover
every cell, both dtypes, both solvers, stacked bidirectional layers, dropout,
shuffling and sequences of different lengths (see ``_reference_fit.py``). Warm
versus cold compile cache is in ``test_install.py``.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import sklearn_rnn._base

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_reference_fit", HERE / "_reference_fit.py")
reference_fit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_fit)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def assert_bitwise_equal(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key, strict=True)


@pytest.fixture(scope="module")
def reference():
    return reference_fit.reference_arrays()


def test_runs_in_one_process_are_bitwise_identical(reference):
    assert_bitwise_equal(reference_fit.reference_arrays(), reference)


def _record_threads_in_fit(monkeypatch):
    """Record Numba's thread count and the BLAS pools' sizes at every training step."""
    seen = []
    original = sklearn_rnn._base.loss_and_gradients

    def loss_and_gradients(*args, **kwargs):
        blas = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
        seen.append((numba.get_num_threads(), tuple(sorted(blas))))
        return original(*args, **kwargs)

    monkeypatch.setattr(sklearn_rnn._base, "loss_and_gradients", loss_and_gradients)
    return seen


@pytest.mark.parametrize("n_threads", [1, 2])
def test_one_and_two_threads_give_bitwise_identical_models(reference, monkeypatch, n_threads):
    before = numba.get_num_threads()
    seen = _record_threads_in_fit(monkeypatch)
    try:
        numba.set_num_threads(n_threads)
        with threadpool_limits(limits=n_threads):
            arrays = reference_fit.reference_arrays()
    finally:
        numba.set_num_threads(before)
    # the setting reached the kernels (BLAS runs on one thread inside fit, always)
    assert {numba_threads for numba_threads, _ in seen} == {n_threads}
    assert {blas for _, blas in seen} <= {(1,), ()}
    assert_bitwise_equal(arrays, reference)


def test_another_process_gives_bitwise_identical_models(reference, tmp_path):
    out = tmp_path / "reference.npz"
    # another hash seed (the order of sets and dicts of str), one Numba thread
    env = dict(os.environ, PYTHONHASHSEED="12345", NUMBA_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "_reference_fit.py"),
            str(out),
            "rnn,lstm,gru",
            "float64,float32",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,  # a guard against a hang; a cold compile takes minutes at most
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).resolve() == Path(sklearn_rnn.__file__).resolve()
    with np.load(out) as saved:
        assert_bitwise_equal(dict(saved), reference)
