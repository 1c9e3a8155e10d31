"""
=================================================
Forecasting the Mauna Loa CO2 series with an LSTM
=================================================

The monthly CO2 concentration at Mauna Loa (shipped with the package) has a
trend and a yearly cycle. We forecast each month from the 12 months before it:
:func:`~sklearn_rnn.preprocessing.make_windows` cuts the series into windows of
12 past values and the value that follows each one, with no look-ahead. The
last ten years are held out; every model is trained on the windows before them.

A recurrent network cannot extrapolate a level it has never seen (its tanh units
saturate), and the last ten years are higher than anything in the training
years. So each window is taken relative to its last value, and the model
forecasts the change from it: the forecast of the level is the last value plus
the forecast change, and its error is the error of the change.
"""

# %%
# Windows and the split
# ---------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_rnn.datasets import load_co2
from sklearn_rnn.preprocessing import make_windows

co2 = load_co2()
months, values = co2.data, co2.target
WINDOW = 12
X, y = make_windows(values, WINDOW)  # X[k]: 12 months, y[k]: the month after
target_months = months[WINDOW:]
last = X[:, -1].copy()
X_change, y_change = X - last[:, np.newaxis], y - last

n_test = 120  # the last ten years
train, test = slice(None, -n_test), slice(-n_test, None)
print(f"{len(X)} windows: {len(X) - n_test} to train on, {n_test} to test on")
print(f"test months: {target_months[test][0]} to {target_months[test][-1]}")

# %%
# The model
# ---------
# A :class:`~sklearn.pipeline.Pipeline` scales the windows
# (:class:`~sklearn_rnn.preprocessing.SequenceScaler`, fitted on the training
# windows only) and a :class:`~sklearn.compose.TransformedTargetRegressor`
# standardizes the target, so the network sees numbers of order one.
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rnn import LSTMRegressor
from sklearn_rnn.preprocessing import SequenceScaler


def scaled(model):
    return TransformedTargetRegressor(
        make_pipeline(SequenceScaler(), model), transformer=StandardScaler()
    )


lstm = scaled(
    LSTMRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.005, max_iter=100, random_state=0)
)
lstm.fit(X_change[train], y_change[train])
ridge = scaled(RidgeCV(alphas=np.logspace(-3, 3, 13))).fit(X_change[train], y_change[train])

forecasts = {
    "LSTM": last[test] + lstm.predict(X_change[test]),
    "ridge": last[test] + ridge.predict(X_change[test]),
    "last value": last[test],
}
for name, forecast in forecasts.items():
    rmse = np.sqrt(np.mean((forecast - y[test]) ** 2))
    print(f"{name:10s} RMSE {rmse:.3f} ppmv (one month ahead, 1992-2001)")

# %%
# Forecast against truth
# ----------------------
# One-month-ahead forecasts over the ten test years: each one uses the twelve
# measured months before it.
fig, (ax, ax_err) = plt.subplots(
    2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[2, 1], layout="constrained"
)
t_train = target_months[train].astype("datetime64[D]")
t_test = target_months[test].astype("datetime64[D]")
ax.plot(t_train[-60:], y[train][-60:], color="black", lw=1, label="measured (training)")
ax.plot(t_test, y[test], color="black", lw=2, label="measured (test)")
ax.plot(t_test, forecasts["LSTM"], color="C1", lw=1.5, ls="--", label="LSTM forecast")
ax.set_ylabel("CO2 (ppmv)")
ax.set_title("Mauna Loa CO2: one-month-ahead forecasts of the last ten years")
ax.legend(loc="upper left")
for name, color in [("LSTM", "C1"), ("ridge", "C2")]:
    ax_err.plot(t_test, forecasts[name] - y[test], color=color, lw=1, label=name)
ax_err.axhline(0, color="grey", lw=0.8)
ax_err.set_ylabel("error (ppmv)")
ax_err.legend(loc="upper left", ncols=2)
plt.show()
