"""The GPU benchmark scripts run end to end on the CPU at tiny sizes and write their JSON.

Their numbers mean nothing here (the measurements are made on the GPU); this guards the
scripts themselves, so a device call is never spent on a script that crashes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(script: str, out: Path, *flags: str, data_dir: Path | None = None) -> dict:
    done = run_script(BENCHMARKS / script, "--out", str(out), *flags, data_dir=data_dir,
                      cwd=BENCHMARKS)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_large_catalogue_script(tmp_path: Path) -> None:
    result = run_benchmark("large_catalogue.py", tmp_path / "lc.json", "--device", "cpu",
                           "--gowalla-items", "3000", "--gowalla-users", "200",
                           "--sizes", "500", "--size-users", "200", "--mean-length", "12",
                           "--steps", "1", "--warmup", "1")
    gowalla = result["gowalla_sized"]
    assert gowalla["status"] == "ok" and gowalla["num_items"] == 3000
    assert gowalla["eval_users"] == 200
    rows = result["catalogue_sizes"]
    assert [row["model"] for row in rows] == ["gsasrec k=256", "sasrec-ce (full softmax)",
                                              "bert4rec (full softmax)"]
    assert all(row["status"] == "ok" and row["ms_per_step"] > 0 for row in rows)


def test_time_to_quality_script_keeps_each_config_apart(tmp_path: Path, ml1m_file: Path
                                                        ) -> None:
    result = run_benchmark("time_to_quality.py", tmp_path / "ttq.json", "--budget", "0.5",
                           "--configs", "0,1", data_dir=ml1m_file.parents[1])
    labels = [run["label"] for run in result["runs"]]
    assert len(labels) == 2 and labels[0] != labels[1]
    assert all(run["curve"] and run["final_test"]["ndcg@10"] >= 0 for run in result["runs"])


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """A data directory with no files: the step benchmarks fall back to synthetic data of
    ML-1M's size."""
    folder = tmp_path / "no-data"
    folder.mkdir()
    return folder


def test_throughput_and_profile_scripts(tmp_path: Path, empty: Path) -> None:
    throughput = run_benchmark("train_throughput.py", tmp_path / "tt.json", "--device", "cpu",
                               "--variants", "0", "--steps", "1", "--warmup", "0",
                               data_dir=empty)
    assert throughput["dataset"] == "synthetic"
    (row,) = throughput["variants"]
    assert row["variant"] == "baseline eager fp32 gather" and row["speedup_vs_baseline"] == 1.0
    profile = run_benchmark("profile_step.py", tmp_path / "profile.json", "--device", "cpu",
                            "--steps", "1", "--warmup", "0", data_dir=empty)
    assert profile["dataset"] == "synthetic" and profile["steps_profiled"] == 1


def test_shared_gpu_script(tmp_path: Path, empty: Path) -> None:
    # on the CPU there is no MPS: the asked-for "on" row says so and still measures
    result = run_benchmark("shared_gpu.py", tmp_path / "sg.json", "--device", "cpu",
                           "--configs", "off:1,on:1", "--seconds", "0.5", "--warmup", "0",
                           data_dir=empty)
    rows = result["rows"]
    assert [(r["processes"], r["mps_requested"], r["mps"]) for r in rows] == [
        (1, False, False), (1, True, False)]
    assert all(r["status"] == "ok" and r["steps_per_second"] > 0 for r in rows)
    assert rows[0]["ratio_vs_one_process"] == 1.0


def test_mps_daemon_leaves_a_running_one_alone(tmp_path: Path, monkeypatch, capsys) -> None:
    """--mps never starts a second daemon where one already listens; off means off."""
    import shutil
    import sys

    sys.path.insert(0, str(BENCHMARKS))
    from common import mps_daemon

    (tmp_path / "control").write_text("")
    monkeypatch.setenv("CUDA_MPS_PIPE_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    with mps_daemon(True) as on:
        assert on
    assert "already listens" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["control"]  # nothing started
    with mps_daemon(False) as on:
        assert not on
