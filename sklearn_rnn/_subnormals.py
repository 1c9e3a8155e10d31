"""Subnormal numbers flushed to zero while the network runs (x86's FTZ and DAZ).

A gradient flowing back through the steps of a sequence shrinks at every step,
and in a long sequence it passes through the subnormal range (below 1.2e-38 in
float32, 2.2e-308 in float64) on its way to zero. On x86 every operation that
reads or makes a subnormal number costs a microcode assist of about a hundred
cycles. An LSTM (H = 32, float32, 128 sequences in batches of 64, one thread)
trained in 0.69 us per sequence step at T = 100, 6.1 at T = 200 and 2.6 at
T = 1000; with them flushed, in 0.69, 0.62 and 0.57 (the losses unchanged;
``perf`` had shown nothing but the kernels).

While a shard of a batch runs, its thread flushes subnormal results to zero
(FTZ) and reads subnormal inputs as zero (DAZ), as if they had underflowed, and
gets its own setting back after. Only values below the smallest normal number
change (to zero): the losses of the benchmark's fits came out the same bits
either way. Other processors are left as they are.
"""

import contextlib
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import JIT_OPTIONS, use_kernel_cache

#: The bits of x86's MXCSR register that flush subnormals: FTZ (bit 15) and DAZ (bit 6).
FLUSH_BITS = 0x8040

#: Whether this is an x86 processor, whose MXCSR register sets the float rounding.
X86 = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686", "x86"}


def _mxcsr_call(builder, name, slot):
    """Calls LLVM's ``llvm.x86.sse.{name}`` on the 32-bit ``slot``."""
    pointer = builder.bitcast(slot, ir.IntType(8).as_pointer())
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [pointer.type]), f"llvm.x86.sse.{name}"
    )
    builder.call(function, [pointer])


@intrinsic
def _read_mxcsr(typingctx):
    """The calling thread's MXCSR register."""

    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "stmxcsr", slot)
        return builder.zext(builder.load(slot), ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    """Sets the calling thread's MXCSR register to ``value``."""
    if value != types.int64:
        return None

    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        _mxcsr_call(builder, "ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(value), codegen


@njit(**JIT_OPTIONS)
def _start_flushing():
    """Sets FTZ and DAZ; returns MXCSR as it was."""
    before = _read_mxcsr()
    _write_mxcsr(before | FLUSH_BITS)
    return before


@njit(**JIT_OPTIONS)
def _stop_flushing(before):
    """Puts FTZ and DAZ back as they were in ``before`` (the other bits as they are now)."""
    _write_mxcsr((_read_mxcsr() & ~FLUSH_BITS) | (before & FLUSH_BITS))


use_kernel_cache(_start_flushing)
use_kernel_cache(_stop_flushing)


@contextlib.contextmanager
def subnormals_flushed():
    """Context manager: the calling thread flushes subnormal numbers to zero inside."""
    if not X86:
        yield
        return
    before = _start_flushing()
    try:
        yield
    finally:
        _stop_flushing(before)
