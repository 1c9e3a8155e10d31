"""Numba settings shared by every kernel.

One place for the compile options, as fast_hdbscan's ``variables.py`` and stumpy's
``config`` do: every ``@njit`` in the package names ``JIT_OPTIONS`` and none
hard-codes its own. Numba's cache does not notice a change here, so clear the
``__pycache__`` folders after editing this file.
"""

import os
import warnings

#: Environment variable that turns Numba's on-disk cache off (for read-only installs).
CACHE_ENV_VAR = "SKLEARN_RNN_DISABLE_NUMBA_CACHE"


def _probe():
    """A function that lives beside the kernels, to ask Numba where it would cache them."""


def _cache_location_available():
    """Whether Numba finds a writable place for the cache of a file in this package.

    Numba raises at decoration time (so at import) when it finds none, for
    example in a read-only install with no writable user cache directory.
    """
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # Numba's internals moved: let Numba decide
        return True
    try:
        FunctionCache(_probe)
    except RuntimeError:
        return False
    return True


def _cache_enabled():
    if os.environ.get(CACHE_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    if not _cache_location_available():
        warnings.warn(
            "sklearn_rnn: Numba finds no writable place for its compile cache (the package "
            "directory is read-only and so is the user cache directory), so the kernels will "
            "be compiled again in every process. Set NUMBA_CACHE_DIR to a writable directory "
            f"to cache them, or set {CACHE_ENV_VAR}=1 to silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


#: Whether kernels are cached on disk.
CACHE = _cache_enabled()

#: Fast-math flags. ``nnan`` and ``ninf`` are left out on purpose so that NaN and
#: inf checks keep working inside kernels.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: Options for every ``numba.njit`` in the package. ``error_model="numpy"`` lets
#: LLVM vectorize divisions (the Python error model adds a zero check per division).
JIT_OPTIONS = {
    "cache": CACHE,
    "nogil": True,
    "fastmath": set(FASTMATH_FLAGS),
    "error_model": "numpy",
}
