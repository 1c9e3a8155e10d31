"""``python -m sklearn_rnn``: which recurrent cell for this data? See ``--help``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
