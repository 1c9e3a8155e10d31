"""Fixed fits whose results must not depend on where or how they run.

Used in-process by the determinism and install tests, and as the script those
tests run in subprocesses::

    python tests/_reference_fit.py OUT.npz CELL[,CELL...] DTYPE[,DTYPE...]

The script fits the models, saves every weight and prediction to ``OUT.npz`` and
prints one JSON line describing the process: the package file it imported,
whether the Numba cache was on, the warnings raised at import, the number of
kernel signatures loaded from the cache and compiled (Numba's dispatcher
statistics), whether Numba's compiler and its array implementations were set
up, and the thread counts seen inside ``fit``.
"""

import json
import sys
import warnings


def reference_data(seed=0):
    """192 ragged sequences of lengths 2 to 9 with 3 features, labels and two targets."""
    import numpy as np

    rng = np.random.RandomState(seed)
    lengths = rng.randint(2, 10, size=192)
    X = [rng.normal(size=(n, 3)) for n in lengths]
    labels = np.array([int(x[:, 0].sum() > 0) + int(x[:, 1].mean() > 0.3) for x in X])
    targets = np.array([[x[-1, 0], x[:, 2].mean()] for x in X])
    return X, labels, targets


def reference_arrays(cells=("rnn", "lstm", "gru"), dtypes=("float64", "float32")):
    """Fit the reference models; return their weights and predictions by name."""
    import numpy as np

    from sklearn_rnn import RecurrentClassifier, RecurrentRegressor

    X, labels, targets = reference_data()
    # every code path that could depend on the process: 2 stacked bidirectional
    # layers, dropout and shuffling drawn from random_state, mean pooling, sequences
    # of different lengths, both solvers, and batches of 128 and 64 sequences, large
    # enough to be split into shards for several threads; layers wide enough that
    # the gate loops run their vector bodies, where a compiled and a cached kernel
    # once rounded differently (see sklearn_rnn._config.FASTMATH_FLAGS)
    common = dict(
        hidden_layer_sizes=(16, 8),
        bidirectional=True,
        dropout=0.2,
        batch_size=128,
        max_iter=3,
        random_state=7,
    )
    out = {}
    for dtype in dtypes:
        Xd = [x.astype(dtype) for x in X]
        for cell in cells:
            models = {
                "clf": RecurrentClassifier(cell=cell, pooling="mean", **common).fit(Xd, labels),
                "reg": RecurrentRegressor(cell=cell, solver="sgd", **common).fit(Xd, targets),
            }
            for kind, est in models.items():
                prefix = f"{dtype}/{cell}/{kind}"
                for name, value in est.weights_.items():
                    out[f"{prefix}/{name}"] = value
                out[f"{prefix}/predict"] = est.predict(Xd)
                if kind == "clf":
                    out[f"{prefix}/proba"] = est.predict_proba(Xd)
                out[f"{prefix}/loss_curve"] = np.array(est.loss_curve_)
    return out


def kernel_cache_stats():
    """Signatures of the cell kernels loaded from Numba's cache, and compiled."""
    from numba.core.dispatcher import Dispatcher

    from sklearn_rnn._cells import CELLS

    hits = misses = 0
    for module in CELLS.values():
        for value in vars(module).values():
            if isinstance(value, Dispatcher):
                hits += sum(value.stats.cache_hits.values())
                misses += sum(value.stats.cache_misses.values())
    return {"cache_hits": hits, "cache_misses": misses}


def kernel_bitcode_parsed():
    """Whether the code library of any cell kernel Python called holds its parsed bitcode."""
    from sklearn_rnn._cells import CELLS

    return any(
        result.library._shared_module is not None
        for module in CELLS.values()
        for kernel in (module.forward, module.backward)
        for result in kernel.overloads.values()
    )


def main(path, cells, dtypes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import sklearn_rnn
        from sklearn_rnn import _config
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        arrays = reference_arrays(cells, dtypes)
    np.savez(path, **arrays)
    report = {
        "file": sklearn_rnn.__file__,
        "cache": _config.CACHE,
        "import_warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        **kernel_cache_stats(),
        # imported when Numba sets up its compiler, which loading from the cache
        # skips (_config.KernelCache)
        "compiler_set_up": "numba.np.arraymath" in sys.modules,
        # imported to compile np.empty and the like, or to rebuild the environments
        # of those functions, which loading from the cache skips
        # (_config._environments_without_imports)
        "array_implementations_imported": "numba.np.arrayobj" in sys.modules,
        # a kernel's bitcode, parsed when Numba compiles it (to cache it) or loads
        # it, but not when it loads from its machine code alone
        # (_config._libraries_from_object_code)
        "kernel_bitcode_parsed": kernel_bitcode_parsed(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","))
