"""Notebook 04 runs with its quick parameters (CPU stand-ins) and records its key numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, require

NOTEBOOK = ROOT / "notebooks" / "04_main_table.ipynb"


def test_notebook_is_commit_ready() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in code) == 1
    assert not any(line.lstrip().startswith("def ") for cell in code
                   for line in cell.source.splitlines())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_run_writes_the_table_and_grid(tmp_path: Path) -> None:
    try:
        import papermill
    except ImportError:
        papermill = None
    require(papermill is not None, "papermill (pip install -e '.[notebooks]')")
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "04.ipynb"),
        parameters={"quick": True, "output_dir": str(tmp_path)},
        kernel_name="python3", cwd=str(ROOT), progress_bar=False,
    )
    results = json.loads((tmp_path / "04_main_table.json").read_text())
    assert results["quick"] is True and results["num_runs"] == 10  # 6 models + 2 x 2 grid
    labels = [row["label"] for row in results["main_table"]]
    assert labels == ["SASRec (k=1, t=0)", "SASRec-CE", "BERT4Rec", "gSASRec (k=256, t=0.75)",
                      "gSASRec (k=256, t=0.75), tuned", "gSASRec (k=256, t=1)"]
    for row in results["main_table"]:
        assert 0.0 < row["ndcg@10"] <= 1.0 and row["time_to_best_s"] > 0
    comparisons = {row["comparison"]: row["ours"] for row in results["relative"]}
    assert math.isfinite(comparisons["NDCG@10: gSASRec vs BERT4Rec"])
    grid = results["grid"]
    assert set(grid["ndcg@10"]) == {"1", "16"} and set(grid["ndcg@10"]["1"]) == {"0", "1"}
    for metric in ("ece", "ece_recalibrated"):
        assert all(0.0 <= grid[metric][k][t] <= 1.0 for k in grid[metric] for t in grid[metric][k])
    paper, tuned = results["targets"]
    assert paper["label"] == "gSASRec (k=256, t=0.75)" and tuned["label"].endswith(", tuned")
    assert paper["ndcg_vs_bert4rec"] == pytest.approx(comparisons["NDCG@10: gSASRec vs BERT4Rec"])
    assert tuned["ndcg_vs_bert4rec"] == pytest.approx(
        comparisons["NDCG@10: gSASRec tuned vs BERT4Rec"])
