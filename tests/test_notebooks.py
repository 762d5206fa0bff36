"""Each notebook executes with its quick parameters (as CI runs it) and its numbers hold up."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gsasrec.calibration_experiments import validate_parameters
from gsasrec.errors import GsasrecError

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("papermill")
spec = importlib.util.spec_from_file_location("run_notebooks",
                                              ROOT / "scripts" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebooks)


def execute(name: str, out: Path) -> dict:
    run_notebooks.run_notebook(ROOT / "notebooks" / f"{name}.ipynb", "quick", out, html=False)
    return json.loads((out / f"{name}.json").read_text())


def test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        assert not any("def " in c.source for c in code), path.name


def test_bad_parameters_are_rejected_before_work():
    with pytest.raises(GsasrecError, match=r"cells\[0\] t must be a number in \[0, 1\]"):
        validate_parameters(cells=[[16, 1.5]], num_items=100)
    with pytest.raises(GsasrecError, match="quick must be True or False"):
        validate_parameters(quick="yes")
    with pytest.raises(GsasrecError, match="num_itmes have no check"):
        validate_parameters(num_itmes=10)


@pytest.mark.slow
def test_overconfidence_theory_notebook(tmp_path):
    numbers = execute("01_overconfidence_theory", tmp_path)
    assert numbers["worst_median_relative_error"] <= 0.05
    assert numbers["max_weighted_error_t1"] <= 0.01
    assert numbers["bce_p_next_rises_as_alpha_shrinks"]


@pytest.mark.slow
def test_calibration_synthetic_notebook(tmp_path):
    numbers = execute("02_calibration_synthetic", tmp_path)
    ece = numbers["ece_by_cell"]
    assert numbers["worst_cell"] == "k=1, t=0.0"
    assert ece["k=1, t=0.0"] > numbers["t1_ece_min"]
    # recalibrating plain BCE removes most of its overconfidence
    assert numbers["recalibrated_ece_by_cell"]["k=1, t=0.0"] < ece["k=1, t=0.0"] / 2


@pytest.mark.slow
def test_calibration_ml1m_notebook_quick_stand_in(tmp_path):
    numbers = execute("03_calibration_ml1m", tmp_path)
    assert all("stand-in" in source for source in numbers["sources"].values())
    ece = numbers["ece"]
    assert ece["SASRec (k=1, t=0)"] > ece["gSASRec (k=256, t=1)"]
    assert numbers["recalibrated_ece"]["SASRec (k=1, t=0)"] < ece["SASRec (k=1, t=0)"]


def test_performance_notebook_reads_the_stored_benchmarks(tmp_path):
    """Notebook 05 shows what benchmarks/*.py wrote on the GPU: its numbers are the stored
    ones, and the time to the target is the first curve point at or above it."""
    numbers = execute("05_performance", tmp_path)
    folder = ROOT / "results" / "benchmarks"
    stored = json.loads((folder / "train_throughput.json").read_text())
    for variant in stored["variants"]:
        assert numbers["ms_per_step"][variant["variant"]] == variant["ms_per_step"]
    for name in ("time_to_quality.json", "time_to_quality_levers.json"):
        result = json.loads((folder / name).read_text())
        for run in result["runs"]:
            hits = [p["process_seconds"] for p in run["curve"] if p["test_ndcg@10"] >= 0.17]
            seconds = numbers["seconds_to_target"][run["label"]]
            assert seconds == hits[0] if hits else seconds != seconds  # NaN when never reached
    catalogue = json.loads((folder / "large_catalogue.json").read_text())
    assert numbers["gowalla_ms_per_step"] == catalogue["gowalla_sized"]["ms_per_step"]
    assert numbers["catalogue_status"]["sasrec-ce (full softmax) @ 3000000"] == "out of memory"
