"""The linear parts of a recurrent layer, the same for every cell.

Which sequences are active at a step, the input projection (a chunk of steps at
once, or a step at a time for few features) and the parameter gradients (a chunk
of steps at once). Shared by the three cells' kernels: ``_config`` makes Numba's
cache of every kernel depend on this file too, so a change here recompiles them.
"""

import numpy as np
from numba import njit

from .._config import HELPER_OPTIONS
from ._gemm import matmul
from ._math import fma

#: Steps whose input projection is computed at once (one product): bounds that
#: scratch to (CHUNK, B, G) whatever the sequence length, and keeps it in cache
#: (64 steps made 13 MB per layer for 100 sequences and 4H = 512).
CHUNK = 8

#: Input widths up to which the input projection is done by plain loops, not by
#: the tile kernel: with the products of a chunk instead, an LSTM forward took
#: 1.04-1.12 times as long with 1 feature and 1.08 with 3 (interleaved in one process).
SMALL_K = 8

#: Bytes of gate gradients the backward holds at once (its scratch ``dg``). The
#: products that sum over steps (dW, db, dx) are made a chunk of steps at a time,
#: right after the chunk's gradients are computed and while they are still in
#: cache, instead of once over the whole pass, which wrote and read again 20 MB
#: per layer of the large LSTM (100 sequences, 100 steps, 4H = 512): that traffic
#: slowed both cores at once. Measured on that fit (2 threads, 1 MB of L2 cache
#: per core): 200 kB to 1 MB chunks took 0.85 of the epoch of one chunk over all
#: steps, 2 and 4 MB 0.95; a mid GRU took 0.9 with 256 kB to 1 MB.
GRADIENT_CHUNK_BYTES = 1 << 19


def gradient_chunk(n_steps, batch, n_gates, itemsize):
    """Steps of gate gradients a backward pass holds at once: the first dimension of
    its scratch ``dg`` (see :mod:`._cells`). It depends on the shapes only, so
    results do not depend on anything else."""
    return max(1, min(n_steps, GRADIENT_CHUNK_BYTES // max(1, batch * n_gates * itemsize)))


@njit(**HELPER_OPTIONS)
def n_active(lengths, t):
    """Number of sequences still running at step t (``lengths`` is non-increasing)."""
    n = lengths.shape[0]
    while n > 0 and lengths[n - 1] <= t:
        n -= 1
    return n


@njit(**HELPER_OPTIONS)
def input_bias(b_ih, b_hh, n_summed):
    """The bias the input projection adds: ``b_ih`` plus the first ``n_summed``
    entries of ``b_hh`` (a new array). All of them for the RNN and the LSTM; the
    GRU adds its b_hn inside the candidate, to the hidden product only.

    A loop, not ``b_ih + b_hh``: Numba compiles an array expression into the
    kernel that holds it, several times the code of this function.
    """
    bias = b_ih.copy()
    for k in range(n_summed):
        bias[k] += b_hh[k]
    return bias


@njit(**HELPER_OPTIONS)
def project(x, w_ih_t, bias, t_lo, m, out):
    """``out[:m] = x[t_lo : t_lo + m] @ w_ih.T + bias``: the input projection of m steps.

    ``w_ih_t`` is ``w_ih.T`` packed (``_gemm.packed``). Padded rows get whatever x
    holds there, and are never read.
    """
    batch, n_in = x.shape[1], x.shape[2]
    n_gates = out.shape[2]
    rows = m * batch
    of = out[:m].reshape(rows, n_gates)
    matmul(x[t_lo : t_lo + m].reshape(rows, n_in), w_ih_t, of)
    for r in range(rows):
        o = of[r]
        for j in range(n_gates):
            o[j] += bias[j]


@njit(**HELPER_OPTIONS)
def project_step(xt, w_t, bias, n, out):
    """``out[:n] = xt[:n] @ w_t + bias`` by plain loops, for few input features.

    A product with K = F <= SMALL_K is mostly overhead (K = 1 is a rank-one
    update); done one step at a time, just before the gate math reads it, it
    also stays in cache. ``w_t`` is ``w_ih.T``, contiguous over the gates.
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


@njit(**HELPER_OPTIONS)
def transposed(w):
    """``w.T``, contiguous (a new array): a loop, where ``np.ascontiguousarray``
    compiled four times this function's code into every kernel that held it."""
    out = np.empty((w.shape[1], w.shape[0]), w.dtype)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out[j, i] = w[i, j]
    return out


@njit(**HELPER_OPTIONS)
def gradient_chunk_steps(s0, chunk, n_steps, reverse):
    """The chunk of a backward pass that starts at its s0-th step: ``(s1, t_lo)``.

    It covers the pass's steps s0 .. s1 - 1, which are the time steps t_lo ..
    t_lo + s1 - s0 - 1 (the pass runs back in time unless ``reverse``); the
    chunk's gate gradients for step t are ``dg[t - t_lo]``.
    """
    s1 = min(s0 + chunk, n_steps)
    return s1, (s0 if reverse else n_steps - s1)


@njit(**HELPER_OPTIONS)
def copy_vector(src, dst):
    """``dst[:] = src`` by a loop: the slice assignment makes Numba compile the
    formatting of its shape error into the kernel (4 s more per kernel)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(**HELPER_OPTIONS)
def add_column_sums(d, out):
    """out[j] += sum of d[t, b, j] over all t, b."""
    for t in range(d.shape[0]):  # no reshape: its error path is code in every kernel
        for b in range(d.shape[1]):
            row = d[t, b]
            for j in range(row.shape[0]):
                out[j] += row[j]


@njit(**HELPER_OPTIONS)
def add_product(a, b, out, scratch):
    """``out += a @ b``, the product made in ``scratch`` (at least out's size, flat)."""
    product = scratch[: out.size].reshape(out.shape)
    np.dot(a, b, product)
    for i in range(out.shape[0]):
        o, p = out[i], product[i]
        for j in range(out.shape[1]):
            o[j] += p[j]


@njit(**HELPER_OPTIONS)
def hidden_grads(hs, reverse, t_lo, dg, dw_hh, db_hh, scratch):
    """Adds to dW_hh and db_hh the hidden side of the gate gradients ``dg`` of the
    steps ``t_lo, t_lo + 1, ...`` (a chunk of the pass): one product.

    Relies on hs (and dg) being zero at padded steps, as forward leaves them.
    """
    m, batch, n_gates = dg.shape
    n_steps, hidden = hs.shape[0], hs.shape[2]
    # the chunk's steps that have a previous state: step t's is hs[t - 1]
    # (hs[t + 1] when reversed)
    if reverse:
        first, last = t_lo, min(t_lo + m, n_steps - 1)
        hp = hs[first + 1 : last + 1]
    else:
        first, last = max(t_lo, 1), t_lo + m
        hp = hs[first - 1 : last - 1]
    rows = (last - first) * batch
    if rows > 0:
        d = dg[first - t_lo : last - t_lo]
        add_product(d.reshape(rows, n_gates).T, hp.reshape(rows, hidden), dw_hh, scratch)
    add_column_sums(dg, db_hh)


@njit(**HELPER_OPTIONS)
def input_grads(x, lengths, w_ih_p, t_lo, dg, dx, dw_ih, db_ih, scratch):
    """Adds to dW_ih and (unless db_ih is empty) db_ih the input side of the gate
    gradients ``dg`` of the steps ``t_lo, t_lo + 1, ...``, and writes those steps
    of dx (unless dx is None). ``w_ih_p`` is ``w_ih`` packed (``_gemm.packed``).
    """
    m, batch, n_gates = dg.shape
    n_in = x.shape[2]
    rows = m * batch
    dgf = dg.reshape(rows, n_gates)
    # x and dg are zero at padded steps (x is, by contract: its NaN would survive
    # 0 * NaN)
    add_product(dgf.T, x[t_lo : t_lo + m].reshape(rows, n_in), dw_ih, scratch)
    if db_ih.size:
        add_column_sums(dg, db_ih)
    if dx is None:
        return  # the caller does not need dx (a first layer): not even compiled
    matmul(dgf, w_ih_p, dx[t_lo : t_lo + m].reshape(rows, n_in))
    for t in range(t_lo, t_lo + m):
        dx[t, n_active(lengths, t) :] = 0
