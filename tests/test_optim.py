"""Tests for the optimizers, learning-rate schedules and gradient clipping."""

import copy
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neural_network import _stochastic_optimizers as sk_optim

from sklearn_rnn._optim import (
    AdamOptimizer,
    BaseOptimizer,
    SGDOptimizer,
    clip_grad_norm,
    make_optimizer,
)

SHAPES = [(8, 3), (8, 2), (8,), (8,), (1, 2), (1,)]  # like an RNN layer and its head
DTYPES = [np.float64, np.float32]


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, size=shape).astype(dtype) for shape in SHAPES]


def make_grads(dtype, n_steps, seed=1):
    rng = np.random.default_rng(seed)
    return [
        [rng.normal(scale=2.0, size=shape).astype(dtype) for shape in SHAPES]
        for _ in range(n_steps)
    ]


def copies(arrays):
    return [a.copy() for a in arrays]


# -- hand-written references (plain NumPy, out of place) ---------------------------


def sgd_reference(params, grads_seq, lr, momentum, nesterov):
    params = copies(params)
    velocities = [np.zeros_like(p) for p in params]
    for grads in grads_seq:
        velocities = [momentum * v - lr * g for v, g in zip(velocities, grads, strict=True)]
        if nesterov:
            updates = [momentum * v - lr * g for v, g in zip(velocities, grads, strict=True)]
        else:
            updates = velocities
        params = [p + u for p, u in zip(params, updates, strict=True)]
    return params


def adam_reference(params, grads_seq, lr_init, beta_1, beta_2, epsilon):
    params = copies(params)
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    lrs = []
    for t, grads in enumerate(grads_seq, start=1):
        ms = [beta_1 * m + (1 - beta_1) * g for m, g in zip(ms, grads, strict=True)]
        vs = [beta_2 * v + (1 - beta_2) * g**2 for v, g in zip(vs, grads, strict=True)]
        lr = lr_init * (1 - beta_2**t) ** 0.5 / (1 - beta_1**t)
        lrs.append(lr)
        params = [
            p - lr * m / (np.sqrt(v) + epsilon) for p, m, v in zip(params, ms, vs, strict=True)
        ]
    return params, lrs


def run(optimizer, params, grads_seq):
    for grads in grads_seq:
        optimizer.update_params(params, grads)
    return params


# -- update formulas -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_constant_step_is_exactly_minus_lr_times_grad(dtype):
    lr = 0.0123
    for nesterov in (True, False):
        params = make_params(dtype)
        before = copies(params)
        (grads,) = make_grads(dtype, 1)
        opt = SGDOptimizer(params, learning_rate_init=lr, momentum=0.0, nesterov=nesterov)
        opt.update_params(params, grads)
        for p, b, g in zip(params, before, grads, strict=True):
            assert p.dtype == dtype
            assert_array_equal(p, b - lr * g)
            assert_array_equal(p - b, (b - lr * g) - b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("momentum", "nesterov"), [(0.0, False), (0.0, True), (0.9, False), (0.9, True), (0.5, True)]
)
def test_sgd_matches_reference(dtype, momentum, nesterov):
    params = make_params(dtype)
    grads_seq = make_grads(dtype, 3)
    expected = sgd_reference(params, grads_seq, 0.05, momentum, nesterov)
    opt = SGDOptimizer(params, learning_rate_init=0.05, momentum=momentum, nesterov=nesterov)
    run(opt, params, grads_seq)
    for p, e in zip(params, expected, strict=True):
        assert p.dtype == dtype
        assert_array_equal(p, e)


def test_sgd_momentum_reference_by_hand():
    # Two steps on one scalar, written out: v1 = -lr g1, v2 = m v1 - lr g2.
    lr, mom = 0.1, 0.9
    g1, g2 = 2.0, -1.0
    v1 = -lr * g1
    v2 = mom * v1 - lr * g2
    for nesterov, expected in [
        (False, 1.0 + v1 + v2),
        (True, 1.0 + (mom * v1 - lr * g1) + (mom * v2 - lr * g2)),
    ]:
        params = [np.array([1.0])]
        opt = SGDOptimizer(params, learning_rate_init=lr, momentum=mom, nesterov=nesterov)
        opt.update_params(params, [np.array([g1])])
        opt.update_params(params, [np.array([g2])])
        assert params[0][0] == pytest.approx(expected, rel=1e-15)
        assert opt.velocities[0][0] == pytest.approx(v2, rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_matches_reference(dtype):
    params = make_params(dtype)
    grads_seq = make_grads(dtype, 4)
    expected, lrs = adam_reference(params, grads_seq, 0.01, 0.9, 0.999, 1e-8)
    opt = AdamOptimizer(params, learning_rate_init=0.01)
    for t, grads in enumerate(grads_seq, start=1):
        opt.update_params(params, grads)
        assert opt.t == t
        assert opt.learning_rate == pytest.approx(lrs[t - 1], rel=1e-15)
    for p, e in zip(params, expected, strict=True):
        assert p.dtype == dtype
        assert_array_equal(p, e)


def test_adam_bias_correction_by_hand():
    # First step: m = (1 - b1) g, v = (1 - b2) g^2, lr_1 = lr sqrt(1 - b2) / (1 - b1),
    # so the step is -lr g / |g| up to epsilon.
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    g = np.array([0.5, -3.0, 1e-3])
    params = [np.zeros(3)]
    opt = AdamOptimizer(params, learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    opt.update_params(params, [g])
    lr_1 = lr * np.sqrt(1 - b2) / (1 - b1)
    assert opt.learning_rate == pytest.approx(lr_1, rel=1e-15)
    expected = -lr_1 * (1 - b1) * g / (np.sqrt(1 - b2) * np.abs(g) + eps)
    assert_allclose(params[0], expected, rtol=1e-14)
    assert_allclose(params[0], -lr * np.sign(g), rtol=1e-3)
    # Second step with the same gradient: m and v are still exactly g and g^2 once
    # bias-corrected, so the step is again -lr sign(g).
    opt.update_params(params, [g])
    lr_2 = lr * np.sqrt(1 - b2**2) / (1 - b1**2)
    assert opt.learning_rate == pytest.approx(lr_2, rel=1e-15)
    assert_allclose(params[0], -2 * lr * np.sign(g), rtol=1e-3)


# -- against scikit-learn's own optimizers ---------------------------------------


def _sk_and_ours(solver, params, **kw):
    if solver == "sgd":
        sk = sk_optim.SGDOptimizer(
            params,
            kw["learning_rate_init"],
            kw["learning_rate"],
            kw["momentum"],
            kw["nesterovs_momentum"],
            kw["power_t"],
        )
    else:
        sk = sk_optim.AdamOptimizer(
            params, kw["learning_rate_init"], kw["beta_1"], kw["beta_2"], kw["epsilon"]
        )
    return sk, make_optimizer(solver, params, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("solver", "schedule", "momentum", "nesterov"),
    [
        ("sgd", "constant", 0.0, False),
        ("sgd", "constant", 0.9, True),
        ("sgd", "invscaling", 0.9, False),
        ("sgd", "invscaling", 0.7, True),
        ("sgd", "adaptive", 0.9, True),
        ("adam", "constant", 0.9, True),
        ("adam", "adaptive", 0.9, True),
    ],
)
def test_matches_scikit_learn(dtype, solver, schedule, momentum, nesterov):
    kw = dict(
        learning_rate_init=0.01,
        learning_rate=schedule,
        power_t=0.4,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-7,
    )
    sk_params = make_params(dtype)
    our_params = copies(sk_params)
    sk, ours = _sk_and_ours(solver, our_params, **kw)
    grads_seq = make_grads(dtype, 12)
    n_samples = 50
    for epoch in range(4):
        for grads in grads_seq[3 * epoch : 3 * epoch + 3]:
            sk.update_params(sk_params, grads)
            ours.update_params(our_params, copies(grads))
        t = (epoch + 1) * n_samples
        sk.iteration_ends(t)
        ours.iteration_ends(t)
        if epoch == 1:
            assert ours.trigger_stopping("msg", False) == sk.trigger_stopping("msg", False)
        assert ours.learning_rate == sk.learning_rate
    for p_ours, p_sk in zip(our_params, sk_params, strict=True):
        assert p_ours.dtype == dtype
        if solver == "adam" and dtype == np.float32:
            # scikit-learn computes the float32 Adam step in float64 (see module
            # docstring); ours stays in float32.
            assert_allclose(p_ours, p_sk, rtol=1e-5, atol=1e-6)
        else:
            assert_array_equal(p_ours, p_sk)


# -- schedules -----------------------------------------------------------------------


def test_invscaling_schedule_values():
    lr_init, power_t = 0.2, 0.3
    opt = SGDOptimizer(
        [np.zeros(2)], learning_rate_init=lr_init, lr_schedule="invscaling", power_t=power_t
    )
    assert opt.learning_rate == lr_init
    for time_step in [0, 1, 7, 100, 12345]:
        opt.iteration_ends(time_step)
        assert isinstance(opt.learning_rate, float)
        assert opt.learning_rate == lr_init / (time_step + 1) ** power_t
    # does not depend on the history: the rate is a function of time_step only
    opt.iteration_ends(3)
    assert opt.learning_rate == pytest.approx(lr_init / 4**power_t)


@pytest.mark.parametrize(
    "opt",
    [
        SGDOptimizer([np.zeros(2)], learning_rate_init=0.2, lr_schedule="constant"),
        SGDOptimizer([np.zeros(2)], learning_rate_init=0.2, lr_schedule="adaptive"),
        AdamOptimizer([np.zeros(2)], learning_rate_init=0.2),
    ],
)
def test_iteration_ends_leaves_other_schedules_alone(opt):
    for time_step in [1, 10, 1000]:
        opt.iteration_ends(time_step)
        assert opt.learning_rate == 0.2


def test_adaptive_divides_by_five_then_stops(capsys):
    opt = SGDOptimizer([np.zeros(2)], learning_rate_init=1e-3, lr_schedule="adaptive")
    expected_lr = 1e-3
    n_decreases = 0
    while True:
        stopping = opt.trigger_stopping("Loss did not improve.", True)
        out = capsys.readouterr().out
        if stopping:
            break
        expected_lr /= 5.0
        n_decreases += 1
        assert opt.learning_rate == expected_lr
        assert out == f"Loss did not improve. Setting learning rate to {expected_lr:f}\n"
    # 1e-3 / 5**5 = 3.2e-7 <= 1e-6 < 1e-3 / 5**4
    assert n_decreases == 5
    assert opt.learning_rate == pytest.approx(3.2e-7)
    assert out == "Loss did not improve. Learning rate too small. Stopping.\n"
    # stays stopped, quietly when not verbose
    assert opt.trigger_stopping("again", False)
    assert capsys.readouterr().out == ""
    assert opt.learning_rate == pytest.approx(3.2e-7)


def test_adaptive_stops_at_exactly_1e_6(capsys):
    opt = SGDOptimizer([np.zeros(1)], learning_rate_init=1e-6, lr_schedule="adaptive")
    assert opt.trigger_stopping("m", True)
    assert capsys.readouterr().out == "m Learning rate too small. Stopping.\n"


@pytest.mark.parametrize(
    "opt",
    [
        SGDOptimizer([np.zeros(2)], lr_schedule="constant"),
        SGDOptimizer([np.zeros(2)], lr_schedule="invscaling"),
        AdamOptimizer([np.zeros(2)]),
        BaseOptimizer(),
    ],
)
def test_non_adaptive_stop_at_once(opt, capsys):
    lr = opt.learning_rate
    assert opt.trigger_stopping("Training loss did not improve.", True)
    assert capsys.readouterr().out == "Training loss did not improve. Stopping.\n"
    assert opt.trigger_stopping("x", False)
    assert capsys.readouterr().out == ""
    assert opt.learning_rate == lr


# -- clipping ------------------------------------------------------------------------


def global_norm(grads):
    return float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1.0, 3.0])
def test_clip_grad_norm_clips_to_max_norm(dtype, max_norm):
    (grads,) = make_grads(dtype, 1)
    before = global_norm(grads)
    assert before > 3 * max_norm
    ids = [id(g) for g in grads]
    directions = [g / before for g in copies(grads)]
    total = clip_grad_norm(grads, max_norm)
    assert isinstance(total, float)
    assert total == pytest.approx(before, rel=1e-12)
    assert [id(g) for g in grads] == ids
    assert all(g.dtype == dtype for g in grads)
    assert global_norm(grads) == pytest.approx(max_norm, rel=1e-6)
    # the direction is kept: a common scale factor
    for g, d in zip(grads, directions, strict=True):
        assert_allclose(g / global_norm(grads), d, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_norm_leaves_small_grads_alone(dtype):
    (grads,) = make_grads(dtype, 1)
    before = copies(grads)
    norm = global_norm(grads)
    assert clip_grad_norm(grads, 1.5 * norm) == pytest.approx(norm, rel=1e-12)
    for g, b in zip(grads, before, strict=True):
        assert_array_equal(g, b)


def test_clip_grad_norm_none_means_no_clipping():
    (grads,) = make_grads(np.float64, 1)
    before = copies(grads)
    total = clip_grad_norm(grads, None)
    assert total == pytest.approx(global_norm(before), rel=1e-12)
    for g, b in zip(grads, before, strict=True):
        assert_array_equal(g, b)


def test_clip_grad_norm_matches_torch_formula():
    grads = [np.array([3.0, 0.0]), np.array([[4.0]])]
    assert clip_grad_norm(grads, 2.0) == 5.0
    coef = 2.0 / (5.0 + 1e-6)
    assert_array_equal(grads[0], np.array([3.0, 0.0]) * coef)
    assert_array_equal(grads[1], np.array([[4.0]]) * coef)


def test_clip_grad_norm_float32_does_not_overflow():
    grads = [np.full(4, 1e30, dtype=np.float32)]
    total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(2e30, rel=1e-6)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)


def test_clip_grad_norm_non_finite_is_left_alone():
    grads = [np.array([1.0, np.inf]), np.array([2.0])]
    assert clip_grad_norm(grads, 1.0) == np.inf
    assert_array_equal(grads[0], [1.0, np.inf])
    assert_array_equal(grads[1], [2.0])
    grads = [np.array([1.0, np.nan])]
    assert np.isnan(clip_grad_norm(grads, 1.0))


@pytest.mark.parametrize("max_norm", [0.0, -1.0, np.nan])
def test_clip_grad_norm_rejects_bad_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([np.ones(2)], max_norm)


# -- dtype, in place, state ----------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_stays_float32(solver):
    params = make_params(np.float32)
    opt = make_optimizer(solver, params, learning_rate_init=0.01)
    state = opt.velocities if solver == "sgd" else opt.ms + opt.vs
    assert all(s.dtype == np.float32 for s in state)
    # float64 gradients are cast to the parameters' dtype
    run(opt, params, make_grads(np.float64, 3))
    assert all(p.dtype == np.float32 for p in params)
    state = opt.velocities if solver == "sgd" else opt.ms + opt.vs
    assert all(s.dtype == np.float32 for s in state)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_with_float64_grads_equals_float32_grads(solver):
    p1 = make_params(np.float32)
    p2 = copies(p1)
    o1 = make_optimizer(solver, p1, learning_rate_init=0.01)
    o2 = make_optimizer(solver, p2, learning_rate_init=0.01)
    grads64 = make_grads(np.float64, 3)
    run(o1, p1, grads64)
    run(o2, p2, [[g.astype(np.float32) for g in grads] for grads in grads64])
    for a, b in zip(p1, p2, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_update_is_in_place(solver):
    weights = {f"w{i}": p for i, p in enumerate(make_params(np.float64))}
    before = {k: v.copy() for k, v in weights.items()}
    ids = {k: id(v) for k, v in weights.items()}
    opt = make_optimizer(solver, list(weights.values()), learning_rate_init=0.01)
    state = opt.velocities if solver == "sgd" else opt.ms + opt.vs
    (grads,) = make_grads(np.float64, 1)
    grads_before = copies(grads)
    opt.update_params(list(weights.values()), grads)
    assert {k: id(v) for k, v in weights.items()} == ids
    assert all(not np.array_equal(weights[k], before[k]) for k in weights)
    # the gradients are not modified
    for g, b in zip(grads, grads_before, strict=True):
        assert_array_equal(g, b)
    # the state too: the arrays read before the update hold the new state
    after = opt.velocities if solver == "sgd" else opt.ms + opt.vs
    for held, new in zip(state, after, strict=True):
        assert np.shares_memory(held, new)
        assert_array_equal(held, new)
    assert any(np.any(s != 0) for s in state)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_optimizer_keeps_no_reference_to_params(solver):
    params = make_params(np.float64)
    opt = make_optimizer(solver, params)
    state = opt.velocities if solver == "sgd" else opt.ms + opt.vs
    for s in state:
        assert all(not np.shares_memory(s, p) for p in params)
    # weights replaced by new arrays (early stopping restores a copy) still work
    new_params = copies(params)
    (grads,) = make_grads(np.float64, 1)
    opt.update_params(new_params, grads)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="sgd", learning_rate="invscaling", momentum=0.9, nesterovs_momentum=True),
        dict(solver="sgd", learning_rate="adaptive", momentum=0.8, nesterovs_momentum=False),
        dict(solver="adam"),
    ],
)
def test_pickle_round_trip_continues_identically(dtype, kw):
    kw = dict(kw)
    solver = kw.pop("solver")
    weights = {f"w{i}": p for i, p in enumerate(make_params(dtype))}
    opt = make_optimizer(solver, list(weights.values()), learning_rate_init=0.01, **kw)
    grads_seq = make_grads(dtype, 6)
    run(opt, list(weights.values()), grads_seq[:3])
    opt.iteration_ends(150)
    opt.trigger_stopping("", False)

    # what a fitted estimator keeps: its weights_ and its optimizer
    state = pickle.loads(pickle.dumps({"weights_": weights, "_optimizer": opt}))
    weights2, opt2 = state["weights_"], state["_optimizer"]
    assert type(opt2) is type(opt)
    assert vars(opt2).keys() == vars(opt).keys()

    run(opt, list(weights.values()), grads_seq[3:])
    run(opt2, list(weights2.values()), grads_seq[3:])
    for k in weights:
        assert weights2[k].dtype == dtype
        assert_array_equal(weights2[k], weights[k])
    assert opt2.learning_rate == opt.learning_rate
    if solver == "adam":
        assert opt2.t == opt.t == 6


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_state_is_plain_numpy_and_python(solver):
    opt = make_optimizer(
        solver,
        make_params(np.float32),
        learning_rate_init=np.float64(0.01),
        momentum=np.float32(0.9),
        beta_1=np.float64(0.9),
        nesterovs_momentum=np.True_,
    )
    run(opt, make_params(np.float32), make_grads(np.float32, 2))
    opt.iteration_ends(np.int64(10))
    for name, value in vars(opt).items():
        if isinstance(value, list):  # the parameters' shapes
            assert all(type(a) is tuple and all(type(n) is int for n in a) for a in value), name
        elif isinstance(value, np.ndarray):  # a flat state vector
            assert type(value) is np.ndarray, name
            assert value.dtype == np.float32, name
        else:
            assert type(value) in (float, int, bool, str), (name, type(value))
    # deepcopy, as clone-free sklearn code paths may do, also works
    copy.deepcopy(opt)


# -- factory and validation ----------------------------------------------------------


def test_make_optimizer_sgd():
    params = make_params(np.float64)
    opt = make_optimizer(
        "sgd",
        params,
        learning_rate_init=0.3,
        learning_rate="invscaling",
        power_t=0.25,
        momentum=0.5,
        nesterovs_momentum=False,
        beta_1=0.1,
    )
    assert isinstance(opt, SGDOptimizer)
    assert (opt.learning_rate_init, opt.learning_rate) == (0.3, 0.3)
    assert (opt.lr_schedule, opt.power_t, opt.momentum, opt.nesterov) == (
        "invscaling",
        0.25,
        0.5,
        False,
    )
    assert [v.shape for v in opt.velocities] == SHAPES
    assert all(not v.any() for v in opt.velocities)


def test_make_optimizer_adam():
    params = make_params(np.float64)
    opt = make_optimizer(
        "adam", params, learning_rate_init=0.3, beta_1=0.5, beta_2=0.6, epsilon=1e-4
    )
    assert isinstance(opt, AdamOptimizer)
    assert (opt.learning_rate_init, opt.beta_1, opt.beta_2, opt.epsilon, opt.t) == (
        0.3,
        0.5,
        0.6,
        1e-4,
        0,
    )
    assert [m.shape for m in opt.ms] == [v.shape for v in opt.vs] == SHAPES


def test_make_optimizer_defaults_are_mlp_defaults():
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier().get_params()
    opt = make_optimizer("sgd", [np.zeros(1)])
    assert opt.learning_rate_init == mlp["learning_rate_init"]
    assert opt.lr_schedule == mlp["learning_rate"]
    assert opt.power_t == mlp["power_t"]
    assert opt.momentum == mlp["momentum"]
    assert opt.nesterov == mlp["nesterovs_momentum"]
    opt = make_optimizer("adam", [np.zeros(1)])
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (
        mlp["beta_1"],
        mlp["beta_2"],
        mlp["epsilon"],
    )


def test_make_optimizer_rejects_unknown_values():
    with pytest.raises(ValueError, match="solver"):
        make_optimizer("lbfgs", [np.zeros(1)])
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("sgd", [np.zeros(1)], learning_rate="cosine")
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("adam", [np.zeros(1)], learning_rate="cosine")
    with pytest.raises(ValueError, match="lr_schedule"):
        SGDOptimizer([np.zeros(1)], lr_schedule="cosine")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_update_params_checks_shapes(solver):
    params = make_params(np.float64)
    opt = make_optimizer(solver, params)
    (grads,) = make_grads(np.float64, 1)
    with pytest.raises(ValueError, match="gradient arrays"):
        opt.update_params(params, grads[:-1])
    with pytest.raises(ValueError, match="built for"):
        opt.update_params(params[:-1], grads[:-1])
    with pytest.raises(ValueError, match="Gradient 0 has shape"):
        opt.update_params(params, [grads[0].T] + grads[1:])
    with pytest.raises(ValueError, match="Parameter 1"):
        opt.update_params(
            [params[0], params[1].astype(np.float32)] + params[2:],
            [grads[0], grads[1].astype(np.float32)] + grads[2:],
        )
    # nothing was changed by the failed calls
    state = opt.velocities if solver == "sgd" else opt.ms
    assert all(not s.any() for s in state)
    if solver == "adam":
        assert opt.t == 0
    # the state is one flat vector: the parameters must share one dtype
    with pytest.raises(ValueError, match="share one dtype"):
        make_optimizer(solver, [params[0], params[1].astype(np.float32)])
