"""Small real data sets shipped with sklearn-rnn (no download at run time).

Each loader returns a :class:`sklearn.utils.Bunch` whose ``DESCR`` states the
source, the licence and how to cite the data.
"""

from ._base import load_co2, load_japanese_vowels, load_nile

__all__ = ["load_co2", "load_japanese_vowels", "load_nile"]
