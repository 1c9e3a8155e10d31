"""The installed package and Numba's compile cache.

- A read-only install with no writable cache location anywhere imports and fits:
  Numba's own cache locators find no place (the package's ``__pycache__`` cannot
  be created, nor the user cache directory), the package warns once, clearly,
  turns caching off and compiles in memory.
- ``SKLEARN_RNN_DISABLE_NUMBA_CACHE=1`` turns caching off where it would work:
  nothing is written, nothing is read, no warning.
- A cold cache (a fresh ``NUMBA_CACHE_DIR``: everything compiled and written) and
  then a warm one (everything loaded) give bitwise the same models, and so does
  compiling with the cache off. Loading does not set up Numba's compiler
  (``_config.KernelCache``).
- A cached kernel is not loaded after a change to a helper it calls from another
  file of ``_cells`` (``_config.KernelCacheLocator``): the kernels compile again.

Each case runs in its own Python process, as it must (the cache is decided at
import). The processes that compile from scratch run side by side.

Why not chmod: tests run as root, which ignores permissions. The read-only
install is a copy of the package whose ``__pycache__`` entries are regular files
(so no one, root included, can create the cache directory there) and whose files
are made read-only, with HOME and XDG_CACHE_HOME under a regular file (so no user
cache directory can be created either). Numba then tries and fails at exactly
the place it does in a read-only site-packages: ``os.makedirs`` of the cache
directory raises ``OSError``, and the next locator is tried.
"""

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sklearn_rnn

HERE = Path(__file__).parent
SCRIPT = HERE / "_reference_fit.py"
_spec = importlib.util.spec_from_file_location("_reference_fit", SCRIPT)
reference_fit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_fit)

# two cells and one dtype keep the compilations from scratch short; the LSTM in
# float64 is where fused multiply-adds once made a compiled and a cached kernel
# differ (see _config.FASTMATH_FLAGS)
CELLS, DTYPES = "rnn,lstm", "float64"
TIMEOUT = 1800  # a guard against a hang, far above a compilation from scratch


def _clean_env(**extra):
    """This environment without Numba's and our settings, importing this package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "SKLEARN_RNN_"))}
    env["PYTHONPATH"] = str(Path(sklearn_rnn.__file__).parent.parent)
    env.update(extra)
    return env


def _start(out, env):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), CELLS, DTYPES],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=out.parent,
    )


def _finish(proc):
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"the process failed:\n{stderr[-5000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


def _read_only_install(root):
    """Copy the package to ``root/site`` as a read-only install; return its path."""
    site = root / "site"
    package = Path(sklearn_rnn.__file__).parent
    shutil.copytree(package, site / "sklearn_rnn", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [
        site / "sklearn_rnn",
        *(p for p in (site / "sklearn_rnn").rglob("*") if p.is_dir()),
    ]:
        (folder / "__pycache__").write_text("")  # no cache directory can be made here
    for path in [*site.rglob("*"), site]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return site


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start the processes that compile from scratch, side by side."""
    root = tmp_path_factory.mktemp("install")
    blocked = root / "blocked"
    blocked.write_text("")  # a file: nothing can be created under it
    site = _read_only_install(root)
    cold_cache = root / "cold_cache"
    cold_cache.mkdir()
    unused_cache = root / "unused_cache"
    unused_cache.mkdir()
    copy = root / "copy"  # a writable copy of the package, with its own cache
    package = Path(sklearn_rnn.__file__).parent
    shutil.copytree(package, copy / "sklearn_rnn", ignore=shutil.ignore_patterns("__pycache__"))
    copy_cache = root / "copy_cache"
    copy_cache.mkdir()
    for name in ("cold", "read_only", "switch", "copy_cold"):
        (root / name).mkdir()
    started = {
        # a fresh cache directory: every kernel compiled, then written there
        "cold": _start(root / "cold" / "out.npz", _clean_env(NUMBA_CACHE_DIR=str(cold_cache))),
        # the read-only install, no writable place for a cache anywhere
        "read_only": _start(
            root / "read_only" / "out.npz",
            _clean_env(
                PYTHONPATH=str(site),
                HOME=str(blocked / "home"),
                XDG_CACHE_HOME=str(blocked / "cache"),
            ),
        ),
        # the switch, where a cache would work
        "switch": _start(
            root / "switch" / "out.npz",
            _clean_env(NUMBA_CACHE_DIR=str(unused_cache), SKLEARN_RNN_DISABLE_NUMBA_CACHE="1"),
        ),
        # the copy, to be edited once its cache is filled
        "copy_cold": _start(
            root / "copy_cold" / "out.npz",
            _clean_env(PYTHONPATH=str(copy), NUMBA_CACHE_DIR=str(copy_cache)),
        ),
    }
    site_files = _files(site)
    yield {
        "root": root,
        "started": started,
        "site": site,
        "site_files": site_files,
        "cold_cache": cold_cache,
        "unused_cache": unused_cache,
        "copy": copy,
        "copy_cache": copy_cache,
    }
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    for path in [site, *site.rglob("*")]:  # let tmp_path clean up
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="module")
def reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the fits are short
        return reference_fit.reference_arrays(CELLS.split(","), DTYPES.split(","))


def assert_same_models(out, reference):
    with np.load(out) as saved:
        saved = dict(saved)
    assert sorted(saved) == sorted(reference)
    for key in saved:
        np.testing.assert_array_equal(saved[key], reference[key], err_msg=key, strict=True)


def test_read_only_install_imports_and_fits_with_caching_off(runs, reference):
    report = _finish(runs["started"]["read_only"])
    # it imported the read-only copy, not the development tree
    assert Path(report["file"]).parent == runs["site"] / "sklearn_rnn"
    assert report["cache"] is False
    [warning] = report["import_warnings"]
    assert warning.startswith("RuntimeWarning: sklearn_rnn: Numba finds no writable place")
    assert "NUMBA_CACHE_DIR" in warning  # the two ways out
    assert "SKLEARN_RNN_DISABLE_NUMBA_CACHE=1" in warning
    assert report["cache_hits"] == 0
    assert report["cache_misses"] > 0  # compiled in memory
    assert _files(runs["site"]) == runs["site_files"]  # nothing written
    assert_same_models(runs["root"] / "read_only" / "out.npz", reference)


def test_environment_switch_turns_caching_off_silently(runs, reference):
    report = _finish(runs["started"]["switch"])
    assert Path(report["file"]).resolve() == Path(sklearn_rnn.__file__).resolve()
    assert report["cache"] is False
    assert report["import_warnings"] == []
    assert report["cache_hits"] == 0
    assert report["cache_misses"] > 0
    assert _files(runs["unused_cache"]) == []  # a writable cache directory, left alone
    assert_same_models(runs["root"] / "switch" / "out.npz", reference)


def test_cold_and_warm_cache_give_bitwise_identical_models(runs, reference):
    cold = _finish(runs["started"]["cold"])
    assert cold["cache"] is True
    assert cold["import_warnings"] == []
    assert cold["cache_hits"] == 0
    assert cold["cache_misses"] > 0
    assert any(name.endswith(".nbc") for name in _files(runs["cold_cache"]))
    assert_same_models(runs["root"] / "cold" / "out.npz", reference)

    (runs["root"] / "warm").mkdir()
    env = _clean_env(NUMBA_CACHE_DIR=str(runs["cold_cache"]))
    warm = _finish(_start(runs["root"] / "warm" / "out.npz", env))
    assert warm["cache_misses"] == 0  # nothing compiled: all loaded from the cache
    assert warm["cache_hits"] >= 2  # forward and backward of a cell, and helpers
    assert_same_models(runs["root"] / "warm" / "out.npz", reference)
    # the cold run set up Numba's compiler to compile; the warm one did not need it
    assert cold["compiler_set_up"] is True
    assert warm["compiler_set_up"] is False
    assert cold["array_implementations_imported"] is True
    assert warm["array_implementations_imported"] is False
    assert cold["kernel_bitcode_parsed"] is True
    assert warm["kernel_bitcode_parsed"] is False


def test_loading_makes_numba_environments_without_imports():
    """While a kernel loads, the environment of a function of Numba's own modules is
    made without importing the module (``_config._environments_without_imports``):
    it keeps the module's name, so that it pickles as Numba's do; others, and
    everything outside a load, go through Numba's own function."""
    from numba.core import environment

    from sklearn_rnn._config import _environments_without_imports

    numba_rebuild = environment._rebuild_env
    name = "numba.np.not_a_module_sklearn_rnn_test"  # importing it would raise
    with _environments_without_imports():
        env = environment._rebuild_env(name, [], "sklearn_rnn_test_env")
        assert environment._rebuild_env(name, [], "sklearn_rnn_test_env") is env
        assert env.globals == {"__name__": name}
        assert env.__reduce__()[1] == (name, [], "sklearn_rnn_test_env")
        # a module outside Numba, or an environment with constants: Numba's way
        with pytest.raises(ModuleNotFoundError):
            environment._rebuild_env("sklearn_rnn_test_missing", [], "sklearn_rnn_other_env")
        with pytest.raises(ModuleNotFoundError):
            environment._rebuild_env(name, [1.0], "sklearn_rnn_consts_env")
    assert environment._rebuild_env is numba_rebuild
    with pytest.raises(ModuleNotFoundError):
        environment._rebuild_env(name, [], "sklearn_rnn_after_env")


def _cached_kernel(kernel):
    """A compiled kernel's result and the library data Numba cached for it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sklearn_rnn.GRUClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(
            np.zeros((8, 4, 2)), np.arange(8) % 2
        )
    signature = kernel.signatures[0]
    result = kernel.overloads[signature]
    codegen = result.target_context.codegen()
    payload = kernel._cache._cache_file.load(kernel._cache._index_key(signature, codegen))
    return result, payload[0]


def test_elf_symbols_are_those_numba_reads_from_the_bitcode():
    """The global symbols read from a cached kernel's object file (``_elf``) are
    symbols its bitcode defines, entry points included; anything that is not a
    whole 64-bit little-endian ELF file gives None."""
    import llvmlite.binding as ll

    from sklearn_rnn._cells import gru
    from sklearn_rnn._elf import defined_global_symbols

    result, (_, kind, (object_code, bitcode)) = _cached_kernel(gru.forward)
    assert kind == "object"
    symbols = defined_global_symbols(object_code)
    module = ll.parse_bitcode(bitcode)
    in_bitcode = {
        value.name
        for values in (module.functions, module.global_variables)
        for value in values
        if not value.is_declaration
    }
    assert symbols <= in_bitcode
    assert {result.fndesc.mangled_name, result.fndesc.llvm_cpython_wrapper_name} <= symbols
    declared_only = {f.name for f in module.functions if f.is_declaration}
    assert declared_only  # the runtime's functions, which the kernel calls
    assert not symbols & declared_only
    assert defined_global_symbols(b"not an object file") is None
    assert defined_global_symbols(object_code[:4] + b"\x01" + object_code[5:]) is None  # 32-bit
    for cut in (100, len(object_code) // 2):
        assert defined_global_symbols(object_code[:cut]) is None


def test_a_kernel_loads_from_its_machine_code_alone():
    """While a kernel loads, its library is made from its machine code, with the
    symbols from its object file, and its bitcode is parsed only when something
    links it (``_config._libraries_from_object_code``); outside a load, and for
    anything but an object file, Numba's own way."""
    from sklearn_rnn._cells import gru
    from sklearn_rnn._config import _libraries_from_object_code

    result, library_data = _cached_kernel(gru.backward)
    codegen = result.target_context.codegen()
    wrapper = result.fndesc.llvm_cpython_wrapper_name
    numba_library = codegen.unserialize_library(library_data)
    assert numba_library._shared_module is not None
    with _libraries_from_object_code(codegen):
        library = codegen.unserialize_library(library_data)
    assert "unserialize_library" not in vars(codegen)
    assert library._shared_module is None
    assert library.get_pointer_to_function(wrapper) != 0

    def defined_functions(module):
        return sorted(f.name for f in module.functions if not f.is_declaration)

    linked = library._get_module_for_linking()  # parses the bitcode now
    assert defined_functions(linked) == defined_functions(numba_library._get_module_for_linking())
    name, _, data = library_data
    with _libraries_from_object_code(codegen):
        bitcode_library = codegen.unserialize_library((name, "bitcode", data[1]))
    assert bitcode_library._shared_module is None  # Numba's way for bitcode: no shared module
    assert type(bitcode_library) is type(numba_library)


def test_kernels_use_the_wider_cache_check():
    """Every kernel of ``_cells`` goes through KernelCacheLocator, and the kernels
    Python calls load through KernelCache (loud if Numba moved)."""
    from sklearn_rnn import _cells, _config

    assert _config.CACHE
    assert _config.KernelCacheLocator is not None
    for module in _cells.CELLS.values():
        for kernel in (module.forward, module.backward):
            assert isinstance(kernel._cache._impl.locator, _config.KernelCacheLocator)
            assert isinstance(kernel._cache, _config.KernelCache)


def test_a_changed_shared_helper_recompiles_the_kernels(runs, reference):
    root, copy = runs["root"], runs["copy"]
    env = _clean_env(PYTHONPATH=str(copy), NUMBA_CACHE_DIR=str(runs["copy_cache"]))
    cold = _finish(runs["started"]["copy_cold"])
    assert Path(cold["file"]).parent == copy / "sklearn_rnn"
    assert cold["cache_hits"] == 0
    assert cold["cache_misses"] > 0

    # a change to the shared math alone, not to the file of any kernel
    math_file = copy / "sklearn_rnn" / "_cells" / "_math.py"
    math_file.write_text(math_file.read_text() + "\n# edited\n")
    (root / "edited").mkdir()
    edited = _finish(_start(root / "edited" / "out.npz", env))
    assert edited["cache_hits"] == 0  # nothing stale loaded
    assert edited["cache_misses"] >= cold["cache_misses"]
    assert_same_models(root / "edited" / "out.npz", reference)

    (root / "again").mkdir()
    again = _finish(_start(root / "again" / "out.npz", env))
    assert again["cache_misses"] == 0  # the recompiled kernels were cached in turn
    assert again["cache_hits"] > 0


def test_import_leaves_out_what_only_some_fits_need():
    """``import sklearn_rnn`` does not import sklearn.metrics nor sklearn.model_selection.

    Only scoring and early stopping use them; they cost ~50 ms of every import
    (a warm-cache first fit is timed with its imports: issue "Speed").
    """
    code = (
        "import sys, sklearn_rnn; "
        "print([m for m in ('sklearn.metrics', 'sklearn.model_selection') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
