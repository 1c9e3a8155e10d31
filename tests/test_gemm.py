"""Tests of the per-step product with packed weights (``_cells._gemm``)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_rnn._cells import _gemm

# (K, N, rows): whole and partial tiles (6 rows, or 12 for a narrow B) and panels
# (NARROW_BYTES of columns for a B of at most a vector of columns, PANEL_BYTES for
# two, WIDE_BYTES for more: 8, 16 and 16 float32 columns with AVX2, 16, 32 and 64
# with AVX-512), single rows and columns, and the shapes of the benchmarks.
SHAPES = [
    (1, 1, 1), (3, 5, 7), (4, 16, 5), (16, 16, 32), (5, 40, 13), (7, 3, 6),
    (32, 128, 32), (64, 192, 11), (128, 512, 100), (512, 128, 100),
]  # fmt: skip
DTYPES = [(np.float32, 2e-6), (np.float64, 1e-14)]


@njit
def _product(a, w, transpose, out):
    """``out[:] = a @ (w.T if transpose else w)`` through the packed weights."""
    _gemm.matmul(a, _gemm.packed(w.T if transpose else w), out)


@njit
def _matmul(a, bp, out):
    _gemm.matmul(a, bp, out)


@njit
def _packed(w, transpose):
    return _gemm.packed(w.T if transpose else w)


def _problem(K, N, rows, dtype, transpose, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((N, K) if transpose else (K, N)).astype(dtype)
    a = rng.standard_normal((rows, K)).astype(dtype)
    return a, w, (w.T if transpose else w)


@pytest.mark.parametrize(("dtype", "rtol"), DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize(("K", "N", "rows"), SHAPES)
def test_product_matches_numpy(K, N, rows, transpose, dtype, rtol):
    a, w, b = _problem(K, N, rows, dtype, transpose)
    out = np.full((rows, N), np.nan, dtype)
    _product(a, w, transpose, out)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    # each term rounded once (fma): the error grows with K at most
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(out - exact) <= rtol * K * scale)


@pytest.mark.parametrize(("dtype", "rtol"), DTYPES, ids=["float32", "float64"])
def test_layout_and_other_rows_change_nothing(dtype, rtol):
    """A row's result is the same bits whatever the other rows of the product (the
    shards, the sequences still running) and whatever the arrays' strides."""
    a, w, _ = _problem(64, 40, 23, dtype, True, seed=1)
    out = np.empty((23, 40), dtype)
    _product(a, w, True, out)
    for rows in ([5], [0, 22], list(range(7)), list(range(3, 20))):
        part = np.empty((len(rows), 40), dtype)
        _product(a[rows], w, True, part)
        assert_array_equal(part, out[rows])
    strided = np.empty((23, 40), dtype, order="F")
    _product(np.asfortranarray(a), w, True, strided)
    assert_array_equal(strided, out)


def test_packing_layout():
    """Panels of WIDE_BYTES of columns for a B of more than two vectors of columns
    (PANEL_BYTES for two), row after row, zero past the last column."""
    width = _gemm.WIDE_BYTES // 4  # float32 columns in a panel
    n_cols = width + 4  # B = w: K = 3, two panels, the second one with 4 columns
    w = np.arange(3 * n_cols, dtype=np.float32).reshape(3, n_cols)
    bp = _packed(w, False)
    panels = bp.reshape(2, 3, width)
    assert_array_equal(panels[0], w[:, :width])
    assert_array_equal(panels[1, :, :4], w[:, width:])
    assert_array_equal(panels[1, :, 4:], 0)
    assert_array_equal(_packed(np.ascontiguousarray(w.T), True), bp)
    # float64: panels of half as many columns, so w spans three of them
    bp64 = _packed(w.astype(np.float64), False).reshape(3, 3, width // 2)
    assert bp64[2, 0, 3] == w[0, width + 3]
    assert bp64[2, 0, 4] == 0


def test_narrow_packing_layout():
    """A B of at most a vector of columns is one panel of a vector, not half a
    panel of zeros; one more column makes it a whole panel."""
    narrow = _gemm.NARROW_BYTES // 4  # float32 columns in a vector
    w = np.arange(5 * narrow, dtype=np.float32).reshape(5, narrow)
    assert_array_equal(_packed(w, False), w.ravel())
    three = _packed(w[:, :3], False).reshape(5, narrow)
    assert_array_equal(three[:, :3], w[:, :3])
    assert_array_equal(three[:, 3:], 0)
    wider = np.ones((5, narrow + 1), np.float32)
    assert _packed(wider, False).size == 5 * _gemm.PANEL_BYTES // 4
    # two vectors of columns: a panel of two; one more, panels of WIDE_BYTES
    assert _packed(np.ones((5, 2 * narrow), np.float32), False).size == 5 * 2 * narrow
    wide = _gemm.WIDE_BYTES // 4
    panels = -(-(2 * narrow + 1) // wide)
    assert _packed(np.ones((5, 2 * narrow + 1), np.float32), False).size == 5 * panels * wide


@njit
def _fused(x, wx, h, wh, bias, out):
    """``out[:] = bias + x @ wx + h @ wh`` through the packed weights, as the forward."""
    _gemm.product(
        ((x, _gemm.packed(wx)), (h, _gemm.packed(wh))),
        _gemm.packed(bias.reshape((1, bias.shape[0]))),
        out,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("F", "H", "N", "rows"), [(1, 16, 16, 30), (3, 32, 128, 13), (8, 5, 40, 7)]
)
def test_bias_and_two_terms_are_one_chain_of_fmas(F, H, N, rows, dtype):
    """The forward's product, bias + x @ W_x + h @ W_h, is the same bits as one
    product of [1, x, h] and [bias; W_x; W_h]: one chain of fmas per element. A
    term with no columns (no state yet) adds nothing."""
    rng = np.random.default_rng(F + H)
    x = rng.standard_normal((rows, F)).astype(dtype)
    h = rng.standard_normal((rows, H)).astype(dtype)
    wx = rng.standard_normal((F, N)).astype(dtype)
    wh = rng.standard_normal((H, N)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype)
    out = np.empty((rows, N), dtype)
    _fused(x, wx, h, wh, bias, out)
    one = np.ones((rows, 1), dtype)
    whole = np.empty((rows, N), dtype)
    _product(np.hstack([one, x, h]), np.vstack([bias[None], wx, wh]), False, whole)
    assert_array_equal(out, whole)
    _fused(x, wx, h[:, :0], wh[:0], bias, out)
    _product(np.hstack([one, x]), np.vstack([bias[None], wx]), False, whole)
    assert_array_equal(out, whole)


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ("+avx2,+fma,+avx512f,+avx512bw", 64),
        ("+avx2,+fma,-avx512f,-avx512bw", 32),
        ("+avx2,+fma", 32),
    ],
)
def test_vector_bytes_follows_the_cpu_features(features, expected):
    assert _gemm.vector_bytes(features) == expected


def test_nothing_outside_the_arrays_is_touched():
    """Shapes that do not match write only inside ``out`` and read only inside
    ``a`` and the packed weights: ``out`` a window of a larger array, ``a`` with
    more or fewer rows than ``out``, weights with fewer panels than ``out`` needs."""
    a, w, b = _problem(8, 20, 9, np.float32, False, seed=2)
    bp = _packed(w, False)
    frame = np.full((13, 30), -7.0, np.float32)
    out = frame[2:9, 3:23]  # 7 x 20, rows strided by 30
    _matmul(a, bp, out)  # a has 9 rows: the first 7 are computed
    assert_allclose(out, a[:7] @ b, rtol=1e-5, atol=1e-5)
    mask = np.ones(frame.shape, bool)
    mask[2:9, 3:23] = False
    assert np.all(frame[mask] == -7.0)
    short = np.full((9, 20), -7.0, np.float32)
    _matmul(a[:4], bp, short)  # a has 4 rows: only 4 rows of out are written
    assert_allclose(short[:4], a[:4] @ b, rtol=1e-5, atol=1e-5)
    assert np.all(short[4:] == -7.0)
    # out wider than B's panels: the columns past them untouched (B of 40 columns
    # fills 3 panels of 16 with AVX2, or 1 of 64 with AVX-512)
    a, w, b = _problem(8, 40, 9, np.float32, False, seed=3)
    covered = -(-40 // (_gemm.WIDE_BYTES // 4)) * (_gemm.WIDE_BYTES // 4)
    wide = np.full((9, covered + 8), -7.0, np.float32)
    _matmul(a, _packed(w, False), wide)
    assert_allclose(wide[:, :40], a @ b, rtol=1e-5, atol=1e-5)
    assert_array_equal(wide[:, 40:covered], 0)  # the zero columns of the last panel
    assert np.all(wide[:, covered:] == -7.0)
    # a narrow B (10 columns): a window of 7 rows of out, a with 15 (a tile of 12 rows)
    a, w, b = _problem(8, 10, 15, np.float32, False, seed=5)
    frame = np.full((13, 30), -7.0, np.float32)
    _matmul(a, _packed(w, False), frame[2:9, 3:13])
    assert_allclose(frame[2:9, 3:13], a[:7] @ b, rtol=1e-5, atol=1e-5)
    mask = np.ones(frame.shape, bool)
    mask[2:9, 3:13] = False
    assert np.all(frame[mask] == -7.0)
    # C-contiguous rows of a larger array, in whole tiles (stored straight into out)
    # and a last partial one: the rows around them untouched
    for N, rows in ((64, 12), (64, 13), (16, 24), (16, 25)):
        a, w, b = _problem(8, N, rows, np.float32, False, seed=6)
        frame = np.full((rows + 4, N), -7.0, np.float32)
        _matmul(a, _packed(w, False), frame[2 : rows + 2])
        assert_allclose(frame[2 : rows + 2], a @ b, rtol=1e-5, atol=1e-5)
        assert np.all(frame[:2] == -7.0)
        assert np.all(frame[rows + 2 :] == -7.0)


def test_non_finite_values_propagate():
    """inf and NaN reach the rows they belong to, and only those."""
    a, w, _ = _problem(16, 16, 8, np.float32, True, seed=3)
    a[2, 5] = np.nan
    a[6, 0] = np.inf
    out = np.empty((8, 16), np.float32)
    _product(a, w, True, out)
    assert np.all(np.isnan(out[2]))
    assert np.all(~np.isfinite(out[6]))
    finite = [r for r in range(8) if r not in (2, 6)]
    assert np.all(np.isfinite(out[finite]))


_OTHER_WIDTH_SCRIPT = """
import sys

import numpy as np
from numba import njit
from sklearn_rnn._cells import _gemm

@njit
def product(a, w):
    out = np.empty((a.shape[0], w.shape[1]), a.dtype)
    _gemm.matmul(a, _gemm.packed(w), out)
    return out

arrays = dict(np.load(sys.argv[1]))
names = ("f32", "f64", "f32n", "f64n")
results = {name: product(arrays["a_" + name], arrays["w_" + name]) for name in names}
np.savez(sys.argv[2], panel_bytes=_gemm.PANEL_BYTES, **results)
"""


def test_avx2_panels_compute_the_same_bits(tmp_path):
    """The tile of AVX2's 32-byte vectors (what a machine without AVX-512 compiles)
    gives the same bits as this machine's: each element is the same chain of fmas.
    Run in a subprocess that tells Numba the CPU has no AVX-512."""
    from numba.core.codegen import get_host_cpu_features

    features = get_host_cpu_features()
    if "+avx2" not in features.split(","):
        pytest.skip("the host has no AVX2")
    rng = np.random.default_rng(4)
    arrays = {}
    for name, dtype in (("f32", np.float32), ("f64", np.float64)):
        arrays["a_" + name] = rng.standard_normal((13, 70)).astype(dtype)
        arrays["w_" + name] = rng.standard_normal((70, 45)).astype(dtype)
        # 12 columns: a narrow B here (one 64-byte vector), two AVX2 vectors there
        arrays["a_" + name + "n"] = rng.standard_normal((29, 16)).astype(dtype)
        arrays["w_" + name + "n"] = rng.standard_normal((16, 12)).astype(dtype)
    np.savez(tmp_path / "in.npz", **arrays)
    env = dict(
        os.environ,
        NUMBA_CPU_FEATURES=features.replace("+avx512", "-avx512"),
        SKLEARN_RNN_DISABLE_NUMBA_CACHE="1",
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            _OTHER_WIDTH_SCRIPT,
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npz"),
        ],
        env=env,
        check=True,
        timeout=300,
    )
    other = np.load(tmp_path / "out.npz")
    assert int(other["panel_bytes"]) == 64  # two 32-byte vectors
    for name in ("f32", "f64", "f32n", "f64n"):
        a, w = arrays["a_" + name], arrays["w_" + name]
        here = np.empty((a.shape[0], w.shape[1]), a.dtype)
        _product(a, w, False, here)
        assert_array_equal(other[name], here)
