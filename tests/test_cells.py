"""Tests of the Numba cell kernels against a plain numpy step-by-step reference."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_rnn._cells import ACTIVATION_CODES, CELLS

F, H = 3, 4
LENGTHS = np.array([7, 7, 5, 3, 1])  # T = 7, ragged, sorted non-increasing
# (cell, activation code): every cell, and the RNN with each activation.
CELL_CASES = [("rnn", 0), ("rnn", 1), ("rnn", 2), ("lstm", 0), ("gru", 0)]
CASES = [(c, a, r) for c, a in CELL_CASES for r in (False, True)]
IDS = [f"{c}-{a}-{'rev' if r else 'fwd'}" for c, a, r in CASES]
# Steps of gate gradients backward holds at once (its scratch dg): 7 steps make
# chunks of 3, 3 and 1, so that the sums over steps cross chunk boundaries.
CHUNK = 3


# --------------------------------------------------------------------------
# Reference: one sample at a time, over that sample's own steps only.


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_forward(cell, activation, x, lengths, w_ih, w_hh, b_ih, b_hh, reverse):
    """hs, gates, extra as the kernels define them, plus the RNN pre-activations."""
    n_steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    hs = np.zeros((n_steps, batch, hidden))
    gates = np.zeros((n_steps, batch, w_hh.shape[0]))
    extra = np.zeros((n_steps, batch, hidden))
    pre = np.zeros((n_steps, batch, hidden))
    for b in range(batch):
        steps = range(lengths[b])
        h = np.zeros(hidden)
        c = np.zeros(hidden)
        for t in reversed(steps) if reverse else steps:
            gx = w_ih @ x[t, b] + b_ih
            gh = w_hh @ h + b_hh
            if cell == "rnn":
                a = gx + gh
                pre[t, b] = a
                h = [np.tanh(a), np.maximum(a, 0.0), _sigmoid(a)][activation]
                gates[t, b] = h
            elif cell == "lstm":
                a = gx + gh
                i, f, g, o = np.split(a, 4)
                i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
                c = f * c + i * g
                h = o * np.tanh(c)
                gates[t, b] = np.concatenate([i, f, g, o])
                extra[t, b] = c
            else:
                xr, xz, xn = np.split(gx, 3)
                hr, hz, hn = np.split(gh, 3)
                r = _sigmoid(xr + hr)
                z = _sigmoid(xz + hz)
                n = np.tanh(xn + r * hn)
                h = (1.0 - z) * n + z * h
                gates[t, b] = np.concatenate([r, z, n])
                extra[t, b] = hn
            hs[t, b] = h
    return hs, gates, extra, pre


# --------------------------------------------------------------------------
# Helpers


def make_problem(cell, lengths=LENGTHS, n_steps=None, seed=0, batch=None, hidden=H):
    """Inputs and parameters (float64); x is zero at padded steps, as backward needs.

    The weights are U(-1, 1) scaled by 2 / sqrt(hidden), so that wide layers do
    not saturate their gates.
    """
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_steps = lengths.max() if n_steps is None else n_steps
    batch = len(lengths) if batch is None else batch
    g = CELLS[cell].N_GATES * hidden
    x = rng.normal(size=(n_steps, batch, F))
    x[padding_mask(lengths, n_steps)] = 0.0
    scale = min(1.0, 2.0 / np.sqrt(hidden))
    params = [scale * rng.uniform(-1, 1, size=s) for s in [(g, F), (g, hidden), (g,), (g,)]]
    return x, lengths, params


def padding_mask(lengths, n_steps):
    """(T, B) True at padded positions."""
    return np.arange(n_steps)[:, None] >= np.asarray(lengths)[None, :]


def run_forward(cell, activation, x, lengths, params, reverse):
    mod = CELLS[cell]
    n_steps, batch, _ = x.shape
    dtype, hidden = x.dtype, params[1].shape[1]
    # Output buffers start as NaN: the kernels must write every element.
    hs = np.full((n_steps, batch, hidden), np.nan, dtype)
    gates = np.full(
        (n_steps, batch, mod.N_GATES * hidden) if mod.HAS_GATES else (0, 0, 0), np.nan, dtype
    )
    extra = np.full((n_steps, batch, hidden) if mod.HAS_EXTRA else (0, 0, 0), np.nan, dtype)
    mod.forward(
        x, lengths, *params, reverse, activation, np.empty((0, 0, 0), dtype), hs, gates, extra
    )
    return hs, gates, extra


def run_carried(cell, activation, x, lengths, params, state):
    """hs of the forward from ``state``, updated in place to the final state."""
    mod = CELLS[cell]
    n_steps, batch, _ = x.shape
    hs = np.full((n_steps, batch, H), np.nan, x.dtype)
    gates = np.full(
        (n_steps, batch, mod.N_GATES * H) if mod.HAS_GATES else (0, 0, 0), np.nan, x.dtype
    )
    extra = np.full((n_steps, batch, H) if mod.HAS_EXTRA else (0, 0, 0), np.nan, x.dtype)
    mod.forward(x, lengths, *params, False, activation, state, hs, gates, extra)
    return hs


def run_backward(cell, activation, x, lengths, params, reverse, dhs, chunk=CHUNK):
    """hs, dx and the four parameter gradients of sum(dhs * hs)."""
    hs, gates, extra = run_forward(cell, activation, x, lengths, params, reverse)
    dx = np.full_like(x, np.nan)
    dparams = [np.full_like(p, np.nan) for p in params]
    CELLS[cell].backward(
        x, lengths, *params, reverse, activation, hs, gates, extra, dhs, dx, *dparams,
        *backward_scratch(cell, x.shape[0], x.shape[1], x.dtype, chunk, params[1].shape[1]),
    )  # fmt: skip
    return hs, dx, dparams


def backward_scratch(cell, n_steps, batch, dtype, chunk=CHUNK, hidden=H):
    """Backward's scratch ``dg`` and ``dn_in`` for ``chunk`` steps at a time (at most
    n_steps), NaN: it must overwrite what it reads."""
    mod = CELLS[cell]
    chunk = max(1, min(chunk, n_steps))
    dg = np.full((chunk, batch, mod.N_GATES * hidden), np.nan, dtype)
    dn_in = np.full((chunk, batch, hidden) if mod.HAS_DN_IN else (0, 0, 0), np.nan, dtype)
    return dg, dn_in


def relu_safe_problem(cell, activation, reverse, margin=1e-3, **kwargs):
    """A problem whose ReLU pre-activations stay away from the kink (finite differences)."""
    for seed in range(100):
        x, lengths, params = make_problem(cell, seed=seed, **kwargs)
        if activation != 1:
            return x, lengths, params
        *_, pre = reference_forward(cell, activation, x, lengths, *params, reverse)
        valid = ~padding_mask(lengths, x.shape[0])
        if np.abs(pre[valid]).min() > margin:
            return x, lengths, params
    raise RuntimeError("no seed keeps the ReLU pre-activations away from 0")


def random_dhs(x, lengths, seed=1, hidden=H):
    """A fixed random gradient of the outputs, zero at padded steps."""
    dhs = np.random.default_rng(seed).normal(size=(x.shape[0], x.shape[1], hidden))
    dhs[padding_mask(lengths, x.shape[0])] = 0.0
    return dhs


# --------------------------------------------------------------------------
# Tests


def test_module_interface():
    assert ACTIVATION_CODES == {"tanh": 0, "relu": 1, "logistic": 2}
    shapes = {
        name: (mod.N_GATES, mod.HAS_GATES, mod.HAS_EXTRA, mod.N_STATES)
        for name, mod in CELLS.items()
    }
    assert shapes == {
        "rnn": (1, False, False, 1), "lstm": (4, True, True, 2), "gru": (3, True, True, 1),
    }  # fmt: skip
    for mod in CELLS.values():
        for kernel in ("forward", "backward"):
            assert callable(getattr(mod, kernel))


def test_gate_helpers_compile_without_alias_checks():
    """The LSTM's and GRU's per-step gate helpers compile with LLVM's ``noalias``
    (``_config.assume_no_alias``), so that their short loops vectorize: loud if
    Numba's flag hook moved. (test_wide_rows checks the vectorized results.)"""
    from numba.core.compiler import Flags

    for name in ("lstm", "gru"):
        for helper in (CELLS[name]._cell_train, CELLS[name]._cell_back):
            assert helper._compiler._customize_flags(Flags()).noalias is True
    assert not CELLS["lstm"].forward._compiler._customize_flags(Flags()).noalias


def test_only_the_kernels_compile_python_wrappers():
    """Every jitted function of ``_cells`` but the kernels Python calls is compiled
    without Python's and C's wrappers (``_config.HELPER_OPTIONS``): loud if a new
    helper is given the kernels' options, which cost compilation time for nothing."""
    from numba.core.registry import CPUDispatcher

    from sklearn_rnn._cells import _gemm, _layer, _math

    helpers = 0
    for mod in (*CELLS.values(), _gemm, _layer, _math):
        for name, obj in vars(mod).items():
            if not isinstance(obj, CPUDispatcher) or obj.py_func.__module__ != mod.__name__:
                continue
            kernel = name in ("forward", "backward")
            helpers += not kernel
            assert obj.targetoptions.get("no_cpython_wrapper", False) is not kernel, name
            assert obj.targetoptions["no_cfunc_wrapper"] is True, name
    assert helpers >= 20


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_forward_matches_reference(cell, activation, reverse):
    x, lengths, params = make_problem(cell)
    hs, gates, extra = run_forward(cell, activation, x, lengths, params, reverse)
    ref_hs, ref_gates, ref_extra, _ = reference_forward(
        cell, activation, x, lengths, *params, reverse
    )
    assert_allclose(hs, ref_hs, rtol=1e-12, atol=1e-14)
    valid = ~padding_mask(lengths, x.shape[0])
    if CELLS[cell].HAS_GATES:
        assert_allclose(gates[valid], ref_gates[valid], rtol=1e-12, atol=1e-14)
    if CELLS[cell].HAS_EXTRA:
        assert_allclose(extra[valid], ref_extra[valid], rtol=1e-12, atol=1e-14)
    assert np.all(hs[~valid] == 0)


@pytest.mark.parametrize(("cell", "activation"), CELL_CASES)
@pytest.mark.parametrize(
    ("lengths", "n_steps"),
    # Short ragged batch; steps beyond every length; and more steps than one
    # input-projection chunk (64) holds, with lengths ending on either side of its edge.
    [(LENGTHS, 7), ([5, 4, 4, 2], 7), ([150, 130, 64, 63, 1], 150)],
    ids=["ragged", "empty-steps", "chunks"],
)
def test_carried_zero_state_matches_fresh_start(cell, activation, lengths, n_steps):
    """A carried state of zeros gives the outputs of no state; it ends as the last h (and c)."""
    x, lengths, params = make_problem(cell, lengths=lengths, n_steps=n_steps)
    hs, _, extra = run_forward(cell, activation, x, lengths, params, False)
    state = np.zeros((CELLS[cell].N_STATES, len(lengths), H))
    hs_carried = run_carried(cell, activation, x, lengths, params, state)
    assert_allclose(hs_carried, hs, rtol=1e-12, atol=1e-14)
    assert np.all(hs_carried[padding_mask(lengths, n_steps)] == 0)
    last = (lengths - 1, np.arange(len(lengths)))
    assert_array_equal(state[0], hs[last])
    if cell == "lstm":
        assert_array_equal(state[1], extra[last])  # c
    if n_steps == 150:  # long sequences: check the reference too
        ref_hs = reference_forward(cell, activation, x, lengths, *params, False)[0]
        assert_allclose(hs, ref_hs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_backward_matches_finite_differences(cell, activation, reverse):
    x, lengths, params = relu_safe_problem(cell, activation, reverse)
    dhs = random_dhs(x, lengths)
    _, dx, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs)

    def loss():
        return np.sum(dhs * run_forward(cell, activation, x, lengths, params, reverse)[0])

    def numerical_gradient(a, where):
        grad = np.zeros_like(a)
        eps = 1e-6
        for idx in zip(*np.nonzero(where), strict=True):
            orig = a[idx]
            a[idx] = orig + eps
            plus = loss()
            a[idx] = orig - eps
            minus = loss()
            a[idx] = orig
            grad[idx] = (plus - minus) / (2 * eps)
        return grad

    valid_x = np.broadcast_to(~padding_mask(lengths, x.shape[0])[:, :, None], x.shape)
    assert_allclose(dx[valid_x], numerical_gradient(x, valid_x)[valid_x], rtol=1e-6, atol=1e-8)
    for p, dp in zip(params, dparams, strict=True):
        assert_allclose(dp, numerical_gradient(p, np.ones(p.shape, bool)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
@pytest.mark.parametrize(
    ("lengths", "n_steps"), [(LENGTHS, 7), ([5, 4, 4, 2], 7)], ids=["ragged", "empty-steps"]
)
def test_padding_never_leaks(cell, activation, reverse, lengths, n_steps):
    x, lengths, params = make_problem(cell, lengths=lengths, n_steps=n_steps)
    pad = padding_mask(lengths, n_steps)
    dhs = random_dhs(x, lengths)
    results = []
    for fill in [0.0, np.nan, 1e300, -np.inf]:
        xf = x.copy()
        xf[pad] = fill  # forward ignores x at padded steps (backward needs zeros there)
        dhs_f = dhs.copy()
        dhs_f[pad] = fill  # the gradient at padded outputs is ignored as well
        hs, gates, extra = run_forward(cell, activation, xf, lengths, params, reverse)
        _, dx, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs_f)
        assert np.all(hs[pad] == 0)
        assert np.all(dx[pad] == 0)
        results.append([hs, gates, extra, dx, *dparams])
        if not reverse:  # a carried state: the same
            state = np.zeros((CELLS[cell].N_STATES, len(lengths), H))
            results[-1].append(run_carried(cell, activation, xf, lengths, params, state))
            assert_array_equal(results[-1][-1], hs)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert np.all(np.isfinite(a))
            assert_array_equal(a, b)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_sequence_independent_of_batch(cell, activation, reverse):
    x, lengths, params = make_problem(cell)
    dhs = random_dhs(x, lengths)
    hs, dx, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs)
    summed = [np.zeros_like(p) for p in params]
    for b, n in enumerate(lengths):
        # The sequence alone, in a batch of one with no padding.
        one = np.ascontiguousarray(x[:n, b : b + 1])
        dhs_one = np.ascontiguousarray(dhs[:n, b : b + 1])
        hs1, dx1, dparams1 = run_backward(
            cell, activation, one, lengths[b : b + 1], params, reverse, dhs_one
        )
        assert_allclose(hs1[:, 0], hs[:n, b], rtol=1e-12, atol=1e-14)
        assert_allclose(dx1[:, 0], dx[:n, b], rtol=1e-12, atol=1e-14)
        for s, d in zip(summed, dparams1, strict=True):
            s += d
    # Parameter gradients of a batch are the sum of its sequences' gradients.
    for s, d in zip(summed, dparams, strict=True):
        assert_allclose(d, s, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_float32_matches_float64(cell, activation, reverse):
    x, lengths, params = make_problem(cell)
    dhs = random_dhs(x, lengths)
    out64 = run_forward(cell, activation, x, lengths, params, reverse)
    back64 = run_backward(cell, activation, x, lengths, params, reverse, dhs)
    x32 = x.astype(np.float32)
    params32 = [p.astype(np.float32) for p in params]
    dhs32 = dhs.astype(np.float32)
    out32 = run_forward(cell, activation, x32, lengths, params32, reverse)
    back32 = run_backward(cell, activation, x32, lengths, params32, reverse, dhs32)
    pairs = list(zip(out32, out64, strict=True))
    pairs += [(back32[1], back64[1]), *zip(back32[2], back64[2], strict=True)]
    for a32, a64 in pairs:
        assert a32.dtype == np.float32
        assert_allclose(a32, a64, rtol=1e-4, atol=1e-5)


# Rows wider than a vector register and not a multiple of one: the gate loops run
# their vector body and their scalar remainder, which H = 4 does not reach.
WIDE = 37


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_wide_rows(cell, activation, reverse):
    """At H = 37, forward matches the reference; backward matches central differences
    along random directions (x and each parameter apart); float32 matches float64."""
    x, lengths, params = relu_safe_problem(cell, activation, reverse, hidden=WIDE)
    dhs = random_dhs(x, lengths, hidden=WIDE)
    hs, dx, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs)
    ref_hs = reference_forward(cell, activation, x, lengths, *params, reverse)[0]
    assert_allclose(hs, ref_hs, rtol=1e-10, atol=1e-12)

    def loss(x_, params_):
        return np.sum(dhs * run_forward(cell, activation, x_, lengths, params_, reverse)[0])

    rng = np.random.default_rng(2)
    eps = 1e-6
    valid_x = ~padding_mask(lengths, x.shape[0])[:, :, None]
    inputs = [x, *params]
    for k, grad in enumerate([dx, *dparams]):
        direction = rng.normal(size=inputs[k].shape) * (valid_x if k == 0 else 1.0)
        moved = [
            [a + sign * eps * direction if i == k else a for i, a in enumerate(inputs)]
            for sign in (1.0, -1.0)
        ]
        numerical = (loss(moved[0][0], moved[0][1:]) - loss(moved[1][0], moved[1][1:])) / (2 * eps)
        assert_allclose(np.sum(grad * direction), numerical, rtol=1e-6)

    hs32, dx32, dparams32 = run_backward(
        cell, activation, x.astype(np.float32), lengths,
        [p.astype(np.float32) for p in params], reverse, dhs.astype(np.float32),
    )  # fmt: skip
    for a32, a64 in zip([hs32, dx32, *dparams32], [hs, dx, *dparams], strict=True):
        assert a32.dtype == np.float32
        assert_allclose(a32, a64, rtol=1e-4, atol=1e-5 * np.abs(a64).max())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_single_step_and_full_length(cell):
    """T == 1 (no recurrent product at all) and a batch without padding."""
    for lengths in ([1, 1], [4, 4, 4]):
        x, lengths, params = make_problem(cell, lengths=lengths)
        for reverse in (False, True):
            hs, _, _ = run_forward(cell, 0, x, lengths, params, reverse)
            ref = reference_forward(cell, 0, x, lengths, *params, reverse)[0]
            assert_allclose(hs, ref, rtol=1e-12, atol=1e-14)
            _, dx, dparams = run_backward(
                cell, 0, x, lengths, params, reverse, random_dhs(x, lengths)
            )
            assert all(np.all(np.isfinite(a)) for a in [dx, *dparams])
            if x.shape[0] == 1:
                assert np.all(dparams[1] == 0)  # no h_{t-1} ever multiplies W_hh


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_empty_batch(cell):
    """A batch of no sequences is not an error: no output, zero parameter gradients."""
    x, lengths, params = make_problem(cell, lengths=np.zeros(0, np.int64), n_steps=3)
    for reverse in (False, True):
        hs, dx, dparams = run_backward(cell, 0, x, lengths, params, reverse, np.zeros((3, 0, H)))
        assert hs.shape == (3, 0, H)
        assert dx.shape == (3, 0, F)
        state = np.zeros((CELLS[cell].N_STATES, 0, H))
        assert run_carried(cell, 0, x, lengths, params, state).shape == (3, 0, H)
        assert all(np.all(d == 0) for d in dparams)


def _elementwise():
    """A jitted loop applying the kernels' tanh and sigmoid (compiled per dtype)."""
    from numba import njit

    from sklearn_rnn._cells._math import sigmoid, tanh

    @njit
    def apply(x, out_tanh, out_sigmoid):
        for i in range(x.size):
            out_tanh[i] = tanh(x[i])
            out_sigmoid[i] = sigmoid(x[i])

    return apply


def test_elementwise_math():
    """float32 tanh and sigmoid (plain arithmetic) are within a few ulp; NaN and inf behave."""
    grid = np.concatenate(
        [np.linspace(-100, 100, 20001), np.linspace(-3, 3, 20001), np.geomspace(1e-30, 50, 2000)]
    )
    x = np.concatenate([grid, -grid, [0.0, np.inf, -np.inf, np.nan]])
    apply = _elementwise()
    for dtype, rtol in [(np.float32, 4 * np.finfo(np.float32).eps), (np.float64, 1e-13)]:
        xd = x.astype(dtype)
        t, s = np.empty_like(xd), np.empty_like(xd)
        apply(xd, t, s)
        x64 = xd.astype(np.float64)
        with np.errstate(over="ignore"):
            ref_t, ref_s = np.tanh(x64), 1.0 / (1.0 + np.exp(-x64))
        assert t.dtype == s.dtype == dtype
        finite = np.isfinite(x64)
        assert_allclose(t[finite], ref_t[finite], rtol=rtol, atol=0)
        normal = finite & (ref_s > 1e-30)  # far below, float32 sigmoid only needs to be ~0
        assert_allclose(s[normal], ref_s[normal], rtol=rtol, atol=0)
        assert np.all((s[finite] >= 0) & (s[finite] <= 1))
        assert np.all(np.abs(s[finite & ~normal]) < 1e-30)
        assert_array_equal(t[-3:-1], [1.0, -1.0])
        assert s[-3] == 1.0
        assert 0.0 <= s[-2] < 1e-30
        assert np.isnan(t[-1])
        assert np.isnan(s[-1])


def test_wide_vectors():
    """``wide_vectors`` makes LLVM vectorize a loop with 512-bit vectors on an AVX-512
    CPU (and changes nothing elsewhere), with the same bits: the vector loop and
    its scalar remainder compute each element alike."""
    from numba import njit

    from sklearn_rnn._cells._gemm import vector_bytes
    from sklearn_rnn._cells._math import tanh, wide_vectors

    def make(wide):
        @njit(fastmath={"nsz", "arcp", "afn", "reassoc"}, error_model="numpy")
        def apply(x, out):
            if wide:
                wide_vectors()
            for i in range(x.size):
                out[i] = tanh(x[i])

        return apply

    x = np.linspace(-12, 12, 1001).astype(np.float32)  # 1001: a scalar remainder too
    outs = []
    for wide in (False, True):
        apply, out = make(wide), np.empty_like(x)
        apply(x, out)
        outs.append(out)
        uses_zmm = "%zmm" in apply.inspect_asm(apply.signatures[0])
        assert uses_zmm == (wide and vector_bytes() == 64)
    assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize(("cell", "activation"), CELL_CASES)
def test_forward_in_chunks_carries_the_state(cell, activation):
    """Steps run a chunk at a time, with the state carried, give the whole run's outputs."""
    x, lengths, params = make_problem(cell, lengths=[23, 17, 16, 9, 2, 1], seed=7)
    whole_state = np.zeros((CELLS[cell].N_STATES, x.shape[1], H))
    whole = run_carried(cell, activation, x, lengths, params, whole_state)
    state = np.zeros_like(whole_state)
    parts = []
    for t0 in range(0, x.shape[0], 5):
        t1 = min(t0 + 5, x.shape[0])
        chunk_lengths = np.clip(lengths - t0, 0, t1 - t0)
        xc = np.ascontiguousarray(x[t0:t1])
        parts.append(run_carried(cell, activation, xc, chunk_lengths, params, state))
    assert_allclose(np.concatenate(parts), whole, rtol=1e-13, atol=1e-15)
    assert_allclose(state, whole_state, rtol=1e-13, atol=1e-15)
    # the final state is each sequence's last output (h), whatever its length
    assert_allclose(state[0], whole[lengths - 1, np.arange(len(lengths))], rtol=1e-13)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_backward_chunks_change_rounding_only(cell, activation, reverse):
    """Any number of steps per chunk of gate gradients (1 to T, dividing T or not)
    gives the gradients of one chunk over all steps, to rounding."""
    x, lengths, params = make_problem(cell)
    dhs = random_dhs(x, lengths)
    n_steps = x.shape[0]
    _, dx, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs, n_steps)
    for chunk in range(1, n_steps):
        _, dx_c, dparams_c = run_backward(cell, activation, x, lengths, params, reverse, dhs, chunk)
        assert_allclose(dx_c, dx, rtol=1e-13, atol=1e-15)
        for a, b in zip(dparams_c, dparams, strict=True):
            assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_backward_without_dx(cell, activation, reverse):
    """dx=None skips the input gradient and changes no parameter gradient."""
    x, lengths, params = make_problem(cell)
    dhs = random_dhs(x, lengths)
    _, _, dparams = run_backward(cell, activation, x, lengths, params, reverse, dhs)
    hs, gates, extra = run_forward(cell, activation, x, lengths, params, reverse)
    skipped = [np.full_like(p, np.nan) for p in params]
    CELLS[cell].backward(
        x, lengths, *params, reverse, activation, hs, gates, extra, dhs, None,
        *skipped, *backward_scratch(cell, x.shape[0], x.shape[1], x.dtype),
    )  # fmt: skip
    for a, b in zip(skipped, dparams, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
def test_ring_buffers_give_the_same_outputs_and_state(cell, activation, reverse):
    """Prediction's ring buffers (gates: 1 step, extra: 2; hs: 2 when only the state
    is wanted) change nothing that is read: the outputs, or the carried state."""
    mod = CELLS[cell]
    x, lengths, params = make_problem(cell, lengths=[23, 17, 16, 9, 2, 1], seed=3)
    n_steps, batch, _ = x.shape
    hs, _, _ = run_forward(cell, activation, x, lengths, params, reverse)
    gates = np.full((1, batch, mod.N_GATES * H) if mod.HAS_GATES else (0, 0, 0), np.nan)
    extra = np.full((2, batch, H) if mod.HAS_EXTRA else (0, 0, 0), np.nan)
    hs_kept = np.full((n_steps, batch, H), np.nan)
    mod.forward(x, lengths, *params, reverse, activation, np.empty((0, 0, 0)), hs_kept,
                gates, extra)  # fmt: skip
    assert_array_equal(hs_kept, hs)
    if not reverse:  # only the final state: hs a ring too
        state = np.zeros((mod.N_STATES, batch, H))
        whole = np.zeros_like(state)
        run_carried(cell, activation, x, lengths, params, whole)
        mod.forward(x, lengths, *params, False, activation, state, np.full((2, batch, H), np.nan),
                    gates, extra)  # fmt: skip
        assert_array_equal(state, whole)
        assert_array_equal(state[0], hs[lengths - 1, np.arange(batch)])


@pytest.mark.parametrize(("cell", "activation", "reverse"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_blocks_change_nothing(cell, activation, reverse, dtype):
    """A batch too big for one block of rows (``_layer.FORWARD_BLOCK_BYTES``) runs
    in several: its outputs, gates and carried state are the bits of the same rows
    run in parts of fewer than ``MIN_BLOCK_ROWS`` rows, each one block. With ragged
    lengths, some blocks run out of sequences before the last step."""
    from sklearn_rnn._cells._layer import FORWARD_BLOCK_BYTES, MIN_BLOCK_ROWS

    mod = CELLS[cell]
    hidden = 6
    # at least two blocks for every cell: the RNN's rows take the fewest bytes
    # (a step's pre-activations and two steps of h)
    batch = 2 * FORWARD_BLOCK_BYTES // (3 * hidden * np.dtype(dtype).itemsize) + 37
    lengths = np.sort(np.random.default_rng(11).integers(1, 10, size=batch))[::-1].copy()
    x, lengths, params = make_problem(cell, lengths=lengths, seed=5, hidden=hidden)
    x, params = x.astype(dtype), [p.astype(dtype) for p in params]
    n_steps = x.shape[0]
    # a carried state, as prediction's chunks of steps have (a pass back in time has none)
    state_shape = (0, 0, 0) if reverse else (mod.N_STATES, batch, hidden)
    state0 = np.random.default_rng(0).normal(size=state_shape).astype(dtype)

    def run(rows):
        """Outputs, gates, extra and final state of the sequences ``rows`` alone."""
        n = rows.stop - rows.start
        shapes = [
            (n_steps, n, hidden),
            (n_steps, n, mod.N_GATES * hidden) if mod.HAS_GATES else (0, 0, 0),
            (n_steps, n, hidden) if mod.HAS_EXTRA else (0, 0, 0),
        ]
        out = [np.full(shape, np.nan, dtype) for shape in shapes]
        state = state0[:, rows].copy()  # the kernel updates it
        xr = np.ascontiguousarray(x[:, rows])
        mod.forward(xr, lengths[rows], *params, reverse, activation, state, *out)
        return [*out, state]

    whole = run(slice(0, batch))
    step = MIN_BLOCK_ROWS - 1
    parts = [run(slice(r0, min(r0 + step, batch))) for r0 in range(0, batch, step)]
    assert not np.isnan(whole[0]).any()
    for k, array in enumerate(whole):  # every array has the sequences on axis 1
        if array.size:
            assert_array_equal(array, np.concatenate([p[k] for p in parts], axis=1))
