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

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from .._config import JIT_OPTIONS

N_GATES = 3
HAS_EXTRA = True
N_STATES = 1

# Steps whose input projection is computed at once (one product): bounds that
# scratch to (_CHUNK, B, G) whatever the sequence length.
_CHUNK = 64

# Input widths up to which the input projection is done by plain loops, not BLAS.
_SMALL_K = 8


# -- Elementwise math ------------------------------------------------------------
# exp, tanh and sigmoid in plain arithmetic, so that the gate loops vectorize:
# PyPI's llvmlite has no vector math library, and libm's tanh costs 16-30 ns a
# call. float32: tanh is Eigen's rational approximation on [-9, 9] (no exp at all),
# exp is Cephes' expf (Cody-Waite reduction, a degree-7 polynomial), all within
# 5 ulp. float64: Cody-Waite reduction and a degree-13 polynomial for exp (within
# 3e-14 relative, the bound if fast-math folds the two parts of ln 2 into one),
# Cephes' rational tanh below 0.625. 2**k is made by bit casts. ``_tanh`` and
# ``_sigmoid`` dispatch on the type when compiled. NaN stays NaN; exp saturates
# outside its range ([-87, 88] in float32), as sigmoid and tanh do anyway.

_F32 = np.float32
_ONE32, _HALF32 = _F32(1.0), _F32(0.5)
_EXP_HI, _EXP_LO = _F32(88.0), _F32(-87.0)
_LOG2E = _F32(1.44269504088896341)
# ln 2 in two parts: k * _LN2_A32 is exact for |k| < 2**15
_LN2_A32, _LN2_B32 = _F32(0.693359375), _F32(-2.12194440e-4)
_EXP_P = tuple(_F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))  # fmt: skip
# tanh(x) = x P(x^2) / Q(x^2) on [-9, 9], where float32 tanh is +-1 beyond.
_TANH_P = tuple(_F32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13,
                                  -8.60467152213735e-11, 5.12229709037114e-08,
                                  1.48572235717979e-05, 6.37261928875436e-04,
                                  4.89352455891786e-03))  # fmt: skip
_TANH_Q = tuple(_F32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04,
                                  2.26843463243900e-03, 4.89352518554385e-03))  # fmt: skip
_TANH_HI, _TANH_LO = _F32(9.0), _F32(-9.0)

_EXP64_HI, _EXP64_LO = 709.0, -708.0
_LOG2E_64 = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_EXP64_P = tuple(1.0 / math.factorial(n) for n in range(13, 1, -1))  # 1/13!, ..., 1/2!
# k + 2**52 + 1023 has the bits 0x4330000000000000 + (k + 1023): an exact way to
# get k + 1023 as an integer from a float k, with no float-to-int conversion.
_EXP64_SHIFT, _EXP64_SHIFT_BITS = 4503599627371519.0, 0x4330000000000000
_TANH64_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TANH64_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)

_MATH_OPTIONS = {k: JIT_OPTIONS[k] for k in ("fastmath", "error_model")}


@intrinsic
def _bitcast(typingctx, value):
    """Reinterpret the bits of an int32 as a float32, of a float64 as an int64 and back."""
    target = {types.int32: types.float32, types.float64: types.int64,
              types.int64: types.float64}.get(value)  # fmt: skip
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(value), codegen


@njit(**JIT_OPTIONS)
def _exp32(x):
    x = _EXP_HI if x > _EXP_HI else x  # written so that NaN passes through
    x = _EXP_LO if x < _EXP_LO else x
    k = np.floor(x * _LOG2E + _HALF32)
    r = x - k * _LN2_A32
    r = r - k * _LN2_B32
    p0, p1, p2, p3, p4, p5 = _EXP_P
    y = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r + _ONE32
    ki = np.int32(k) if k == k else np.int32(0)  # NaN would make the conversion undefined
    return y * _bitcast(np.int32((ki + 127) << 23))  # y * 2**k


@njit(**JIT_OPTIONS)
def _tanh32(x):
    x = _TANH_HI if x > _TANH_HI else x  # written so that NaN passes through
    x = _TANH_LO if x < _TANH_LO else x
    z = x * x
    a13, a11, a9, a7, a5, a3, a1 = _TANH_P
    p = ((((((a13 * z + a11) * z + a9) * z + a7) * z + a5) * z + a3) * z + a1) * x
    b6, b4, b2, b0 = _TANH_Q
    return p / (((b6 * z + b4) * z + b2) * z + b0)


@njit(**JIT_OPTIONS)
def _exp64(x):
    x = _EXP64_HI if x > _EXP64_HI else x  # written so that NaN passes through
    x = _EXP64_LO if x < _EXP64_LO else x
    k = np.floor(x * _LOG2E_64 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    c13, c12, c11, c10, c9, c8, c7, c6, c5, c4, c3, c2 = _EXP64_P
    p = c13 * r + c12
    p = ((((p * r + c11) * r + c10) * r + c9) * r + c8) * r + c7
    p = (((((p * r + c6) * r + c5) * r + c4) * r + c3) * r + c2) * r * r + r + 1.0
    return p * _bitcast((_bitcast(k + _EXP64_SHIFT) - _EXP64_SHIFT_BITS) << 52)  # p * 2**k


@njit(**JIT_OPTIONS)
def _tanh64(x):
    a = abs(x)
    big = 1.0 - 2.0 / (_exp64(a + a) + 1.0)
    big = big if x >= 0 else -big
    z = x * x
    p0, p1, p2 = _TANH64_P
    q0, q1, q2 = _TANH64_Q
    small = x + x * z * (((p0 * z + p1) * z + p2) / (((z + q0) * z + q1) * z + q2))
    return big if a >= 0.625 else small


def _tanh(a):
    """tanh in the type of a (the approximations above)."""
    return np.tanh(a)


@overload(_tanh, jit_options=_MATH_OPTIONS)
def _tanh_impl(a):
    if a == types.float32:
        return lambda a: _tanh32(a)
    return lambda a: _tanh64(a)


def _sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), in the type of a."""
    return 1.0 / (1.0 + np.exp(-a))


@overload(_sigmoid, jit_options=_MATH_OPTIONS)
def _sigmoid_impl(a):
    if a == types.float32:
        return lambda a: _ONE32 / (_ONE32 + _exp32(-a))
    return lambda a: 1.0 / (1.0 + _exp64(-a))


@njit(**JIT_OPTIONS)
def _n_active(lengths, t):
    """Number of sequences still running at step t (``lengths`` is non-increasing)."""
    n = lengths.shape[0]
    while n > 0 and lengths[n - 1] <= t:
        n -= 1
    return n


@njit(**JIT_OPTIONS)
def _project(x, w_ih, bias, t_lo, m, out):
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
def _project_step(xt, w_t, bias, n, out):
    """``out[:n] = xt[:n] @ w_t + bias`` by plain loops, for few input features.

    A product with K = F <= _SMALL_K is mostly overhead in BLAS (K = 1 is a
    rank-one update); done one step at a time, just before the gate math reads
    it, it also stays in cache. ``w_t`` is ``w_ih.T``, contiguous over the gates.
    """
    n_in, n_gates = w_t.shape
    for b in range(n):
        o = out[b]
        xr = xt[b]
        for j in range(n_gates):
            o[j] = bias[j]
        for f in range(n_in):
            xv = xr[f]
            wf = w_t[f]
            for j in range(n_gates):
                o[j] += xv * wf[j]


@njit(**JIT_OPTIONS)
def _column_sums(d, out):
    """out[j] = sum of d[t, b, j] over all t, b."""
    out[:] = 0
    rows = d.reshape(d.shape[0] * d.shape[1], d.shape[2])
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(rows.shape[1]):
            out[j] += row[j]


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
def _input_grads(x, lengths, w_ih, dg, dx, dw_ih, db_ih, db_same):
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
        _column_sums(dg, db_ih)
    if dx is None:
        return  # the caller does not need dx (a first layer): not even compiled
    np.dot(dgf, w_ih, dx.reshape(rows, n_in))
    for t in range(n_steps):
        dx[t, _n_active(lengths, t) :] = 0


@njit(**JIT_OPTIONS)
def _cell_train(gx, hh, b_hn, h_prev, h, g, e):
    """One step of one sequence: gx its input pre-activations (b_ir + b_hr and b_iz +
    b_hz included, b_in too), hh = W_h* h_{t-1} (3H)."""
    hidden = h.shape[0]
    for j in range(hidden):
        gr = _sigmoid(gx[j] + hh[j])
        gz = _sigmoid(gx[hidden + j] + hh[hidden + j])
        hn = hh[2 * hidden + j] + b_hn[j]
        gn = _tanh(gx[2 * hidden + j] + gr * hn)
        h[j] = gn + gz * (h_prev[j] - gn)  # = (1 - z) n + z h_prev
        g[j] = gr
        g[hidden + j] = gz
        g[2 * hidden + j] = gn
        e[j] = hn


@njit(**JIT_OPTIONS)
def _input_bias(b_ih, b_hh, hidden):
    """Biases added to the input projection: both for r and z, b_in only for n
    (b_hn is added before the product with r)."""
    bias = b_ih.copy()
    for k in range(2 * hidden):
        bias[k] += b_hh[k]
    return bias


@njit(**JIT_OPTIONS)
def forward(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, state, hs, gates, extra):
    """Forward: writes ``hs``, ``gates`` (r, z, n), ``extra`` (W_hn h + b_hn); carries ``state``."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    bias = _input_bias(b_ih, b_hh, hidden)
    b_hn = b_hh[2 * hidden :]
    carry = state.shape[0] > 0  # else every sequence starts from a zero state
    # steps kept: n_steps, or fewer for ring buffers (step t at t % ring), see _cells
    ring_h, ring_g, ring_e = hs.shape[0], gates.shape[0], extra.shape[0]
    small = x.shape[2] <= _SMALL_K  # project the input step by step (_project_step)
    chunk = 1 if small else max(1, min(n_steps, _CHUNK))
    w_t = np.ascontiguousarray(w_ih.T)
    gbuf = np.empty((chunk, batch, 3 * hidden), x.dtype)  # input projections of a chunk
    hh = np.empty((batch, 3 * hidden), x.dtype)
    zeros = np.zeros(3 * hidden, x.dtype)  # hh and h_{t-1} of a sequence's first step
    for s0 in range(0, n_steps, chunk):
        s1 = min(s0 + chunk, n_steps)
        t_lo = n_steps - s1 if reverse else s0
        if not small:
            _project(x, w_ih, bias, t_lo, s1 - s0, gbuf)
        for s in range(s0, s1):
            t = n_steps - 1 - s if reverse else s
            tp = t + 1 if reverse else t - 1  # the step before t in the pass
            first = not 0 <= tp < n_steps
            n = _n_active(lengths, t)
            if small:
                _project_step(x[t], w_t, bias, n, gbuf[0])
            gx, h, g, e = (
                gbuf[t - t_lo],
                hs[t % ring_h],
                gates[t % ring_g],
                extra[t % ring_e],
            )
            if first and not carry:
                for b in range(n):
                    _cell_train(gx[b], zeros, b_hn, zeros, h[b], g[b], e[b])
            else:
                # hs is zero at padded steps, so for reverse=True a sequence
                # starts from a zero state at its own last step.
                hp = state[0] if first else hs[tp % ring_h]
                if n > 0:
                    np.dot(hp[:n], w_hh.T, hh[:n])
                for b in range(n):
                    _cell_train(gx[b], hh[b], b_hn, hp[b], h[b], g[b], e[b])
            if carry:  # the state of the sequences ending at step t
                for b in range(_n_active(lengths, t + 1), n):
                    for j in range(hidden):
                        state[0, b, j] = h[b, j]
            h[n:] = 0
            g[n:] = 0
            e[n:] = 0


@njit(**JIT_OPTIONS)
def _cell_back(g, e, h_prev, dht, dh, d, dn, dh_direct):
    """Gate gradients of one step of one sequence (d: hidden side, dn: input-side n)."""
    hidden = e.shape[0]
    one = e.dtype.type(1)
    for j in range(hidden):
        gr = g[j]
        gz = g[hidden + j]
        gn = g[2 * hidden + j]
        dh_t = dht[j] + dh[j]
        dpn = dh_t * (one - gz) * (one - gn * gn)
        d[j] = dpn * e[j] * gr * (one - gr)
        d[hidden + j] = dh_t * (h_prev[j] - gn) * gz * (one - gz)
        d[2 * hidden + j] = dpn * gr
        dn[j] = dpn
        dh_direct[j] = dh_t * gz


@njit(**JIT_OPTIONS)
def backward(
    x, lengths, w_ih, w_hh, b_ih, b_hh, reverse, activation, hs, gates, extra,
    dhs, dx, dw_ih, dw_hh, db_ih, db_hh,
):  # fmt: skip
    """Backpropagation through time from ``dhs``; overwrites dx and the parameter gradients."""
    n_steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    # Hidden-side pre-activation gradients (r, z, r ⊙ dn); the input-side n block
    # (dn) is kept apart in dn_in and swapped in after dW_hh is computed.
    dg = np.empty((n_steps, batch, 3 * hidden), x.dtype)  # zeroed at padding below
    dn_in = np.empty((n_steps, batch, hidden), x.dtype)  # read where active only
    # Gradient reaching h_t from later in the pass. Rows >= n are never written
    # at step t: for the forward direction they stay zero until their sequence
    # becomes active; reversed, they belong to ended sequences.
    dh = np.zeros((batch, hidden), x.dtype)
    dh_direct = np.empty((batch, hidden), x.dtype)  # z ⊙ dh_t, the path that skips W_hh
    zeros = np.zeros(hidden, x.dtype)
    for s in range(n_steps):
        t = s if reverse else n_steps - 1 - s
        tp = t + 1 if reverse else t - 1
        has_prev = 0 <= tp < n_steps
        n = _n_active(lengths, t)
        g, e, d, dn, dht = gates[t], extra[t], dg[t], dn_in[t], dhs[t]
        # h_{t-1} is zero where a reversed sequence starts (hs is zero at padding).
        hp = hs[tp] if has_prev else hs[t]
        for b in range(n):
            h_prev = hp[b] if has_prev else zeros
            _cell_back(g[b], e[b], h_prev, dht[b], dh[b], d[b], dn[b], dh_direct[b])
        d[n:] = 0  # the products over all steps read the padding too
        if n > 0 and has_prev:
            np.dot(d[:n], w_hh, dh[:n])
            for b in range(n):
                dhb, ddb = dh[b], dh_direct[b]
                for j in range(hidden):
                    dhb[j] += ddb[j]
    _hidden_grads(hs, reverse, dg, dw_hh, db_hh)
    # Now the input side: the n block of the pre-activation gradient is dn itself.
    for t in range(n_steps):
        d = dg[t]
        dn = dn_in[t]
        for b in range(_n_active(lengths, t)):
            db, dnb = d[b], dn[b]
            for j in range(hidden):
                db[2 * hidden + j] = dnb[j]
    _input_grads(x, lengths, w_ih, dg, dx, dw_ih, db_ih, db_ih[:0])
