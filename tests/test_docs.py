"""The documentation's sources: every public name in the API reference, the gallery in place.

The build itself (Sphinx with warnings as errors, examples executed) runs in
.ci/run, after the tests.
"""

import ast
import re
from pathlib import Path

import sklearn_rnn
import sklearn_rnn.datasets
import sklearn_rnn.preprocessing

ROOT = Path(__file__).resolve().parents[1]


def _api_entries():
    text = (ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    entries, module = set(), None
    for line in text.splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
        elif re.match(r"^   [A-Za-z_]\w*$", line):
            entries.add(f"{module}.{line.strip()}")
    return entries


def test_api_reference_lists_every_public_name():
    public = {
        f"{module.__name__}.{name}"
        for module in (sklearn_rnn, sklearn_rnn.datasets, sklearn_rnn.preprocessing)
        for name in module.__all__
    }
    missing = public - _api_entries()
    assert not missing, f"add these to docs/api.rst: {sorted(missing)}"
    unknown = _api_entries() - public
    assert not unknown, f"docs/api.rst lists names that are not public: {sorted(unknown)}"


def test_gallery_examples_have_a_title_and_a_readme():
    examples = sorted((ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 4
    assert (ROOT / "examples" / "README.txt").is_file()
    for path in examples:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        lines = docstring.splitlines()
        # sphinx-gallery's title: a line of "=" over and under, as long as the title
        assert set(lines[0]) == {"="}, path.name
        assert set(lines[2]) == {"="}, path.name
        assert len(lines[0]) >= len(lines[1]), path.name
        assert len(lines[2]) >= len(lines[1]), path.name


def test_readme_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (ROOT / target).exists(), target


_CONFIG = r"(\(n=\d+, T=\d+, F=\d+, H=\d+, batch \d+\))"


def test_readme_and_user_guide_quote_the_committed_benchmark():
    # The speed ratios both quote are the float32 rows of benchmarks/RESULTS.md:
    # updating the results without the text (or the reverse) fails here.
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    measured = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(
            _CONFIG + r" \| float32 \|[^\n]*?\*\*(\d\.\d\d)\*\*[^\n]*?\*\*(\d\.\d\d)\*\*", results
        )
    }
    assert len(measured) == 4, "RESULTS.md should hold the four configurations in float32"
    for doc in ("README.md", "docs/user_guide.rst"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        quoted = {
            m.group(1): (m.group(2), m.group(3))
            for m in re.finditer(_CONFIG + r"[ |]+(\d\.\d\d)[ |]+(\d\.\d\d)", text)
        }
        assert quoted == measured, f"{doc} quotes {quoted}, RESULTS.md has {measured}"
