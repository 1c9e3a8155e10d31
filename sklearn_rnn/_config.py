"""Numba settings shared by every kernel.

One place for the compile options, as fast_hdbscan's ``variables.py`` and stumpy's
``config`` do: every ``@njit`` in the package names ``JIT_OPTIONS`` and none
hard-codes its own. Numba's cache does not notice a change here, so clear the
``__pycache__`` folders after editing this file.
"""

import os

#: Environment variable that turns Numba's on-disk cache off (for read-only installs).
CACHE_ENV_VAR = "SKLEARN_RNN_DISABLE_NUMBA_CACHE"

#: Whether kernels are cached on disk.
CACHE = os.environ.get(CACHE_ENV_VAR, "").strip().lower() not in {"1", "true", "yes", "on"}

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
