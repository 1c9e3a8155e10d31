"""Threads: how many, and how the network's batch shards run on them.

sklearn-rnn uses Numba's thread count, ``numba.get_num_threads()``, for its own
threads: by default every core (``NUMBA_NUM_THREADS``, which Numba sets to the
number of CPUs); ``numba.set_num_threads(n)`` lowers it for the calling thread,
and the ``NUMBA_NUM_THREADS`` environment variable for the process. joblib's
process workers (the default ``loky`` backend of ``GridSearchCV(n_jobs=k)``) set
``NUMBA_NUM_THREADS`` to their share of the cores, so a search never
oversubscribes the machine. BLAS runs on one thread inside fit and predict (see
``_base._blas_limits``).

Results do not depend on the thread count: a batch is split into shards by its
size and the machine's number of CPUs alone (:func:`n_shards`), each shard is
computed the same way whichever thread runs it, and the shards' gradients are
summed in a fixed order. One thread computes the same numbers, bit for bit, as
many. (As with any BLAS, another machine may round differently.) Predict, whose
sequences are computed each alone, splits a big part into more chunks than
threads, so that a thread on a slower CPU takes fewer
(``_network._predict_chunks``).
"""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

#: Fewest sequences in a shard: below this, a shard's per-step products are too
#: small to be worth a thread (measured: per-step cost grows quickly below 32 rows).
MIN_ROWS = 32


def _max_shards():
    """The largest power of two up to the number of CPUs, at most 8.

    More shards than cores only make each shard's per-step products smaller
    (measured: 4 shards of 50 sequences train slower than 2 of 100 on 2 cores;
    again with each thread taking the next shard when done, on a machine whose
    two CPUs ran at uneven speeds, paired runs of 4 shards against 2: fit took
    1.18 of the time for the mid GRU and 1.04 for the large LSTM; predict 0.95
    for the small LSTM but 1.16 for the tiny RNN).
    """
    cpus = min(os.cpu_count() or 1, 8)
    shards = 1
    while shards * 2 <= cpus:
        shards *= 2
    return shards


#: Most shards a batch is split into: the machine's CPUs (a power of two, so that
#: 2, 4 or 8 threads balance), not the thread count, so that results do not
#: depend on it.
MAX_SHARDS = _max_shards()

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()
_blas = None


def n_threads():
    """Threads sklearn-rnn may use now: Numba's thread count for the calling thread."""
    try:
        import numba

        return max(1, int(numba.get_num_threads()))
    except Exception:  # no usable threading layer: one thread
        return 1


def n_shards(n_sequences):
    """Shards a batch of ``n_sequences`` is split into: depends on the size only."""
    shards = 1
    while shards * 2 <= MAX_SHARDS and n_sequences // (shards * 2) >= MIN_ROWS:
        shards *= 2
    return shards


def _executor():
    """The process's thread pool (made again after a fork, whose threads are gone)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=max(MAX_SHARDS, os.cpu_count() or 1),
                thread_name_prefix="sklearn_rnn",
            )
            _pool_pid = os.getpid()
        return _pool


def map_shards(function, items):
    """``[function(item) for item in items]``, on up to :func:`n_threads` threads.

    The kernels release the GIL, so shards run at once. Each thread takes the next
    item as soon as it is done with one (the calling thread too), so a slower CPU
    takes fewer; the results come back in the order of ``items``.
    """
    items = list(items)
    workers = min(len(items), n_threads())
    if workers <= 1:
        return [function(item) for item in items]
    results = [None] * len(items)
    taken = itertools.count()  # next() on it is atomic: each item goes to one thread

    def run():
        while (i := next(taken)) < len(items):
            results[i] = function(items[i])

    futures = [_executor().submit(run) for _ in range(1, workers)]
    try:
        run()
    finally:
        wait(futures)  # no thread is left writing results when this returns
    for future in futures:
        future.result()  # an error in a thread raises here
    return results


def blas_limits():
    """Context manager that runs BLAS on one thread, then gives each library back
    the threads it had.

    The per-step products are small; OpenBLAS's threads cost more than they give
    there, and on a busy machine (a parallel search) they spin against each
    other. threadpoolctl's search for the loaded libraries costs milliseconds,
    so it is done once; SciPy's BLAS, the one the kernels call, is loaded first.
    Each call then only asks and sets the libraries' thread counts (3 us, where
    threadpoolctl's ``limit``, which also reads every library's version and
    architecture, took 21 us: a predict calls this once).
    """
    global _blas
    if _blas is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the kernels' BLAS)
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _OneThread(_blas)


class _OneThread:
    """Context manager: the given threadpoolctl library controllers on one thread."""

    def __init__(self, libraries):
        self._libraries = libraries
        self._restore = []

    def __enter__(self):
        for library in self._libraries:
            threads = library.get_num_threads()
            if threads not in (1, None):  # None: the library cannot tell
                self._restore.append((library, threads))
                library.set_num_threads(1)
        return self

    def __exit__(self, *exc_info):
        for library, threads in reversed(self._restore):
            library.set_num_threads(threads)
        self._restore = []
