"""performance: stored benchmark JSON -> tables, with clear errors for wrong files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gsasrec import performance
from gsasrec.errors import GsasrecError


def write(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload))
    return path


def test_load_benchmark_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(GsasrecError, match="missing"):
        performance.load_benchmark(tmp_path / "nope.json", "train_throughput")
    other = write(tmp_path / "other.json", {"benchmark": "large_catalogue"})
    with pytest.raises(GsasrecError, match="not a train_throughput result"):
        performance.load_benchmark(other, "train_throughput")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(GsasrecError, match="not valid JSON"):
        performance.load_benchmark(tmp_path / "broken.json", "train_throughput")


def test_time_to_target_takes_the_stored_first_hit_or_nan() -> None:
    curve = [{"process_seconds": 10.0, "step": 100, "val_ndcg@10": 0.1, "test_ndcg@10": 0.12},
             {"process_seconds": 20.0, "step": 200, "val_ndcg@10": 0.2, "test_ndcg@10": 0.18}]
    result = {"benchmark": "time_to_quality", "target_test_ndcg@10": 0.17,
              "training_budget_s": 80.0, "runs": [
                  {"label": "fast", "curve": curve, "final_test": {"ndcg@10": 0.18},
                   "first_checkpoint_with_test_ndcg@10>=0.17": curve[1]},
                  {"label": "slow", "curve": curve[:1], "final_test": {"ndcg@10": 0.12},
                   "first_checkpoint_with_test_ndcg@10>=0.17": None}]}
    table = performance.time_to_target([result]).set_index("label")
    assert table.loc["fast", "seconds_to_target"] == 20.0
    assert table.loc["fast", "step_at_target"] == 200
    assert math.isnan(table.loc["slow", "seconds_to_target"])
    curves = performance.time_to_quality_curves([result])
    assert list(curves["label"]) == ["fast", "fast", "slow"]


def test_tables_keep_failures_as_status() -> None:
    throughput = {"variants": [
        {"variant": "slow", "mode": "eager", "ms_per_step": 9.0, "speedup_vs_baseline": 1.0},
        {"variant": "broken", "mode": "graph", "status": "failed: capture"},
        {"variant": "fast", "mode": "graph", "ms_per_step": 3.0, "speedup_vs_baseline": 3.0}]}
    table = performance.throughput_table(throughput)
    assert list(table["variant"]) == ["fast", "slow", "broken"]
    assert table.iloc[2]["status"] == "failed: capture"
    sizes = performance.catalogue_table({"catalogue_sizes": [
        {"num_items": 10, "model": "a", "status": "ok", "ms_per_step": 1.0,
         "peak_memory_gb": 0.5},
        {"num_items": 10, "model": "b", "status": "out of memory", "peak_memory_gb": 90.0}]})
    assert sizes.iloc[1]["ms_per_step"] is None or math.isnan(sizes.iloc[1]["ms_per_step"])
    assert sizes.iloc[1]["peak_memory_gb"] is None or math.isnan(sizes.iloc[1]["peak_memory_gb"])
    kernels = performance.kernel_table({"kernel_ms_per_step": 4.0, "top_kernels": [
        {"kernel": "gemm", "calls_per_step": 1.0, "ms_per_step": 1.0}]})
    assert kernels.iloc[0]["share_of_step"] == 0.25
