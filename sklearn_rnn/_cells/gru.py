"""GRU cell, PyTorch's ``nn.GRU``: gates r, z, n stacked in the rows of 3H.

``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}``.

Kernels of the interface documented in :mod:`sklearn_rnn._cells`. ``gates`` holds
the post-activation r, z, n and ``extra`` the hidden part of the candidate,
``W_hn h_{t-1} + b_hn``. Because r multiplies after the hidden product, the
gradient of the hidden-side pre-activations differs from the input-side one in
the n block (``r ⊙ dn`` against ``dn``); the backward keeps both.

The helpers live in this file on purpose: Numba's cache hashes only the file of
the kernel, so a helper imported from elsewhere could change without the cached
kernel noticing.
"""

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from .._config import JIT_OPTIONS

N_GATES = 3
HAS_EXTRA = True

# Steps whose input projection ``forward_infer`` computes at once: bounds its
# scratch to (_CHUNK, B, 3H) whatever the sequence length.
_CHUNK = 64


# -- Elementwise math ------------------------------------------------------------
# float32 exp, tanh and sigmoid in plain arithmetic (Cephes' expf and tanhf: range
# reduction and a polynomial, within 3 ulp), so that the gate loops vectorize:
# PyPI's llvmlite has no vector math library, and libm's tanhf costs ~16 ns a call.
# float64 keeps libm (``_tanh`` and ``_sigmoid`` dispatch on the type when compiled).
# NaN stays NaN; outside [-87, 88] exp saturates, which sigmoid and tanh do anyway.

_F32 = np.float32
_ONE32, _TWO32, _HALF32 = _F32(1.0), _F32(2.0), _F32(0.5)
_EXP_HI, _EXP_LO = _F32(88.0), _F32(-87.0)
_LOG2E = _F32(1.44269504088896341)
_LN2 = 0.693147180559945309417232121458  # float64: the reduction is done in float64
_EXP_P = tuple(_F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))  # fmt: skip
_TANH_P = tuple(_F32(c) for c in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                                  1.33314422036e-1, -3.33332819422e-1))  # fmt: skip
_TANH_SMALL = _F32(0.625)
_MATH_OPTIONS = {k: JIT_OPTIONS[k] for k in ("fastmath", "error_model")}


@intrinsic
def _bits_as_float(typingctx, bits):
    """Reinterpret the bits of an int32 as a float32."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(bits), codegen


@njit(**JIT_OPTIONS)
def _exp32(x):
    x = _EXP_HI if x > _EXP_HI else x  # written so that NaN passes through
    x = _EXP_LO if x < _EXP_LO else x
    k = np.floor(x * _LOG2E + _HALF32)
    # x - k ln2 in float64: exact enough, and immune to fast-math reassociation.
    r = _F32(np.float64(x) - np.float64(k) * _LN2)
    p0, p1, p2, p3, p4, p5 = _EXP_P
    y = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r + _ONE32
    ki = np.int32(k) if k == k else np.int32(0)  # NaN would make the conversion undefined
    return y * _bits_as_float(np.int32((ki + 127) << 23))  # y * 2**k


@njit(**JIT_OPTIONS)
def _tanh32(x):
    a = abs(x)
    big = _ONE32 - _TWO32 / (_exp32(a + a) + _ONE32)
    big = big if x >= 0 else -big
    z = x * x
    t0, t1, t2, t3, t4 = _TANH_P
    small = ((((t0 * z + t1) * z + t2) * z + t3) * z + t4) * z * x + x
    return big if a >= _TANH_SMALL else small


def _tanh(a):
    """tanh: the float32 approximation above, libm's for float64."""
    return np.tanh(a)


@overload(_tanh, jit_options=_MATH_OPTIONS)
def _tanh_impl(a):
    if a == types.float32:
        return lambda a: _tanh32(a)
    return lambda a: np.tanh(a)


def _sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), in the type of a."""
    return 1.0 / (1.0 + np.exp(-a))


@overload(_sigmoid, jit_options=_MATH_OPTIONS)
def _sigmoid_impl(a):
    if a == types.float32:
        return lambda a: _ONE32 / (_ONE32 + _exp32(-a))
    return lambda a: 1.0 / (1.0 + np.exp(-a))


@njit(**JIT_OPTIONS)
def _n_active(lengths, t):
    """Number of sequences still running at step t (``lengths`` is non-increasing)."""
    n = lengths.shape[0]
    while n > 0 and lengths[n - 1] <= t:
        n -= 1
    return n


@njit(**JIT_OPTIONS)
def _forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, hs, gbuf, ebuf, train):
    """Run the pass, projecting the input ``gbuf.shape[0]`` steps at a time into ``gbuf``.

    Training (``train=True``) passes ``gbuf = gates`` (one chunk of all T steps,
    kept) and ``ebuf = extra`` (T, B, H). Inference passes a small reused ``gbuf``
    and ``ebuf`` (1, B, H), overwritten at every step.
    """
    n_steps, batch, n_in = x.shape
    hidden = w_hh.shape[1]
    zero = x.dtype.type(0)
    # Biases added to the input projection: both for r and z, b_in only for n
    # (b_hn is added before the product with r).
    bias = b_ih.copy()
    bias[: 2 * hidden] += b_hh[: 2 * hidden]
    hh = np.empty((batch, 3 * hidden), x.dtype)
    chunk = gbuf.shape[0]
    for s0 in range(0, n_steps, chunk):
        s1 = min(s0 + chunk, n_steps)
        t_lo = n_steps - s1 if reverse else s0
        m = s1 - s0
        # Input projection of the whole chunk: one product. Padded rows get
        # whatever x holds there, and are never read.
        np.dot(
            x[t_lo : t_lo + m].reshape(m * batch, n_in),
            w_ih.T,
            gbuf[:m].reshape(m * batch, 3 * hidden),
        )
        for s in range(s0, s1):
            t = n_steps - 1 - s if reverse else s
            tp = t + 1 if reverse else t - 1  # the step before t in the pass
            has_prev = 0 <= tp < n_steps
            n = _n_active(lengths, t)
            g = gbuf[t - t_lo]
            h = hs[t]
            hp = hs[min(max(tp, 0), n_steps - 1)]  # only read if has_prev
            e = ebuf[t] if train else ebuf[0]
            if n > 0:
                # hs is zero at padded steps, so for reverse=True a sequence
                # starts from a zero state at its own last step.
                if has_prev:
                    np.dot(hs[tp, :n], w_hh.T, hh[:n])
                else:
                    hh[:n] = zero
                for b in range(n):
                    for j in range(hidden):
                        gr = _sigmoid(g[b, j] + bias[j] + hh[b, j])
                        k = hidden + j
                        gz = _sigmoid(g[b, k] + bias[k] + hh[b, k])
                        k += hidden
                        hn = hh[b, k] + b_hh[k]
                        gn = _tanh(g[b, k] + bias[k] + gr * hn)
                        h_prev = hp[b, j] if has_prev else zero
                        h[b, j] = gn + gz * (h_prev - gn)  # = (1 - z) n + z h_prev
                        g[b, j] = gr
                        g[b, hidden + j] = gz
                        g[b, 2 * hidden + j] = gn
                        e[b, j] = hn
            h[n:] = zero
            g[n:] = zero
            e[n:] = zero


@njit(**JIT_OPTIONS)
def forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs, gates, extra):
    """Training forward: writes ``hs``, ``gates`` (r, z, n) and ``extra`` (W_hn h + b_hn)."""
    _forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, hs, gates, extra, True)


@njit(**JIT_OPTIONS)
def forward_infer(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs):
    """Inference forward: writes ``hs`` only."""
    n_steps, batch = x.shape[0], x.shape[1]
    gbuf = np.empty((min(n_steps, _CHUNK), batch, w_hh.shape[0]), x.dtype)
    ebuf = np.empty((1, batch, w_hh.shape[1]), x.dtype)
    _forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, hs, gbuf, ebuf, False)


@njit(**JIT_OPTIONS)
def _column_sums(d, out):
    """out[j] = sum of d[t, b, j] over all t, b."""
    out[:] = 0
    rows = d.reshape(d.shape[0] * d.shape[1], d.shape[2])
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            out[j] += rows[r, j]


@njit(**JIT_OPTIONS)
def _hidden_grads(hs, reverse, dg, dw_hh, db_hh):
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
    _column_sums(dg, db_hh)


@njit(**JIT_OPTIONS)
def _input_grads(x, lengths, w_ih, dg, dx, dw_ih, db_ih):
    """dW_ih, db_ih and dx from the input-side gate gradients (zero at padding)."""
    n_steps, batch, n_in = x.shape
    n_gates = dg.shape[2]
    rows = n_steps * batch
    dgf = dg.reshape(rows, n_gates)
    if _n_active(lengths, n_steps - 1) == batch:  # no padding (safe for batch == 0)
        np.dot(dgf.T, x.reshape(rows, n_in), dw_ih)
    else:
        # x may hold NaN or inf at padded steps, and 0 * NaN is NaN: use a copy
        # with zeros there.
        xz = np.zeros_like(x)
        for t in range(n_steps):
            n = _n_active(lengths, t)
            xz[t, :n] = x[t, :n]
        np.dot(dgf.T, xz.reshape(rows, n_in), dw_ih)
    _column_sums(dg, db_ih)
    np.dot(dgf, w_ih, dx.reshape(rows, n_in))
    for t in range(n_steps):
        dx[t, _n_active(lengths, t) :] = 0


@njit(**JIT_OPTIONS)
def backward(
    x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs, gates, extra,
    dhs, dx, dw_ih, dw_hh, db_ih, db_hh,
):  # fmt: skip
    """Backpropagation through time from ``dhs``; overwrites dx and the parameter gradients."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    # Hidden-side pre-activation gradients (r, z, r ⊙ dn); the input-side n block
    # (dn) is kept apart in dn_in and swapped in after dW_hh is computed.
    dg = np.zeros((n_steps, batch, 3 * hidden), x.dtype)
    dn_in = np.zeros((n_steps, batch, hidden), x.dtype)
    # Gradient reaching h_t from later in the pass. Rows >= n are never written
    # at step t: for the forward direction they stay zero until their sequence
    # becomes active; reversed, they belong to ended sequences.
    dh = np.zeros((batch, hidden), x.dtype)
    dh_direct = np.empty((batch, hidden), x.dtype)  # z ⊙ dh_t, the path that skips W_hh
    for s in range(n_steps):
        t = s if reverse else n_steps - 1 - s
        tp = t + 1 if reverse else t - 1
        has_prev = 0 <= tp < n_steps
        n = _n_active(lengths, t)
        n_prev = _n_active(lengths, tp) if has_prev else 0  # sequences with an h_{t-1}
        g = gates[t]
        e = extra[t]
        hp = hs[min(max(tp, 0), n_steps - 1)]
        d = dg[t]
        dn = dn_in[t]
        dht = dhs[t]
        for b in range(n):
            for j in range(hidden):
                gr = g[b, j]
                gz = g[b, hidden + j]
                gn = g[b, 2 * hidden + j]
                h_prev = hp[b, j] if b < n_prev else zero
                dh_t = dht[b, j] + dh[b, j]
                dpn = dh_t * (one - gz) * (one - gn * gn)
                d[b, j] = dpn * e[b, j] * gr * (one - gr)
                d[b, hidden + j] = dh_t * (h_prev - gn) * gz * (one - gz)
                d[b, 2 * hidden + j] = dpn * gr
                dn[b, j] = dpn
                dh_direct[b, j] = dh_t * gz
        if n > 0 and has_prev:
            np.dot(d[:n], w_hh, dh[:n])
            for b in range(n):
                for j in range(hidden):
                    dh[b, j] += dh_direct[b, j]
    _hidden_grads(hs, reverse, dg, dw_hh, db_hh)
    # Now the input side: the n block of the pre-activation gradient is dn itself.
    for t in range(n_steps):
        d = dg[t]
        dn = dn_in[t]
        for b in range(_n_active(lengths, t)):
            for j in range(hidden):
                d[b, 2 * hidden + j] = dn[b, j]
    _input_grads(x, lengths, w_ih, dg, dx, dw_ih, db_ih)
