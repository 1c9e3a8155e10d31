"""The network: stacked recurrent layers, pooling and a linear head.

``recurrent layers -> pooling -> linear head -> output function -> loss``.

This module validates and allocates, then runs the cell kernels of ``_cells``
on one batch at a time. Parameters live in a dict named and shaped exactly as
the ``state_dict()`` of a PyTorch module with attributes ``rnn``
(``nn.RNN``/``nn.LSTM``/``nn.GRU``, ``batch_first=True``) and ``head``
(``nn.Linear``). Data arrive batch-major, ``(n_samples, n_steps, n_features)``,
with the length of every sequence; they are sorted by decreasing length and
turned time-major for the kernels, and the results are put back in order.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from ._cells import ACTIVATION_CODES, CELLS
from ._cells._layer import gradient_chunk
from ._loss import loss_and_gradient
from ._parallel import MIN_ROWS, map_shards, n_shards
from ._subnormals import subnormals_flushed

POOLINGS = ("last", "mean", "max")


@dataclass(frozen=True)
class Architecture:
    """Shape of a network: what its parameters are and how it runs.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent cell.
    n_features : int
        Features per time step.
    hidden_sizes : tuple of int
        Hidden units of each stacked layer (per direction).
    n_outputs : int
        Units of the linear head.
    bidirectional : bool
        Whether each layer also runs over the reversed sequences.
    pooling : {"last", "mean", "max"}
        How the top layer's sequence becomes one vector.
    activation : {"tanh", "relu", "logistic"}
        Activation of the ``"rnn"`` cell; ignored by the others.
    """

    cell: str
    n_features: int
    hidden_sizes: tuple
    n_outputs: int
    bidirectional: bool = False
    pooling: str = "last"
    activation: str = "tanh"

    @property
    def directions(self):
        """Name suffixes of the directions of a layer."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def layer_inputs(self, layer):
        """Number of input features of ``layer``."""
        if layer == 0:
            return self.n_features
        return self.hidden_sizes[layer - 1] * len(self.directions)

    def parameter_shapes(self):
        """Parameter name -> shape, in PyTorch's ``state_dict`` order (a new dict)."""
        return dict(_parameter_shapes(self))


@functools.lru_cache(maxsize=64)
def _parameter_shapes(arch):
    """:meth:`Architecture.parameter_shapes`, made once per architecture: every
    predict checks the parameters against it."""
    n_gates = CELLS[arch.cell].N_GATES
    shapes = {}
    for layer, hidden in enumerate(arch.hidden_sizes):
        for suffix in arch.directions:
            tag = f"l{layer}{suffix}"
            shapes[f"rnn.weight_ih_{tag}"] = (n_gates * hidden, arch.layer_inputs(layer))
            shapes[f"rnn.weight_hh_{tag}"] = (n_gates * hidden, hidden)
            shapes[f"rnn.bias_ih_{tag}"] = (n_gates * hidden,)
            shapes[f"rnn.bias_hh_{tag}"] = (n_gates * hidden,)
    pooled = arch.hidden_sizes[-1] * len(arch.directions)
    shapes["head.weight"] = (arch.n_outputs, pooled)
    shapes["head.bias"] = (arch.n_outputs,)
    return shapes


def is_penalized(name):
    """Whether the L2 penalty applies to a parameter (weight matrices, not biases)."""
    return "weight" in name


def init_parameters(arch, random_state, dtype):
    """Draw parameters as PyTorch does.

    Recurrent weights and biases are U(-1/sqrt(H), 1/sqrt(H)); the head is
    ``nn.Linear``'s rule, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both.

    Parameters
    ----------
    arch : Architecture
    random_state : numpy.random.RandomState
        The only source of randomness.
    dtype : numpy dtype
        float32 or float64.

    Returns
    -------
    params : dict of str to ndarray
    """
    n_gates = CELLS[arch.cell].N_GATES
    shapes = arch.parameter_shapes()
    params = {}
    for name, shape in shapes.items():
        # the head: nn.Linear's fan-in; a recurrent parameter: its layer's H, as
        # its rows are n_gates blocks of H
        fan = shapes["head.weight"][1] if name.startswith("head.") else shape[0] // n_gates
        bound = 1.0 / np.sqrt(fan)
        params[name] = random_state.uniform(-bound, bound, size=shape).astype(dtype)
    return params


def check_parameters(params, arch, dtype):
    """Raise ValueError unless ``params`` has exactly the names, shapes and dtype of ``arch``."""
    shapes = _parameter_shapes(arch)
    if set(params) != shapes.keys():
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        raise ValueError(
            f"weights_ does not match the network: missing {missing}, unexpected {extra}."
        )
    for name, shape in shapes.items():
        value = params[name]
        if not isinstance(value, np.ndarray) or value.shape != shape:
            got = getattr(value, "shape", type(value).__name__)
            raise ValueError(f"weights_[{name!r}] has shape {got}; the network needs {shape}.")
        if value.dtype != dtype:
            raise ValueError(
                f"weights_[{name!r}] has dtype {value.dtype}; the network needs {dtype}."
            )


def _check_batch(X, lengths, arch):
    """Validate what the kernels rely on, so that they never read out of bounds."""
    if not isinstance(X, np.ndarray) or X.ndim != 3:
        raise ValueError("X must be a 3-D array (n_samples, n_steps, n_features).")
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(f"X must be float32 or float64, got {X.dtype}.")
    n_samples, n_steps, n_features = X.shape
    if n_features < 1:  # the kernels read the first feature of every step
        raise ValueError("X must have at least one feature per step.")
    if n_features != arch.n_features:
        raise ValueError(
            f"X has {n_features} features per step; the network expects {arch.n_features}."
        )
    lengths = np.asarray(lengths)
    if lengths.shape != (n_samples,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError("lengths must be an integer array with one entry per sequence.")
    if n_samples and (lengths.min() < 1 or lengths.max() > n_steps):
        raise ValueError(f"Every length must lie in [1, {n_steps}] (the padded width of X).")
    return lengths.astype(np.int64, copy=False)


#: Fewest rows :func:`_evenly_spaced` looks at: an index array copies fewer about
#: as fast as the check costs (64 to 512 rows of 24 to 50 steps: 5-11 us through
#: the index array, 3-6 us more with the check).
_SLICE_MIN_ROWS = 1024


def _evenly_spaced(rows):
    """``rows`` as a slice when they are many, evenly spaced and increasing (a shard
    of a batch of equal lengths, which keeps its order), else ``rows`` itself (a
    slice is returned as it is): indexing with the slice makes a view, where an
    index array copies (the time-major copy of a tiny RNN's shard, 2000 sequences
    x 24 steps, took 32 us through the slice, 58 us through the index array)."""
    if isinstance(rows, slice) or len(rows) < max(2, _SLICE_MIN_ROWS):
        return rows
    first, step = int(rows[0]), int(rows[1] - rows[0])
    # the ends first: a shuffled batch's rows (fit) fail there, with no pass over them
    if step < 1 or rows[-1] != first + step * (len(rows) - 1):
        return rows
    if not (np.diff(rows) == step).all():
        return rows
    return slice(first, int(rows[-1]) + 1, step)


def _time_major(X, rows, lengths, start=0, stop=None):
    """Time-major copy of steps ``start:stop`` of the sequences ``rows`` of X, zero at padding.

    ``rows`` are sorted by decreasing length; ``stop`` defaults to the longest.
    """
    stop = int(lengths[0]) if stop is None else stop
    x = np.ascontiguousarray(X[_evenly_spaced(rows), start:stop].transpose(1, 0, 2))
    if len(lengths) and lengths.min() < stop:  # else no padding in these steps
        x[np.arange(start, stop)[:, None] >= lengths[None, :]] = 0
    return x


def _pool(out, lengths, arch):
    """Pool a (T, B, D) sequence into (B, D); also return what backward needs."""
    n_steps, batch = out.shape[:2]
    if arch.pooling == "last":
        hidden = arch.hidden_sizes[-1]
        rows = np.arange(batch)
        pooled = out[lengths - 1, rows].copy()
        if arch.bidirectional:  # the reversed pass ends at step 0
            pooled[:, hidden:] = out[0, :, hidden:]
        return pooled, None
    valid = (np.arange(n_steps)[:, None] < lengths[None, :])[:, :, None]
    if arch.pooling == "mean":
        return out.sum(axis=0) / lengths[:, None].astype(out.dtype), None
    masked = np.where(valid, out, -np.inf)
    argmax = masked.argmax(axis=0)
    return np.take_along_axis(out, argmax[None], axis=0)[0], argmax


def _unpool(dpooled, lengths, arch, n_steps, argmax):
    """Gradient of the pooling: (B, D) -> (T, B, D)."""
    batch, width = dpooled.shape
    dout = np.zeros((n_steps, batch, width), dtype=dpooled.dtype)
    rows = np.arange(batch)
    if arch.pooling == "last":
        hidden = arch.hidden_sizes[-1]
        if arch.bidirectional:
            dout[lengths - 1, rows, :hidden] = dpooled[:, :hidden]
            dout[0, :, hidden:] = dpooled[:, hidden:]
        else:
            dout[lengths - 1, rows] = dpooled
    elif arch.pooling == "mean":
        valid = np.arange(n_steps)[:, None] < lengths[None, :]
        dout[:] = dpooled / lengths[:, None].astype(dpooled.dtype)
        dout[~valid] = 0
    else:
        np.put_along_axis(dout, argmax[None], dpooled[None], axis=0)
    return dout


# Parameter kinds of one recurrent pass, in the kernels' argument order.
_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# (0, 0, 0) arrays: "zero initial state" for forward.
_EMPTY = {np.dtype(np.float32): np.empty((0, 0, 0), np.float32),
          np.dtype(np.float64): np.empty((0, 0, 0), np.float64)}  # fmt: skip


class Workspace:
    """Buffers kept from batch to batch, so that an epoch does not allocate its big arrays.

    Allocating and freeing the (T, B, ...) buffers of every batch costs page faults,
    and threads that do it at once contend on the process's memory map: measured,
    it made two threads slower than one on a small LSTM. ``fit`` makes one
    workspace and passes it to every batch; buffers grow when a batch needs more.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, key, shape, dtype):
        """An uninitialised array of ``shape``, the buffer ``key`` reused if big enough."""
        size = math.prod(shape)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = np.empty(max(size, 1), dtype=dtype)
            self._buffers[key] = buffer
        return buffer[:size].reshape(shape)


class _Fresh:
    """A workspace that allocates every time (the default, outside a fit)."""

    @staticmethod
    def get(key, shape, dtype):
        return np.empty(shape, dtype=dtype)


class _Run:
    """The training forward pass of one shard (a sorted time-major batch), and its backward.

    ``masks`` are the dropout masks of every layer, (T, B, width), or None.
    """

    def __init__(self, params, arch, x, lengths, masks=None, workspace=_Fresh, shard=0):
        self.arch = arch
        self.workspace = workspace
        self.shard = shard
        self.lengths = lengths
        self.x = x
        self.layers = []  # per layer: (input, [(suffix, hs, gates, extra)], dropout mask)
        cell = CELLS[arch.cell]
        activation = ACTIVATION_CODES[arch.activation]
        n_steps, batch = x.shape[:2]
        layer_input = x
        for layer, hidden in enumerate(arch.hidden_sizes):
            passes = []
            for suffix in arch.directions:
                weights = [params[f"rnn.{kind}_l{layer}{suffix}"] for kind in _KINDS]
                key = (shard, layer, suffix)
                hs = workspace.get(key + ("hs",), (n_steps, batch, hidden), x.dtype)
                gates_shape = (
                    (n_steps, batch, cell.N_GATES * hidden) if cell.HAS_GATES else (0, 0, 0)
                )
                gates = workspace.get(key + ("gates",), gates_shape, x.dtype)
                extra_shape = (n_steps, batch, hidden) if cell.HAS_EXTRA else (0, 0, 0)
                extra = workspace.get(key + ("extra",), extra_shape, x.dtype)
                reverse = suffix == "_reverse"
                cell.forward(layer_input, lengths, *weights, reverse, activation,
                             _EMPTY[x.dtype], hs, gates, extra)  # fmt: skip
                passes.append((suffix, hs, gates, extra))
            out = (
                passes[0][1] if len(passes) == 1 else np.concatenate([p[1] for p in passes], axis=2)
            )
            mask = None if masks is None else masks[layer]
            if mask is not None:
                out = out * mask
            self.layers.append((layer_input, passes, mask))
            layer_input = out
        self.pooled, self.argmax = _pool(layer_input, lengths, arch)
        self.logits = self.pooled @ params["head.weight"].T + params["head.bias"]

    def backward(self, params, dlogits):
        """Gradients of every parameter given the gradient of the logits."""
        arch, lengths = self.arch, self.lengths
        grads = {
            "head.weight": dlogits.T @ self.pooled,
            "head.bias": dlogits.sum(axis=0),
        }
        dpooled = dlogits @ params["head.weight"]
        n_steps = self.x.shape[0]
        dout = _unpool(dpooled, lengths, arch, n_steps, self.argmax)
        cell = CELLS[arch.cell]
        activation = ACTIVATION_CODES[arch.activation]
        for layer in range(len(arch.hidden_sizes) - 1, -1, -1):
            layer_input, passes, mask = self.layers[layer]
            if mask is not None:
                dout *= mask
            hidden = arch.hidden_sizes[layer]
            dinput = None
            for i, (suffix, hs, gates, extra) in enumerate(passes):
                tag = f"l{layer}{suffix}"
                weights = [params[f"rnn.{kind}_{tag}"] for kind in _KINDS]
                dhs = np.ascontiguousarray(dout[:, :, i * hidden : (i + 1) * hidden])
                # the input of the first layer is the data: no gradient needed
                if layer == 0:
                    dx = None
                else:
                    dx = self.workspace.get(
                        (self.shard, layer, suffix, "dx"), layer_input.shape, layer_input.dtype
                    )
                dparams = [np.empty_like(w) for w in weights]
                # the kernel's scratch: one buffer per shard, for every layer in turn
                batch, n_gates = len(lengths), cell.N_GATES * hidden
                chunk = gradient_chunk(n_steps, batch, n_gates, hs.dtype.itemsize)
                dg = self.workspace.get((self.shard, "dg"), (chunk, batch, n_gates), hs.dtype)
                dn_in = self.workspace.get(
                    (self.shard, "dn_in"),
                    (chunk, batch, hidden) if cell.HAS_DN_IN else (0, 0, 0),
                    hs.dtype,
                )
                reverse = suffix == "_reverse"
                cell.backward(
                    layer_input, lengths, *weights, reverse, activation,
                    hs, gates, extra, dhs, dx, *dparams, dg, dn_in,
                )  # fmt: skip
                for kind, g in zip(_KINDS, dparams, strict=True):
                    grads[f"rnn.{kind}_{tag}"] = g
                if layer > 0:
                    dinput = dx if dinput is None else dinput + dx
            dout = dinput
        return grads


def _sort(lengths):
    """Order of the sequences by decreasing length (stable), and the sorted lengths."""
    if len(lengths) and lengths.min() == lengths.max():  # equal lengths: as they are
        return np.arange(len(lengths)), np.ascontiguousarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    return order, np.ascontiguousarray(lengths[order])


def _shard_positions(n_sequences):
    """Positions (in the sorted order) of each shard's sequences: interleaved, so
    every shard is sorted and gets its share of long and short sequences."""
    shards = n_shards(n_sequences)
    return [np.arange(k, n_sequences, shards) for k in range(shards)]


# -- prediction ---------------------------------------------------------------------

#: Steps run at once by every layer of a one-directional network at predict time:
#: its memory is (_PREDICT_STEPS, rows, width) per layer, whatever the length.
_PREDICT_STEPS = 32
#: Elements (activations and kernel scratch) predict may hold at once: it runs as
#: many sequences at a time as fit, so memory is bounded whatever the length (a
#: bidirectional network, which needs whole sequences, takes fewer when longer).
_PREDICT_BUDGET = 1 << 23


def _predict_rows(arch, n_steps):
    """How many sequences predict runs at once, to hold about ``_PREDICT_BUDGET`` elements."""
    hidden = max(arch.hidden_sizes)
    n_gates = CELLS[arch.cell].N_GATES
    # the forward kernel's ring buffers (gates, 2 steps of extra) and a step's
    # pre-activations (the GRU's input and hidden ones apart)
    scratch = (n_gates + 2) * hidden + 2 * n_gates * hidden
    if arch.bidirectional:
        # whole sequences: a layer's output (2H) and one pass's (H) at every step
        per_row = n_steps * 3 * hidden + scratch
    else:
        # every layer's outputs over _PREDICT_STEPS steps
        per_row = _PREDICT_STEPS * sum(arch.hidden_sizes) + scratch
    return max(1, _PREDICT_BUDGET // per_row)


#: Multiply-adds of a chunk of predict below which it is not split further:
#: a few tenths of a millisecond on one core, against tens of microseconds of
#: Python a chunk (the tiny RNN's predict, 4,000 x 24 steps of 16 units, stays in two).
_MIN_CHUNK_WORK = 2 * 10**7

#: Shares of a big part's work in predict's waves of chunks, each wave cut into
#: :func:`n_shards` chunks of equal work: chunks shrink as the part nears its
#: end. Threads take them in turn, so the last to finish waits at most for a small
#: chunk, whether the CPUs run at the same speed or not (virtual machines' CPUs,
#: or a laptop's efficiency cores, can run at half the speed of the others). On 2
#: CPUs the chunks hold 1/3, 1/3, 1/8, 1/8, 1/24 and 1/24 of the work: simulated
#: with a thread from 1 to 2 times as fast as the other, 1.04 to 1.09 times the
#: ideal time (1.06 on average), where 1/3, 1/3, then three chunks of 1/9, took
#: 1.03 to 1.20 (1.10; 1.15 at equal speeds), and halves 1.01 to 1.51.
_PREDICT_WAVES = (2 / 3, 1 / 4, 1 / 12)


def _predict_chunks(arch, lengths):
    """The chunks predict runs a part in, each one task for a thread: ``(lo, hi)``
    ranges of its sequences, sorted by decreasing ``lengths``.

    :func:`n_shards` chunks of equal work, as fit's shards; when the part is big
    enough for its smallest chunks to hold ``MIN_ROWS`` sequences and
    ``_MIN_CHUNK_WORK`` multiply-adds, waves of them that hold the shares
    ``_PREDICT_WAVES`` of the work (fit cannot do this, as its shards set how
    its gradients are summed). The chunks depend on the sizes and the
    machine's CPUs only, not the thread count.
    """
    n = len(lengths)
    shards = n_shards(n)
    if shards == 1:
        return [(0, n)]
    # the multiply-adds of a sequence-step: every pass's products with its weights
    width, passes = arch.n_features, len(arch.directions)
    step_work = 0
    for hidden in arch.hidden_sizes:
        step_work += passes * CELLS[arch.cell].N_GATES * hidden * (width + hidden)
        width = hidden * passes
    equal = lengths[0] == lengths[-1]  # the usual case: no pass over the lengths
    steps = None if equal else np.cumsum(lengths)  # steps[i]: those of sequences 0 to i
    total = n * int(lengths[0]) if equal else int(steps[-1])
    smallest = _PREDICT_WAVES[-1] / shards
    waves = (1.0,)
    if int(n * smallest) >= MIN_ROWS and step_work * total * smallest >= _MIN_CHUNK_WORK:
        waves = _PREDICT_WAVES
    ends, done = [], 0.0
    for share in waves:
        ends += [done + share * k / shards for k in range(1, shards + 1)]
        done += share
    # each chunk ends with the first sequence that brings the steps to its share
    if equal:
        inner = [math.ceil(end * n) for end in ends[:-1]]
    else:
        inner = (np.searchsorted(steps, np.array(ends[:-1]) * total) + 1).tolist()
    cuts = [0, *inner, n]
    return [(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True) if hi > lo]


def _forward_buffers(workspace, cell, batch, hidden, dtype):
    """Ring buffers for the ``gates`` and ``extra`` of one forward call at predict time,
    which needs neither beyond the step after (see :mod:`._cells`)."""
    gates_shape = (1, batch, cell.N_GATES * hidden) if cell.HAS_GATES else (0, 0, 0)
    gates = workspace.get("gates", gates_shape, dtype)
    extra_shape = (2, batch, hidden) if cell.HAS_EXTRA else (0, 0, 0)
    return gates, workspace.get("extra", extra_shape, dtype)


def _head(pooled, params):
    """The linear head's logits at predict time, each row computed alone by einsum's
    loop: BLAS's product rounds a row differently with the number of rows (by an
    ulp, for 128 units), and a sequence's prediction would then depend on the
    others predicted with it, and on predict's chunks. (Fit keeps BLAS.)"""
    return np.einsum("nh,oh->no", pooled, params["head.weight"]) + params["head.bias"]


def _infer_streaming(params, arch, X, rows, lengths):
    """Logits of one shard of a one-directional network, ``_PREDICT_STEPS`` steps at a time.

    Every layer carries its state from chunk to chunk; the pooling is accumulated
    as the top layer's outputs come, so memory does not grow with the length.
    """
    cell = CELLS[arch.cell]
    activation = ACTIVATION_CODES[arch.activation]
    batch, n_steps, dtype = len(lengths), int(lengths[0]), X.dtype
    n_layers = len(arch.hidden_sizes)
    weights = [[params[f"rnn.{kind}_l{layer}"] for kind in _KINDS] for layer in range(n_layers)]
    states = [np.zeros((cell.N_STATES, batch, h), dtype) for h in arch.hidden_sizes]
    steps = min(_PREDICT_STEPS, n_steps)
    # every layer's outputs over a chunk: the next layer's input; the top layer's
    # feed the pooling, or for "last" pooling only its state (a ring of 2 steps)
    outputs = [np.empty((steps, batch, h), dtype) for h in arch.hidden_sizes]
    ring_top = arch.pooling == "last"
    if ring_top:
        outputs[-1] = np.empty((2, batch, arch.hidden_sizes[-1]), dtype)
    workspace = Workspace()
    top = arch.hidden_sizes[-1]
    if arch.pooling == "mean":
        pooled = np.zeros((batch, top), dtype)
    elif arch.pooling == "max":
        pooled = np.full((batch, top), -np.inf, dtype)
    for start in range(0, n_steps, _PREDICT_STEPS):
        stop = min(start + _PREDICT_STEPS, n_steps)
        layer_input = _time_major(X, rows, lengths, start, stop)
        # sequences that ended before this chunk have length 0 in it: they keep their
        # state (a single chunk holds every step of every sequence)
        chunk_lengths = lengths
        if start > 0 or stop < n_steps:
            chunk_lengths = np.minimum(np.maximum(lengths - start, 0), stop - start)
        for layer, hidden in enumerate(arch.hidden_sizes):
            ring = ring_top and layer == n_layers - 1
            hs = outputs[layer] if ring else outputs[layer][: stop - start]
            gates, extra = _forward_buffers(workspace, cell, batch, hidden, dtype)
            cell.forward(layer_input, chunk_lengths, *weights[layer], False, activation,
                         states[layer], hs, gates, extra)  # fmt: skip
            layer_input = hs
        if arch.pooling == "mean":
            pooled += layer_input.sum(axis=0)  # zero at padding
        elif arch.pooling == "max":
            valid = (np.arange(stop - start)[:, None] < chunk_lengths[None, :])[:, :, None]
            np.maximum(pooled, np.where(valid, layer_input, -np.inf).max(axis=0), out=pooled)
    if arch.pooling == "last":
        pooled = states[-1][0]  # the state after each sequence's last step
    elif arch.pooling == "mean":
        pooled /= lengths[:, None].astype(dtype)
    return _head(pooled, params)


def _infer_whole(params, arch, X, rows, lengths):
    """Logits of one shard of a bidirectional network: each layer runs over whole sequences."""
    cell = CELLS[arch.cell]
    activation = ACTIVATION_CODES[arch.activation]
    batch, dtype = len(lengths), X.dtype
    n_steps = int(lengths[0])
    workspace = Workspace()
    layer_input = _time_major(X, rows, lengths)
    for layer, hidden in enumerate(arch.hidden_sizes):
        out = np.empty((n_steps, batch, 2 * hidden), dtype)
        for i, suffix in enumerate(arch.directions):
            weights = [params[f"rnn.{kind}_l{layer}{suffix}"] for kind in _KINDS]
            hs = workspace.get("hs", (n_steps, batch, hidden), dtype)
            gates, extra = _forward_buffers(workspace, cell, batch, hidden, dtype)
            cell.forward(layer_input, lengths, *weights, suffix == "_reverse", activation,
                         _EMPTY[dtype], hs, gates, extra)  # fmt: skip
            out[:, :, i * hidden : (i + 1) * hidden] = hs
        layer_input = out
    pooled, _ = _pool(layer_input, lengths, arch)
    return _head(pooled, params)


def predict_logits(params, arch, X, lengths, batch_size=None):
    """Logits of the network for every sequence of ``X``.

    Memory does not grow with the length of the sequences: a one-directional
    network runs every layer a few steps at a time, keeping only its state; a
    bidirectional one, which needs whole sequences, takes fewer at a time.

    Parameters
    ----------
    params : dict of str to ndarray
        Parameters in PyTorch ``state_dict`` naming, in the dtype of ``X``.
    arch : Architecture
    X : ndarray of shape (n_samples, n_steps, n_features)
        Padded sequences (values at padded steps are ignored).
    lengths : ndarray of shape (n_samples,)
        Length of each sequence, in [1, n_steps].
    batch_size : int or None
        Most sequences run at once. By default as many as fit in a fixed
        memory budget (``_PREDICT_BUDGET`` elements).

    Returns
    -------
    logits : ndarray of shape (n_samples, n_outputs)
    """
    check_parameters(params, arch, X.dtype)
    lengths = _check_batch(X, lengths, arch)
    logits = np.empty((X.shape[0], arch.n_outputs), dtype=X.dtype)
    rows = _predict_rows(arch, X.shape[1])
    batch_size = rows if batch_size is None else max(1, min(batch_size, rows))
    # parts of equal size: a small last part would cost as much overhead as a full one
    n_parts = max(1, -(-X.shape[0] // batch_size))
    batch_size = max(1, -(-X.shape[0] // n_parts))
    infer = _infer_whole if arch.bidirectional else _infer_streaming
    for start in range(0, X.shape[0], batch_size):
        order, lengths_sorted = _sort(lengths[start : start + batch_size])
        # each shard's rows of X and lengths, made once: its results go back there.
        # Equal lengths keep their order (see _sort): a chunk is a range of rows.
        in_order = lengths_sorted[0] == lengths_sorted[-1]
        shards = [
            (
                slice(start + lo, start + hi) if in_order else order[lo:hi] + start,
                lengths_sorted[lo:hi],
            )
            for lo, hi in _predict_chunks(arch, lengths_sorted)
        ]

        def infer_shard(shard):
            with subnormals_flushed():
                return infer(params, arch, X, *shard)

        results = map_shards(infer_shard, shards)
        for (rows, _), result in zip(shards, results, strict=True):
            logits[rows] = result
    return logits


def loss_and_gradients(
    params, arch, X, lengths, Y, loss, *, sample_weight=None, alpha=0.0, dropout=0.0,
    random_state=None, workspace=None,
):  # fmt: skip
    """Loss of one batch and its gradient with respect to every parameter.

    The loss is scikit-learn MLP's: the (weighted) mean data loss plus
    ``0.5 * alpha * sum ||W||^2 / sum(sample_weight)`` over weight matrices.

    The batch is split into shards by its size alone, run on up to
    ``numba.get_num_threads()`` threads, and their gradients summed in a fixed
    order: the result does not depend on the number of threads.

    Parameters
    ----------
    params : dict of str to ndarray
        Parameters in PyTorch ``state_dict`` naming, in the dtype of ``X``.
    arch : Architecture
    X : ndarray of shape (n_samples, n_steps, n_features)
        Padded sequences (values at padded steps are ignored).
    lengths : ndarray of shape (n_samples,)
        Length of each sequence, in [1, n_steps].
    Y : ndarray of shape (n_samples, n_outputs)
        Targets in the form the loss takes (one-hot, 0/1 or values).
    loss : {"log_loss", "binary_log_loss", "squared_error"}
    sample_weight : ndarray of shape (n_samples,) or None
    alpha : float
        L2 penalty.
    dropout : float
        Inverted-dropout rate on every recurrent layer's output sequence.
    random_state : numpy.random.RandomState or None
        Draws the dropout masks; needed when ``dropout > 0``.
    workspace : Workspace or None
        Buffers to reuse from the previous batch (``fit`` passes one for all its
        batches); None allocates them.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
        Same names, shapes and dtype as ``params``.
    """
    check_parameters(params, arch, X.dtype)
    lengths = _check_batch(X, lengths, arch)
    order, lengths_sorted = _sort(lengths)
    batch = len(order)
    Y = np.asarray(Y)[order]
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)[order]
    masks = None
    if dropout > 0 and batch:
        # drawn for the whole sorted batch, layer by layer, whatever the shards
        n_steps = int(lengths_sorted[0])
        scale = X.dtype.type(1.0 - dropout)
        masks = []
        for hidden in arch.hidden_sizes:
            shape = (n_steps, batch, hidden * len(arch.directions))
            keep = random_state.uniform(size=shape) >= dropout
            masks.append(keep.astype(X.dtype) / scale)
    shards = _shard_positions(batch) if batch else []

    workspace = _Fresh if workspace is None else workspace
    weight_sum = X.shape[0] if sample_weight is None else float(sample_weight.sum())

    def shard_loss_and_gradients(k):
        # Forward, loss and backward of shard k in one go (one hand-off to a thread
        # per batch): each sample's loss gradient needs only its own logits and the
        # batch's total weight, so it is bitwise the whole batch's.
        pos = shards[k]
        lengths_k = lengths_sorted[pos]
        x = _time_major(X, order[pos], lengths_k)
        masks_k = None
        if masks is not None:
            masks_k = [m[: x.shape[0], pos] for m in masks]
        with subnormals_flushed():
            run = _Run(params, arch, x, lengths_k, masks_k, workspace, k)
            weight_k = None if sample_weight is None else sample_weight[pos]
            value_k, dlogits = loss_and_gradient(loss, run.logits, Y[pos], weight_k, weight_sum)
            return value_k, run.backward(params, dlogits)

    results = map_shards(shard_loss_and_gradients, range(len(shards)))
    # summed in shard order, into the first shard's fresh arrays: the same sums on
    # any number of threads
    value = 0.0
    grads = None
    for value_k, grads_k in results:
        value += value_k
        if grads is None:
            grads = grads_k
            continue
        for name, total in grads.items():
            total += grads_k[name]
    if grads is None:  # an empty batch
        grads = {name: np.zeros_like(value_) for name, value_ in params.items()}
    if alpha:  # else no penalty at all: 0 * the squared norm would be NaN once it overflows
        penalty = 0.0
        for name, value_ in params.items():
            if is_penalized(name):
                penalty += float(np.dot(value_.ravel(), value_.ravel()))
                grads[name] += (alpha / weight_sum) * value_
        value += 0.5 * alpha * penalty / weight_sum
    grads = {name: np.asarray(grads[name], dtype=X.dtype) for name in params}
    return value, grads
