"""Regenerate the PyTorch reference values in ``tests/reference/``.

Run by hand from anywhere, in an environment with torch installed (the tests never
import torch; they only read the ``.npz`` files this script writes)::

    python tests/reference/make_reference.py

It writes ``cases_float64.npz`` and ``cases_float32.npz`` next to itself. The output is
deterministic, byte for byte (fixed seeds, one torch thread, fixed zip timestamps).
See ``README.md`` in this folder for the key scheme.

The network is DESIGN.md sections 1-3: ``rnn`` (``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``,
``batch_first=True``) on packed variable-length sequences, pooling of the top layer's
output sequence, ``head`` (``nn.Linear``), the output function and scikit-learn MLP's
loss (weighted by ``sample_weight``) plus MLP's L2 term.

Every case is checked before it is stored: the torch loss against an independent numpy
computation from the logits and against scikit-learn's own loss functions
(``sklearn.neural_network._base``) on the outputs, a few gradient entries against
central finite differences (float64), and the written files are read back and compared.
"""

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

try:
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
except ImportError:  # pytest --doctest-modules imports this file; the tests never need torch
    torch = nn = None

HERE = Path(__file__).resolve().parent
CELL_KINDS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
LAYERS = [1, 2, 3]
DIRECTIONS = [False, True]
POOLINGS = ["last", "mean", "max"]
TASKS = ["multiclass", "binary", "multilabel", "regression"]
DTYPES = {"float64": np.float64, "float32": np.float32}
BASE_SEED = 20240
ALPHAS = [0.0, 1e-2]
WEIGHT_SCALE = 3.0  # recurrent parameters of the "saturating" cases are multiplied by this
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def make_module(cell, activation, n_features, hidden, n_layers, bidirectional, n_out):
    """A module with attributes ``rnn`` and ``head``, so its state_dict names are DESIGN.md's."""
    kw = {"nonlinearity": activation} if cell == "rnn" else {}
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    net = nn.Module()
    net.rnn = module(
        n_features, hidden, n_layers, batch_first=True, bidirectional=bidirectional, **kw
    )
    net.head = nn.Linear(hidden * (2 if bidirectional else 1), n_out)
    return net


def forward(net, X, lengths, pooling):
    """Logits of the padded batch ``X`` (B, T, F) with the given ``lengths``."""
    packed = pack_padded_sequence(X, lengths, batch_first=True, enforce_sorted=False)
    out, _ = net.rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=X.shape[1])
    H = net.rnn.hidden_size
    if pooling == "last":
        z = out[torch.arange(X.shape[0]), lengths - 1, :H]
        if net.rnn.bidirectional:
            # the reverse half has read the whole sequence at step 0
            z = torch.cat([z, out[:, 0, H:]], dim=1)
    else:
        mask = (torch.arange(X.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        if pooling == "mean":
            z = (out * mask).sum(1) / lengths[:, None].to(out.dtype)
        else:
            z = out.masked_fill(~mask, -torch.inf).max(1).values
    return net.head(z)


def output_of(task, logits):
    if task == "multiclass":
        return torch.softmax(logits, dim=1)
    if task in ("binary", "multilabel"):
        return torch.sigmoid(logits)
    return logits


def loss_of(task, logits, Y, sw, alpha, net):
    """scikit-learn MLP's loss, from the logits, in the dtype of the logits."""
    n = logits.shape[0]
    w = torch.ones(n, dtype=logits.dtype) if sw is None else sw
    sw_sum = w.sum()
    if task == "multiclass":
        per_sample = -(Y * torch.log_softmax(logits, dim=1)).sum(1)
        data = (w * per_sample).sum() / sw_sum
    elif task in ("binary", "multilabel"):
        bce = nn.functional.binary_cross_entropy_with_logits(logits, Y, reduction="none")
        data = ((w[:, None] * bce).sum(0) / sw_sum).sum()
    else:
        data = 0.5 * ((w[:, None] * (logits - Y) ** 2).sum(0) / sw_sum).mean()
    l2 = sum((p**2).sum() for name, p in net.named_parameters() if ".weight" in name)
    return data + 0.5 * alpha * l2 / sw_sum


# --- independent numpy checks of the loss ---------------------------------------------


def numpy_loss(task, logits, Y, sw, alpha, weights):
    """The same loss, from the logits, in float64 numpy (stable log-sum-exp / softplus)."""
    z = logits.astype(np.float64)
    Y = Y.astype(np.float64)
    w = np.ones(len(z)) if sw is None else sw.astype(np.float64)
    if task == "multiclass":
        m = z.max(1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(1, keepdims=True))
        data = -(w[:, None] * Y * logp).sum() / w.sum()
    elif task in ("binary", "multilabel"):
        # -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z
        per = np.logaddexp(0.0, z) - Y * z
        data = ((w[:, None] * per).sum(0) / w.sum()).sum()
    else:
        data = 0.5 * ((w[:, None] * (z - Y) ** 2).sum(0) / w.sum()).mean()
    l2 = sum(float(np.dot(W.ravel(), W.ravel())) for W in weights)
    return data + 0.5 * alpha * l2 / w.sum()


def sklearn_loss(task, output, Y, sw, alpha, weights):
    """scikit-learn's own MLP loss functions (they clip probabilities at eps)."""
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    out = output.astype(np.float64)
    if task == "multiclass":
        data = LOSS_FUNCTIONS["log_loss"](Y, out, sample_weight=sw)
    elif task in ("binary", "multilabel"):
        data = LOSS_FUNCTIONS["binary_log_loss"](Y, out, sample_weight=sw)
    else:
        data = LOSS_FUNCTIONS["squared_error"](Y, out, sample_weight=sw)
    sw_sum = len(Y) if sw is None else sw.sum()
    values = sum(float(np.dot(W.ravel(), W.ravel())) for W in weights)
    return data + 0.5 * alpha * values / sw_sum


# --- case definitions ----------------------------------------------------------------


def case_specs():
    """The float64 cases: every cell kind x layers x direction x pooling (72)."""
    specs = []
    k = 0
    for cell, activation in CELL_KINDS:
        for n_layers in LAYERS:
            for bidirectional in DIRECTIONS:
                for pooling in POOLINGS:
                    task = TASKS[k % len(TASKS)]
                    rng = np.random.default_rng(BASE_SEED + k)
                    n_out = {"multiclass": 3, "binary": 1, "multilabel": 2}.get(task)
                    if n_out is None:  # regression: 1 or 2 outputs, alternating
                        n_out = 1 + (k // len(TASKS)) % 2
                    kind = cell if cell != "rnn" else f"rnn_{activation}"
                    direction = "bi" if bidirectional else "uni"
                    specs.append(
                        {
                            "name": f"{kind}-L{n_layers}-{direction}-{pooling}-{task}",
                            "seed": BASE_SEED + k,
                            "cell": cell,
                            "activation": activation,
                            "num_layers": n_layers,
                            "bidirectional": bidirectional,
                            "pooling": pooling,
                            "task": task,
                            "n_outputs": n_out,
                            "batch_size": int(rng.integers(4, 7)),
                            "n_steps": int(rng.integers(5, 9)),
                            "n_features": int(rng.integers(2, 4)),
                            "hidden_size": int(rng.integers(3, 6)),
                            # per task (k % 4) these cycle through all four combinations
                            "has_sample_weight": (k // 4) % 2 == 1,
                            "alpha": ALPHAS[(k // 8) % 2],
                            # 10 cases, 2-3 per cell kind, spread over poolings and tasks
                            "weight_scale": WEIGHT_SCALE if k % 7 == 3 else 1.0,
                        }
                    )
                    k += 1
    return specs


def make_data(spec):
    """Inputs, targets, weights; all float32-representable so both dtypes see one case."""
    rng = np.random.default_rng(spec["seed"] + 7919)
    B, T, F = spec["batch_size"], spec["n_steps"], spec["n_features"]
    while True:
        lengths = rng.integers(1, T + 1, size=B)
        lengths[rng.integers(B)] = T
        # unsorted: pack_padded_sequence(enforce_sorted=False) must reorder
        if np.any(np.diff(lengths) > 0) and np.any(np.diff(lengths) < 0):
            break
    X = rng.normal(size=(B, T, F)).astype(np.float32).astype(np.float64)
    X[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    task, n_out = spec["task"], spec["n_outputs"]
    if task == "multiclass":
        labels = np.arange(B) % n_out
        rng.shuffle(labels)
        Y = np.eye(n_out)[labels]
    elif task == "binary":
        labels = np.arange(B) % 2
        rng.shuffle(labels)
        Y = labels[:, None].astype(np.float64)
    elif task == "multilabel":
        Y = (rng.uniform(size=(B, n_out)) > 0.5).astype(np.float64)
    else:
        Y = rng.normal(size=(B, n_out)).astype(np.float32).astype(np.float64)
    sw = None
    if spec["has_sample_weight"]:
        sw = rng.uniform(0.2, 3.0, size=B).astype(np.float32).astype(np.float64)
    return X, lengths.astype(np.int64), Y, sw


def make_net(spec):
    """Default PyTorch init from torch.manual_seed(seed), in float32 (then cast exactly)."""
    torch.manual_seed(spec["seed"])
    net = make_module(
        spec["cell"],
        spec["activation"],
        spec["n_features"],
        spec["hidden_size"],
        spec["num_layers"],
        spec["bidirectional"],
        spec["n_outputs"],
    )
    if spec["weight_scale"] != 1.0:
        with torch.no_grad():
            for p in net.rnn.parameters():
                p.mul_(spec["weight_scale"])
    return net


def finite_difference_check(net, X, lengths, spec, Y, sw, rng, n_entries=4):
    """Central differences on a few entries of every parameter (float64 only)."""
    eps = 1e-6
    worst = 0.0
    for p in net.parameters():
        flat = p.data.view(-1)
        for i in rng.choice(flat.numel(), size=min(n_entries, flat.numel()), replace=False):
            old = flat[i].item()
            vals = []
            for delta in (eps, -eps):
                flat[i] = old + delta
                with torch.no_grad():
                    logits = forward(net, X, lengths, spec["pooling"])
                    vals.append(loss_of(spec["task"], logits, Y, sw, spec["alpha"], net).item())
            flat[i] = old
            fd = (vals[0] - vals[1]) / (2 * eps)
            g = p.grad.view(-1)[i].item()
            worst = max(worst, abs(fd - g) / max(1.0, abs(g)))
    return worst


def run_case(spec, dtype_name):
    np_dtype = DTYPES[dtype_name]
    t_dtype = getattr(torch, dtype_name)
    X, lengths, Y, sw = make_data(spec)
    net = make_net(spec).to(t_dtype)
    tX = torch.tensor(X, dtype=t_dtype)
    tlen = torch.tensor(lengths)
    tY = torch.tensor(Y, dtype=t_dtype)
    tsw = None if sw is None else torch.tensor(sw, dtype=t_dtype)
    net.zero_grad()
    logits = forward(net, tX, tlen, spec["pooling"])
    output = output_of(spec["task"], logits)
    loss = loss_of(spec["task"], logits, tY, tsw, spec["alpha"], net)
    loss.backward()
    assert logits.dtype == t_dtype
    assert loss.dtype == t_dtype

    params = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    grads = {k: p.grad.detach().numpy().copy() for k, p in net.named_parameters()}
    assert list(params) == list(grads), "every state_dict entry is a parameter"
    np_logits = logits.detach().numpy()
    np_output = output.detach().numpy()
    np_loss = loss.detach().numpy()

    # self-checks of the loss definition
    weights = [v for k, v in params.items() if ".weight" in k]
    Xc = X.astype(np_dtype)
    Yc = Y.astype(np_dtype)
    swc = None if sw is None else sw.astype(np_dtype)
    ref_np = numpy_loss(spec["task"], np_logits, Yc, swc, spec["alpha"], weights)
    ref_sk = sklearn_loss(spec["task"], np_output, Yc, swc, spec["alpha"], weights)
    tol = 1e-12 if np_dtype == np.float64 else 2e-6
    for what, ref in (("numpy", ref_np), ("sklearn", ref_sk)):
        err = abs(float(np_loss) - ref) / max(1.0, abs(ref))
        assert err <= tol, f"{spec['name']} {dtype_name}: loss {np_loss} vs {what} {ref}"
    fd_err = None
    if np_dtype == np.float64:
        fd_err = finite_difference_check(
            net, tX, tlen, spec, tY, tsw, np.random.default_rng(spec["seed"])
        )
        assert fd_err < 1e-6, f"{spec['name']}: finite differences {fd_err:.1e}"

    meta = {
        "cell": spec["cell"],
        "activation": spec["activation"],
        "hidden_size": spec["hidden_size"],
        "num_layers": spec["num_layers"],
        "bidirectional": spec["bidirectional"],
        "pooling": spec["pooling"],
        "task": spec["task"],
        "alpha": spec["alpha"],
        "has_sample_weight": sw is not None,
        "n_outputs": spec["n_outputs"],
        "dtype": dtype_name,
        "seed": spec["seed"],
        "weight_scale": spec["weight_scale"],
    }
    name = spec["name"]
    arrays = {
        f"{name}/meta": np.array(json.dumps(meta, sort_keys=True)),
        f"{name}/X": Xc,
        f"{name}/lengths": lengths,
        f"{name}/Y": Yc,
    }
    if sw is not None:
        arrays[f"{name}/sample_weight"] = swc
    for k, v in params.items():
        arrays[f"{name}/param/{k}"] = v
    arrays[f"{name}/logits"] = np_logits
    arrays[f"{name}/output"] = np_output
    arrays[f"{name}/loss"] = np_loss
    for k, v in grads.items():
        arrays[f"{name}/grad/{k}"] = v
    for key, arr in arrays.items():
        if key.endswith(("/meta", "/lengths")):
            continue
        assert arr.dtype == np_dtype, (key, arr.dtype)
    stats = {"max_abs_logit": float(np.abs(np_logits).max()), "fd_err": fd_err}
    return arrays, stats


def write_npz(path, arrays):
    """Like np.savez_compressed, but with fixed zip timestamps (byte-identical reruns)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def check_roundtrip(path, arrays):
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(arrays), path
        for key, arr in arrays.items():
            got = data[key]
            assert got.dtype == arr.dtype, key
            assert got.shape == arr.shape, key
            assert np.array_equal(got, arr), key
        for key in data.files:
            if key.endswith("/meta"):
                json.loads(str(data[key][()]))


def coverage_report(specs):
    from collections import Counter

    by = Counter()
    for s in specs:
        kind = s["name"].split("-")[0]
        by[("cell", kind, s["task"])] += 1
        by[("pool", s["pooling"], s["task"])] += 1
        by[("dir", s["bidirectional"], s["task"])] += 1
    for kind in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        for task in TASKS:
            assert by[("cell", kind, task)] > 0, (kind, task)
    for pooling in POOLINGS:
        for task in TASKS:
            assert by[("pool", pooling, task)] > 0, (pooling, task)
    for bidirectional in DIRECTIONS:
        for task in TASKS:
            assert by[("dir", bidirectional, task)] > 0, (bidirectional, task)
    n_sw = sum(s["has_sample_weight"] for s in specs)
    n_alpha = sum(s["alpha"] > 0 for s in specs)
    n_scaled = sum(s["weight_scale"] != 1.0 for s in specs)
    return f"{len(specs)} cases: {n_sw} weighted, {n_alpha} with alpha>0, {n_scaled} scaled"


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    specs = case_specs()
    assert len({s["name"] for s in specs}) == len(specs)
    print("float64:", coverage_report(specs))
    float32_specs = [s for s in specs if s["num_layers"] in (1, 2)]
    print("float32:", coverage_report(float32_specs))
    total = 0
    for dtype_name, subset in (("float64", specs), ("float32", float32_specs)):
        arrays = {}
        worst_logit = worst_fd = 0.0
        for spec in subset:
            case_arrays, stats = run_case(spec, dtype_name)
            arrays.update(case_arrays)
            worst_logit = max(worst_logit, stats["max_abs_logit"])
            if stats["fd_err"] is not None:
                worst_fd = max(worst_fd, stats["fd_err"])
        path = HERE / f"cases_{dtype_name}.npz"
        write_npz(path, arrays)
        check_roundtrip(path, arrays)
        size = path.stat().st_size
        total += size
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(
            f"{path.name}: {len(subset)} cases, {len(arrays)} arrays, {size} bytes, "
            f"sha256 {digest}; max |logit| {worst_logit:.3g}"
            + (f", worst finite-difference error {worst_fd:.1e}" if dtype_name == "float64" else "")
        )
    assert total < 2_000_000, f"reference files too large: {total} bytes"
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
