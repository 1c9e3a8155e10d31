"""Threads: results independent of the thread count, shards, joblib workers, warmup, memory."""

import os
import threading
import tracemalloc
import warnings

import numba
import numpy as np
import pytest
from joblib import Parallel, cpu_count, delayed
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import sklearn_rnn
from sklearn_rnn import GRURegressor, LSTMClassifier, _network, _parallel
from sklearn_rnn._cells import CELLS
from sklearn_rnn._network import Architecture, init_parameters, loss_and_gradients, predict_logits

needs_two_threads = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2, reason="needs NUMBA_NUM_THREADS >= 2"
)


def _ragged(n=150, steps=12, features=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, steps + 1, size=n)
    X = rng.normal(size=(n, steps, features)).astype(dtype)
    X[np.arange(steps)[None, :] >= lengths[:, None]] = np.nan
    y = (np.nansum(X[:, :, 0], axis=1) > 0).astype(int)
    return X, lengths, y


@pytest.fixture
def threads():
    """Set Numba's thread count for the test, and restore it after."""
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


def test_shards_depend_on_size_and_cpus_only(threads, monkeypatch):
    assert min(8, 2 ** int(np.log2(os.cpu_count()))) == _parallel.MAX_SHARDS
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 4)
    assert [_parallel.n_shards(n) for n in (1, 31, 63, 64, 127, 128, 200, 1024)] == [
        1, 1, 1, 2, 2, 4, 4, 4,
    ]  # fmt: skip
    threads(1)
    assert _parallel.n_shards(200) == 4


def test_map_shards_keeps_order_and_uses_the_threads(threads):
    names = []

    def work(i):
        names.append(threading.current_thread().name)
        return i * i

    threads(1)
    assert _parallel.map_shards(work, range(7)) == [i * i for i in range(7)]
    assert set(names) == {threading.current_thread().name}  # one thread: the caller's
    if numba.config.NUMBA_NUM_THREADS >= 2:
        threads(2)
        barrier = threading.Barrier(2, timeout=30)  # breaks unless both run at once

        def meet(i):
            barrier.wait()
            return i

        assert _parallel.map_shards(meet, range(4)) == [0, 1, 2, 3]


@needs_two_threads
def test_a_slow_thread_takes_fewer_shards(threads):
    """A thread takes the next shard when it is done with one: a thread on a slower
    CPU does less of the work instead of holding up the others."""
    import time

    caller = threading.current_thread().name
    names = []

    def work(i):
        names.append(threading.current_thread().name)
        time.sleep(0.3 if threading.current_thread().name == caller else 0.01)
        return i

    threads(2)
    assert _parallel.map_shards(work, range(8)) == list(range(8))
    assert names.count(caller) == 1  # 0.3 s, in which the other thread did the 7 others


@needs_two_threads
def test_an_error_in_a_shard_raises_after_every_shard_ended(threads):
    ended = []

    def work(i):
        if i == 3:
            raise ArithmeticError("shard 3")
        ended.append(i)
        return i

    threads(2)
    with pytest.raises(ArithmeticError, match="shard 3"):
        _parallel.map_shards(work, range(6))
    assert sorted(ended) == [0, 1, 2, 4, 5]  # the other thread took the rest


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sharded_batch_equals_one_piece(cell, monkeypatch):
    """Shards change only the rounding: loss and gradients agree with the unsharded batch."""
    X, lengths, y = _ragged(n=130)
    arch = Architecture(cell=cell, n_features=3, hidden_sizes=(5, 4), n_outputs=1,
                        bidirectional=True, pooling="mean")  # fmt: skip
    params = init_parameters(arch, np.random.RandomState(0), np.float64)
    Y = y[:, None].astype(float)
    sharded = loss_and_gradients(params, arch, X, lengths, Y, "binary_log_loss", dropout=0.2,
                                 random_state=np.random.RandomState(3))  # fmt: skip
    logits = predict_logits(params, arch, X, lengths)
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 1)
    assert _parallel.n_shards(130) == 1
    whole = loss_and_gradients(params, arch, X, lengths, Y, "binary_log_loss", dropout=0.2,
                               random_state=np.random.RandomState(3))  # fmt: skip
    assert sharded[0] == pytest.approx(whole[0], rel=1e-13)
    for name in params:
        assert_allclose(sharded[1][name], whole[1][name], rtol=1e-11, atol=1e-14)
    assert_allclose(predict_logits(params, arch, X, lengths), logits, rtol=1e-12)


def test_predict_chunks(monkeypatch):
    """Predict's chunks cover the sorted sequences in order, each a range. A part
    of little work runs in fit's shards of equal steps; a big one in waves of
    as many chunks, with two thirds, a quarter, then a twelfth of the steps. The
    thread count plays no part."""
    arch = Architecture(cell="lstm", n_features=1, hidden_sizes=(32,), n_outputs=1)
    lengths = np.sort(np.random.RandomState(0).randint(1, 60, size=4000))[::-1]

    def covers(chunks, n):
        assert chunks[0][0] == 0
        assert chunks[-1][1] == n
        assert all(hi > lo for lo, hi in chunks)
        assert all(a[1] == b[0] for a, b in zip(chunks[:-1], chunks[1:], strict=True))

    def shares(chunks):  # each chunk's share of the steps
        return np.array([lengths[lo:hi].sum() for lo, hi in chunks]) / lengths.sum()

    monkeypatch.setattr(_parallel, "MAX_SHARDS", 2)
    big = _network._predict_chunks(arch, lengths)  # 4000 x ~30 steps x 4224 MACs
    covers(big, 4000)
    assert_allclose(shares(big), [1 / 3, 1 / 3, 1 / 8, 1 / 8, 1 / 24, 1 / 24], atol=0.001)
    equal = np.full(4000, 30)  # equal lengths: cut by rows, with no pass over them
    assert _network._predict_chunks(arch, equal) == [
        (0, 1334), (1334, 2667), (2667, 3167), (3167, 3667), (3667, 3834), (3834, 4000)
    ]  # fmt: skip
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 4)
    # chunks of 1/48 of the work would be too small: quarters
    assert_allclose(shares(_network._predict_chunks(arch, lengths)), [1 / 4] * 4, atol=0.001)
    monkeypatch.setattr(_network, "_MIN_CHUNK_WORK", 10**7)
    assert_allclose(shares(_network._predict_chunks(arch, lengths)),
                    [1 / 6] * 4 + [1 / 16] * 4 + [1 / 48] * 4, atol=0.001)  # fmt: skip
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 2)
    monkeypatch.setattr(_network, "_MIN_CHUNK_WORK", 10**12)  # too little work
    halves = _network._predict_chunks(arch, lengths)
    covers(halves, 4000)
    assert_allclose(shares(halves), [0.5, 0.5], atol=0.001)
    monkeypatch.setattr(_network, "_MIN_CHUNK_WORK", 0)
    assert len(_network._predict_chunks(arch, lengths[: 24 * 32])) == 6
    assert len(_network._predict_chunks(arch, lengths[: 24 * 32 - 1])) == 2  # rows
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 1)
    assert _network._predict_chunks(arch, lengths) == [(0, 4000)]


@pytest.mark.parametrize("ragged", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_predict_chunks_change_no_prediction(cell, dtype, ragged, threads, monkeypatch):
    """Each sequence's prediction is computed alone: predictions in waves of
    chunks, in fit's shards or in one piece, on one thread or two, are the same bits
    (ragged lengths, and equal ones, whose chunks are slices of X's rows)."""
    X, lengths, _ = _ragged(n=800, dtype=dtype)
    if not ragged:
        X, lengths = np.nan_to_num(X), np.full(len(lengths), X.shape[1])
    arch = Architecture(cell=cell, n_features=3, hidden_sizes=(5, 4), n_outputs=2)
    params = init_parameters(arch, np.random.RandomState(0), dtype)
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 2)
    monkeypatch.setattr(_network, "_MIN_CHUNK_WORK", 0)
    _, lengths_sorted = _network._sort(lengths)
    assert len(_network._predict_chunks(arch, lengths_sorted)) == 6
    waves = [predict_logits(params, arch, X, lengths)]
    if numba.config.NUMBA_NUM_THREADS >= 2:
        threads(2)
        waves.append(predict_logits(params, arch, X, lengths))
        threads(1)
        waves.append(predict_logits(params, arch, X, lengths))
    monkeypatch.setattr(_network, "_MIN_CHUNK_WORK", 10**12)
    shards = predict_logits(params, arch, X, lengths)
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 1)
    whole = predict_logits(params, arch, X, lengths)
    for logits in [*waves, shards]:
        assert_array_equal(logits, whole)


@pytest.mark.parametrize("loss", ["binary_log_loss", "squared_error"])
def test_shard_without_weight(monkeypatch, loss):
    """A shard whose samples all weigh zero adds nothing: the batch's loss and
    gradients are those of its weighted samples alone (and every shard's sample
    gradients divide by the batch's total weight)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(128, 6, 3))  # equal lengths: the sorted order is the input order
    lengths = np.full(128, 6)
    Y = (rng.uniform(size=(128, 1)) > 0.5).astype(float)
    weight = np.tile([2.0, 0.0], 64)  # shards interleave: shard 1 gets every zero
    arch = Architecture(cell="gru", n_features=3, hidden_sizes=(4,), n_outputs=1)
    params = init_parameters(arch, rng, np.float64)
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 2)
    assert _parallel.n_shards(128) == 2
    both = loss_and_gradients(params, arch, X, lengths, Y, loss, sample_weight=weight)
    monkeypatch.setattr(_parallel, "MAX_SHARDS", 1)
    alone = loss_and_gradients(params, arch, X[::2], lengths[::2], Y[::2], loss,
                               sample_weight=weight[::2])  # fmt: skip
    assert np.isfinite(both[0])
    assert both[0] == pytest.approx(alone[0], rel=1e-13)
    for name in params:
        assert_allclose(both[1][name], alone[1][name], rtol=1e-12, atol=1e-15)


@needs_two_threads
@pytest.mark.parametrize(
    ("estimator", "dtype"),
    [
        (LSTMClassifier(hidden_layer_sizes=(8, 6), bidirectional=True, dropout=0.2), np.float64),
        (GRURegressor(hidden_layer_sizes=(7,), pooling="max"), np.float32),
    ],
)
def test_bitwise_identical_whatever_the_thread_count(estimator, dtype, threads):
    """1 or 2 threads: the same fitted weights and predictions, bit for bit."""
    X, _, y = _ragged(n=300, dtype=dtype)
    estimator.set_params(max_iter=3, batch_size=150, random_state=0)
    assert _parallel.n_shards(150) >= 2
    results = []
    for n in (1, 2):
        threads(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = estimator.fit(X, y)
        results.append(
            ({k: v.copy() for k, v in fitted.weights_.items()}, fitted.predict(X), fitted.loss_)
        )
    (w1, p1, l1), (w2, p2, l2) = results
    assert l1 == l2
    assert_array_equal(p1, p2)
    for name in w1:
        assert w1[name].dtype == dtype
        assert_array_equal(w1[name], w2[name], err_msg=name)


def _worker_threads():
    return _parallel.n_threads()


@needs_two_threads
def test_blas_runs_on_one_thread_in_fit_and_predict_and_gets_its_threads_back(monkeypatch):
    """Inside fit and predict every BLAS library has one thread (its threads would
    spin against the shards'); after them, each has the count it had before."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import sklearn_rnn._base

    def blas_threads():
        return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    seen = []
    for name in ("loss_and_gradients", "predict_logits"):
        original = getattr(sklearn_rnn._base, name)

        def recording(*args, original=original, **kwargs):
            seen.append(blas_threads())
            return original(*args, **kwargs)

        monkeypatch.setattr(sklearn_rnn._base, name, recording)
    X, _, y = _ragged(n=40)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LSTMClassifier(hidden_layer_sizes=4, max_iter=2, random_state=0).fit(X, y)
        model.predict(X)
        assert blas_threads() == before
    assert before
    assert set(before) == {2}
    assert len(seen) > 2
    assert all(set(threads) == {1} for threads in seen)


def test_joblib_workers_get_their_share_of_the_cores():
    """loky workers see NUMBA_NUM_THREADS = cores // n_jobs: a search never oversubscribes."""
    shares = Parallel(n_jobs=2, backend="loky")(delayed(_worker_threads)() for _ in range(2))
    # joblib keeps the parent's NUMBA_NUM_THREADS when it is set
    expected = int(os.environ.get("NUMBA_NUM_THREADS", max(1, cpu_count() // 2)))
    assert shares == [expected] * 2


def test_warmup_compiles_every_kernel_in_both_dtypes():
    assert "warmup" in sklearn_rnn.__all__
    assert sklearn_rnn.warmup() >= 0
    for mod in CELLS.values():
        for kernel in (mod.forward, mod.backward):
            dtypes = {sig[0].dtype for sig in kernel.signatures}
            assert {numba.float32, numba.float64} <= dtypes, kernel


def _predict_peak(n_steps, bidirectional):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, n_steps, 2))
    lengths = rng.randint(n_steps // 2, n_steps + 1, size=64)
    arch = Architecture(cell="lstm", n_features=2, hidden_sizes=(16, 16), n_outputs=1,
                        bidirectional=bidirectional, pooling="mean")  # fmt: skip
    params = init_parameters(arch, rng, np.float64)
    predict_logits(params, arch, X[:, :40], np.minimum(lengths, 40))
    tracemalloc.start()
    try:
        predict_logits(params, arch, X, lengths)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_memory_does_not_grow_with_length(monkeypatch):
    """A one-directional network holds a few steps per layer, not (T, batch, H)."""
    monkeypatch.setattr(_network, "_PREDICT_BUDGET", 1 << 16)
    short, long = _predict_peak(100, False), _predict_peak(3000, False)
    # (T, 64, 16) float64 activations of one layer at T = 3000 would be 24 MB
    assert long < 2 * short + 500_000
    assert long < 3_000_000


def test_bidirectional_predict_takes_fewer_sequences_when_longer(monkeypatch):
    """Whole sequences are needed both ways: predict runs fewer at a time, within the budget."""
    budget = 1 << 18
    monkeypatch.setattr(_network, "_PREDICT_BUDGET", budget)
    arch = Architecture(cell="lstm", n_features=2, hidden_sizes=(16, 16), n_outputs=1,
                        bidirectional=True)  # fmt: skip
    assert _network._predict_rows(arch, 50) > 16 * _network._predict_rows(arch, 3000) >= 16
    # 64 sequences of 3000 steps: 3 x 16 units a step, float64, would be 74 MB (and
    # the gates and extra the forward kernel writes, 5 x 16 more)
    assert _predict_peak(3000, True) < 2 * budget * 8


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_workspace_reuse_changes_nothing(cell):
    """Buffers reused across batches of other shapes give the same bits as fresh ones."""
    arch = Architecture(cell=cell, n_features=3, hidden_sizes=(5, 4), n_outputs=1,
                        bidirectional=True, pooling="max")  # fmt: skip
    params = init_parameters(arch, np.random.RandomState(0), np.float64)
    workspace = _network.Workspace()
    for n, steps, seed in [(70, 12, 0), (20, 5, 1), (90, 15, 2), (70, 12, 0)]:
        X, lengths, y = _ragged(n=n, steps=steps, seed=seed)
        Y = y[:, None].astype(float)
        kwargs = dict(dropout=0.3, alpha=0.1)
        fresh = loss_and_gradients(params, arch, X, lengths, Y, "binary_log_loss",
                                   random_state=np.random.RandomState(seed), **kwargs)  # fmt: skip
        reused = loss_and_gradients(params, arch, X, lengths, Y, "binary_log_loss",
                                    random_state=np.random.RandomState(seed),
                                    workspace=workspace, **kwargs)  # fmt: skip
        assert fresh[0] == reused[0]
        for name in params:
            assert_array_equal(fresh[1][name], reused[1][name])
