"""Japanese Vowels, official split: a recurrent net with defaults against tabular baselines.

The recurrent network gets the sequences as they are (7 to 29 frames of 12
coefficients), standardized per coefficient by SequenceScaler, and every
setting at its default. The baselines get the same frames in the fixed-length
form a tabular model needs, with no feature engineering: each sequence padded
with NaN to the longest training sequence (26 frames; the few longer test
sequences are cut there), the padding imputed with the column mean, the
columns standardized, and the 26 x 12 values flattened into one row. The
documentation (user guide, "Choosing a cell") gives these figures and those of
another representation, resampled sequences, on which ridge does better.
"""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rnn import GRUClassifier
from sklearn_rnn._cli import _PadFlatten
from sklearn_rnn.datasets import load_japanese_vowels
from sklearn_rnn.preprocessing import SequenceScaler


def test_gru_with_defaults_matches_the_best_tabular_baseline():
    X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
    X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)

    baselines = {
        "RidgeClassifierCV": RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)),
        "RandomForestClassifier": RandomForestClassifier(random_state=0),
        "1-nearest neighbour": KNeighborsClassifier(n_neighbors=1),
    }
    scores = {}
    for name, model in baselines.items():
        pipeline = make_pipeline(_PadFlatten(), SimpleImputer(), StandardScaler(), model)
        scores[name] = pipeline.fit(X_train, y_train).score(X_test, y_test)
    assert pipeline[0].n_steps_ == 26

    gru = make_pipeline(SequenceScaler(), GRUClassifier(random_state=0))
    scores["GRU"] = gru.fit(X_train, y_train).score(X_test, y_test)

    best_baseline = max(v for k, v in scores.items() if k != "GRU")
    assert scores["GRU"] >= best_baseline, scores
    # Every model here is far above chance (1/9): the comparison is a real one.
    assert min(scores.values()) > 0.9, scores
