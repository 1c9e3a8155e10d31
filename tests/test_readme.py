"""The README's promises: the Quick start block, its commands, and its example."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_commands():
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert not any(line.lstrip().startswith("#") for line in commands)
    main_job, tests = commands
    assert main_job.endswith("python -m sklearn_rnn")
    assert tests.endswith("python -m pytest -q")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_quick_start_main_job_in_a_fresh_clone(tmp_path):
    # The README's first command, exactly as written, in a fresh clone of the
    # committed repository: a new virtual environment, the package installed
    # from its own files, and the main job run with its defaults.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()
    result = subprocess.run(
        _quick_start_commands()[0],
        shell=True,
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Which cell for Mauna Loa CO2" in out
    rmse = {}
    for name in ("rnn", "lstm", "gru", "ridge", "last value"):
        row = re.search(rf"^{name}\s+([\d.]+) ± [\d.]+\s+[\d,]+\s+([\d.]+|-)$", out, re.M)
        assert row, out
        rmse[name] = float(row.group(1))
    # RMSE in ppmv: every model forecasts better than "no change".
    assert max(v for k, v in rmse.items() if k != "last value") < rmse["last value"], out
    assert re.search(r"^Best cell: (rnn|lstm|gru) ", out, flags=re.MULTILINE)
    shutil.rmtree(clone)


def test_readme_example_runs():
    code = re.search(r"```python\n(.*?)```", README, flags=re.DOTALL).group(1)
    assert len(code.strip().splitlines()) <= 11  # the ten-line example (+ a blank line)
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, score = re.fullmatch(
        r"\{'recurrentclassifier__cell': '(rnn|lstm|gru)'\} (0\.\d+)\n", result.stdout
    ).groups()
    assert float(score) > 0.9  # test accuracy on the 370 test utterances
