"""Compile, or load from the cache, every kernel before it is needed."""

import time

import numpy as np

from ._cells import CELLS
from ._network import Architecture, init_parameters, loss_and_gradients, predict_logits


def warmup(verbose=False):
    """Compile every kernel, or load it from Numba's cache, for all cells and both dtypes.

    The kernels are compiled the first time they run, for the dtype they run
    with (float32 or float64), and cached on disk: a first fit in a new
    environment pays the compilation of its cell (a few seconds a kernel), and
    every later process only loads it (well under a second). ``warmup`` does
    all of it at once: the three cells (RNN, LSTM, GRU), in float32 and float64,
    training and prediction.

    Call it once after installing, or before a parallel search
    (``GridSearchCV(n_jobs=k)``): otherwise each of its worker processes,
    starting with an empty cache, would compile the same kernels. Where the
    cache is off (a read-only install, see ``SKLEARN_RNN_DISABLE_NUMBA_CACHE``)
    it compiles them for the calling process only.

    Parameters
    ----------
    verbose : bool, default=False
        Print the time taken by each cell and dtype.

    Returns
    -------
    seconds : float
        Wall time taken: the compilation (first call) or the loading from the
        cache (later calls).

    Notes
    -----
    **Threads.** ``fit`` and ``predict`` split each batch into shards that run
    on ``numba.get_num_threads()`` threads: by default all the cores. Lower it
    with ``numba.set_num_threads(n)`` (for the calling thread) or the
    ``NUMBA_NUM_THREADS`` environment variable (for the process). joblib's
    process workers (``GridSearchCV(n_jobs=k)``) set ``NUMBA_NUM_THREADS`` to
    their share of the cores, so a search does not oversubscribe the machine.
    BLAS runs on one thread inside fit and predict. The shards depend on the
    batch size and the number of CPUs only, and their gradients are summed in
    a fixed order: the thread count does not change a single bit of the result.

    Examples
    --------
    >>> import sklearn_rnn
    >>> seconds = sklearn_rnn.warmup()
    >>> sklearn_rnn.warmup() < 10  # done: nothing left to compile or load
    True
    """
    start = time.perf_counter()
    rng = np.random.RandomState(0)
    for cell in CELLS:
        for dtype in (np.float64, np.float32):
            t0 = time.perf_counter()
            # 2 layers, both directions: both kernels (forward, backward) run
            # once with the argument types the network uses.
            arch = Architecture(
                cell=cell, n_features=2, hidden_sizes=(2, 2), n_outputs=1, bidirectional=True
            )
            params = init_parameters(arch, rng, dtype)
            X = rng.normal(size=(3, 4, 2)).astype(dtype)
            lengths = np.array([4, 3, 2])
            loss_and_gradients(params, arch, X, lengths, np.ones((3, 1), dtype), "squared_error")
            predict_logits(params, arch, X, lengths)
            one_way = Architecture(cell=cell, n_features=2, hidden_sizes=(2,), n_outputs=1)
            predict_logits(init_parameters(one_way, rng, dtype), one_way, X, lengths)
            if verbose:
                print(f"{cell} {np.dtype(dtype).name}: {time.perf_counter() - t0:.1f} s")
    return time.perf_counter() - start
