"""The network against PyTorch reference values and central finite differences."""

import itertools
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_rnn._network import Architecture, init_parameters, loss_and_gradients, predict_logits

REFERENCE = Path(__file__).parent / "reference"
LOSS_OF_TASK = {
    "multiclass": "log_loss",
    "binary": "binary_log_loss",
    "multilabel": "binary_log_loss",
    "regression": "squared_error",
}


def _relerr(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _reference_cases(dtype):
    path = REFERENCE / f"cases_{dtype}.npz"
    with np.load(path) as data:
        arrays = dict(data)
    cases = {}
    for key, value in arrays.items():
        case, field = key.split("/", 1)
        cases.setdefault(case, {})[field] = value
    return cases


def _arch_of(meta, X, Y):
    return Architecture(
        cell=meta["cell"],
        n_features=X.shape[2],
        hidden_sizes=(meta["hidden_size"],) * meta["num_layers"],
        n_outputs=Y.shape[1],
        bidirectional=meta["bidirectional"],
        pooling=meta["pooling"],
        activation=meta["activation"],
    )


@pytest.mark.parametrize(("dtype", "tol"), [("float64", 1e-10), ("float32", 1e-4)])
def test_matches_pytorch(dtype, tol):
    """Logits, loss and every gradient equal PyTorch's (packed sequences, nn.Linear head)."""
    cases = _reference_cases(dtype)
    assert len(cases) >= (72 if dtype == "float64" else 24)
    seen = set()
    for name, case in cases.items():
        meta = json.loads(str(case["meta"]))
        X, lengths, Y = case["X"], case["lengths"], case["Y"]
        assert X.dtype == np.dtype(dtype)
        params = {k[len("param/") :]: v for k, v in case.items() if k.startswith("param/")}
        arch = _arch_of(meta, X, Y)
        logits = predict_logits(params, arch, X, lengths)
        assert logits.dtype == X.dtype
        assert _relerr(logits, case["logits"]) < tol, name
        loss, grads = loss_and_gradients(
            params, arch, X, lengths, Y, LOSS_OF_TASK[meta["task"]],
            sample_weight=case.get("sample_weight"), alpha=meta["alpha"],
        )  # fmt: skip
        assert abs(loss - float(case["loss"])) <= tol * abs(float(case["loss"])), name
        assert set(grads) == set(params)
        for key, grad in grads.items():
            assert grad.dtype == X.dtype
            assert _relerr(grad, case[f"grad/{key}"]) < tol, (name, key)
        seen.add((meta["cell"], meta["activation"], meta["num_layers"], meta["bidirectional"]))
        seen.add(meta["pooling"])
    # every cell/activation, 1-3 layers, both directions and all poolings are covered
    assert {"last", "mean", "max"} <= seen
    if dtype == "float64":
        for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]:
            for layers, bi in itertools.product((1, 2, 3), (False, True)):
                assert (cell, act, layers, bi) in seen


def _random_problem(rng, task, n_samples=5, n_steps=6, n_features=3, n_outputs=2):
    lengths = rng.integers(1, n_steps + 1, size=n_samples)
    lengths[rng.integers(n_samples)] = n_steps
    X = rng.normal(size=(n_samples, n_steps, n_features))
    X[np.arange(n_steps)[None, :] >= lengths[:, None]] = np.nan  # padding is never read
    if task == "multiclass":
        Y = np.eye(n_outputs)[rng.integers(n_outputs, size=n_samples)]
    elif task in ("binary", "multilabel"):
        Y = (rng.uniform(size=(n_samples, 1 if task == "binary" else n_outputs)) > 0.5) * 1.0
    else:
        Y = rng.normal(size=(n_samples, n_outputs))
    return X, lengths, Y


CELL_KINDS = [
    ("rnn", "tanh"),
    ("rnn", "relu"),
    ("rnn", "logistic"),
    ("lstm", "tanh"),
    ("gru", "tanh"),
]
TASKS = ["multiclass", "binary", "multilabel", "regression"]


@pytest.mark.parametrize(("cell", "activation"), CELL_KINDS)
@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_gradient_finite_differences(cell, activation, n_layers, bidirectional, pooling):
    """Central finite differences agree with the analytic gradient (with L2 and sample weights)."""
    # the same problem in every run: hash() of strings changes from process to process
    seed = zlib.crc32(repr((cell, activation, n_layers, bidirectional, pooling)).encode())
    rng = np.random.default_rng(seed)
    task = TASKS[seed % 4]
    X, lengths, Y = _random_problem(rng, task)
    arch = Architecture(
        cell=cell, n_features=3, hidden_sizes=(4, 3, 2)[:n_layers], n_outputs=Y.shape[1],
        bidirectional=bidirectional, pooling=pooling, activation=activation,
    )  # fmt: skip
    params = init_parameters(arch, np.random.RandomState(seed), np.float64)
    params = {k: v * 1.5 for k, v in params.items()}  # leave the near-linear regime
    sample_weight = rng.uniform(0.2, 2.0, size=X.shape[0])
    kwargs = dict(sample_weight=sample_weight, alpha=0.3)
    loss = LOSS_OF_TASK[task]
    _, grads = loss_and_gradients(params, arch, X, lengths, Y, loss, **kwargs)
    eps = 1e-6
    for name, value in params.items():
        flat = value.ravel()  # a view: editing it perturbs params[name]
        idx = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
        numeric = np.empty(idx.size)
        for j, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            up, _ = loss_and_gradients(params, arch, X, lengths, Y, loss, **kwargs)
            flat[i] = orig - eps
            down, _ = loss_and_gradients(params, arch, X, lengths, Y, loss, **kwargs)
            flat[i] = orig
            numeric[j] = (up - down) / (2 * eps)
        analytic = grads[name].ravel()[idx]
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


def _small_arch(cell="lstm", **kw):
    base = dict(cell=cell, n_features=3, hidden_sizes=(4, 3), n_outputs=2, bidirectional=True)
    base.update(kw)
    return Architecture(**base)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padding_never_leaks(cell, pooling):
    """Extra padded steps, whatever they hold, change no output, loss or gradient."""
    rng = np.random.default_rng(3)
    arch = _small_arch(cell, pooling=pooling)
    X, lengths, Y = _random_problem(rng, "regression")
    params = init_parameters(arch, np.random.RandomState(0), np.float64)
    wide = np.concatenate([X, rng.normal(size=(5, 4, 3)) * 1e6], axis=1)
    wide[np.arange(wide.shape[1])[None, :] >= lengths[:, None]] = 1e6
    for data in (X, wide):
        assert not np.isnan(data[np.arange(data.shape[1])[None, :] < lengths[:, None]]).any()
    ref_logits = predict_logits(params, arch, X, lengths)
    ref_loss, ref_grads = loss_and_gradients(params, arch, X, lengths, Y, "squared_error")
    np.testing.assert_allclose(predict_logits(params, arch, wide, lengths), ref_logits, rtol=1e-13)
    loss, grads = loss_and_gradients(params, arch, wide, lengths, Y, "squared_error")
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    for name in grads:
        np.testing.assert_allclose(grads[name], ref_grads[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_result_independent_of_batch(cell):
    """A sequence's output does not depend on the other sequences of its batch."""
    rng = np.random.default_rng(4)
    arch = _small_arch(cell, pooling="mean")
    X, lengths, _ = _random_problem(rng, "regression", n_samples=6)
    params = init_parameters(arch, np.random.RandomState(1), np.float64)
    together = predict_logits(params, arch, X, lengths)
    for i in range(X.shape[0]):
        alone = predict_logits(params, arch, X[i : i + 1, : lengths[i]], lengths[i : i + 1])
        np.testing.assert_allclose(alone[0], together[i], rtol=1e-12)
    # the order of the batch does not matter either
    perm = rng.permutation(X.shape[0])
    np.testing.assert_allclose(predict_logits(params, arch, X[perm], lengths[perm]), together[perm])


def test_predict_batches_agree():
    """Splitting the prediction into batches gives the same logits."""
    rng = np.random.default_rng(5)
    arch = _small_arch("gru")
    X, lengths, _ = _random_problem(rng, "regression", n_samples=11)
    params = init_parameters(arch, np.random.RandomState(2), np.float64)
    np.testing.assert_allclose(
        predict_logits(params, arch, X, lengths, batch_size=3),
        predict_logits(params, arch, X, lengths),
        rtol=1e-13,
    )


def test_dropout_is_inverted_and_reproducible():
    """Dropout draws from the given generator and leaves the expected output unchanged."""
    rng = np.random.default_rng(6)
    arch = _small_arch("lstm", hidden_sizes=(4,), bidirectional=False)
    X, lengths, Y = _random_problem(rng, "regression")
    params = init_parameters(arch, np.random.RandomState(3), np.float64)
    a = loss_and_gradients(params, arch, X, lengths, Y, "squared_error", dropout=0.5,
                           random_state=np.random.RandomState(7))  # fmt: skip
    b = loss_and_gradients(params, arch, X, lengths, Y, "squared_error", dropout=0.5,
                           random_state=np.random.RandomState(7))  # fmt: skip
    c = loss_and_gradients(params, arch, X, lengths, Y, "squared_error", dropout=0.5,
                           random_state=np.random.RandomState(8))  # fmt: skip
    plain = loss_and_gradients(params, arch, X, lengths, Y, "squared_error")
    assert a[0] == b[0]
    assert a[0] != c[0]
    assert a[0] != plain[0]


def test_dropout_gradient_finite_differences():
    """With a fixed dropout mask the gradient is still exact."""
    rng = np.random.default_rng(8)
    arch = _small_arch("gru", pooling="max")
    X, lengths, Y = _random_problem(rng, "multiclass")
    params = init_parameters(arch, np.random.RandomState(4), np.float64)

    def run():
        return loss_and_gradients(params, arch, X, lengths, Y, "log_loss", dropout=0.3,
                                  random_state=np.random.RandomState(11))  # fmt: skip

    _, grads = run()
    eps = 1e-6
    for name, value in params.items():
        flat = value.ravel()
        for i in rng.choice(flat.size, size=min(5, flat.size), replace=False):
            orig = flat[i]
            flat[i] = orig + eps
            up = run()[0]
            flat[i] = orig - eps
            down = run()[0]
            flat[i] = orig
            assert grads[name].ravel()[i] == pytest.approx(
                (up - down) / (2 * eps), rel=1e-5, abs=1e-8
            )


@pytest.mark.parametrize(
    ("lengths", "match"),
    [
        ([3, 0], r"\[1, 3\]"),
        ([4, 2], r"\[1, 3\]"),
        ([-1, 2], r"\[1, 3\]"),
        ([3], "one entry per sequence"),
        ([3.0, 2.0], "integer"),
    ],
)
def test_bad_lengths_refused_before_kernel(lengths, match):
    arch = _small_arch()
    params = init_parameters(arch, np.random.RandomState(0), np.float64)
    X = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match=match):
        predict_logits(params, arch, X, np.array(lengths))
    with pytest.raises(ValueError, match=match):
        loss_and_gradients(params, arch, X, np.array(lengths), np.zeros((2, 2)), "squared_error")


def test_bad_shapes_refused_before_kernel():
    arch = _small_arch()
    params = init_parameters(arch, np.random.RandomState(0), np.float64)
    lengths = np.array([3, 2])
    with pytest.raises(ValueError, match="features per step"):
        predict_logits(params, arch, np.zeros((2, 3, 5)), lengths)
    with pytest.raises(ValueError, match="3-D"):
        predict_logits(params, arch, np.zeros((2, 3)), lengths)
    # a network made for no features at all: the kernels would read past X
    arch0 = _small_arch(n_features=0)
    params0 = init_parameters(arch0, np.random.RandomState(0), np.float64)
    with pytest.raises(ValueError, match="at least one feature"):
        predict_logits(params0, arch0, np.zeros((2, 3, 0)), lengths)
    with pytest.raises(ValueError, match="at least one feature"):
        loss_and_gradients(
            params0, arch0, np.zeros((2, 3, 0)), lengths, np.zeros((2, 2)), "squared_error"
        )
    with pytest.raises(ValueError, match="dtype"):
        predict_logits(params, arch, np.zeros((2, 3, 3), dtype=np.float32), lengths)
    bad = dict(params, **{"rnn.weight_hh_l0": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="shape"):
        predict_logits(bad, arch, np.zeros((2, 3, 3)), lengths)
    missing = {k: v for k, v in params.items() if k != "head.bias"}
    with pytest.raises(ValueError, match="missing"):
        predict_logits(missing, arch, np.zeros((2, 3, 3)), lengths)


def test_parameter_names_follow_pytorch():
    arch = _small_arch("gru", hidden_sizes=(5, 4), n_features=2, n_outputs=3)
    shapes = arch.parameter_shapes()
    assert list(shapes)[:4] == [
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
    ]  # fmt: skip
    assert shapes["rnn.weight_ih_l0"] == (15, 2)
    assert shapes["rnn.weight_ih_l0_reverse"] == (15, 2)
    assert shapes["rnn.weight_ih_l1"] == (12, 10)
    assert shapes["head.weight"] == (3, 8)
    params = init_parameters(arch, np.random.RandomState(0), np.float32)
    assert all(v.dtype == np.float32 for v in params.values())
    assert np.abs(params["rnn.weight_hh_l1"]).max() <= 1 / np.sqrt(4)
    assert np.abs(params["head.weight"]).max() <= 1 / np.sqrt(8)


_CACHE_SCRIPT = """
import numpy as np
from sklearn_rnn._cells import CELLS
from sklearn_rnn._network import Architecture, init_parameters, predict_logits
compiled = [len(getattr(m, k).signatures) for m in CELLS.values()
            for k in ("forward", "backward")]
assert sum(compiled) == 0, f"kernels compiled at import: {compiled}"
arch = Architecture(cell="lstm", n_features=2, hidden_sizes=(3,), n_outputs=1)
params = init_parameters(arch, np.random.RandomState(0), np.float64)
predict_logits(params, arch, np.ones((2, 4, 2)), np.array([4, 2]))
stats = CELLS["lstm"].forward.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_nothing_compiles_at_import_and_cache_is_reused(tmp_path):
    """Import compiles nothing; a second process loads the kernel from the disk cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("SKLEARN_RNN_DISABLE_NUMBA_CACHE", None)
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True, text=True,
            check=True, cwd=tmp_path,
        )  # fmt: skip
        runs.append(tuple(int(v) for v in out.stdout.split()))
    first_hits, first_misses = runs[0]
    second_hits, second_misses = runs[1]
    assert second_hits >= 1
    assert second_misses == 0


def test_no_penalty_means_no_overflow():
    """alpha=0 adds nothing: weights whose squared norm overflows float32 still give
    a finite loss (0 * inf would be NaN)."""
    rng = np.random.RandomState(0)
    arch = Architecture(cell="rnn", n_features=1, hidden_sizes=(2,), n_outputs=1)
    params = init_parameters(arch, rng, np.float32)
    params["head.weight"] = np.full((1, 2), 1e25, np.float32)  # squared: 1e50 > float32's max
    params["rnn.bias_ih_l0"][:] = 0
    params["rnn.bias_hh_l0"][:] = 0
    X = np.zeros((3, 4, 1), np.float32)  # h = 0, so the logits are the head's bias
    lengths = np.array([4, 4, 4])
    Y = np.zeros((3, 1), np.float32)
    loss, grads = loss_and_gradients(params, arch, X, lengths, Y, "squared_error", alpha=0.0)
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], None),
        ([4], None),
        ([0, 1, 2, 3], slice(0, 4, 1)),
        ([1, 3, 5], slice(1, 6, 2)),
        ([5, 3, 1], None),  # decreasing: the index array keeps the order
        ([0, 2, 3], None),  # uneven
        ([0, 1, 3, 3], None),  # the ends of an even range, uneven inside
        ([2, 2], None),
    ],
)
def test_evenly_spaced_rows_become_a_slice(rows, expected, monkeypatch):
    """Evenly spaced increasing rows index as a slice (a view), picking the same
    rows in the same order; anything else stays an index array. (Checked here on
    few rows; the package checks only many, see _SLICE_MIN_ROWS.)"""
    from sklearn_rnn import _network
    from sklearn_rnn._network import _evenly_spaced

    monkeypatch.setattr(_network, "_SLICE_MIN_ROWS", 0)
    rows = np.array(rows, dtype=np.int64)
    got = _evenly_spaced(rows)
    if expected is None:
        assert got is rows
    else:
        assert got == expected
        assert_array_equal(np.arange(10)[got], rows)


def test_few_rows_stay_an_index_array():
    """Below _SLICE_MIN_ROWS rows, even spacing is not looked for (the copy is cheap)."""
    from sklearn_rnn._network import _SLICE_MIN_ROWS, _evenly_spaced

    few = np.arange(_SLICE_MIN_ROWS - 1)
    assert _evenly_spaced(few) is few
    assert _evenly_spaced(np.arange(_SLICE_MIN_ROWS)) == slice(0, _SLICE_MIN_ROWS, 1)
    rows = slice(3, 9, 2)  # already a slice: as it is
    assert _evenly_spaced(rows) is rows


def test_sort_keeps_the_order_of_equal_lengths():
    """Equal lengths keep their order (what the stable sort gives), unequal ones sort
    by decreasing length, ties in their order."""
    from sklearn_rnn._network import _sort

    order, sorted_lengths = _sort(np.full(5, 7, np.int64))
    assert_array_equal(order, np.arange(5))
    assert_array_equal(sorted_lengths, [7] * 5)
    order, sorted_lengths = _sort(np.array([2, 5, 2, 7], np.int64))
    assert_array_equal(order, [3, 1, 0, 2])
    assert_array_equal(sorted_lengths, [7, 5, 2, 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("cell", "pooling", "bidirectional"),
    [("lstm", "last", False), ("gru", "mean", False), ("rnn", "max", True)],
)
def test_prediction_does_not_depend_on_the_batch(cell, pooling, bidirectional, dtype):
    """A sequence's logits are the same bits predicted alone or with others (in
    predict's chunks), for a head of 128 units, whose BLAS product rounded a row
    differently with the number of rows."""
    arch = Architecture(cell=cell, n_features=3, hidden_sizes=(128,), n_outputs=3,
                        bidirectional=bidirectional, pooling=pooling)  # fmt: skip
    params = init_parameters(arch, np.random.RandomState(0), dtype)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(700, 9, 3)).astype(dtype)
    lengths = rng.randint(1, 10, size=700)
    together = predict_logits(params, arch, X, lengths)
    for i in range(0, 700, 47):
        alone = predict_logits(params, arch, X[i : i + 1], lengths[i : i + 1])
        assert_array_equal(alone[0], together[i])
