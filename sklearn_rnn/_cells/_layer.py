"""The linear parts of a recurrent layer, the same for every cell.

Which sequences are active at a step, the input projection (all at once, or a
step at a time for few features), and the parameter gradients that sum over all
steps at once. Shared by the three cells' kernels: ``_config`` makes Numba's
cache of every kernel depend on this file too, so a change here recompiles them.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS
from ._math import fma

#: Steps whose input projection is computed at once (one product): bounds that
#: scratch to (CHUNK, B, G) whatever the sequence length, and keeps it in cache
#: (64 steps made 13 MB per layer for 100 sequences and 4H = 512).
CHUNK = 8

#: Input widths up to which the input projection is done by plain loops, not BLAS.
SMALL_K = 8


@njit(**JIT_OPTIONS)
def n_active(lengths, t):
    """Number of sequences still running at step t (``lengths`` is non-increasing)."""
    n = lengths.shape[0]
    while n > 0 and lengths[n - 1] <= t:
        n -= 1
    return n


@njit(**JIT_OPTIONS)
def project(x, w_ih, bias, t_lo, m, out):
    """``out[:m] = x[t_lo : t_lo + m] @ w_ih.T + bias``: the input projection of m steps.

    Padded rows get whatever x holds there, and are never read.
    """
    batch, n_in = x.shape[1], x.shape[2]
    n_gates = w_ih.shape[0]
    rows = m * batch
    of = out[:m].reshape(rows, n_gates)
    np.dot(x[t_lo : t_lo + m].reshape(rows, n_in), w_ih.T, of)
    for r in range(rows):
        o = of[r]
        for j in range(n_gates):
            o[j] += bias[j]


@njit(**JIT_OPTIONS)
def project_step(xt, w_t, bias, n, out):
    """``out[:n] = xt[:n] @ w_t + bias`` by plain loops, for few input features.

    A product with K = F <= SMALL_K is mostly overhead in BLAS (K = 1 is a
    rank-one update); done one step at a time, just before the gate math reads
    it, it also stays in cache. ``w_t`` is ``w_ih.T``, contiguous over the gates.
    The bias and the first feature go in one pass over each row: the rows are
    short loops, whose every extra pass costs about as much as the arithmetic.
    """
    n_in, n_gates = w_t.shape
    w0 = w_t[0]
    for b in range(n):
        o = out[b]
        xr = xt[b]
        x0 = xr[0]
        for j in range(n_gates):
            o[j] = fma(x0, w0[j], bias[j])
        for f in range(1, n_in):
            xv = xr[f]
            wf = w_t[f]
            for j in range(n_gates):
                o[j] = fma(xv, wf[j], o[j])


@njit(**JIT_OPTIONS)
def column_sums(d, out):
    """out[j] = sum of d[t, b, j] over all t, b."""
    out[:] = 0
    rows = d.reshape(d.shape[0] * d.shape[1], d.shape[2])
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(rows.shape[1]):
            out[j] += row[j]


@njit(**JIT_OPTIONS)
def hidden_grads(hs, reverse, dg, dw_hh, db_hh):
    """dW_hh and db_hh from the hidden-side gate gradients, one product over all steps.

    Relies on hs (and dg) being zero at padded steps, as forward leaves them.
    """
    n_steps, batch, n_gates = dg.shape
    hidden = hs.shape[2]
    if n_steps > 1:
        # Step t's previous state is hs[t - 1] (hs[t + 1] when reversed).
        if reverse:
            d = dg[: n_steps - 1]
            hp = hs[1:]
        else:
            d = dg[1:]
            hp = hs[: n_steps - 1]
        rows = (n_steps - 1) * batch
        np.dot(d.reshape(rows, n_gates).T, hp.reshape(rows, hidden), dw_hh)
    else:
        dw_hh[:] = 0
    column_sums(dg, db_hh)


@njit(**JIT_OPTIONS)
def input_grads(x, lengths, w_ih, dg, dx, dw_ih, db_ih, db_same):
    """dW_ih, db_ih and (unless dx is None) dx from the input-side gate gradients.

    ``db_same``, unless empty, is db_ih already summed (the hidden side's, when the
    two sides' gate gradients are the same): copied, not summed again.
    """
    n_steps, batch, n_in = x.shape
    n_gates = dg.shape[2]
    rows = n_steps * batch
    dgf = dg.reshape(rows, n_gates)
    # all steps at once: x and dg are zero at padded steps (x is, by contract: its
    # NaN would survive 0 * NaN)
    np.dot(dgf.T, x.reshape(rows, n_in), dw_ih)
    if db_same.size:
        for j in range(db_ih.shape[0]):
            db_ih[j] = db_same[j]
    else:
        column_sums(dg, db_ih)
    if dx is None:
        return  # the caller does not need dx (a first layer): not even compiled
    np.dot(dgf, w_ih, dx.reshape(rows, n_in))
    for t in range(n_steps):
        dx[t, n_active(lengths, t) :] = 0
