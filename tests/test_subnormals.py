"""Subnormal numbers are flushed to zero inside the network's shards, and only there."""

import numpy as np
import pytest
from numba import njit

from sklearn_rnn import _parallel
from sklearn_rnn._network import Architecture, loss_and_gradients, predict_logits
from sklearn_rnn._subnormals import FLUSH_BITS, X86, _read_mxcsr, subnormals_flushed

pytestmark = pytest.mark.skipif(not X86, reason="FTZ and DAZ are x86's")


@njit("int64()")  # compiled now, at collection: see test_scaleout's environment
def _mxcsr():
    return _read_mxcsr()


def _flushing():
    """Whether the calling thread flushes subnormals (FTZ and DAZ both set)."""
    return _mxcsr() & FLUSH_BITS == FLUSH_BITS


def _subnormal_network():
    """A one-unit ReLU RNN whose hidden state is 1e-20 * 1e-20 = 1e-40, a float32
    subnormal, and whose head multiplies it by 1e30: a logit of 1e-10, or exactly
    0 if the subnormal was flushed."""
    arch = Architecture(cell="rnn", n_features=1, hidden_sizes=(1,), n_outputs=1, activation="relu")
    f32 = np.float32
    params = {
        "rnn.weight_ih_l0": np.array([[1e-20]], f32),
        "rnn.weight_hh_l0": np.zeros((1, 1), f32),
        "rnn.bias_ih_l0": np.zeros(1, f32),
        "rnn.bias_hh_l0": np.zeros(1, f32),
        "head.weight": np.array([[1e30]], f32),
        "head.bias": np.zeros(1, f32),
    }
    X = np.full((2, 3, 1), 1e-20, f32)
    return arch, params, X, np.array([3, 2])


def test_the_context_sets_the_bits_and_restores_them():
    before = _mxcsr()
    assert not _flushing(), "the test process flushes subnormals already"
    with subnormals_flushed():
        assert _flushing()
    assert _mxcsr() & FLUSH_BITS == before & FLUSH_BITS
    with pytest.raises(RuntimeError), subnormals_flushed():
        raise RuntimeError("inside")
    assert not _flushing()  # restored on the way out of an exception too


def test_a_thread_that_flushes_already_keeps_flushing():
    """The context restores the caller's setting, not a default one."""
    from sklearn_rnn._subnormals import _start_flushing, _stop_flushing

    before = _start_flushing()
    try:
        with subnormals_flushed():
            assert _flushing()
        assert _flushing()
    finally:
        _stop_flushing(before)
    assert not _flushing()


@pytest.mark.parametrize("threads", [1, 2])
def test_the_network_flushes_subnormals_and_the_threads_get_their_setting_back(threads):
    import numba

    arch, params, X, lengths = _subnormal_network()
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        logits = predict_logits(params, arch, X, lengths)
        _, grads = loss_and_gradients(
            params, arch, X, lengths, np.ones((2, 1), np.float32), "squared_error"
        )
    finally:
        numba.set_num_threads(previous)
    assert np.all(logits == 0)
    assert np.all(grads["head.weight"] == 0)  # d loss / d W_head = dlogit * h, h = 0
    assert not _flushing()
    pool = [_parallel._executor().submit(_flushing) for _ in range(8)]
    assert not any(future.result() for future in pool)


def test_without_the_flush_the_subnormal_survives(monkeypatch):
    """The check above can fail: with the context made a no-op, the same network
    keeps its subnormal hidden state and gives a logit of about 1e-10."""
    import contextlib

    from sklearn_rnn import _network

    monkeypatch.setattr(_network, "subnormals_flushed", contextlib.nullcontext)
    arch, params, X, lengths = _subnormal_network()
    logits = predict_logits(params, arch, X, lengths)
    np.testing.assert_allclose(logits, 1e-10, rtol=1e-3)
