"""
=====================================================
Long memory: the vanilla RNN fails, LSTM and GRU hold
=====================================================

Every sequence has 50 steps of two features. The first feature is noise,
standard normal, except at one marked step (chosen at random anywhere in the
sequence) where it is +1 or -1; the second feature is 1 at that step and 0
elsewhere. The label is the sign at the marked step, so the network must notice
the marked step, store its sign, and keep it unchanged through up to 49 steps
of noise until the end of the sequence (``pooling="last"``).

The vanilla RNN has no way to do that: every step rewrites its whole state with
the same ``tanh(W_ih x_t + W_hh h_{t-1} + b)``, the noise goes in at every step,
and the gradient that would teach it to keep the sign is multiplied by
``W_hh`` and the tanh derivative once per step, so it shrinks geometrically with
the distance (the vanishing gradient of Hochreiter, 1991, and Bengio et al.,
1994). The LSTM and the GRU have gates that can learn to let the marked step in
and keep the stored sign (the LSTM's input and forget gates, the GRU's update
gate), and while a gate keeps the state, the gradient flows back through it
nearly unchanged.
"""

# %%
# The task
# --------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import GRUClassifier, LSTMClassifier, RNNClassifier

N_STEPS = 50
rng = np.random.RandomState(0)


def make_sequences(n_samples):
    """Noise with one marked step; the label is the sign at that step."""
    X = np.zeros((n_samples, N_STEPS, 2))
    X[:, :, 0] = rng.normal(size=(n_samples, N_STEPS))
    position = rng.randint(0, N_STEPS, n_samples)
    label = rng.randint(0, 2, n_samples)
    rows = np.arange(n_samples)
    X[rows, position, 0] = 2 * label - 1
    X[rows, position, 1] = 1.0
    return X, label, N_STEPS - 1 - position  # lag: steps between the mark and the end


X_train, y_train, _ = make_sequences(1000)
X_test, y_test, lag_test = make_sequences(2000)

# %%
# Three cells, the same settings
# ------------------------------
# One layer of 16 units, Adam with a learning rate of 0.01, minibatches of 50,
# 30 epochs (``n_iter_no_change=30`` so that no model stops early on a plateau;
# all three then stop at ``max_iter``, which is the point, so the
# ``ConvergenceWarning`` is silenced).
warnings.filterwarnings("ignore", category=ConvergenceWarning)
settings = dict(
    hidden_layer_sizes=(16,),
    learning_rate_init=0.01,
    batch_size=50,
    max_iter=30,
    n_iter_no_change=30,
    random_state=0,
)
models = {
    "RNN": RNNClassifier(**settings),
    "LSTM": LSTMClassifier(**settings),
    "GRU": GRUClassifier(**settings),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name:5s} test accuracy {model.score(X_test, y_test):.3f}")

# %%
# Learning curves and accuracy by distance
# ----------------------------------------
# The RNN's loss stays at log(2) ≈ 0.69, the loss of a coin flip, for all 30
# epochs; the LSTM and the GRU find the rule within a few epochs. On the test
# set, the RNN is at chance whatever the distance between the marked step and
# the end; the gated cells are right at every distance.
fig, (ax_loss, ax_lag) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
bins = np.arange(0, N_STEPS + 1, 10)
for name, model in models.items():
    ax_loss.plot(np.arange(1, model.n_iter_ + 1), model.loss_curve_, label=name)
    correct = model.predict(X_test) == y_test
    accuracy = [correct[(lag_test >= a) & (lag_test < a + 10)].mean() for a in bins[:-1]]
    ax_lag.plot((bins[:-1] + bins[1:]) / 2, accuracy, marker="o", label=name)
ax_loss.axhline(np.log(2), color="grey", linestyle=":", label="chance (log 2)")
ax_loss.set(xlabel="epoch", ylabel="training log-loss", yscale="log", title="Learning curves")
ax_loss.legend()
ax_lag.axhline(0.5, color="grey", linestyle=":")
ax_lag.set(
    xlabel="steps between the marked step and the end",
    ylabel="test accuracy",
    ylim=(0.4, 1.02),
    title="Accuracy by distance",
)
ax_lag.legend()
plt.show()
