"""Parallel and distributed searches give exactly the serial results.

``GridSearchCV(n_jobs=2)`` on joblib's loky backend, and the same search on
Dask's distributed scheduler (``joblib.parallel_backend("dask")`` with a
``distributed.LocalCluster`` of two worker processes), give exactly the
``cv_results_`` scores of ``n_jobs=1``.

Inside every fit a worker runs, the estimator records its process, Numba's
thread count and the BLAS/OpenMP pools' sizes, and the scorer reads the kernels'
compile statistics (Numba's dispatcher ``stats``): workers load the kernels from
the compile cache (nothing is compiled), load them once per process (not once
per candidate), and run one thread each, so that two workers on two cores do
not oversubscribe them.
"""

import os
import sys

import cloudpickle
import joblib
import numba
import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from threadpoolctl import threadpool_info

from sklearn_rnn import RNNRegressor
from sklearn_rnn._cells import CELLS

# the workers unpickle the probe below by value: they cannot import this file
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_WORKERS = 2
GRID = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(3,), (5,)]}


class ProbedRNNRegressor(RNNRegressor):
    """An RNNRegressor that records the threads it trains with, in ``probe_``."""

    def _fit_stochastic(self, *args, **kwargs):
        pools = threadpool_info()
        self.probe_ = {
            "pid": os.getpid(),
            "numba_threads": numba.get_num_threads(),
            "blas_threads": max([p["num_threads"] for p in pools if p["user_api"] == "blas"] + [1]),
            "openmp_threads": max(
                [p["num_threads"] for p in pools if p["user_api"] == "openmp"] + [1]
            ),
        }
        return super()._fit_stochastic(*args, **kwargs)


def _kernel_stats():
    hits = misses = 0
    for module in CELLS.values():
        for value in vars(module).values():
            if isinstance(value, Dispatcher):
                hits += sum(value.stats.cache_hits.values())
                misses += sum(value.stats.cache_misses.values())
    return hits, misses


def probing_scorer(est, X, y):
    """The R^2 score, and what the process that fitted ``est`` saw."""
    score = est.score(X, y)
    hits, misses = _kernel_stats()  # after predicting: every kernel the task used
    return {"score": score, **est.probe_, "cache_hits": hits, "cache_misses": misses}


def _search(n_jobs):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6, 2))
    y = X[:, -2:, 0].sum(axis=1) + 0.1 * rng.normal(size=40)
    est = ProbedRNNRegressor(max_iter=3, batch_size=10, random_state=0)
    search = GridSearchCV(
        est,
        GRID,
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=probing_scorer,
        refit="score",
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def _records(search):
    """One dict per fit: what its scorer returned."""
    results = search.cv_results_
    keys = ["pid", "numba_threads", "blas_threads", "openmp_threads"]
    keys += ["cache_hits", "cache_misses"]
    records = []
    for split in range(search.n_splits_):
        for candidate in range(len(results["params"])):
            records.append({k: int(results[f"split{split}_test_{k}"][candidate]) for k in keys})
    return records


def _scores(search):
    results = search.cv_results_
    return np.array([results[f"split{i}_test_score"] for i in range(search.n_splits_)])


@pytest.fixture(scope="module")
def serial():
    with pytest.warns(ConvergenceWarning):  # ConvergenceWarning: 3 epochs
        search = _search(n_jobs=1)
    # the search ran here, so the kernels it uses are in the compile cache now
    return search


def assert_workers_reuse_the_cache_and_run_one_thread(search):
    records = _records(search)
    pids = {r["pid"] for r in records}
    assert os.getpid() not in pids, "the fits ran in worker processes"
    assert 1 <= len(pids) <= N_WORKERS
    assert max(sum(r["pid"] == pid for r in records) for pid in pids) >= 2
    for pid in pids:
        mine = [r for r in records if r["pid"] == pid]
        # nothing compiled: every kernel came from the compile cache
        assert {r["cache_misses"] for r in mine} == {0}
        # loaded once per process, by its first fit: later candidates add nothing
        assert len({r["cache_hits"] for r in mine}) == 1
        assert mine[0]["cache_hits"] >= 2  # forward, backward
    # one thread per worker on every pool: N_WORKERS workers fill the cores
    # without oversubscribing them
    for r in records:
        assert r["numba_threads"] == 1
        assert r["blas_threads"] == 1
        assert r["openmp_threads"] == 1


def test_loky_search_gives_exactly_the_serial_scores(serial):
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # fresh workers: their own statistics
    with joblib.parallel_backend("loky"), pytest.warns(ConvergenceWarning):
        parallel = _search(n_jobs=N_WORKERS)
    np.testing.assert_array_equal(_scores(parallel), _scores(serial))
    assert parallel.best_params_ == serial.best_params_
    assert_workers_reuse_the_cache_and_run_one_thread(parallel)


@pytest.fixture
def environ_restored():
    """Puts os.environ back after the test: Dask's nanny writes its pre-spawn-environ
    (NUMBA_NUM_THREADS=1 here) into this process's environment, where any later
    Numba compilation in the test process would refuse it once Numba's threads run."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_dask_search_gives_exactly_the_serial_scores(serial, environ_restored):
    import dask
    from distributed import Client, LocalCluster

    # Dask's workers limit OpenMP and BLAS threads to one (its pre-spawn-environ);
    # Numba's are limited the same way, as the user guide shows
    environ = {"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": 1}
    with (
        dask.config.set(environ),
        LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
        joblib.parallel_backend("dask"),
        pytest.warns(ConvergenceWarning),
    ):
        distributed = _search(n_jobs=N_WORKERS)
    np.testing.assert_array_equal(_scores(distributed), _scores(serial))
    assert distributed.best_params_ == serial.best_params_
    assert_workers_reuse_the_cache_and_run_one_thread(distributed)
