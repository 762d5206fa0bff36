"""Tiny stored runs for the dashboard tests, trained once per test session by the real CLI.

Two gSASRec runs on synthetic data, k = 4 and t in {0.5, 1}: a (small) k x t grid.
Imported by test_dashboard.py, test_app.py and test_browser.py (not collected itself).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRID = ((4, 0.5), (4, 1.0))
TINY = ["--dataset", "synthetic", "--synthetic-items", "100", "--synthetic-users", "200",
        "--val-users", "50", "--max-epochs", "1", "--embedding-dim", "16", "--max-seq-len", "20",
        "--device", "cpu", "--no-progress"]


def run_name(k: int, t: float) -> str:
    return f"synthetic-k{k}-t{t:g}"


def stored_runs(factory: pytest.TempPathFactory) -> Path:
    """A folder of finished runs (one per GRID cell), shared by every test of the session."""
    folder = factory.getbasetemp() / "stored-runs"
    for k, t in GRID:
        out = folder / run_name(k, t)
        if (out / "metrics.json").exists():
            continue
        subprocess.run([sys.executable, "-m", "gsasrec", "train", *TINY, "--negatives", str(k),
                        "--t", str(t), "--out", str(out)], cwd=ROOT, check=True,
                       capture_output=True, timeout=600)
    return folder
