"""Repeated fits in one process do not grow memory without bound.

Fifty fits (each followed by predictions) of a model whose training buffers take
megabytes. Between the 10th and the 50th fit, measured three ways:

- Python and NumPy allocations still alive (``tracemalloc``);
- memory the Numba kernels allocated and did not free (Numba's runtime
  statistics: allocations minus frees), which ``tracemalloc`` cannot see;
- the process's resident memory (``/proc/self/statm``), all included, with a
  margin for the allocator's own caching.

A leak of one training buffer per fit would add about 26 MB over those 40 fits.
The fits run in a fresh process (this file run as a script): Numba counts its
allocations only when ``NUMBA_NRT_STATS=1`` is set before it starts, and the
resident memory is then that of the fits alone.
"""

import gc
import json
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
from numba.core.runtime import rtsys
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import LSTMClassifier

N_FITS, MEASURED_FROM = 50, 10


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def numba_stats():
    stats = rtsys.get_allocation_stats()
    return stats.alloc, stats.alloc - stats.free


def measure():
    gc.collect()
    allocations, unfreed = numba_stats()
    return {
        "python": tracemalloc.get_traced_memory()[0],
        "numba": unfreed,
        "numba_allocations": allocations,
        "resident": resident_bytes(),
    }


BUFFER_BYTES = 20 * 64 * 4 * 16 * 8  # the gates of one batch: T x B x 4H x 8 bytes


def fit_repeatedly():
    """Fit and predict N_FITS times; return the measures after fits 10 and 50."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 20, 4))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    measured = {}
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in range(1, N_FITS + 1):
            est = LSTMClassifier(hidden_layer_sizes=(16,), max_iter=2, random_state=i)
            est.fit(X, y).predict_proba(X)
            del est
            if i in (MEASURED_FROM, N_FITS):
                measured[i] = measure()
    tracemalloc.stop()
    return measured


def test_fifty_fits_do_not_grow_memory():
    proc = subprocess.run(
        [sys.executable, __file__],
        capture_output=True,
        text=True,
        env=dict(os.environ, NUMBA_NRT_STATS="1"),
        timeout=1800,  # a guard against a hang
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    start, end = measured[str(MEASURED_FROM)], measured[str(N_FITS)]
    assert start["numba_allocations"] > 0  # the statistics were on
    growth = {key: end[key] - start[key] for key in ("python", "numba", "resident")}
    print(f"memory growth from fit {MEASURED_FROM} to fit {N_FITS}: {growth}")
    assert growth["python"] < 256 * 1024  # bytes still allocated through Python
    assert growth["numba"] <= 0  # every kernel allocation was freed
    # one leaked buffer per fit would be 40 * BUFFER_BYTES (about 26 MB)
    assert growth["resident"] < 2 * BUFFER_BYTES


if __name__ == "__main__":
    print(json.dumps(fit_repeatedly()))
