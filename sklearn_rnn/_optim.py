"""Stochastic optimizers, learning-rate schedules and gradient clipping.

The optimizers follow scikit-learn's ``sklearn/neural_network/_stochastic_optimizers.py``
(the ones behind ``MLPClassifier`` and ``MLPRegressor``): the same classes, the same
methods (``update_params``, ``iteration_ends``, ``trigger_stopping``), the same update
formulas, the same learning-rate schedules and the same messages, so a training loop
written like ``MLPClassifier``'s behaves like it.

What differs from scikit-learn's:

- The update is applied **in place** to the parameter arrays, and the optimizer state
  (SGD's velocities, Adam's first and second moments) is updated in place too. The
  rounding of every operation is the one of scikit-learn's expressions, so in float64
  the parameters are bitwise those scikit-learn's optimizers produce.
- The state is one flat vector of all the parameters' entries end to end (the
  documented per-parameter lists are views of it), and an update runs once over the
  concatenated gradients: the elementwise operations round exactly as per parameter,
  with a few NumPy calls instead of a dozen per parameter array (which cost more than
  the arithmetic on a network's few thousand weights). The parameters must therefore
  share one dtype.
- Every update is computed in the dtype of its parameter array: float32 parameters get
  float32 state and float32 arithmetic (gradients of another dtype are cast to the
  parameter's dtype first). Hyperparameters are stored as Python floats, which NumPy
  casts to the array's dtype. With NumPy 2, scikit-learn's ``AdamOptimizer`` computes
  the float32 step in float64 (its ``learning_rate`` is a ``numpy.float64``, a "strong"
  scalar under NEP 50) and rounds when adding it, so in float32 our Adam differs from
  it by rounding only; SGD is bitwise the same in both dtypes.
- The optimizer keeps no reference to the parameter arrays: it only uses them to size
  its state. Its state is plain NumPy arrays and Python scalars, so an estimator that
  keeps its optimizer pickles without custom code, and training continues exactly after
  a pickle round trip.
- :func:`clip_grad_norm` clips the global gradient norm like
  ``torch.nn.utils.clip_grad_norm_``. ``update_params`` does not clip: the training loop
  calls :func:`clip_grad_norm` first.
"""

# Authors: The sklearn-rnn developers
# SPDX-License-Identifier: BSD-3-Clause

import math

import numpy as np

__all__ = [
    "AdamOptimizer",
    "BaseOptimizer",
    "SGDOptimizer",
    "clip_grad_norm",
    "make_optimizer",
]

_LR_SCHEDULES = ("constant", "invscaling", "adaptive")
_SOLVERS = ("sgd", "adam")


def clip_grad_norm(grads, max_norm):
    """Clip the global norm of a list of gradient arrays, in place.

    Works like ``torch.nn.utils.clip_grad_norm_``: the total norm is the Euclidean
    norm of all the entries of all the arrays taken together,
    ``sqrt(sum(sum(g ** 2) for g in grads))``. If it exceeds ``max_norm``, every
    array is multiplied by ``max_norm / (total_norm + 1e-6)``, so the norm after
    clipping is ``max_norm`` up to the ``1e-6`` guard.

    Parameters
    ----------
    grads : list of ndarray
        Gradient arrays, modified in place (they must be writable floating arrays).
        Each keeps its dtype.

    max_norm : float or None
        Largest allowed global norm, a positive number. ``None`` turns clipping off:
        the arrays are left untouched and the norm is still computed and returned.

    Returns
    -------
    total_norm : float
        The global norm of ``grads`` before clipping. It is accumulated in float64
        whatever the arrays' dtype, with NumPy's pairwise summation (no BLAS), so it is
        the same whatever the thread count. If it is not finite (a gradient holds NaN
        or inf), nothing is scaled and the non-finite norm is returned so that the
        caller can detect the divergence.

    Raises
    ------
    ValueError
        If ``max_norm`` is not ``None`` and not a positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn._optim import clip_grad_norm
    >>> grads = [np.array([3.0, 0.0]), np.array([[4.0]])]
    >>> clip_grad_norm(grads, max_norm=1.0)
    5.0
    >>> float(np.sqrt(sum((g**2).sum() for g in grads)))  # doctest: +ELLIPSIS
    0.9999998...
    >>> clip_grad_norm(grads, max_norm=None)  # doctest: +ELLIPSIS
    0.9999998...
    """
    if max_norm is not None and not (max_norm > 0):
        raise ValueError(f"max_norm must be a positive number or None, got {max_norm!r}.")
    total_sq = 0.0
    for grad in grads:
        total_sq += float(np.square(grad, dtype=np.float64).sum())
    total_norm = math.sqrt(total_sq)
    if max_norm is not None and math.isfinite(total_norm) and total_norm > max_norm:
        clip_coef = float(max_norm) / (total_norm + 1e-6)
        for grad in grads:
            grad *= clip_coef
    return total_norm


class BaseOptimizer:
    """Base stochastic gradient descent optimizer.

    The counterpart of scikit-learn's
    ``sklearn.neural_network._stochastic_optimizers.BaseOptimizer``, updating the
    parameter arrays in place.

    Parameters
    ----------
    learning_rate_init : float, default=0.1
        The initial learning rate used. It controls the step-size in updating the
        weights.

    Attributes
    ----------
    learning_rate_init : float
        The initial learning rate, as a Python float.

    learning_rate : float
        The current learning rate, as a Python float.
    """

    def __init__(self, learning_rate_init=0.1):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)

    def update_params(self, params, grads):
        """Update the parameters in place with the given gradients.

        Parameters
        ----------
        params : list of ndarray
            The parameter arrays, in the order the optimizer was built with (the
            estimator passes ``list(weights_.values())``). Each array is updated in
            place and keeps its dtype.

        grads : list of ndarray
            The gradients with respect to ``params``, in the same order and with the
            same shapes. A gradient of another dtype is cast to its parameter's dtype.
            They are not modified.

        Raises
        ------
        ValueError
            If the number, shapes or dtypes of ``params`` do not match the optimizer's
            state, or a gradient's shape does not match its parameter's.
        """
        grads = self._check_params_grads(params, grads)
        self._begin_update()
        if not params:
            return
        update = self._update(np.concatenate([grad.ravel() for grad in grads]))
        for param, step in zip(params, self._per_param(update), strict=True):
            param += step

    def iteration_ends(self, time_step):
        """Update the learning rate and other state at the end of an epoch.

        Does nothing for this optimizer.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (the estimator's ``t_``).
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether it is time to stop training.

        Parameters
        ----------
        msg : str
            Message describing why the training loop asks (printed when ``verbose``).

        verbose : bool
            Print ``msg`` followed by ``" Stopping."`` if True.

        Returns
        -------
        is_stopping : bool
            True if training needs to stop; always True here.
        """
        if verbose:
            print(msg + " Stopping.")
        return True

    # -- internals -------------------------------------------------------------

    def _set_layout(self, params):
        """Record the shapes and the dtype of ``params``; return a zero flat state vector.

        Raises ValueError if the arrays do not share one dtype.
        """
        dtypes = {np.asarray(param).dtype for param in params}
        if len(dtypes) > 1:
            raise ValueError(
                f"The parameter arrays must share one dtype, got {sorted(map(str, dtypes))}."
            )
        self._shapes = [tuple(int(n) for n in np.shape(param)) for param in params]
        dtype = dtypes.pop() if dtypes else np.dtype(np.float64)
        self._dtype = dtype.str  # plain data (a str), so that the state stays picklable anywhere
        return np.zeros(sum(math.prod(shape) for shape in self._shapes), dtype)

    def _per_param(self, flat):
        """Views of a flat vector, one per parameter, shaped like it."""
        views, start = [], 0
        for shape in self._shapes:
            stop = start + math.prod(shape)
            views.append(flat[start:stop].reshape(shape))
            start = stop
        return views

    def _check_params_grads(self, params, grads):
        """Check that params, grads and state agree; return grads in params' dtypes."""
        if len(grads) != len(params):
            raise ValueError(
                f"Got {len(grads)} gradient arrays for {len(params)} parameter arrays."
            )
        if len(params) != len(self._shapes):
            raise ValueError(
                f"The optimizer was built for {len(self._shapes)} parameter arrays, "
                f"got {len(params)}."
            )
        checked = []
        for i, (param, grad, shape) in enumerate(zip(params, grads, self._shapes, strict=True)):
            if param.shape != shape or param.dtype != self._dtype:
                raise ValueError(
                    f"Parameter {i} has shape {param.shape} and dtype {param.dtype}, but "
                    f"the optimizer was built for shape {shape} and dtype {np.dtype(self._dtype)}."
                )
            grad = np.asarray(grad, dtype=param.dtype)
            if grad.shape != param.shape:
                raise ValueError(
                    f"Gradient {i} has shape {grad.shape}, but its parameter has shape "
                    f"{param.shape}."
                )
            checked.append(grad)
        return checked

    def _begin_update(self):
        """Update the per-step state shared by all parameters (Adam's time step)."""

    def _update(self, grad):
        """The step to add to the parameters, from their flat gradient (both 1-D)."""
        raise NotImplementedError


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent optimizer with momentum.

    The counterpart of scikit-learn's
    ``sklearn.neural_network._stochastic_optimizers.SGDOptimizer``: for each parameter
    ``p`` with gradient ``g`` and velocity ``v`` (zero at the start),
    ``v = momentum * v - learning_rate * g``, then ``p += v``, or with Nesterov's
    momentum ``p += momentum * v - learning_rate * g``. With ``momentum=0`` and the
    ``"constant"`` schedule a step is exactly ``p += -learning_rate_init * g``.

    Parameters
    ----------
    params : list of ndarray
        The parameter arrays, used only to size the velocities (same shapes and
        dtypes). No reference to them is kept.

    learning_rate_init : float, default=0.1
        The initial learning rate used. It controls the step-size in updating the
        weights.

    lr_schedule : {'constant', 'adaptive', 'invscaling'}, default='constant'
        Learning rate schedule for weight updates.

        - ``'constant'`` keeps the learning rate at ``learning_rate_init``.
        - ``'invscaling'`` sets it, at the end of each epoch, to
          ``learning_rate_init / (time_step + 1) ** power_t``, where ``time_step`` is
          the number of samples seen so far (see :meth:`iteration_ends`).
        - ``'adaptive'`` keeps it at ``learning_rate_init`` as long as training keeps
          improving. Each time the training loop reports a lack of improvement through
          :meth:`trigger_stopping`, the current learning rate is divided by 5; training
          stops once it is at most ``1e-6``.

    momentum : float, default=0.9
        Value of momentum used, must be larger than or equal to 0.

    nesterov : bool, default=True
        Whether to use Nesterov's momentum.

    power_t : float, default=0.5
        Power of the time step in inverse scaling. See ``lr_schedule``.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.

    velocities : list of ndarray
        The velocities, one per parameter, with its shape and dtype; updated in place.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn._optim import SGDOptimizer
    >>> params = [np.array([1.0, 2.0])]
    >>> opt = SGDOptimizer(params, learning_rate_init=0.1, momentum=0.0)
    >>> opt.update_params(params, [np.array([1.0, -1.0])])
    >>> params[0]
    array([0.9, 2.1])
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(learning_rate_init)
        if lr_schedule not in _LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {_LR_SCHEDULES}, got {lr_schedule!r}.")
        self.lr_schedule = str(lr_schedule)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self._velocity = self._set_layout(params)

    @property
    def velocities(self):
        """The velocities, one view per parameter (see the class docstring)."""
        return self._per_param(self._velocity)

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (the estimator's ``t_``), used to
            update the learning rate for ``'invscaling'``.
        """
        if self.lr_schedule == "invscaling":
            try:
                scale = (time_step + 1) ** self.power_t
            except OverflowError:  # a huge power_t: the rate underflows to zero
                scale = math.inf
            self.learning_rate = float(float(self.learning_rate_init) / scale)

    def trigger_stopping(self, msg, verbose):
        """Decide whether to stop training, or to lower the learning rate.

        With the ``'adaptive'`` schedule, the learning rate is divided by 5 and
        training goes on, unless it is already at most ``1e-6``. With the other
        schedules, training stops.

        Parameters
        ----------
        msg : str
            Message describing why the training loop asks (printed when ``verbose``,
            followed by ``" Stopping."``, ``" Learning rate too small. Stopping."`` or
            ``" Setting learning rate to %f"``).

        verbose : bool
            Print the message if True.

        Returns
        -------
        is_stopping : bool
            True if training needs to stop.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True

        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True

        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False

    def _update(self, grad):
        # Same roundings as scikit-learn's ``momentum * velocity - learning_rate * grad``.
        scaled_grad = grad * self.learning_rate
        velocity = self._velocity
        velocity *= self.momentum
        velocity -= scaled_grad
        if self.nesterov:
            update = velocity * self.momentum
            update -= scaled_grad
            return update
        return velocity


class AdamOptimizer(BaseOptimizer):
    """Stochastic gradient descent optimizer with Adam.

    The counterpart of scikit-learn's
    ``sklearn.neural_network._stochastic_optimizers.AdamOptimizer``. At step ``t``
    (counted from 1), for each parameter ``p`` with gradient ``g``:
    ``m = beta_1 * m + (1 - beta_1) * g``, ``v = beta_2 * v + (1 - beta_2) * g ** 2``,
    ``learning_rate = learning_rate_init * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)``
    (the bias correction), ``p += -learning_rate * m / (sqrt(v) + epsilon)``.
    The learning-rate schedules do not apply to Adam.

    Parameters
    ----------
    params : list of ndarray
        The parameter arrays, used only to size the moment vectors (same shapes and
        dtypes). No reference to them is kept.

    learning_rate_init : float, default=0.001
        The initial learning rate used. It controls the step-size in updating the
        weights.

    beta_1 : float, default=0.9
        Exponential decay rate for estimates of first moment vector, should be in
        [0, 1).

    beta_2 : float, default=0.999
        Exponential decay rate for estimates of second moment vector, should be in
        [0, 1).

    epsilon : float, default=1e-8
        Value for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The current (bias-corrected) learning rate.

    t : int
        Time step: the number of updates done so far.

    ms : list of ndarray
        First moment vectors, one per parameter, with its shape and dtype.

    vs : list of ndarray
        Second moment vectors, one per parameter, with its shape and dtype.

    References
    ----------
    Kingma, D. P. and Ba, J. (2014). "Adam: A method for stochastic optimization."
    `arXiv:1412.6980 <https://arxiv.org/abs/1412.6980>`_.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn._optim import AdamOptimizer
    >>> params = [np.array([1.0, 2.0])]
    >>> opt = AdamOptimizer(params, learning_rate_init=0.1)
    >>> opt.update_params(params, [np.array([0.5, -3.0])])
    >>> params[0].round(6)  # the first step moves each entry by about learning_rate_init
    array([0.9, 2.1])
    >>> opt.t
    1
    """

    def __init__(self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self._m = self._set_layout(params)
        self._v = np.zeros_like(self._m)

    @property
    def ms(self):
        """First moment vectors, one view per parameter (see the class docstring)."""
        return self._per_param(self._m)

    @property
    def vs(self):
        """Second moment vectors, one view per parameter (see the class docstring)."""
        return self._per_param(self._v)

    def _begin_update(self):
        self.t += 1
        self.learning_rate = float(
            self.learning_rate_init * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        )

    def _update(self, grad):
        # Same roundings as scikit-learn's expressions, evaluated in place.
        m = self._m
        m *= self.beta_1
        m += (1 - self.beta_1) * grad
        v = self._v
        v *= self.beta_2
        v += (1 - self.beta_2) * (grad**2)
        update = m * -self.learning_rate
        denom = np.sqrt(v)
        denom += self.epsilon
        update /= denom
        return update


def make_optimizer(
    solver,
    params,
    *,
    learning_rate_init=0.001,
    learning_rate="constant",
    power_t=0.5,
    momentum=0.9,
    nesterovs_momentum=True,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
):
    """Build the optimizer for a solver from the estimator's hyperparameters.

    The keyword names and defaults are ``MLPClassifier``'s; the optimizer is built as
    ``MLPClassifier`` builds it.

    Parameters
    ----------
    solver : {'sgd', 'adam'}
        The solver.

    params : list of ndarray
        The parameter arrays (``list(weights_.values())``), used to size the state.

    learning_rate_init : float, default=0.001
        The initial learning rate.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        The learning-rate schedule; used by ``'sgd'`` only, as in ``MLPClassifier``.

    power_t : float, default=0.5
        The exponent of ``'invscaling'``; ``'sgd'`` only.

    momentum : float, default=0.9
        Momentum; ``'sgd'`` only.

    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum; ``'sgd'`` only.

    beta_1 : float, default=0.9
        Decay rate of the first moment estimates; ``'adam'`` only.

    beta_2 : float, default=0.999
        Decay rate of the second moment estimates; ``'adam'`` only.

    epsilon : float, default=1e-8
        Value for numerical stability; ``'adam'`` only.

    Returns
    -------
    optimizer : SGDOptimizer or AdamOptimizer
        The optimizer, with zero state.

    Raises
    ------
    ValueError
        If ``solver`` or ``learning_rate`` is not one of the accepted values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn._optim import make_optimizer
    >>> make_optimizer("adam", [np.zeros(3)], learning_rate_init=0.01).learning_rate
    0.01
    >>> type(make_optimizer("sgd", [np.zeros(3)], learning_rate="adaptive")).__name__
    'SGDOptimizer'
    """
    if learning_rate not in _LR_SCHEDULES:
        raise ValueError(f"learning_rate must be one of {_LR_SCHEDULES}, got {learning_rate!r}.")
    if solver == "sgd":
        return SGDOptimizer(
            params,
            learning_rate_init=learning_rate_init,
            lr_schedule=learning_rate,
            momentum=momentum,
            nesterov=nesterovs_momentum,
            power_t=power_t,
        )
    if solver == "adam":
        return AdamOptimizer(
            params,
            learning_rate_init=learning_rate_init,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
        )
    raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}.")
