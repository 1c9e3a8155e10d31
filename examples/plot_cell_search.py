"""
====================================
Which cell? A grid search over cells
====================================

``RecurrentClassifier`` and ``RecurrentRegressor`` take the cell as a
hyperparameter, so scikit-learn's :class:`~sklearn.model_selection.GridSearchCV`
answers "which cell for my data?" like any other question about a
hyperparameter. This is what ``python -m sklearn_rnn --dataset vowels`` does,
here written out: a search over the three cells on the training utterances of
Japanese Vowels, with the hidden size searched too.
"""

# %%
# The search
# ----------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_rnn import RecurrentClassifier
from sklearn_rnn.datasets import load_japanese_vowels
from sklearn_rnn.preprocessing import SequenceScaler

X, y = load_japanese_vowels(subset="train", return_X_y=True)

# Short fits (40 epochs) keep this page fast; most stop at max_iter.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
model = Pipeline(
    [
        ("scale", SequenceScaler()),
        ("rnn", RecurrentClassifier(max_iter=40, learning_rate_init=0.005, random_state=0)),
    ]
)
grid = {"rnn__cell": ["rnn", "lstm", "gru"], "rnn__hidden_layer_sizes": [(8,), (32,)]}
search = GridSearchCV(model, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# The results
# -----------
# ``cv_results_`` holds the score of every fold and the fit times.
results = pd.DataFrame(search.cv_results_)
results["cell"] = results["param_rnn__cell"]
results["hidden"] = [sizes[0] for sizes in results["param_rnn__hidden_layer_sizes"]]
table = results[["cell", "hidden", "mean_test_score", "std_test_score", "mean_fit_time"]]
print(table.round(3).to_string(index=False))

# %%
# Score and cost
# --------------
# The gated cells cost three (GRU) or four (LSTM) times the vanilla cell's
# arithmetic per step; whether they pay for it depends on the data.
fig, (ax_score, ax_time) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
width = 0.38
x = np.arange(3)
for k, hidden in enumerate([8, 32]):
    rows = table[table["hidden"] == hidden].set_index("cell").loc[["rnn", "lstm", "gru"]]
    offset = (k - 0.5) * width
    ax_score.bar(x + offset, rows["mean_test_score"], width, yerr=rows["std_test_score"],
                 label=f"{hidden} units")  # fmt: skip
    ax_time.bar(x + offset, rows["mean_fit_time"], width, label=f"{hidden} units")
for ax in (ax_score, ax_time):
    ax.set_xticks(x, ["RNN", "LSTM", "GRU"])
    ax.legend()
ax_score.set(ylim=(0.5, 1.0), ylabel="accuracy (3-fold CV)", title="Score")
ax_time.set(ylabel="mean fit time per fold (s)", title="Cost")
plt.show()
