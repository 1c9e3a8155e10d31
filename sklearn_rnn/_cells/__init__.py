"""Numba kernels of the three recurrent cells, one module per cell.

Every cell module (``rnn``, ``lstm``, ``gru``) exposes the same names, so the
network can treat the cells alike:

``N_GATES``
    Number of stacked gate blocks in the weight matrices (1, 4 and 3); the
    weights are ``w_ih (N_GATES*H, F)``, ``w_hh (N_GATES*H, H)``, ``b_ih`` and
    ``b_hh (N_GATES*H,)``, PyTorch's layout and gate order.
``HAS_GATES``
    Whether the training forward keeps the post-activation gates, a
    ``(T, B, N_GATES*H)`` buffer (LSTM, GRU). The RNN's backward reads its
    post-activation from ``hs`` instead and takes a (0, 0, 0) array.
``HAS_EXTRA``
    Whether the training forward keeps a second ``(T, B, H)`` buffer (LSTM: the
    cell state c_t; GRU: the hidden part of the candidate, ``W_hn h_{t-1} + b_hn``).
``N_STATES``
    Number of state vectors carried from step to step (LSTM: h and c, 2; else 1).
``HAS_DN_IN``
    Whether ``backward`` needs a second scratch buffer ``dn_in`` (T, B, H) (GRU:
    the input side of the candidate's gradient, which differs from the hidden side's).
``forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, state, hs, gates, extra)``
    The forward pass, for training and prediction alike. Writes ``hs`` (T, B, H)
    and, when ``HAS_GATES`` and ``HAS_EXTRA``, ``gates`` (T, B, N_GATES*H) and
    ``extra`` (T, B, H) (otherwise (0, 0, 0) arrays), all zero at padding: what
    ``backward`` reads.
    Prediction, which does not need them all, may pass ring buffers with fewer
    steps (step t is then written at ``t % len``): ``gates`` needs 1, ``hs`` and
    ``extra`` 2 (step t reads step t - 1's).
    ``state`` is a (0, 0, 0) array (every sequence starts from a zero state) or
    (N_STATES, B, H) (h, then c for the LSTM): read as the state before the first
    step and left as the state after each sequence's last step; a sequence with
    length 0 keeps its state. So a long batch can be run a chunk of steps at a
    time, passing the steps ``t0:t1`` and ``clip(lengths - t0, 0, t1 - t0)`` with
    the same ``state``: prediction's memory then does not grow with T. A carried
    state needs ``reverse=False``. (One kernel serves both uses, rather than a
    lighter inference kernel: each kernel costs about a second of compilation
    per cell and dtype.) A big batch runs a block of sequences through all the
    steps at a time (``_layer.row_block``); each sequence is computed alike.
``backward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs, gates, extra,
dhs, dx, dw_ih, dw_hh, db_ih, db_hh, dg, dn_in)``
    Backpropagation through time from ``dhs`` (T, B, H), the gradient of the loss
    with respect to every output step. Overwrites ``dx`` (T, B, F), unless it is
    None (the first layer's input needs no gradient: that variant is compiled
    without the product), and the four parameter gradients. Reads hs, gates and
    extra as forward left them. ``x`` must be zero at padded steps: the
    parameter gradients sum over a chunk of steps at once, padding included.
    ``dg`` (C, B, N_GATES*H) and, when ``HAS_DN_IN``, ``dn_in`` (C, B, H) (else a
    (0, 0, 0) array) are scratch, overwritten: the gate gradients of a chunk of
    C steps, 1 <= C <= T, whose sums over steps are made before the next chunk
    (``_layer.gradient_chunk`` picks C). The result depends on C by rounding
    only. The caller provides them so that a fit allocates them once, not in
    every batch (a fresh buffer costs page faults at every call, which threads
    that fault at once also contend on).

What the cells share lives beside them: ``_math`` (exp, tanh and sigmoid written
to vectorize), ``_gemm`` (the products with the weights, packed once per pass) and
``_layer`` (active sequences, the weights packed for the forward, the parameter
gradients summed over a chunk of steps). Numba's cache would not notice a change
there on its own; ``_config.KernelCacheLocator`` makes every kernel's cache
depend on all the files of this package and on ``_config.py``. ``forward`` and
``backward``, the kernels Python calls, load from the cache through
``_config.KernelCache``, which skips the setup of Numba's compiler that loaded
code does not need.

Conventions shared by all kernels (the caller, ``_network``, validates them;
kernels do not check):

- Buffers are time-major and C-contiguous: ``x[t]`` is the (B, F) batch at step t.
- ``lengths`` is int64, sorted non-increasing, ``1 <= lengths[b] <= T`` (``0`` is
  allowed with a carried state: a sequence that ended before this chunk). At step
  t the active sequences are the prefix ``b < n_t`` with ``lengths[b] > t``.
- Positions ``t >= lengths[b]`` are padding: ``hs`` and ``dx`` are zero there,
  and nothing read there reaches the state or any gradient (``backward`` needs
  ``x`` to be zero there, which the network's buffers are; ``forward`` ignores it).
- ``reverse=True`` runs each sequence backwards within its own length: the pass
  starts at step ``lengths[b] - 1`` from a zero state and ends at step 0.
- ``activation`` (RNN only; ignored by the others): 0 tanh, 1 relu, 2 logistic.
- float32 inputs compute in float32 throughout; float64 in float64.
- ``forward`` and ``backward`` themselves may receive arrays that share memory
  (ring buffers, a state and the outputs). The per-step helpers marked with
  ``_config.assume_no_alias`` (the LSTM's and GRU's gate math) may not: an
  array such a helper writes must share no memory with its other arguments,
  which the kernels ensure by passing rows of distinct buffers.
"""

from .._config import use_kernel_cache
from . import gru, lstm, rnn

#: Cell name -> kernel module.
CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}

for _cell in CELLS.values():
    use_kernel_cache(_cell.forward)
    use_kernel_cache(_cell.backward)

#: RNN activation name -> integer code understood by the kernels.
ACTIVATION_CODES = {"tanh": 0, "relu": 1, "logistic": 2}
