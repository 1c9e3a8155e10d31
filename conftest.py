"""Test-session setup shared by tests/ and the doctests of sklearn_rnn/."""

import os

# scikit-learn's array-API estimator check runs (with plain numpy) only when
# SciPy's array-API support is switched on, which must happen before SciPy is
# imported; without it that check is skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
