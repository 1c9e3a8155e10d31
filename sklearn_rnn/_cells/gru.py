"""GRU cell, PyTorch's ``nn.GRU``: gates r, z, n stacked in the rows of 3H.

``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}``.

Kernels of the interface documented in :mod:`sklearn_rnn._cells`. ``gates`` holds
the post-activation r, z, n and ``extra`` the hidden part of the candidate,
``W_hn h_{t-1} + b_hn``. Because r multiplies after the hidden product, the
gradient of the hidden-side pre-activations differs from the input-side one in
the n block (``r ⊙ dn`` against ``dn``); the backward keeps both.
"""

import numpy as np
from numba import njit

from .._config import HELPER_OPTIONS, JIT_OPTIONS, assume_no_alias
from ._gemm import matmul, packed, product
from ._layer import (
    forward_step,
    gradient_chunk_steps,
    hidden_grads,
    input_grads,
    n_active,
    packed_weights,
    row_block,
)
from ._math import fma, sigmoid, tanh, wide_vectors

N_GATES = 3
HAS_GATES = True
HAS_EXTRA = True
N_STATES = 1
HAS_DN_IN = True


@assume_no_alias
@njit(**HELPER_OPTIONS)
def _cell_train(gx, hh, b_hn, h_prev, h, g, e, n):
    """One step of the first n sequences: gx their input pre-activations (b_ir +
    b_hr and b_iz + b_hz included, b_in too), hh = W_h* h_{t-1} (rows of 3H). The
    rows' loop is here, not in the kernel: a call per row cost more than the gate
    math of a short row (see the LSTM's ``_cell_train``)."""
    wide_vectors()
    hidden = h.shape[1]
    for b in range(n):
        gxb, hhb, hpb, hb, gb, eb = gx[b], hh[b], h_prev[b], h[b], g[b], e[b]
        for j in range(hidden):
            gr = sigmoid(gxb[j] + hhb[j])
            gz = sigmoid(gxb[hidden + j] + hhb[hidden + j])
            hn = hhb[2 * hidden + j] + b_hn[j]
            gn = tanh(fma(gr, hn, gxb[2 * hidden + j]))
            hb[j] = fma(gz, hpb[j] - gn, gn)  # = (1 - z) n + z h_prev
            gb[j] = gr
            gb[hidden + j] = gz
            gb[2 * hidden + j] = gn
            eb[j] = hn


@njit(**JIT_OPTIONS)
def forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, state, hs, gates, extra):
    """Forward: writes ``hs``, ``gates`` (r, z, n), ``extra`` (W_hn h + b_hn); carries ``state``."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    b_hn = b_hh[2 * hidden :]  # added to W_hn h only, inside the candidate
    carry = state.shape[0] > 0  # else every sequence starts from a zero state
    # steps kept: n_steps, or fewer for ring buffers (step t at t % ring), see _cells
    ring_h, ring_g, ring_e = hs.shape[0], gates.shape[0], extra.shape[0]
    w_ih_t, w_hh_t, bias = packed_weights(w_ih, w_hh, b_ih, b_hh, 2 * hidden)
    # the input and hidden pre-activations: r multiplies the hidden one of n;
    # with the gates and two steps of h and extra, 13 H a row
    rows = row_block(batch, (3 * N_GATES + 4) * hidden * x.itemsize)
    gx = np.empty((rows, 3 * hidden), x.dtype)
    hh = np.empty((rows, 3 * hidden), x.dtype)
    no_state = np.empty((batch, 0), x.dtype)  # h_{t-1} where a pass starts from zero
    no_weights = np.empty(0, x.dtype)  # packed weights of no rows
    zero_state = np.zeros((0 if carry else batch, hidden), x.dtype)
    for r0 in range(0, batch, rows):
        r1 = min(r0 + rows, batch)
        for s in range(n_steps):
            t, tp, first, n = forward_step(s, n_steps, reverse, lengths, r1)
            h, g, e = hs[t % ring_h], gates[t % ring_g], extra[t % ring_e]
            # hs is zero at padded steps, so for reverse=True a sequence starts
            # from a zero state at its own last step.
            fresh = first and not carry  # no state yet: h_{t-1} = 0
            hp = zero_state if fresh else (state[0] if first else hs[tp % ring_h])
            if n > r0:
                # a second term of no columns, which adds nothing: the same compiled
                # product as the other cells' steps (one signature less to compile)
                product(((x[t][r0:n], w_ih_t), (no_state[r0:n], no_weights)), bias, gx[: n - r0])
                # no state: a product with no columns, exactly zero whatever W_hh holds
                product(((no_state[r0:n] if fresh else hp[r0:n], w_hh_t),), None, hh[: n - r0])
                # one call site, so the kernel holds one copy of the gate math
                _cell_train(gx, hh, b_hn, hp[r0:], h[r0:], g[r0:], e[r0:], n - r0)
            if carry:  # the state of the sequences ending at step t
                for b in range(max(n_active(lengths, t + 1), r0), n):
                    for j in range(hidden):
                        state[0, b, j] = h[b, j]
            h[max(n, r0) : r1] = 0
            g[max(n, r0) : r1] = 0
            e[max(n, r0) : r1] = 0


@assume_no_alias
@njit(**HELPER_OPTIONS)
def _cell_back(g, e, h_prev, dht, dh, d, dn, dh_direct, n):
    """Gate gradients of one step of the first n sequences (d: hidden side, dn:
    input-side n). The rows' loop is here, as in :func:`_cell_train`."""
    hidden = e.shape[1]
    one = e.dtype.type(1)
    for b in range(n):
        gb, eb, hpb, dhtb, dhb = g[b], e[b], h_prev[b], dht[b], dh[b]
        db, dnb, ddb = d[b], dn[b], dh_direct[b]
        for j in range(hidden):
            gr = gb[j]
            gz = gb[hidden + j]
            gn = gb[2 * hidden + j]
            dh_t = dhtb[j] + dhb[j]
            dpn = dh_t * (one - gz) * (one - gn * gn)
            db[j] = dpn * eb[j] * gr * (one - gr)
            db[hidden + j] = dh_t * (hpb[j] - gn) * gz * (one - gz)
            db[2 * hidden + j] = dpn * gr
            dnb[j] = dpn
            ddb[j] = dh_t * gz


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
    # dg: the hidden-side pre-activation gradients (r, z, r ⊙ dn), zeroed at padding
    # below; the input-side n block (dn) is kept apart in dn_in (read where active
    # only) and swapped in after the chunk's dW_hh is computed.
    # Gradient reaching h_t from later in the pass. Rows >= n are never written
    # at step t: for the forward direction they stay zero until their sequence
    # becomes active; reversed, they belong to ended sequences.
    dh = np.zeros((batch, hidden), x.dtype)
    dh_direct = np.empty((batch, hidden), x.dtype)  # z ⊙ dh_t, the path that skips W_hh
    zeros = np.zeros((batch, hidden), x.dtype)  # h_{t-1} where a pass starts
    scratch = np.empty(3 * hidden * max(hidden, x.shape[2]), x.dtype)
    dw_ih[:] = 0  # the chunks add to the parameter gradients
    dw_hh[:] = 0
    db_ih[:] = 0
    db_hh[:] = 0
    for s0 in range(0, n_steps, chunk):
        s1, t_lo = gradient_chunk_steps(s0, chunk, n_steps, reverse)
        for s in range(s0, s1):
            t = s if reverse else n_steps - 1 - s
            tp = t + 1 if reverse else t - 1
            has_prev = 0 <= tp < n_steps
            n = n_active(lengths, t)
            g, e, d, dn, dht = gates[t], extra[t], dg[t - t_lo], dn_in[t - t_lo], dhs[t]
            # h_{t-1} is zero where a reversed sequence starts (hs is zero at padding).
            hp = hs[tp] if has_prev else zeros
            _cell_back(g, e, hp, dht, dh, d, dn, dh_direct, n)
            d[n:] = 0  # the products over the chunk read the padding too
            if n > 0 and has_prev:
                matmul(d[:n], w_hh_p, dh[:n])
                for b in range(n):
                    dhb, ddb = dh[b], dh_direct[b]
                    for j in range(hidden):
                        dhb[j] += ddb[j]
        dgc = dg[: s1 - s0]
        hidden_grads(hs, reverse, t_lo, dgc, dw_hh, db_hh, scratch)
        # Now the input side: the n block of the pre-activation gradient is dn itself.
        for t in range(t_lo, t_lo + s1 - s0):
            d = dg[t - t_lo]
            dn = dn_in[t - t_lo]
            for b in range(n_active(lengths, t)):
                db, dnb = d[b], dn[b]
                for j in range(hidden):
                    db[2 * hidden + j] = dnb[j]
        input_grads(x, lengths, w_ih_p, t_lo, dgc, dx, dw_ih, db_ih, scratch)
