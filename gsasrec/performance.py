"""The stored GPU benchmark results (results/benchmarks/*.json) as tables.

The benchmarks in `benchmarks/` write one JSON each on the GPU; these pure functions turn
them into DataFrames for the performance notebook and the README, and say plainly when a
file is missing or is not the benchmark it should be. No torch, no GPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from gsasrec.errors import GsasrecError
from gsasrec.io import read_json

TARGET_KEY = "first_checkpoint_with_test_ndcg@10>={target:g}"


def load_benchmark(path: str | Path, kind: str) -> dict[str, Any]:
    """One benchmark JSON, checked to be of `kind` (e.g. 'train_throughput')."""
    result = read_json(Path(path))
    if result.get("benchmark") != kind:
        raise GsasrecError(f"{path}: not a {kind} result (benchmark = "
                           f"{result.get('benchmark')!r}); rerun benchmarks/{kind}.py")
    return result


def provenance(result: dict[str, Any]) -> dict[str, Any]:
    """Where a result came from: commit, device, torch version and the command."""
    environment = result.get("environment", {})
    return {"git_commit": environment.get("git_commit"),
            "device": environment.get("device_name"),
            "torch": environment.get("torch_version"), "command": result.get("command")}


def throughput_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per step variant, fastest first; failed variants keep their status."""
    rows = [{"variant": v["variant"], "mode": v.get("mode"), "precision": v.get("precision"),
             "scoring": v.get("scoring"), "ms_per_step": v.get("ms_per_step"),
             "steps_per_second": v.get("steps_per_second"),
             "sequences_per_second": v.get("sequences_per_second"),
             "speedup_vs_baseline": v.get("speedup_vs_baseline"),
             "status": v.get("status", "ok")} for v in result["variants"]]
    return pd.DataFrame(rows).sort_values("ms_per_step", na_position="last",
                                          ignore_index=True)


def time_to_quality_curves(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Test NDCG@10 of each new validation-best checkpoint against process seconds, one
    curve (label) per configuration, over all the given time_to_quality results."""
    rows = [{"label": run.get("label", run.get("run")), **point}
            for result in results for run in result["runs"] for point in run["curve"]]
    return pd.DataFrame(rows, columns=["label", "process_seconds", "step", "val_ndcg@10",
                                       "test_ndcg@10"])


def time_to_target(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Per configuration: when the first checkpoint scoring the target was saved (NaN when
    none did), and the test NDCG@10 of the run's final selected checkpoint."""
    rows = []
    for result in results:
        target = result["target_test_ndcg@10"]
        for run in result["runs"]:
            reached = run.get(TARGET_KEY.format(target=target))
            rows.append({"label": run.get("label", run.get("run")), "target": target,
                         "seconds_to_target": reached["process_seconds"] if reached
                         else float("nan"),
                         "step_at_target": reached["step"] if reached else None,
                         "final_test_ndcg@10": (run.get("final_test") or {}).get("ndcg@10"),
                         "training_budget_s": result.get("training_budget_s")})
    return pd.DataFrame(rows)


def catalogue_table(result: dict[str, Any]) -> pd.DataFrame:
    """Step time and peak memory per (catalogue size, model); status says out of memory."""
    rows = [{"num_items": row["num_items"], "model": row["model"],
             "status": row["status"], "mode": row.get("mode"),
             "ms_per_step": row.get("ms_per_step") if row["status"] == "ok" else None,
             "peak_memory_gb": row.get("peak_memory_gb") if row["status"] == "ok" else None}
            for row in result.get("catalogue_sizes", [])]
    return pd.DataFrame(rows, columns=["num_items", "model", "status", "mode", "ms_per_step",
                                       "peak_memory_gb"])


def kernel_table(result: dict[str, Any], top: int = 12) -> pd.DataFrame:
    """The `top` kernels of one profiled training step by GPU time, with their share."""
    frame = pd.DataFrame(result["top_kernels"]).head(top)
    frame["share_of_step"] = frame["ms_per_step"] / result["kernel_ms_per_step"]
    return frame
