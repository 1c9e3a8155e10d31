"""LSTM cell, PyTorch's ``nn.LSTM``: gates i, f, g, o stacked in the rows of 4H.

``i = σ(·)``, ``f = σ(·)``, ``g = tanh(·)``, ``o = σ(·)`` with ``· = W_i* x_t + b_i* +
W_h* h_{t-1} + b_h*``; ``c_t = f ⊙ c_{t-1} + i ⊙ g``; ``h_t = o ⊙ tanh(c_t)``.

Kernels of the interface documented in :mod:`sklearn_rnn._cells`. ``gates`` holds
the post-activation i, f, g, o and ``extra`` the cell state c_t.
"""

import numpy as np
from numba import njit

from .._config import HELPER_OPTIONS, JIT_OPTIONS, assume_no_alias
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
from ._math import fma, sigmoid, tanh, wide_vectors

N_GATES = 4
HAS_GATES = True
HAS_EXTRA = True
N_STATES = 2
HAS_DN_IN = False


@assume_no_alias
@njit(**HELPER_OPTIONS)
def _cell_train(pre, c_prev, c, h, g, n):
    """One step of the first n sequences: pre their pre-activations (rows of 4H).
    The rows' loop is here, not in the kernel: a call per row cost more than the
    gate math of a short row (one thread, float32: a call per row took 2.3 times
    as long for H = 32, 1.25 for H = 128).
    """
    wide_vectors()
    hidden = c.shape[1]
    for b in range(n):
        pb, cpb, cb, hb, gb = pre[b], c_prev[b], c[b], h[b], g[b]
        for j in range(hidden):
            gi = sigmoid(pb[j])
            gf = sigmoid(pb[hidden + j])
            gg = tanh(pb[2 * hidden + j])
            go = sigmoid(pb[3 * hidden + j])
            ct = fma(gf, cpb[j], gi * gg)
            cb[j] = ct
            hb[j] = go * tanh(ct)
            gb[j] = gi
            gb[hidden + j] = gf
            gb[2 * hidden + j] = gg
            gb[3 * hidden + j] = go


@njit(**JIT_OPTIONS)
def forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, state, hs, gates, extra):
    """Forward: writes ``hs``, ``gates`` (i, f, g, o) and ``extra`` (c_t); carries ``state``."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    carry = state.shape[0] > 0  # else every sequence starts from a zero state
    # steps kept: n_steps, or fewer for ring buffers (step t at t % ring), see _cells
    ring_h, ring_g, ring_e = hs.shape[0], gates.shape[0], extra.shape[0]
    w_ih_t, w_hh_t, bias = packed_weights(w_ih, w_hh, b_ih, b_hh, b_hh.shape[0])
    # pre-activations, gates and two steps of h and c a row
    rows = row_block(batch, (2 * N_GATES + 4) * hidden * x.itemsize)
    pre = np.empty((rows, 4 * hidden), x.dtype)
    # h and c before a pass starts (a carried state replaces them)
    no_state = np.empty((batch, 0), x.dtype)
    zero_state = np.zeros((0 if carry else batch, hidden), x.dtype)
    for r0 in range(0, batch, rows):
        r1 = min(r0 + rows, batch)
        for s in range(n_steps):
            t, tp, first, n = forward_step(s, n_steps, reverse, lengths, r1)
            h, c, g = hs[t % ring_h], extra[t % ring_e], gates[t % ring_g]
            # hs and extra are zero at padded steps, so for reverse=True a sequence
            # starts from a zero state at its own last step.
            fresh = first and not carry  # no state yet: h_{t-1} = c_{t-1} = 0
            hp = no_state if fresh else (state[0] if first else hs[tp % ring_h])
            cp = zero_state if fresh else (state[1] if first else extra[tp % ring_e])
            if n > r0:
                product(((x[t][r0:n], w_ih_t), (hp[r0:n], w_hh_t)), bias, pre[: n - r0])
                # one call site, so the kernel holds one copy of the gate math
                _cell_train(pre, cp[r0:], c[r0:], h[r0:], g[r0:], n - r0)
            if carry:  # the state of the sequences ending at step t
                for b in range(max(n_active(lengths, t + 1), r0), n):
                    for j in range(hidden):
                        state[0, b, j] = h[b, j]
                        state[1, b, j] = c[b, j]
            h[max(n, r0) : r1] = 0
            g[max(n, r0) : r1] = 0
            c[max(n, r0) : r1] = 0


@assume_no_alias
@njit(**HELPER_OPTIONS)
def _cell_back(g, c, c_prev, dht, dh, dc, d, n):
    """Gate gradients of one step of the first n sequences; updates dc to the
    previous step's. The rows' loop is here, as in :func:`_cell_train`."""
    hidden = c.shape[1]
    one = c.dtype.type(1)
    for b in range(n):
        gb, cb, cpb, dhtb, dhb, dcb, db = g[b], c[b], c_prev[b], dht[b], dh[b], dc[b], d[b]
        for j in range(hidden):
            gi = gb[j]
            gf = gb[hidden + j]
            gg = gb[2 * hidden + j]
            go = gb[3 * hidden + j]
            tc = tanh(cb[j])
            dh_t = dhtb[j] + dhb[j]
            dc_t = dcb[j] + dh_t * go * (one - tc * tc)
            db[j] = dc_t * gg * gi * (one - gi)
            db[hidden + j] = dc_t * cpb[j] * gf * (one - gf)
            db[2 * hidden + j] = dc_t * gi * (one - gg * gg)
            db[3 * hidden + j] = dh_t * tc * go * (one - go)
            dcb[j] = dc_t * gf


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
    # Gradients reaching h_t and c_t from later in the pass. Rows >= n are never
    # written at step t: for the forward direction they stay zero until their
    # sequence becomes active; reversed, they belong to ended sequences.
    dh = np.zeros((batch, hidden), x.dtype)
    dc = np.zeros((batch, hidden), x.dtype)
    zeros = np.zeros((batch, hidden), x.dtype)  # c_{t-1} where a pass starts
    scratch = np.empty(4 * hidden * max(hidden, x.shape[2]), x.dtype)
    dw_ih[:] = 0  # the chunks add to the parameter gradients
    dw_hh[:] = 0
    db_hh[:] = 0
    for s0 in range(0, n_steps, chunk):
        s1, t_lo = gradient_chunk_steps(s0, chunk, n_steps, reverse)
        for s in range(s0, s1):
            t = s if reverse else n_steps - 1 - s
            tp = t + 1 if reverse else t - 1
            has_prev = 0 <= tp < n_steps
            n = n_active(lengths, t)
            g, c, d, dht = gates[t], extra[t], dg[t - t_lo], dhs[t]
            # c_{t-1} is zero where a reversed sequence starts (extra is zero at padding).
            cp = extra[tp] if has_prev else zeros
            _cell_back(g, c, cp, dht, dh, dc, d, n)
            d[n:] = 0  # the products over the chunk read the padding too
            if n > 0 and has_prev:
                matmul(d[:n], w_hh_p, dh[:n])
        dgc = dg[: s1 - s0]
        hidden_grads(hs, reverse, t_lo, dgc, dw_hh, db_hh, scratch)
        input_grads(x, lengths, w_ih_p, t_lo, dgc, dx, dw_ih, db_ih[:0], scratch)
    copy_vector(db_hh, db_ih)  # the same gate gradients on both sides
