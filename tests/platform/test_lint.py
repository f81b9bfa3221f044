"""Hand-written Python stays ruff- and mypy-clean, and _core.pyi matches the built extension."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "ruff", "check", "python", "tests", "scripts", "benchmarks"],
        ["-m", "ruff", "format", "--check", "python", "tests", "scripts", "benchmarks"],
        ["-m", "mypy"],
        ["-m", "mypy.stubtest", "xiaodian._core"],
    ],
    ids=["ruff", "ruff-format", "mypy", "stubtest"],
)
def test_clean(command: list[str]) -> None:
    env = {**os.environ, "MYPYPATH": str(ROOT / "python")}
    result = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
