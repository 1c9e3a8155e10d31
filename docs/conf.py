"""Sphinx configuration of the sklearn-rnn documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (or ``make html`` in
this folder). The gallery examples in ``examples/`` are executed during the build.
No extension needs the network: there is no intersphinx, so references to
scikit-learn, NumPy and PyTorch are plain text rather than links.
"""

import os
import re
import sys

# Document (and run the examples with) the package of this source tree.
sys.path.insert(0, os.path.abspath(".."))

import sklearn_rnn  # noqa: E402

project = "sklearn-rnn"
author = "The sklearn-rnn developers"
copyright = "the sklearn-rnn developers"  # noqa: A001
release = sklearn_rnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# -- API reference: autosummary pages, numpydoc docstrings -------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
}


# -- Docstrings -------------------------------------------------------------------------
_REF = re.compile(r":ref:`([^`<]+?)\s*(?:<[^`>]+>)?`")
_SHAPE_NAME = re.compile(r"\((n_\w+_),\)")


def _process_docstring(app, what, name, obj, options, lines):
    """Make docstrings build here without warnings.

    Methods inherited from scikit-learn (``score``, ``get_params``...) refer to
    labels of scikit-learn's own documentation, which is not linked (no
    intersphinx, as the build must work offline): show them as literals. And a
    shape such as ``(n_features_in_,)`` would read as a link target in
    reStructuredText: quote the name.
    """
    from_sklearn = getattr(obj, "__module__", "") or ""
    from_sklearn = from_sklearn == "sklearn" or from_sklearn.startswith("sklearn.")
    for i, line in enumerate(lines):
        if from_sklearn:
            line = _REF.sub(r"``\1``", line)
        lines[i] = _SHAPE_NAME.sub(r"(`\1`,)", line)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)


# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-rnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []
html_show_sourcelink = False
