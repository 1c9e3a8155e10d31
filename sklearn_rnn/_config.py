"""Numba settings shared by every kernel.

One place for the compile options, as fast_hdbscan's ``variables.py`` and stumpy's
``config`` do: every ``@njit`` in the package names ``JIT_OPTIONS`` (the kernels
Python calls) or ``HELPER_OPTIONS`` (the helpers they call) and none hard-codes
its own.

Numba's cache checks only the kernel's own file before loading it, not the
helpers it calls from other files nor these options. :class:`KernelCacheLocator`
widens that check for the kernels in ``_cells``: their cached code is reused
only while every file of ``_cells`` and this file are unchanged. And Numba sets up
its whole compiler before loading cached code, which needs none of it:
:class:`KernelCache` loads the kernels without that setup, nor the imports of
Numba's modules that rebuilding their environments would make, nor the parsing
of their LLVM bitcode (their machine code is all that runs).
:func:`assume_no_alias` lets LLVM vectorize a helper's short loops, where Numba
gives no option for it.
"""

import contextlib
import functools
import hashlib
import os
import sys
import warnings
from pathlib import Path

#: Environment variable that turns Numba's on-disk cache off (for read-only installs).
CACHE_ENV_VAR = "SKLEARN_RNN_DISABLE_NUMBA_CACHE"


_HERE = Path(__file__).resolve()
_CELLS = _HERE.parent / "_cells"


def _kernel_sources_digest():
    """SHA-256 of the files the kernels' compiled code depends on: ``_cells/*.py`` and this file."""
    digest = hashlib.sha256()
    for path in [*sorted(_CELLS.glob("*.py")), _HERE]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _install_kernel_cache_locator():
    """Put :class:`KernelCacheLocator` first in Numba's list of cache locators.

    It answers only for functions defined in ``_cells`` and lets Numba's own
    locators answer for everything else. Returns the class, or None when Numba's
    internals have moved (then Numba's own check applies, as without it).
    """
    try:
        from numba.core import caching
    except ImportError:
        return None
    # named _CacheImpl in older Numba releases
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    base = getattr(caching, "_CacheLocator", None)
    locators = getattr(impl, "_locator_classes", None)
    if base is None or not isinstance(locators, list):
        return None
    existing = [c for c in locators if c.__name__ == "KernelCacheLocator"]
    if existing:  # the module was imported again (importlib.reload in tests)
        return existing[0]

    class KernelCacheLocator(base):
        """Numba's own locator for a kernel of ``_cells``, with a wider source stamp.

        Where the cache goes is decided by the locator Numba would have used;
        the stamp Numba compares before loading also holds the digest of every
        file of ``_cells`` and of ``_config.py``, so a change to a shared helper
        or to the compile options recompiles the kernels instead of loading
        stale code.
        """

        _digest = None

        def __init__(self, locator):
            self._locator = locator

        def ensure_cache_path(self):
            self._locator.ensure_cache_path()

        def get_cache_path(self):
            return self._locator.get_cache_path()

        def get_source_stamp(self):
            if KernelCacheLocator._digest is None:
                KernelCacheLocator._digest = _kernel_sources_digest()
            return (self._locator.get_source_stamp(), KernelCacheLocator._digest)

        def get_disambiguator(self):
            return self._locator.get_disambiguator()

        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != _CELLS:
                return None
            for other in locators:
                if other is not cls:
                    locator = other.from_function(py_func, py_file)
                    if locator is not None:
                        return cls(locator)
            return None

    locators.insert(0, KernelCacheLocator)
    return KernelCacheLocator


#: The locator of the kernels' cache (None if Numba's internals moved).
KernelCacheLocator = _install_kernel_cache_locator()


def _probe():
    """A function that lives beside the kernels, to ask Numba where it would cache them."""


def _cache_location_available():
    """Whether Numba finds a writable place for the cache of a file in this package.

    Numba raises at decoration time (so at import) when it finds none, for
    example in a read-only install with no writable user cache directory.
    """
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # Numba's internals moved: let Numba decide
        return True
    try:
        FunctionCache(_probe)
    except RuntimeError:
        return False
    return True


def _cache_enabled():
    if os.environ.get(CACHE_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    if not _cache_location_available():
        warnings.warn(
            "sklearn_rnn: Numba finds no writable place for its compile cache (the package "
            "directory is read-only and so is the user cache directory), so the kernels will "
            "be compiled again in every process. Set NUMBA_CACHE_DIR to a writable directory "
            f"to cache them, or set {CACHE_ENV_VAR}=1 to silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


#: Whether kernels are cached on disk.
CACHE = _cache_enabled()


def _kernel_cache_class():
    """Numba's ``FunctionCache``, loading a kernel without setting up Numba's compiler.

    Before loading anything, Numba's cache makes the CPU target import and
    register every implementation it could compile: 73 modules, about 47,000
    objects, 0.27 s here, the largest part of a first fit from a warm cache (and
    each of those objects is visited again by the garbage collection at the
    interpreter's exit). Code loaded from the cache needs none of it, only
    Numba's runtime (the allocator our kernels call), which this class sets up
    instead. A kernel that must be compiled still gets everything: Numba's
    compiler sets it up itself. Returns None when Numba's internals have moved
    (then the kernels keep Numba's own cache).
    """
    try:
        from numba.core.caching import FunctionCache
        from numba.core.runtime import rtsys
    except ImportError:
        return None
    needed = ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
    if not all(hasattr(FunctionCache, name) for name in needed):
        return None

    class KernelCache(FunctionCache):
        """Numba's cache of one kernel, whose loads set up only Numba's runtime."""

        def load_overload(self, sig, target_context):
            rtsys.initialize(target_context)
            with (
                self._guard_against_spurious_io_errors(),
                _environments_without_imports(),
                _libraries_from_object_code(target_context.codegen()),
            ):
                return self._load_overload(sig, target_context)

    return KernelCache


@contextlib.contextmanager
def _environments_without_imports():
    """While a kernel loads, the environments of Numba's own functions compiled
    into it are made without importing their modules.

    Every compiled function has an environment that holds its module's globals,
    which only code running in object mode reads; a kernel loaded from the cache
    rebuilds the environments of all the functions inlined into it, and rebuilding
    one imports its module. For the functions Numba compiled for np.empty, np.dot
    and the like, that imports ``numba.np.arrayobj``, ``numba.np.linalg`` and what
    they import: 0.1-0.2 s of a first fit from a warm cache, for globals that
    nopython code never reads. Those environments get a dictionary with the
    module's name only (so that they pickle as Numba's do); everything else is
    rebuilt as Numba does. Does nothing when Numba's internals have moved.
    """
    try:
        from numba.core import environment
    except ImportError:
        yield
        return
    rebuild = getattr(environment, "_rebuild_env", None)
    if rebuild is None or not hasattr(environment, "lookup_environment"):
        yield
        return

    def rebuild_env(modname, consts, env_name):
        if consts or modname in sys.modules or not str(modname).startswith("numba."):
            return rebuild(modname, consts, env_name)
        env = environment.lookup_environment(env_name)
        if env is None:
            env = environment.Environment({"__name__": modname})
            env.env_name = env_name
            environment.Environment._memo[env_name] = env
        return env

    # pickle finds the function by its module and name while the kernel loads, and
    # the loads run under Numba's compiler lock (one at a time)
    environment._rebuild_env = rebuild_env
    try:
        yield
    finally:
        environment._rebuild_env = rebuild


@contextlib.contextmanager
def _libraries_from_object_code(codegen):
    """While a kernel loads, its code library is made from its machine code alone.

    Numba caches a kernel as its machine code and its LLVM bitcode. Loading, it
    parses the bitcode, which it needs only to link the kernel into another
    compiled function (nothing does that with the kernels Python calls), and
    walks it for the names of the symbols the machine code defines: 12-14 ms per
    kernel, 0.1 s of a first fit of the three cells and a float32 GRU from a warm
    cache. Here the names come from the object file's symbol table
    (:mod:`._elf`), and the bitcode is parsed only if something links the kernel.
    A library that is not an ELF object loads as Numba loads it, and so does
    everything when Numba's internals have moved.
    """
    library_class = getattr(codegen, "_library_class", None)
    defined = getattr(getattr(codegen, "_engine", None), "_defined_symbols", None)
    needed = ("enable_object_caching", "_set_compiled_object", "_finalize_final_module")
    if (
        not isinstance(defined, set)
        or not all(hasattr(library_class, name) for name in needed)
        or not callable(getattr(library_class, "_get_module_for_linking", None))
    ):
        yield
        return
    from ._elf import defined_global_symbols

    numba_unserialize = codegen.unserialize_library

    def unserialize_library(serialized):
        name, kind, data = serialized
        symbols = defined_global_symbols(data[0]) if kind == "object" else None
        if symbols is None:
            return numba_unserialize(serialized)
        object_code, bitcode = data
        library = _linked_on_demand(library_class)(codegen, name)
        library._bitcode = bitcode
        library.enable_object_caching()
        library._set_compiled_object(object_code)
        library._finalize_final_module()
        defined.update(symbols)
        return library

    # an attribute of this codegen only, while one kernel loads: the loads run
    # under Numba's compiler lock (one at a time)
    had_own = "unserialize_library" in vars(codegen)
    codegen.unserialize_library = unserialize_library
    try:
        yield
    finally:
        if had_own:
            codegen.unserialize_library = numba_unserialize
        else:
            del codegen.unserialize_library  # back to the class's method


@functools.cache
def _linked_on_demand(library_class):
    """``library_class`` whose bitcode is parsed when something first links it."""

    class KernelLibrary(library_class):
        """A kernel's code loaded from its machine code (see _libraries_from_object_code)."""

        _bitcode = None

        def _get_module_for_linking(self):
            if getattr(self, "_shared_module", None) is None and self._bitcode is not None:
                import llvmlite.binding as ll

                self._shared_module = ll.parse_bitcode(self._bitcode)
            return super()._get_module_for_linking()

    return KernelLibrary


#: The cache class of the kernels that Python calls (None if Numba's internals moved).
KernelCache = _kernel_cache_class()


def use_kernel_cache(dispatcher):
    """Give a cached ``@njit`` function a :class:`KernelCache` (see there why).

    For the kernels Python calls; the helpers they call are compiled into them
    and never loaded on their own. Does nothing when caching is off.
    """
    if KernelCache is None:
        return
    from numba.core.caching import FunctionCache

    if isinstance(getattr(dispatcher, "_cache", None), FunctionCache):  # not NullCache
        dispatcher._cache = KernelCache(dispatcher.py_func)


def _no_alias_hook():
    """Numba's per-function hook on compile flags, and whether its flags know
    ``noalias``; None when Numba's internals have moved."""
    try:
        from numba.core.compiler import Flags
        from numba.core.dispatcher import _FunctionCompiler
    except ImportError:
        return None
    if not hasattr(_FunctionCompiler, "_customize_flags") or "noalias" not in dir(Flags):
        return None
    return _FunctionCompiler


def assume_no_alias(dispatcher):
    """Compile an ``@njit`` helper with LLVM's ``noalias`` on its array arguments.

    Its callers promise that, during a call, no array the helper writes shares
    memory with another of its arguments (read-only arguments may share). LLVM
    then vectorizes the helper's loops without checking at run time that the
    arrays do not overlap. Those checks are what kept the gate loops of the LSTM
    and GRU backward scalar for short rows: LLVM takes the vector loop only when
    the trip count pays for the checks, between 33 and 40 elements for the LSTM
    backward, so H = 32 ran at 9 ns per unit, 1.5 ns with ``noalias``
    (microbenchmark of the helper, float32). Numba has this flag (its parallel
    loops use it) but no public option for it: it is set through the
    dispatcher's flag hook, and the helper compiles as before if Numba's
    internals have moved. Returns ``dispatcher``, so that it can decorate.
    """
    hook = _no_alias_hook()
    compiler = getattr(dispatcher, "_compiler", None)
    if hook is None or not isinstance(compiler, hook):
        return dispatcher
    customize = compiler._customize_flags

    def with_no_alias(flags):
        flags = customize(flags)
        flags.noalias = True
        return flags

    compiler._customize_flags = with_no_alias
    return dispatcher


#: Fast-math flags. ``nnan`` and ``ninf`` are left out on purpose so that NaN and
#: inf checks keep working inside kernels. ``contract`` (fusing a multiply and an
#: add into one FMA) is left out because where LLVM fuses is not the same in the
#: code Numba runs right after compiling and in the code it writes to its cache:
#: with it, a float64 LSTM fitted in a process that compiled the kernels differed
#: by an ulp from the same fit in a process that loaded them.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "afn", "reassoc"})

#: Options for every ``numba.njit`` in the package. ``error_model="numpy"`` lets
#: LLVM vectorize divisions (the Python error model adds a zero check per division).
JIT_OPTIONS = {
    "cache": CACHE,
    "nogil": True,
    "fastmath": set(FASTMATH_FLAGS),
    "error_model": "numpy",
    # no C-callable wrapper, which Numba compiles for every function by default:
    # nothing here takes a function's address
    "no_cfunc_wrapper": True,
}

#: Options for the helpers that only kernels call. Every ``@njit`` function is
#: compiled on its own, by default with the wrappers that let Python call it,
#: before its code is linked into each kernel that calls it (and optimized again
#: there): a helper needs neither wrapper. Without them the first fit of
#: the three cells and a float32 GRU compiles about 5% faster (paired runs of the
#: benchmark's compile script). Python cannot call these helpers.
HELPER_OPTIONS = {**JIT_OPTIONS, "no_cpython_wrapper": True}
