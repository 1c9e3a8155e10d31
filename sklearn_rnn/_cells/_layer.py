"""The linear parts of a recurrent layer, the same for every cell.

Which sequences are active at a step, the weights packed for the forward's
products, and the parameter gradients (a chunk of steps at once). Shared by the
three cells' kernels: ``_config`` makes Numba's cache of every kernel depend on
this file too, so a change here recompiles them.
"""

import numpy as np
from numba import njit

from .._config import HELPER_OPTIONS
from ._gemm import matmul, packed

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


#: Bytes of a forward pass's buffers that every step reads and writes again (a
#: step's pre-activations, prediction's ring buffers of states and gates) for one
#: block of rows: a forward runs a block of sequences through all its steps, then
#: the next (:func:`row_block`), so that these stay in a core's L2 cache instead
#: of going through the L3 cache at every step, which the cores share (on a
#: virtual machine, with other machines' cores too). Predict's chunks, old kernel
#: against blocks (one chunk a thread, both threads at once, medians of 30-80
#: paired rounds): GRU, 667 rows of 64 units, 0.94-0.96 of the time; LSTM, 1,333
#: rows of 32, 0.98-0.99; LSTM, 333 rows of 128, 0.98-0.99. The same bits.
FORWARD_BLOCK_BYTES = 1 << 19

#: Fewest rows of a block: the products with the weights read each panel of them
#: once per block. Fit's shards (at most 100 rows in the benchmark's
#: configurations) run in one block.
MIN_BLOCK_ROWS = 128


@njit(**HELPER_OPTIONS)
def row_block(batch, row_bytes):
    """Rows of a forward's blocks of sequences (see ``FORWARD_BLOCK_BYTES``): equal
    blocks of at most that many bytes of ``row_bytes`` a row, of at least
    ``MIN_BLOCK_ROWS`` rows. Each row is computed alike whatever its block."""
    most = max(MIN_BLOCK_ROWS, FORWARD_BLOCK_BYTES // max(1, row_bytes))
    blocks = max(1, -(-batch // most))
    return max(1, -(-batch // blocks))


@njit(**HELPER_OPTIONS)
def forward_step(s, n_steps, reverse, lengths, r1):
    """The s-th step of a forward pass over the block of rows that ends at r1:
    ``(t, tp, first, n)``.

    t is its time step (the pass runs back in time if ``reverse``), tp the step
    before it in the pass, ``first`` whether there is none (tp outside the
    sequence), n the end of the rows still running at t: those of the block
    from its first row up to n (none if n is not past it).
    """
    t = n_steps - 1 - s if reverse else s
    tp = t + 1 if reverse else t - 1
    return t, tp, not 0 <= tp < n_steps, min(n_active(lengths, t), r1)


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
def packed_weights(w_ih, w_hh, b_ih, b_hh, n_summed):
    """``W_ih.T``, ``W_hh.T`` and the input bias (:func:`input_bias`) as a (1, G)
    row, packed for a forward pass's products (``_gemm.product``).

    A step's input pre-activations are then one product, ``bias + x_t @ W_ih.T``,
    to which the RNN and the LSTM add ``h_{t-1} @ W_hh.T`` in the same chain of
    fmas. That product of a few features replaced loops over each sequence's
    gates, which took a third of a tiny RNN's forward (1 feature, 16 units,
    2000 sequences), and it needs no buffer of a chunk's projections.
    """
    bias = input_bias(b_ih, b_hh, n_summed)
    return (
        packed(w_ih.T[:, :]),
        packed(w_hh.T[:, :]),
        packed(bias.reshape((1, bias.shape[0]))[:, :]),
    )


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
