"""Elman RNN cell: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

Kernels of the interface documented in :mod:`sklearn_rnn._cells`. The backward
pass reads the post-activation ``h_t`` from ``hs`` (each activation's derivative is
a function of its output): no ``gates`` buffer is kept, nor pre-activations.
"""

import numpy as np
from numba import njit

from .._config import HELPER_OPTIONS, JIT_OPTIONS
from ._gemm import matmul, packed, product
from ._layer import (
    copy_vector,
    forward_step,
    gradient_chunk_steps,
    hidden_grads,
    input_grads,
    n_active,
    packed_weights,
    row_block,
)
from ._math import sigmoid, tanh, wide_vectors

N_GATES = 1
HAS_GATES = False
HAS_EXTRA = False
N_STATES = 1
HAS_DN_IN = False


@njit(**HELPER_OPTIONS)
def _activate(pre, activation, h):
    """h = act(pre) elementwise; one loop per activation, so each vectorizes.

    The network's rows of a step are contiguous, so the kernels pass all of them
    as one flat block: one long loop, not one short loop per sequence.
    """
    wide_vectors()
    zero = h.dtype.type(0)
    if activation == 0:
        for j in range(h.shape[0]):
            h[j] = tanh(pre[j])
    elif activation == 1:
        for j in range(h.shape[0]):
            v = pre[j]
            h[j] = v if v > zero else zero
    else:
        for j in range(h.shape[0]):
            h[j] = sigmoid(pre[j])


@njit(**JIT_OPTIONS)
def forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, state, hs, gates, extra):
    """Forward: writes ``hs`` (the post-activation h_t); carries ``state``. ``gates`` and
    ``extra`` are not used."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    carry = state.shape[0] > 0  # else every sequence starts from a zero state
    # steps kept: n_steps, or fewer for ring buffers (step t at t % ring), see _cells
    ring_h = hs.shape[0]
    w_ih_t, w_hh_t, bias = packed_weights(w_ih, w_hh, b_ih, b_hh, b_hh.shape[0])
    rows = row_block(batch, 3 * hidden * x.itemsize)  # pre-activations, two steps of h
    pre = np.empty((rows, hidden), x.dtype)
    no_state = np.empty((batch, 0), x.dtype)  # h_{t-1} where a pass starts from zero
    for r0 in range(0, batch, rows):
        r1 = min(r0 + rows, batch)
        for s in range(n_steps):
            t, tp, first, n = forward_step(s, n_steps, reverse, lengths, r1)
            h = hs[t % ring_h]
            # hs is zero at padded steps, so for reverse=True a sequence starts from
            # a zero state at its own last step.
            hp = no_state if first and not carry else (state[0] if first else hs[tp % ring_h])
            if n > r0:
                product(((x[t][r0:n], w_ih_t), (hp[r0:n], w_hh_t)), bias, pre[: n - r0])
                m = (n - r0) * hidden
                # one call site, so the kernel holds one copy of the activation loops
                _activate(pre[: n - r0].reshape(m), activation, h[r0:n].reshape(m))
            if carry:  # the state of the sequences ending at step t
                for b in range(max(n_active(lengths, t + 1), r0), n):
                    for j in range(hidden):
                        state[0, b, j] = h[b, j]
            h[max(n, r0) : r1] = 0


@njit(**HELPER_OPTIONS)
def _grad_row(dht, dh, y, activation, d):
    """d = (dht + dh) * act'(pre), from the activation's output y."""
    zero = y.dtype.type(0)
    one = y.dtype.type(1)
    if activation == 0:
        for j in range(d.shape[0]):
            d[j] = (dht[j] + dh[j]) * (one - y[j] * y[j])
    elif activation == 1:
        for j in range(d.shape[0]):  # PyTorch's convention: 0 at the kink
            d[j] = (dht[j] + dh[j]) if y[j] > zero else zero
    else:
        for j in range(d.shape[0]):
            d[j] = (dht[j] + dh[j]) * (y[j] * (one - y[j]))


@njit(**JIT_OPTIONS)
def backward(
    x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs, gates, extra,
    dhs, dx, dw_ih, dw_hh, db_ih, db_hh, dg, dn_in,
):  # fmt: skip
    """Backpropagation through time from ``dhs``; overwrites dx and the parameter gradients.

    ``dg`` and ``dn_in`` are the caller's scratch (see :mod:`._cells`)."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    chunk = dg.shape[0]  # steps whose gate gradients dg holds (see _layer.gradient_chunk)
    w_ih_p, w_hh_p = packed(w_ih[:, :]), packed(w_hh[:, :])  # for the products (see _gemm)
    dh = np.zeros((batch, hidden), x.dtype)  # gradient reaching h_t from later in the pass
    scratch = np.empty(hidden * max(hidden, x.shape[2]), x.dtype)
    dw_ih[:] = 0  # the chunks add to the parameter gradients
    dw_hh[:] = 0
    db_hh[:] = 0
    for s0 in range(0, n_steps, chunk):
        s1, t_lo = gradient_chunk_steps(s0, chunk, n_steps, reverse)
        for s in range(s0, s1):
            t = s if reverse else n_steps - 1 - s
            tp = t + 1 if reverse else t - 1
            n = n_active(lengths, t)
            g, d, dht = hs[t], dg[t - t_lo], dhs[t]  # g: the post-activation h_t
            m = n * hidden
            _grad_row(dht[:n].reshape(m), dh[:n].reshape(m), g[:n].reshape(m), activation,
                      d[:n].reshape(m))  # fmt: skip
            # Rows >= n of dh are never written here: for the forward direction
            # they stay zero until their sequence becomes active; reversed, they
            # belong to sequences that have ended and are never read again.
            d[n:] = 0  # the products over the chunk read the padding too
            if n > 0 and 0 <= tp < n_steps:
                matmul(d[:n], w_hh_p, dh[:n])
        dgc = dg[: s1 - s0]
        hidden_grads(hs, reverse, t_lo, dgc, dw_hh, db_hh, scratch)
        input_grads(x, lengths, w_ih_p, t_lo, dgc, dx, dw_ih, db_ih[:0], scratch)
    copy_vector(db_hh, db_ih)  # the same gate gradients on both sides
