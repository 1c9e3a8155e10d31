"""``python -m sklearn_rnn``: fit each cell on a small sequence task and print the scores."""

import time

import numpy as np

from . import GRUClassifier, LSTMClassifier, RNNClassifier


def main():
    """Fit the three cells on a noisy-wave task and print a table."""
    rng = np.random.RandomState(0)
    n, steps = 300, 30
    t = np.linspace(0, 2 * np.pi, steps)
    freq = rng.randint(0, 2, size=n)
    X = np.sin((1 + freq)[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    X += 0.3 * rng.normal(size=X.shape)
    train, test = slice(0, 200), slice(200, None)
    print(f"{'cell':<6}{'accuracy':>10}{'fit (s)':>10}")
    for name, est in [("rnn", RNNClassifier), ("lstm", LSTMClassifier), ("gru", GRUClassifier)]:
        start = time.perf_counter()
        model = est(hidden_layer_sizes=(16,), max_iter=60, random_state=0)
        model.fit(X[train], freq[train])
        elapsed = time.perf_counter() - start
        print(f"{name:<6}{model.score(X[test], freq[test]):>10.3f}{elapsed:>10.2f}")


if __name__ == "__main__":
    main()
