"""sklearn-rnn against PyTorch on the CPU: fit and predict time, GFLOP/s, memory, compile cost.

Run from the project's root, with the ``bench`` extra installed (``pip install -e ".[bench]"``)::

    python benchmarks/bench.py            # the full run (about 10-15 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smaller data, one repeat (about 3 minutes)

Both sides run with the same number of threads (``--threads``, 2 by default:
``torch.set_num_threads`` for PyTorch, ``numba.set_num_threads`` for sklearn-rnn,
which is the package's thread control), the same data, architecture, batch size,
Adam settings and number of epochs. PyTorch runs the loop a user would write:
``nn.RNN/LSTM/GRU(batch_first=True)`` + ``nn.Linear``, binary cross-entropy on the
last step's output, ``torch.optim.Adam``, a fresh permutation every epoch. Our side
is the estimator with the same settings (``alpha=0``, no gradient clipping).
PyTorch also runs on one thread, as a reference that competing processes on a
shared machine disturb less (its spinning threads suffer most from them).

Times are medians over repeats (the machine may be shared; the predictions of a
configuration's last fits are timed in alternating blocks of back-to-back calls,
``PREDICT_ROUNDS``, both sides alike; the scaling table keeps each row's fastest of
``SCALING_ROUNDS`` rounds over all its rows, each measure lasting about as long);
ratios (ours / PyTorch) compare numbers measured in the same run. GFLOP/s counts the
matrix products of forward and backward that the computation needs (2 flops per
multiply-add; the input layer's dx is not needed and not counted; elementwise gate
math is not counted either), divided by the time of one epoch; the peak is the best
float32 GEMM (numpy's BLAS and torch.mm, 2048x2048) measured in the same run with
the same threads.
The products floor is our epoch's matrix products alone, computed as our kernels
compute them (the products with the weights by the tile kernel of
``sklearn_rnn._cells._gemm``, the parameter gradients by the BLAS that Numba calls;
each product timed on one thread, the batch's shards side by side): what limits
our fit where the gate math and Python are small; a fit ratio below ``floor /
torch`` cannot be reached without faster products.

A last table checks this run against the speed targets (``FIT32_TARGET`` and the
constants beside it): each ratio to 4 decimals, so that one printed as 0.50 in the
tables above is not mistaken for a hit when it is 0.503.

The tables are printed and written to ``benchmarks/results/bench-<time>.md``;
``--update-results`` also copies it to ``benchmarks/RESULTS.md``, the committed
copy that the README quotes.
"""

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# name, cell, n_samples, n_steps, n_features, hidden, layers, batch
CONFIGS = [
    ("tiny RNN", "rnn", 4000, 24, 1, 16, 1, 32),
    ("small LSTM", "lstm", 4000, 50, 1, 32, 1, 64),
    ("mid GRU", "gru", 2000, 100, 8, 64, 1, 128),
    ("large LSTM x2", "lstm", 1000, 100, 3, 128, 2, 200),
]
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
#: The speed targets (ours / PyTorch, at most): fit and predict in float32 per
#: configuration, and fit in float64 where one is set.
FIT32_TARGET = {"tiny RNN": 0.5, "small LSTM": 0.5, "mid GRU": 0.5, "large LSTM x2": 0.5}
PREDICT32_TARGET = {"tiny RNN": 0.5, "small LSTM": 0.5, "mid GRU": 1.0, "large LSTM x2": 1.0}
FIT64_TARGET = {"mid GRU": 1.0, "large LSTM x2": 1.0}
#: Share of the float32 GEMM peak the large configuration trains at (at least).
GEMM_SHARE_TARGET = 0.25
#: Wall seconds of the compile script with an empty and a warm cache (at most).
COLD_TARGET, WARM_TARGET = 30.0, 3.0
#: Largest change of the time per sample-step counted as linear, between the two
#: longest sequence lengths and the two largest sample counts of the scaling table.
LINEAR_TOLERANCE = 0.25
#: Largest growth of predict's peak memory from the shortest sequences of the
#: scaling table to the longest (100 times longer) counted as not growing with T:
#: fractions of a megabyte, which the resident set size measures to a few pages.
PREDICT_MEMORY_GROWTH = 2.0
#: Predictions timed after each fit of the scaling table (median).
PREDICT_REPEATS = 3
#: The configurations' predictions: rounds of blocks, one block a side (ours,
#: PyTorch's on the run's threads, PyTorch's on one thread), each of back-to-back
#: calls for at least ``PREDICT_BLOCK_SECONDS`` (and ``PREDICT_BLOCK_CALLS``),
#: the sides' order reversed every other round; each side's time is the median
#: of all its calls. A prediction takes milliseconds, and this machine's CPUs
#: change speed for seconds at a time: three calls after each side's fit, seconds
#: apart, fell at different speeds (the tiny prediction's ratio ranged 0.39-0.61
#: over five runs), where blocks a quarter of a second apart sample the same ones
#: (0.50-0.58 over four runs).
#: Back-to-back calls run each side in its steady state: a call after the other
#: side's, or after a pause, is slower (PyTorch's OpenMP threads still spin for a
#: while, an idle CPU wakes up slowly); the median leaves out a block's first.
PREDICT_ROUNDS = 4
PREDICT_BLOCK_SECONDS = 0.25
PREDICT_BLOCK_CALLS = 5


# ----------------------------------------------------------------------------- helpers


def make_data(n, steps, features, dtype, seed=0):
    """Random sequences; the label is whether the first feature's mean is positive."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, steps, features)).astype(dtype)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    return X, y


def activations_mb(cell, sequences, steps, hidden, layers, itemsize):
    """MB of what the backward pass needs of ``sequences`` sequences: the hidden
    states, and for the LSTM and GRU the gates and the cell state or GRU part."""
    width = 1 if cell == "rnn" else N_GATES[cell] + 2  # hs (+ gates, extra)
    return sequences * steps * width * hidden * layers * itemsize / 2**20


def flops_per_epoch(cell, n, steps, features, hidden, layers):
    """Multiply-adds x 2 of the matrix products of one epoch of forward + backward."""
    g = N_GATES[cell] * hidden
    total = 0
    for layer in range(layers):
        n_in = features if layer == 0 else hidden
        forward = 2 * g * (n_in + hidden)  # input projection, recurrent product
        backward = 2 * g * hidden * 2  # dh through W_hh, dW_hh
        backward += 2 * g * n_in * (1 if layer == 0 else 2)  # dW_ih (+ dx above layer 0)
        total += forward + backward
    return total * n * steps


def epoch_products(cell, n, steps, features, hidden, layers, batch, threads, itemsize):
    """The matrix products one epoch of our fit makes: [(count, a, b, transpose_a)].

    Per batch, the products of the batch's largest shard, once per wave of shards
    on ``threads`` threads (the shards of a wave run at once). Per layer: every
    step's forward pre-activations (the RNN and the LSTM: one product of [x, h]
    @ [W_ih.T; W_hh.T], of x alone at the first step; the GRU: x @ W_ih.T, and h
    @ W_hh.T after the first step), the backward d @ W_hh of every step but the
    first; and per chunk of ``gradient_chunk`` steps of the backward, dW_hh (over
    the chunk's steps that have a previous one), dW_ih, and dx above the first
    layer. Each entry: how many such products the epoch makes, the shapes of a
    and b, and whether the product is a.T @ b.
    """
    from sklearn_rnn._cells._layer import gradient_chunk
    from sklearn_rnn._parallel import n_shards

    g = N_GATES[cell] * hidden
    sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    products = []
    for size in sorted(set(sizes)):
        count = sizes.count(size)
        shards = n_shards(size)
        count *= -(-shards // threads)  # waves of shards
        b = -(-size // shards)  # the largest shard
        chunk = gradient_chunk(steps, b, g, itemsize)
        # steps per chunk of the backward, and those with a previous step (dW_hh):
        # the pass's first step (the last chunk) has none
        chunks = [min(chunk, steps - s0) for s0 in range(0, steps, chunk)]
        with_previous = chunks[:-1] + [chunks[-1] - 1]
        for layer in range(layers):
            n_in = features if layer == 0 else hidden
            if cell == "gru":  # the candidate needs the input and hidden sides apart
                products += [
                    (count * steps, (b, n_in), (n_in, g), False),
                    (count * (steps - 1), (b, hidden), (hidden, g), False),
                ]
            else:
                products += [
                    (count * (steps - 1), (b, n_in + hidden), (n_in + hidden, g), False),
                    (count, (b, n_in), (n_in, g), False),
                ]
            products.append((count * (steps - 1), (b, g), (g, hidden), False))  # d @ W_hh
            for m in sorted(set(chunks)):
                k = chunks.count(m)
                products.append((count * k, (m * b, g), (m * b, n_in), True))  # dW_ih
                if layer > 0:
                    products.append((count * k, (m * b, g), (g, n_in), False))  # dx
            for m in sorted(set(with_previous) - {0}):
                k = with_previous.count(m)
                products.append((count * k, (m * b, g), (m * b, hidden), True))  # dW_hh
    return products


@functools.cache
def _repeated_products():
    """``(dots, tiles, pack)``, each product made ``reps`` times as the kernels make
    it: ``dots(a, b, out, reps)`` by ``np.dot`` (the parameter gradients),
    ``tiles(a, packed_b, out, reps)`` by the tile kernel (the products with the
    weights), ``pack(b)`` packing b for it once, as a pass does."""
    from numba import njit

    from sklearn_rnn._cells._gemm import matmul, packed
    from sklearn_rnn._config import JIT_OPTIONS

    options = dict(JIT_OPTIONS, cache=False)

    @njit(**options)
    def dots(a, b, out, reps):
        for _ in range(reps):
            np.dot(a, b, out)

    @njit(**options)
    def tiles(a, packed_b, out, reps):
        for _ in range(reps):
            matmul(a, packed_b, out)

    @njit(**options)
    def pack(b):
        return packed(b[:, :])

    return dots, tiles, pack


def products_floor(cell, n, steps, features, hidden, layers, batch, dtype, threads):
    """Seconds per epoch of our fit's matrix products alone, each timed on one thread.

    The same calls the kernels make on the same shapes (:func:`epoch_products`):
    what our epoch would take if the shards ran on the threads with no loss and
    everything else (the gate math, Python, the optimizer, packing the weights)
    were free.
    """
    from threadpoolctl import threadpool_limits

    dots, tiles, pack = _repeated_products()
    rng = np.random.default_rng(0)
    total = 0.0
    with threadpool_limits(limits=1, user_api="blas"):
        for count, a_shape, b_shape, transpose in epoch_products(
            cell, n, steps, features, hidden, layers, batch, threads, np.dtype(dtype).itemsize
        ):
            a = rng.normal(size=a_shape).astype(dtype)
            a = a.T if transpose else a  # the gate gradients, stored (rows, G), transposed
            b = rng.normal(size=b_shape).astype(dtype)
            out = np.empty((a.shape[0], b.shape[1]), dtype)
            reps = max(1, min(count, 50))
            if transpose:  # a parameter gradient: BLAS
                call = functools.partial(dots, a, b, out, reps)
            else:  # a product with a weight matrix, b
                call = functools.partial(tiles, a, pack(b), out, reps)
            call()
            total += count * min(median_time(call, 1) for _ in range(3)) / reps
    return total


def cpu_description():
    """The processor: its model (from /proc/cpuinfo where there is one), the LLVM name
    Numba compiles for, and the vectors the products use (the ratios depend on them:
    PyTorch's CPU kernels and ours both run faster with AVX-512)."""
    import llvmlite.binding as llvm

    from sklearn_rnn._cells._gemm import vector_bytes

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0]
    except (OSError, IndexError):
        pass
    vectors = "AVX-512" if vector_bytes() == 64 else "AVX2 or narrower"
    return f"{model} ({llvm.get_host_cpu_name()}, {vectors})"


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_times(sides, rounds=PREDICT_ROUNDS):
    """Medians of calls timed in alternating blocks (see ``PREDICT_ROUNDS``).

    ``sides`` is a list of ``(call, before)``: ``before()`` readies a side (its
    thread count) before each of its blocks, untimed. Returns, for each side,
    the median over all its calls and the list of each round's median.
    """
    times = [[] for _ in sides]
    per_round = [[] for _ in sides]
    for r in range(rounds):
        order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
        for k in order:
            call, before = sides[k]
            before()
            block = []
            end = time.perf_counter() + PREDICT_BLOCK_SECONDS
            while len(block) < PREDICT_BLOCK_CALLS or time.perf_counter() < end:
                t0 = time.perf_counter()
                call()
                block.append(time.perf_counter() - t0)
            times[k] += block
            per_round[k].append(statistics.median(block))
    return [(statistics.median(t), r) for t, r in zip(times, per_round, strict=True)]


def set_threads(threads):
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)


def gemm_peak(threads, size=2048, repeats=5):
    """Best float32 GEMM GFLOP/s of numpy's BLAS and of torch.mm with ``threads`` threads."""
    import torch
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.normal(size=(size, size)).astype(np.float32)
    b = rng.normal(size=(size, size)).astype(np.float32)
    flops = 2 * size**3
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b
        t_np = min(median_time(lambda: a @ b, 1) for _ in range(repeats))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ta @ tb
    t_torch = min(median_time(lambda: ta @ tb, 1) for _ in range(repeats))
    return flops / t_np / 1e9, flops / t_torch / 1e9


# ----------------------------------------------------------------------------- the two sides


def our_estimator(cell, hidden, layers, batch, epochs, dtype_seed=0):
    from sklearn_rnn import RecurrentClassifier

    return RecurrentClassifier(
        cell=cell,
        hidden_layer_sizes=(hidden,) * layers,
        batch_size=batch,
        max_iter=epochs,
        learning_rate_init=1e-3,
        alpha=0.0,
        max_grad_norm=None,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=dtype_seed,
    )


def our_fit(X, y, cell, hidden, layers, batch, epochs):
    """Seconds per epoch of our fit, and a call that predicts the whole of X."""
    from sklearn.exceptions import ConvergenceWarning

    est = our_estimator(cell, hidden, layers, batch, epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        t_fit = time.perf_counter() - t0
    return t_fit / epochs, lambda: est.predict_proba(X)


def our_fit_predict(X, y, cell, hidden, layers, batch, epochs):
    """Seconds per epoch of our fit, and the median of ``PREDICT_REPEATS`` predictions."""
    t_fit, predict = our_fit(X, y, cell, hidden, layers, batch, epochs)
    return t_fit, median_time(predict, PREDICT_REPEATS)


def torch_fit(X, y, cell, hidden, layers, batch, epochs):
    """Seconds per epoch of the PyTorch loop, and a call that predicts the whole of X."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    rnn = module(X.shape[2], hidden, layers, batch_first=True).to(dtype)
    head = nn.Linear(hidden, 1).to(dtype)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    tx = torch.from_numpy(X)
    ty = torch.from_numpy(y.astype(X.dtype))
    n = X.shape[0]
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            out, _ = rnn(tx[idx])
            loss = loss_fn(head(out[:, -1]).squeeze(1), ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    t_fit = time.perf_counter() - t0

    def predict():
        with torch.no_grad():
            out, _ = rnn(tx)
            torch.sigmoid(head(out[:, -1]))

    return t_fit / epochs, predict


def warm_kernels(cell, dtype, torch_too=False):
    """Compile or load the kernels so that no timing includes compilation (or first calls)."""
    X, y = make_data(16, 5, 2, dtype)
    our_fit_predict(X, y, cell, 3, 2, 8, 1)
    if torch_too:
        torch_fit(X, y, cell, 3, 2, 8, 1)[1]()


# ----------------------------------------------------------------------------- child processes

_PEAK_SCRIPT = """
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {here!r})
import bench
args = json.loads(sys.argv[1])
import numba
numba.set_num_threads(args["threads"])
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

def rss_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

dtype = np.dtype(args["dtype"])
X, y = bench.make_data(args["n"], args["steps"], args["features"], dtype)
bench.warm_kernels(args["cell"], dtype)
est = bench.our_estimator(args["cell"], args["hidden"], args["layers"], args["batch"], 1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args["what"] == "fit":
        reset_peak(); base = rss_kb("VmRSS")
        est.fit(X, y)
    else:  # a model fitted on a few short sequences, then predict on all of X
        est.fit(X[:4, :3], y[:4])
        reset_peak(); base = rss_kb("VmRSS")
        est.predict_proba(X)
peak = rss_kb("VmHWM") - base
print(peak / 1024)
"""


def peak_memory(cell, n, steps, features, hidden, layers, batch, dtype, threads):
    """Peak RSS above the baseline during one fit epoch, and one predict, in MB."""
    args = dict(
        cell=cell,
        n=n,
        steps=steps,
        features=features,
        hidden=hidden,
        layers=layers,
        batch=batch,
        dtype=np.dtype(dtype).name,
        threads=threads,
    )
    script = _PEAK_SCRIPT.format(here=str(HERE))
    result = {}
    for what in ("fit", "predict"):  # each in a fresh process: freed memory stays resident
        out = subprocess.run(
            [sys.executable, "-c", script, json.dumps(dict(args, what=what))],
            capture_output=True,
            text=True,
            check=True,
        )
        result[f"{what}_mb"] = float(out.stdout.strip().splitlines()[-1])
    return result


_COMPILE_SCRIPT = """
import time
t0 = time.perf_counter()
import warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn_rnn import GRUClassifier, LSTMClassifier, RNNClassifier
t_import = time.perf_counter() - t0
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 12, 2))
y = np.arange(40) % 2
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for cls, dtype in [(RNNClassifier, np.float64), (LSTMClassifier, np.float64),
                       (GRUClassifier, np.float64), (GRUClassifier, np.float32)]:
        cls(hidden_layer_sizes=(4,), max_iter=1).fit(X.astype(dtype), y).predict(X.astype(dtype))
print(t_import, time.perf_counter() - t0)
"""


#: Rounds over the rows of the scaling table (each row keeps its fastest).
SCALING_ROUNDS = 5

#: Runs timed (median) with an empty cache, each in a new cache directory: tens
#: of seconds each, and the machine's speed drifts by a third between minutes.
COLD_REPEATS = 3

#: Warm-cache runs timed (median): a few seconds each, noisy.
COMPILE_REPEATS = 5


def _timed_process(code, env=None):
    """Wall time of a fresh ``python -c code``, and what it printed."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - t0, out.stdout


def compile_cost(cold_repeats=COLD_REPEATS):
    """Fresh processes that fit and predict 3 cells + a float32 GRU, and a reference.

    Returns {"cold": ..., "warm": ..., "reference": ...}: for the first two (an
    empty cache, then the cache it filled) the wall time, the import time and the
    time in the script (import + fits) as the script measured them, of the run
    with the median wall time; the reference is the median wall time of a
    process that only imports ``sklearn.base``, which any scikit-learn estimator
    costs, run once after each of the others (the machine's speed drifts).
    """
    results = {}
    # Python's default: bytecode is cached, as pip caches it for an installed
    # package. (With PYTHONDONTWRITEBYTECODE set, as in some sandboxes, every run
    # would compile sklearn-rnn's modules from source again: 0.15 s measured.)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("SKLEARN_RNN_DISABLE_NUMBA_CACHE", None)
    cold, warm, reference = [], [], []
    with tempfile.TemporaryDirectory() as root:
        for k in range(cold_repeats):
            env["NUMBA_CACHE_DIR"] = os.path.join(root, f"cache{k}")
            cold.append(_timed_process(_COMPILE_SCRIPT, env))
            reference.append(_timed_process("import sklearn.base", env)[0])
        for _ in range(COMPILE_REPEATS):  # from the last cache the cold runs filled
            warm.append(_timed_process(_COMPILE_SCRIPT, env))
            reference.append(_timed_process("import sklearn.base", env)[0])
    for name, part in (("cold", cold), ("warm", warm)):
        wall, stdout = sorted(part)[len(part) // 2]
        t_import, t_script = (float(v) for v in stdout.split())
        results[name] = (wall, t_import, t_script)
    results["reference"] = statistics.median(reference)
    return results


# ----------------------------------------------------------------------------- the run


def _spread(ratios):
    """`` (lo-hi)``: the range of the ratios of the repeats (or the rounds), each
    ours / PyTorch's timed one after the other (empty for one)."""
    if len(ratios) < 2:
        return ""
    return f" ({min(ratios):.2f}-{max(ratios):.2f})"


def fmt(v, digits=3):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}"


def target_rows(measured):
    """The "Targets" table: one row per target that this run measured.

    ``measured`` holds what the sections recorded: ``fit`` and ``predict`` ratios
    by (config, dtype name), ``gemm_share``, ``scaling`` rows (n, T, µs per
    sample-step, fit peak MB, predict peak MB, the whole data set's activations
    MB), and the ``cold`` and ``warm`` wall seconds.
    """
    rows = []

    def row(what, value, shown, limit, at_most=True, percent=False):
        met = value <= limit if at_most else value >= limit
        bound = f"{'≤' if at_most else '≥'} {f'{limit:.0%}' if percent else f'{limit:g}'}"
        rows.append(f"| {what} | {shown} | {bound} | {'yes' if met else '**no**'} |")

    for kind, dtype, limits in (
        ("fit", "float32", FIT32_TARGET),
        ("predict", "float32", PREDICT32_TARGET),
        ("fit", "float64", FIT64_TARGET),
    ):
        for name, limit in limits.items():
            ratio = measured.get(kind, {}).get((name, dtype))
            if ratio is not None:
                row(f"{kind}, {name}, {dtype}", ratio, f"{ratio:.4f}", limit)
    if "gemm_share" in measured:
        share = measured["gemm_share"]
        row("fit, large LSTM x2, float32: share of the GEMM peak", share, f"{share:.1%}",
            GEMM_SHARE_TARGET, at_most=False, percent=True)  # fmt: skip
    scaling = measured.get("scaling")
    if scaling:
        # the lengths grow at the first row's n, the sample counts at the last row's T
        by_t = [r for r in scaling if r[0] == scaling[0][0]]
        by_n = [r for r in scaling if r[1] == scaling[-1][1]]
        for label, index, (a, b) in (("T", 1, by_t[-2:]), ("n_samples", 0, by_n[-2:])):
            change = b[2] / a[2] - 1
            row(f"time per sample-step, {label} {a[index]} to {b[index]}", abs(change),
                f"{change:+.0%}", LINEAR_TOLERANCE, percent=True)  # fmt: skip
        n, steps, _, fit_mb, _, whole_mb = by_t[-1]
        row(f"fit peak, T={steps}, n={n} / the whole data set's activations",
            fit_mb / whole_mb, f"{fit_mb:.0f} / {whole_mb:.0f} MB", 1.0)  # fmt: skip
        shortest = by_t[0]
        growth = max(r[4] for r in by_t) / shortest[4]
        row(f"predict peak, largest over T={shortest[1]} to {steps} / at T={shortest[1]}",
            growth, f"{growth:.2f}", PREDICT_MEMORY_GROWTH)  # fmt: skip
    for name, label, limit in (("cold", "empty", COLD_TARGET), ("warm", "warm", WARM_TARGET)):
        if name in measured:
            row(f"first fit + predict, {label} cache: wall s", measured[name],
                f"{measured[name]:.1f}", limit)  # fmt: skip
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one repeat")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--update-results", action="store_true", help="also write benchmarks/RESULTS.md"
    )
    parser.add_argument(
        "--skip", default="", help="comma list of sections to skip: configs,memory,scaling,compile"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    repeats = args.repeats or (1 if args.quick else 3)
    scale = 4 if args.quick else 1
    epochs = 1 if args.quick else 2

    import numba
    import torch

    import sklearn_rnn

    set_threads(args.threads)
    lines = []
    measured = {"fit": {}, "predict": {}}

    def out(line=""):
        print(line, flush=True)
        lines.append(line)

    out(f"# sklearn-rnn vs PyTorch, CPU ({'quick' if args.quick else 'full'} run)")
    out()
    out(
        f"`python benchmarks/bench.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}: {cpu_description()}, "
        f"{os.cpu_count()} CPUs, {args.threads} threads on both sides; sklearn-rnn "
        f"{sklearn_rnn.__version__}, numba {numba.__version__}, torch {torch.__version__}, "
        f"numpy {np.__version__}. Medians of {repeats} repeat(s); {epochs} epoch(s) per fit "
        f"(time per epoch); data sizes divided by {scale}. *load* is the machine's 1-minute "
        "load average after the row (2 cores: above ~2, other processes competed for them, "
        "which slows PyTorch's spinning threads more than ours)."
    )
    out()
    peak_np, peak_torch = gemm_peak(args.threads)
    peak = max(peak_np, peak_torch)
    out(
        f"float32 GEMM peak (2048x2048, {args.threads} threads): numpy/OpenBLAS "
        f"{peak_np:.0f} GFLOP/s, torch {peak_torch:.0f} GFLOP/s; peak = {peak:.0f} GFLOP/s."
    )
    out()

    if "configs" not in skip:
        out("## Fit (per epoch) and predict (whole training set)")
        out()
        out(
            "| config | dtype | fit ours s | fit torch s | **fit ratio** | fit torch 1 thread s "
            "| predict ours s | predict torch s | **predict ratio** | predict torch 1 thread s "
            "| GFLOP/s ours | % of peak | GFLOP/s torch | products floor s | floor / torch | load |"
        )
        out("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name, cell, n, steps, feats, hidden, layers, batch in CONFIGS:
            n = n // scale
            for dtype in (np.float32, np.float64):
                X, y = make_data(n, steps, feats, dtype)
                warm_kernels(cell, dtype, torch_too=True)
                ours, theirs, single = [], [], []
                for _ in range(repeats):
                    ours.append(our_fit(X, y, cell, hidden, layers, batch, epochs))
                    theirs.append(torch_fit(X, y, cell, hidden, layers, batch, epochs))
                    torch.set_num_threads(1)  # a reference that a busy machine hurts less
                    single.append(torch_fit(X, y, cell, hidden, layers, batch, epochs))
                    torch.set_num_threads(args.threads)
                fo, ft, f1 = (
                    statistics.median([f for f, _ in side]) for side in (ours, theirs, single)
                )
                fit_spread = _spread([o[0] / t[0] for o, t in zip(ours, theirs, strict=True)])
                # the last fits' predictions, in alternating blocks
                (po, ours_rounds), (pt, theirs_rounds), (p1, _) = interleaved_times(
                    [
                        (ours[-1][1], lambda: None),
                        (theirs[-1][1], lambda: torch.set_num_threads(args.threads)),
                        (single[-1][1], lambda: torch.set_num_threads(1)),
                    ]
                )
                torch.set_num_threads(args.threads)
                predict_spread = _spread(
                    [o / t for o, t in zip(ours_rounds, theirs_rounds, strict=True)]
                )
                flops = flops_per_epoch(cell, n, steps, feats, hidden, layers)
                floor = products_floor(
                    cell, n, steps, feats, hidden, layers, batch, dtype, args.threads
                )
                # the peak again, in case the first measure caught a busy moment
                peak = max(peak, *gemm_peak(args.threads, repeats=2))
                measured["fit"][(name, np.dtype(dtype).name)] = fo / ft
                measured["predict"][(name, np.dtype(dtype).name)] = po / pt
                if name == CONFIGS[-1][0] and dtype is np.float32:
                    measured["gemm_share"] = flops / fo / 1e9 / peak
                out(
                    f"| {name} (n={n}, T={steps}, F={feats}, H={hidden}, batch {batch}) "
                    f"| {np.dtype(dtype).name} | {fmt(fo)} | {fmt(ft)} "
                    f"| **{fo / ft:.2f}**{fit_spread} "
                    f"| {fmt(f1)} | {fmt(po)} | {fmt(pt)} | **{po / pt:.2f}**{predict_spread} "
                    f"| {fmt(p1)} "
                    f"| {fmt(flops / fo / 1e9)} | {100 * flops / fo / 1e9 / peak:.1f}% "
                    f"| {fmt(flops / ft / 1e9)} | {fmt(floor)} | {floor / ft:.2f} "
                    f"| {os.getloadavg()[0]:.1f} |"
                )
        out()
        out(
            "Ratios: of the medians. Fit: medians of the repeats; in brackets, the range of "
            "the repeats' own ratios (each repeat fits ours, then PyTorch's). Predict: the "
            f"last fits' models, {PREDICT_ROUNDS} rounds of blocks of back-to-back calls "
            f"(at least {PREDICT_BLOCK_SECONDS} s a side, the sides' order reversed every "
            "other round), the median of all of a side's calls; in brackets, the range of "
            "the rounds' ratios. The ranges show how much the machine moved during the row. "
            f"% of peak: of the best float32 GEMM measured up to that row ({peak:.0f} GFLOP/s "
            "at the end)."
        )
        out()

    if "memory" not in skip:
        out("## Peak memory of sklearn-rnn (RSS above the baseline, MB)")
        out()
        out(
            "One batch's activations = batch x T x (G + 2) H x layers x itemsize "
            "(RNN: 1, its hidden states only): what the backward pass needs (hidden "
            "states, gates, cell state or GRU part); the backward adds the gate gradients "
            "(G H per step) of one layer at a time. Each measure is the peak resident "
            "memory above the baseline, in a fresh process."
        )
        out()
        out(
            "| config | dtype | fit peak MB | one batch's activations MB | data MB "
            "| predict peak MB |"
        )
        out("|---|---|---|---|---|---|")
        for name, cell, n, steps, feats, hidden, layers, batch in CONFIGS:
            n = n // scale
            for dtype in (np.float32, np.float64):
                mem = peak_memory(cell, n, steps, feats, hidden, layers, batch, dtype, args.threads)
                item = np.dtype(dtype).itemsize
                acts = activations_mb(cell, batch, steps, hidden, layers, item)
                data = n * steps * feats * item / 2**20
                out(
                    f"| {name} | {np.dtype(dtype).name} | {fmt(mem['fit_mb'])} | {fmt(acts)} "
                    f"| {fmt(data)} | {fmt(mem['predict_mb'])} |"
                )
        out()

    if "scaling" not in skip:
        out("## Scaling (LSTM, F=1, H=32, batch 64, float32)")
        out()
        out(
            "| n_samples | T | fit s/epoch | µs per sample-step | predict s | fit peak MB "
            "| predict peak MB |"
        )
        out("|---|---|---|---|---|---|---|")
        warm_kernels("lstm", np.float32)
        runs = [(128, 100), (128, 1000), (128, 10000)]
        runs += [(1000 // scale, 50), (4000 // scale, 50), (16000 // scale, 50)]
        data = {run: make_data(*run, 1, np.float32) for run in runs}
        rounds = 1 if args.quick else SCALING_ROUNDS
        # Fits of as many epochs as the configurations' (a fit's first epoch also pays
        # for the first touch of its buffers). Each measure of a row fits it as many
        # times as make about the work of the largest row's fit, so that every
        # measure lasts about as long: the machine's speed varies from second to
        # second (a 0.07 s fit of T=1000 measured 0.46 to 0.86 µs per sample-step
        # over 3 rounds in one process), and a short measure is more likely than a
        # long one to fall in a quiet moment.
        largest = max(n * steps for n, steps in runs)
        fits = {(n, steps): max(1, round(largest / (n * steps))) for n, steps in runs}
        times = {run: [] for run in runs}
        # round after round over all the rows, not each row's measures in a row: the
        # speed also drifts over the section, and its checks compare rows. The work
        # is the same in every round and interference only adds to its time, so each
        # row keeps its fastest round.
        for _ in range(rounds):
            for run in runs:
                fit, pred = zip(
                    *(
                        our_fit_predict(*data[run], "lstm", 32, 1, 64, epochs)
                        for _ in range(fits[run])
                    ),
                    strict=True,
                )
                times[run].append((statistics.mean(fit), statistics.median(pred)))
        for n, steps in runs:
            fit, pred = (min(t) for t in zip(*times[n, steps], strict=True))
            mem = peak_memory("lstm", n, steps, 1, 32, 1, 64, np.float32, args.threads)
            whole = activations_mb("lstm", n, steps, 32, 1, 4)  # every sequence's
            measured.setdefault("scaling", []).append(
                (n, steps, fit / (n * steps) * 1e6, mem["fit_mb"], mem["predict_mb"], whole)
            )
            out(
                f"| {n} | {steps} | {fmt(fit)} | {fmt(fit / (n * steps) * 1e6)} | {fmt(pred)} "
                f"| {fmt(mem['fit_mb'])} | {fmt(mem['predict_mb'])} |"
            )
        out()
        out(
            f"Times: per epoch, {epochs} per fit; each row's fastest of {rounds} round(s) over "
            "all the rows, a row's measure being the mean of as many fits as make about the "
            "work of the largest row's fit. Memory: each figure in a fresh process."
        )
        out()

    if "compile" not in skip:
        out(
            "## Compilation (fresh process: import + fit + predict of RNN, LSTM, GRU float64 "
            "and GRU float32)"
        )
        out()
        cold_repeats = 1 if args.quick else COLD_REPEATS
        cost = compile_cost(cold_repeats)
        out(
            "| cache | wall s | of which import s | of which in the script s "
            '(import + fits) | wall s of `python -c "import sklearn.base"` |'
        )
        out("|---|---|---|---|---|")
        for name, label in (("cold", "empty NUMBA_CACHE_DIR"), ("warm", "warm")):
            wall, t_import, t_script = cost[name]
            measured[name] = wall
            out(
                f"| {label} | {wall:.1f} | {t_import:.2f} | {t_script:.2f} "
                f"| {cost['reference']:.2f} |"
            )
        out()
        out(
            "Wall: the whole process, interpreter start and exit included (medians of "
            f"{cold_repeats} run(s) with an empty cache, {COMPILE_REPEATS} with the warm "
            "cache, and the reference run after each of them). The reference is what "
            "importing scikit-learn's estimator base costs any estimator here."
        )
        out()

    rows = target_rows(measured)
    if rows:
        out("## Targets")
        out()
        out("| target | this run | target | met |")
        out("|---|---|---|---|")
        for line in rows:
            out(line)
        out()
        out(
            "Ratios are ours / PyTorch (the medians above), to 4 decimals. Linear: the "
            "time per sample-step changes by at most "
            f"{LINEAR_TOLERANCE:.0%} between the two longest sequence lengths and between the "
            "two largest sample counts of the scaling table (the shorter runs carry a fixed "
            "cost per batch); memory: the fit holds less than the whole data set's "
            f"activations, and predict's peak grows by less than {PREDICT_MEMORY_GROWTH:g} "
            "times while T grows 100 times."
        )
        out()

    text = "\n".join(lines) + "\n"
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"bench-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.md"
    path.write_text(text)
    print(f"written to {path}")
    if args.update_results:
        (HERE / "RESULTS.md").write_text(text)
        print(f"written to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
