"""
=====================================================
Variable-length sequences: who is speaking?
=====================================================

The Japanese Vowels data set (shipped with the package, no download): nine
speakers each said the vowels /ae/; every utterance is a sequence of 7 to 29
frames of 12 LPC cepstrum coefficients. The task is to tell the speaker from
one utterance, on the official split of 270 training and 370 test utterances.

The sequences have different lengths, and the estimators take them as they
are: a list of arrays of shape ``(n_steps_i, 12)``. No padding, no resampling;
:class:`~sklearn_rnn.preprocessing.SequenceScaler` standardizes each
coefficient over all valid frames.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_rnn.datasets import load_japanese_vowels

X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
lengths = [len(x) for x in X_train + X_test]
print(f"{len(X_train)} training and {len(X_test)} test utterances")
print(f"frames per utterance: {min(lengths)} to {max(lengths)}; features per frame: 12")

# %%
# A GRU with its default settings
# -------------------------------
# One layer of 64 units, Adam, at most 200 epochs: every parameter at its
# default, only ``random_state`` fixed for a reproducible page.
from sklearn.pipeline import make_pipeline

from sklearn_rnn import GRUClassifier
from sklearn_rnn.preprocessing import SequenceScaler

gru = make_pipeline(SequenceScaler(), GRUClassifier(random_state=0))
gru.fit(X_train, y_train)
scores = {"GRU (defaults)": gru.score(X_test, y_test)}
print(f"GRU test accuracy: {scores['GRU (defaults)']:.3f} after {gru[-1].n_iter_} epochs")

# %%
# Tabular baselines on the same frames
# ------------------------------------
# A tabular model needs one fixed-length row per utterance. With no feature
# engineering, that is each sequence padded with NaN to the longest training
# utterance (26 frames; the few longer test utterances are cut there), the
# padding imputed with the column mean, the columns standardized, and the
# 26 x 12 values flattened.
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

n_steps = max(len(x) for x in X_train)


def pad_and_flatten(sequences):
    out = np.full((len(sequences), n_steps, 12), np.nan)
    for i, x in enumerate(sequences):
        out[i, : min(len(x), n_steps)] = x[:n_steps]
    return out.reshape(len(sequences), -1)


A_train, A_test = pad_and_flatten(X_train), pad_and_flatten(X_test)
baselines = {
    "RidgeClassifierCV": RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)),
    "random forest": RandomForestClassifier(random_state=0),
    "1-nearest neighbour": KNeighborsClassifier(n_neighbors=1),
}
for name, model in baselines.items():
    pipeline = make_pipeline(SimpleImputer(), StandardScaler(), model).fit(A_train, y_train)
    scores[name] = pipeline.score(A_test, y_test)

for name, score in scores.items():
    print(f"{name:22s} {score:.3f}")

# %%
# The GRU reads the utterances as they are and scores at least as well as the
# best of the three baselines on the padded frames. The user guide
# (:ref:`choosing_a_cell`) gives the same comparison over five seeds and for
# the other cells, and for another representation: resampling every utterance
# to the same number of frames, a form of alignment that suits this data, lets
# the ridge classifier do better than every recurrent network here.
fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
names = list(scores)
ax.barh(names, [scores[n] for n in names], color=["C0"] + ["C7"] * (len(names) - 1))
for i, n in enumerate(names):
    ax.text(scores[n] - 0.002, i, f"{scores[n]:.3f}", va="center", ha="right", color="white")
ax.set_xlim(0.85, 1.0)
ax.invert_yaxis()
ax.set_xlabel("accuracy on the 370 test utterances")
ax.set_title("Japanese Vowels, official split")
plt.show()
