"""The products with a layer's weights: ``a @ B`` against a B packed once per pass.

Every step of a pass multiplies its input and the previous step's state (or
gradient) by the same weights: ``bias + x_t @ W_ih.T + h_{t-1} @ W_hh.T`` forward
(:func:`product`, one chain of fmas per element), ``d_t @ W_hh`` backward; every
chunk of steps of the backward multiplies its gradients by ``W_ih``. BLAS
packs the weights into its blocked layout again at every call, which took a
fifth of the large LSTM's fit (``perf``: OpenBLAS's ``sgemm_*copy`` routines);
here they are packed once per pass (:func:`packed`), and each product runs only
the tile kernel. (The parameter gradients, whose operands are all new, are left
to BLAS.)

The tile kernel holds up to 6 rows by one panel of columns (two vectors of the
CPU's widest registers: 128 bytes with AVX-512, 32 float32 or 16 float64; 64
bytes with AVX2) in twelve vector registers, and adds ``a[i, k] * B[k, panel]``
for k = 0, 1, ... with LLVM's vector ``fma``: one rounding per term, in the order
of k, whatever the thread, the other rows of the product or the vector width, so
results do not depend on them. It is written as LLVM IR through a Numba
intrinsic because Numba's loops over 16 scalar accumulators do not vectorize.
Panels are the outer loop: one panel stays in the L1 cache while the row tiles
pass over it (paired fits of the large LSTM, two threads: 0.93 of BLAS's epoch
this way, 0.99 with the rows outer). Measured against ``np.dot`` (OpenBLAS's
AVX-512 kernels, one thread; the products of the benchmark's configurations, on
an AVX-512 machine): 0.75 of its time for 100 x 128 @ 128 x 512 and 100 x 512 @
512 x 128 in float32, 0.7 for the mid ones, 0.85 to 0.9 in float64; about the
same time for the small ones (K or N = 32). A B of at most a vector of columns
(the tiny RNN's 16 hidden units in float32) has panels of one vector and tiles of
12 rows: with half-empty panels of two, its 2000 x 16 @ 16 x 16 took 1.8 times
as long (float32, one thread). A B of more than two vectors of columns has, with
AVX-512, panels of four vectors and tiles of 6 rows by 4 vectors, 24 of its 32
registers (``WIDE_VECTORS``).

Shared by the three cells' kernels: ``_config`` makes Numba's cache of every
kernel depend on this file too, so a change here recompiles them.
"""

import numpy as np
from llvmlite import ir
from numba import literal_unroll, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import HELPER_OPTIONS


def vector_bytes(features=None):
    """Bytes of the widest vector register of the CPU the kernels are compiled for:
    64 with AVX-512, 32 otherwise (AVX2's; the tile assumes at least that).

    ``features`` is LLVM's feature string (``"+avx2,+avx512f,..."``); by default
    Numba's own: ``NUMBA_CPU_FEATURES``, or the host's. Numba keys its cache by
    CPU name and features too, so a cached kernel always matches this choice.
    """
    if features is None:
        from numba.core import config

        features = config.CPU_FEATURES
    if features is None:
        try:  # Numba's reading of the host, which NUMBA_ENABLE_AVX=0 can turn down
            from numba.core.codegen import get_host_cpu_features

            features = get_host_cpu_features()
        except ImportError:  # Numba's internals moved: LLVM's own reading
            import llvmlite.binding as llvm

            features = llvm.get_host_cpu_features().flatten()
    return 64 if "+avx512f" in features.split(",") else 32


#: Bytes in a panel of B: two vectors, the width of the tile. With AVX-512 (64-byte
#: vectors) the products take half the time of AVX2's 32-byte ones: the same
#: number of instructions, each on twice the columns (float32, 100 rows x K = 128
#: x N = 512, one thread: 150 GFLOP/s against 75). The results are the same bits.
PANEL_BYTES = 2 * vector_bytes()

#: Vectors per panel; the tile's registers are TILE_ROWS * VECTORS (12 of AVX2's 16,
#: or of AVX-512's 32).
VECTORS = 2

#: Rows of a tile (the last tile of a product may have fewer).
TILE_ROWS = 6

#: Bytes in a panel of a narrow B, one that has at most a vector of columns (the
#: tiny RNN's 16 hidden units in float32 with AVX-512): half a panel would be
#: zeros, and its columns would be copied out one by one.
NARROW_BYTES = PANEL_BYTES // VECTORS

#: Rows of a narrow tile: as many accumulators (12 vectors) as the wide tile.
NARROW_ROWS = TILE_ROWS * VECTORS

#: Vectors in a panel of a wide B, one of more than two vectors of columns, when
#: the CPU has the 32 vector registers of AVX-512: a tile of 6 rows by 4 vectors
#: holds 24 accumulators, reads each element of a once for twice the columns, and
#: its fixed costs (the bias, the stores) cover twice the work. One thread,
#: float32, against panels of two vectors: 0.85-0.91 of the time of the large
#: LSTM's 100 x 512 @ 512 x 128, 0.91-0.96 of the small LSTM's 32 x 33 @ 33 x 128,
#: 0.94-0.98 of 100 x 256 @ 256 x 512 (with a B of two vectors, 32 x 128 @ 128 x
#: 32, it took 1.11 times as long: those keep panels of two). Predict then took
#: 0.91 of its time for the small LSTM and the mid GRU, 0.97 for the large LSTM;
#: the same bits. A third tile in every product costs compile time, which the
#: GRU's input product pays back by sharing the other cells' signature.
WIDE_VECTORS = 4 if vector_bytes() == 64 else VECTORS

#: Bytes in a panel of a wide B.
WIDE_BYTES = WIDE_VECTORS * NARROW_BYTES


def _make_tile(n_vectors, tile_rows):
    """The tile kernel for panels of ``n_vectors`` vectors and tiles of ``tile_rows``
    rows (an intrinsic): see :func:`_tile_typing`."""

    def tile(typingctx, terms, bias, i0, n_rows, p, out):
        return _tile_typing(n_vectors, tile_rows, terms, bias, i0, n_rows, p, out)

    tile.__name__ = f"tile_{n_vectors}x{tile_rows}"
    return intrinsic(tile)


def _is_term(term, dtype):
    """Whether ``term`` types as ``(a, bp)``: a 2-D array and a packed 1-D one of ``dtype``."""
    return (
        isinstance(term, types.BaseTuple)
        and len(term) == 2
        and all(isinstance(x, types.Array) and x.dtype == dtype for x in term)
        and (term[0].ndim, term[1].ndim) == (2, 1)
    )


def _tile_typing(n_vectors, tile_rows, terms, bias, i0, n_rows, p, out):
    """``out[i0 : i0 + n_rows, panel p] = (bias + sum of a[i0 : i0 + n_rows] @ B)[:, :w]``.

    ``terms`` is a tuple of ``(a, bp)``: a is (rows, K), bp a B packed by
    :func:`packed` (panels of width = n_vectors vectors of the CPU's widest),
    whose panel p is the (K, width) block at ``p * K * width``. ``bias`` is None
    (zero) or a (1, N) row packed the same way. The panel's columns are ``p *
    width`` to ``p * width + w``, w = min(width, out.shape[1] - p * width);
    1 <= n_rows <= tile_rows. A tile of fewer rows computes its last row in the
    place of the missing ones. The caller makes the rows and the panels valid
    (:func:`product`).

    Every element is one chain of fmas: the bias first, then the terms in order,
    each in the order of k.
    """
    if not (isinstance(out, types.Array) and out.ndim == 2):
        return None
    dtype = out.dtype
    if not (
        dtype in (types.float32, types.float64)
        and isinstance(terms, types.BaseTuple)
        and all(_is_term(term, dtype) for term in terms)
        and (bias == types.none or (isinstance(bias, types.Array) and bias.dtype == dtype))
    ):
        return None
    term_types = list(terms)
    has_bias = bias != types.none

    def codegen(context, builder, signature, args):
        terms_val, bias_val, i0_val, rows_val, p_val, out_val = args
        out_type = signature.args[5]
        o_arr = context.make_array(out_type)(context, builder, out_val)
        intp = context.get_value_type(types.intp)
        scalar = context.get_value_type(dtype)
        itemsize = context.get_abi_sizeof(scalar)
        lanes = NARROW_BYTES // itemsize  # a vector's
        width = lanes * n_vectors
        vector = ir.VectorType(scalar, lanes)
        vector_ptr = vector.as_pointer()
        fma = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(vector, [vector] * 3),
            f"llvm.fma.v{lanes}{'f32' if itemsize == 4 else 'f64'}",
        )

        def const(value):
            return ir.Constant(intp, value)

        def strides(arr, layout):  # in elements; C-contiguous rows have unit steps
            row, col = (
                builder.sdiv(s, const(itemsize))
                for s in cgutils.unpack_tuple(builder, arr.strides, 2)
            )
            return row, (const(1) if layout == "C" else col)

        def load_vector(pointer):
            return builder.load(builder.bitcast(pointer, vector_ptr), align=itemsize)

        j0_val = builder.mul(p_val, const(width))
        n_cols = cgutils.unpack_tuple(builder, o_arr.shape, 2)[1]
        o_row, o_col = strides(o_arr, out_type.layout)
        # the accumulators: allocas, which LLVM keeps in registers
        if has_bias:
            b_arr = context.make_array(signature.args[1])(context, builder, bias_val)
            start = [
                load_vector(builder.gep(b_arr.data, [builder.add(j0_val, const(v * lanes))]))
                for v in range(n_vectors)
            ]
        else:
            start = [ir.Constant(vector, [0.0] * lanes)] * n_vectors
        acc = [
            [cgutils.alloca_once_value(builder, start[v]) for v in range(n_vectors)]
            for _ in range(tile_rows)
        ]
        last = builder.sub(builder.add(i0_val, rows_val), const(1))
        row_index = []
        for r in range(tile_rows):
            i = builder.add(i0_val, const(r))
            row_index.append(builder.select(builder.icmp_signed("<", i, last), i, last))
        undef = ir.Constant(vector, ir.Undefined)
        splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        term_vals = cgutils.unpack_tuple(builder, terms_val, len(term_types))
        for term_type, term_val in zip(term_types, term_vals, strict=True):
            a_type, bp_type = term_type
            a_val, bp_val = cgutils.unpack_tuple(builder, term_val, 2)
            a_arr = context.make_array(a_type)(context, builder, a_val)
            bp_arr = context.make_array(bp_type)(context, builder, bp_val)
            n_k = cgutils.unpack_tuple(builder, a_arr.shape, 2)[1]
            a_row, a_col = strides(a_arr, a_type.layout)
            a_rows = [builder.gep(a_arr.data, [builder.mul(i, a_row)]) for i in row_index]
            panel = builder.gep(bp_arr.data, [builder.mul(j0_val, n_k)])  # p * K * width
            with cgutils.for_range(builder, n_k) as loop:
                k = loop.index
                b_k = builder.gep(panel, [builder.mul(k, const(width))])
                b = [load_vector(builder.gep(b_k, [const(v * lanes)])) for v in range(n_vectors)]
                for r in range(tile_rows):
                    x = builder.load(builder.gep(a_rows[r], [builder.mul(k, a_col)]))
                    x = builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0))
                    x = builder.shuffle_vector(x, undef, splat)
                    for v in range(n_vectors):
                        total = builder.call(fma, [x, b[v], builder.load(acc[r][v])])
                        builder.store(total, acc[r][v])
        n_copy = builder.sub(n_cols, j0_val)
        n_copy = builder.select(
            builder.icmp_signed("<", n_copy, const(width)), n_copy, const(width)
        )
        # a tile of every row and column goes straight to out; any other through a
        # buffer on the stack, then the rows and columns that out has
        tile = cgutils.alloca_once(builder, scalar, size=tile_rows * width)

        def to_buffer():
            for r in range(tile_rows):
                for v in range(n_vectors):
                    where = builder.gep(tile, [const(r * width + v * lanes)])
                    builder.store(
                        builder.load(acc[r][v]), builder.bitcast(where, vector_ptr), align=itemsize
                    )

        def copy_columns():  # element by element: any strides, any number of columns
            with cgutils.for_range(builder, rows_val) as rows:
                r = rows.index
                source = builder.gep(tile, [builder.mul(r, const(width))])
                target = builder.mul(builder.add(i0_val, r), o_row)
                with cgutils.for_range(builder, n_copy) as columns:
                    j = columns.index
                    where = builder.add(target, builder.mul(builder.add(j0_val, j), o_col))
                    value = builder.load(builder.gep(source, [j]))
                    builder.store(value, builder.gep(o_arr.data, [where]))

        if out_type.layout != "C":
            to_buffer()
            copy_columns()
            return context.get_dummy_value()

        def store_row(r, vector_of):  # the panel's columns of row i0 + r of out
            target = builder.add(builder.mul(builder.add(i0_val, r), o_row), j0_val)
            for v in range(n_vectors):
                where = builder.gep(o_arr.data, [builder.add(target, const(v * lanes))])
                builder.store(vector_of(v), builder.bitcast(where, vector_ptr), align=itemsize)

        whole = builder.icmp_signed("==", n_copy, const(width))
        full = builder.and_(whole, builder.icmp_signed("==", rows_val, const(tile_rows)))
        with builder.if_else(full) as (full_tile, part_tile):
            with full_tile:  # the accumulators themselves: no trip through memory
                for r in range(tile_rows):
                    store_row(const(r), lambda v, r=r: builder.load(acc[r][v]))
            with part_tile:
                to_buffer()
                with builder.if_else(whole) as (whole_panel, part_panel):
                    with whole_panel, cgutils.for_range(builder, rows_val) as rows:
                        r = rows.index

                        def from_buffer(v, r=r):
                            offset = builder.add(builder.mul(r, const(width)), const(v * lanes))
                            return load_vector(builder.gep(tile, [offset]))

                        store_row(r, from_buffer)
                    with part_panel:
                        copy_columns()
        return context.get_dummy_value()

    return types.void(terms, bias, i0, n_rows, p, out), codegen


_tile = _make_tile(VECTORS, TILE_ROWS)
_narrow_tile = _make_tile(1, NARROW_ROWS)
_wide_tile = _make_tile(WIDE_VECTORS, TILE_ROWS)


@njit(**HELPER_OPTIONS)
def panel_width(n_cols, itemsize):
    """Columns in a panel of a B with ``n_cols`` columns: a vector's if they fit in
    one (a narrow B), two vectors' if they fit in two, else ``WIDE_VECTORS``'."""
    narrow = NARROW_BYTES // itemsize
    if n_cols <= narrow:
        return narrow
    return PANEL_BYTES // itemsize if n_cols <= 2 * narrow else WIDE_BYTES // itemsize


@njit(**HELPER_OPTIONS)
def packed(b):
    """The (K, N) matrix ``b`` packed for :func:`matmul` (a new array).

    Panel p holds ``b[:, p * width : (p + 1) * width]`` row after row (width =
    :func:`panel_width`), the columns past N zero. The kernels pass ``w[:,
    :]`` or ``w.T[:, :]``, which Numba types alike (any layout): one compiled
    version per dtype.
    """
    n_k, n_cols = b.shape
    width = panel_width(n_cols, b.itemsize)
    n_panels = -(-n_cols // width)
    out = np.zeros(n_panels * n_k * width, b.dtype)
    for p in range(n_panels):
        for k in range(n_k):
            row = (p * n_k + k) * width
            for c in range(min(width, n_cols - p * width)):
                out[row + c] = b[k, p * width + c]
    return out


@njit(**HELPER_OPTIONS)
def product(terms, bias, out):
    """``out[:] = bias + a1 @ B1 + a2 @ B2 + ...`` for ``terms = ((a1, bp1), ...)``.

    Each ``bp`` is a B packed by :func:`packed`; ``bias`` is None or a (1, N) row
    packed the same way. Every B has as many columns as ``out`` (which sets the
    panels' width). Computes the panels that fit every packed array and ``out``,
    for the rows of every ``a`` and ``out``; an ``a`` with no columns adds
    nothing. The kernels pass consistent shapes; whatever the shapes, nothing
    outside the arrays is read or written.
    """
    width = panel_width(out.shape[1], out.itemsize)
    n_panels = -(-out.shape[1] // width)
    rows = out.shape[0]
    for term in literal_unroll(terms):
        a, bp = term
        rows = min(rows, a.shape[0])
        if a.shape[1] > 0:
            n_panels = min(n_panels, bp.size // (a.shape[1] * width))
    if bias is not None:
        n_panels = min(n_panels, bias.size // width)
    if width * out.itemsize == NARROW_BYTES:  # B fits in one panel of a vector
        if n_panels > 0:
            for i0 in range(0, rows, NARROW_ROWS):
                _narrow_tile(terms, bias, i0, min(NARROW_ROWS, rows - i0), 0, out)
        return
    if WIDE_BYTES > PANEL_BYTES and width * out.itemsize == WIDE_BYTES:
        for p in range(n_panels):
            for i0 in range(0, rows, TILE_ROWS):
                _wide_tile(terms, bias, i0, min(TILE_ROWS, rows - i0), p, out)
        return
    for p in range(n_panels):
        for i0 in range(0, rows, TILE_ROWS):
            _tile(terms, bias, i0, min(TILE_ROWS, rows - i0), p, out)


@njit(**HELPER_OPTIONS)
def matmul(a, bp, out):
    """``out[:] = a @ B``, B packed in ``bp`` by :func:`packed` (see :func:`product`)."""
    product(((a, bp),), None, out)
