"""report: run folders -> tables beside the published numbers, and the `gsasrec table` command."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gsasrec import report
from gsasrec.cli import main

NUM_ITEMS = 50


def write_run(folder: Path, model: str, loss: str, k: int | None, t: float | None, ndcg: float,
              best_seconds: float, total_seconds: float, early_stopped: bool = False,
              dataset: str = "ml-1m", predictions: bool = True, seed: int = 0,
              preset: str | None = None, batch_size: int = 128, learning_rate: float = 1e-3
              ) -> Path:
    """A finished run folder as the trainer writes it, with chosen numbers."""
    folder.mkdir(parents=True)
    config = {"dataset": dataset, "model": model, "loss": loss, "num_negatives": k or 256,
              "gbce_t": t or 0.0, "time_budget": 390.0, "seed": seed,
              "batch_size": batch_size, "learning_rate": learning_rate,
              "extra": {"preset": preset} if preset else {}}
    (folder / "config.json").write_text(json.dumps(config))
    metrics = {
        "dataset": dataset, "model": model, "loss": loss, "num_negatives": k, "gbce_t": t,
        "validation": {"ndcg@10": ndcg + 0.01, "recall@1": 0.05, "recall@10": 0.3},
        "test": {"ndcg@10": ndcg, "recall@1": 0.06, "recall@10": 0.31},
        "split": {"num_items": NUM_ITEMS},
        "training": {"epochs": 12, "steps": 600, "stop_reason": "early_stopping"
                     if early_stopped else "time_budget", "early_stopped": early_stopped,
                     "patience": 100, "best_epoch": 8, "best_step": 400,
                     "train_seconds": total_seconds,
                     # process wall time of the last process: wrong after a resume
                     "seconds_to_best_checkpoint": 9999.0, "wall_seconds": total_seconds + 20,
                     "peak_gpu_memory_mb": 1234.5},
        "provenance": {"seed": seed, "device_name": "NVIDIA H200", "git_commit": "abc"},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    # test NDCG@10 of each new best, as --track-test logs it
    log = [{"epoch": 4, "step": 200, "train_seconds": best_seconds / 2, "best": True,
            "val_ndcg@10": ndcg - 0.01, "test_ndcg@10": ndcg - 0.02},
           {"epoch": 8, "step": 400, "train_seconds": best_seconds, "best": True,
            "val_ndcg@10": ndcg + 0.01, "test_ndcg@10": ndcg},
           {"epoch": 12, "step": 600, "train_seconds": total_seconds, "val_ndcg@10": ndcg}]
    (folder / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    if predictions:
        rng = np.random.default_rng(0)
        users = 40
        top_items = np.tile(np.arange(1, 11), (users, 1))
        np.savez(folder / "predictions.npz", users=np.arange(users),
                 targets=rng.integers(1, NUM_ITEMS + 1, users),
                 target_scores=rng.normal(size=users).astype(np.float32),
                 ranks=rng.integers(1, NUM_ITEMS, users), top_items=top_items,
                 top_scores=np.sort(rng.normal(size=(users, 10)), axis=1)[:, ::-1]
                 .astype(np.float32),
                 log_normalisers=np.full(users, 4.0, dtype=np.float32))
    return folder


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "paper"
    main_dir, grid_dir = root / "main", root / "grid"
    write_run(main_dir / "bert4rec", "bert4rec", "ce", None, None, 0.15, 100.0, 200.0, True)
    write_run(main_dir / "gsasrec-s0", "gsasrec", "gbce", 256, 0.75, 0.165, 30.0, 60.0)
    write_run(main_dir / "gsasrec-s1", "gsasrec", "gbce", 256, 0.75, 0.175, 40.0, 80.0, seed=1)
    write_run(main_dir / "sasrec", "sasrec", "bce", 1, 0.0, 0.12, 20.0, 50.0, predictions=False)
    write_run(main_dir / "beauty-bert4rec", "bert4rec", "ce", None, None, 0.03, 10.0, 20.0,
              dataset="beauty")
    write_run(grid_dir / "k1-t0", "gsasrec", "gbce", 1, 0.0, 0.11, 10.0, 390.0)
    write_run(grid_dir / "k256-t1", "gsasrec", "gbce", 256, 1.0, 0.16, 300.0, 390.0, True)
    write_run(grid_dir / "k256-t0.75", "gsasrec", "gbce", 256, 0.75, 0.17, 300.0, 390.0)
    return root


def test_collect_runs_reads_each_finished_run(results: Path) -> None:
    (results / "main" / "unfinished").mkdir()  # no metrics.json: not a run yet
    runs = report.collect_runs(results)
    assert len(runs) == 8
    row = runs[runs["name"] == "gsasrec-s0"].iloc[0]
    assert row["label"] == "gSASRec (k=256, t=0.75)"
    assert row["experiment"] == "main"
    assert (row["k"], row["t"], row["ndcg@10"]) == (256.0, 0.75, 0.165)
    # time to best is the log's cumulative training seconds, not the process wall time
    assert row["time_to_best_s"] == 30.0 and row["train_seconds"] == 60.0
    assert row["peak_gpu_memory_mb"] == 1234.5 and row["time_budget"] == 390.0
    assert math.isfinite(row["ece"]) and 0.0 <= row["ece"] <= 1.0
    assert math.isnan(runs[runs["name"] == "sasrec"].iloc[0]["ece"])  # no predictions.npz
    assert set(runs["label"]) >= {"BERT4Rec", "SASRec (k=1, t=0)", "gSASRec (k=256, t=1)"}


def test_ece_matches_the_calibration_module(results: Path) -> None:
    calibration = pytest.importorskip("gsasrec.calibration")
    run = results / "main" / "gsasrec-s0"
    predicted, outcomes = calibration.top_k_reliability_data(run, top_k=10)
    assert report.run_ece(run) == pytest.approx(
        calibration.expected_calibration_error(predicted, outcomes))


def test_recalibrated_ece_inverts_the_optimum_by_hand(results: Path) -> None:
    """The recalibrated ECE is the ECE of P = alpha p / (beta (1 - p) + alpha p), the
    closed-form inverse written out here, with alpha = k / (|I| - 1), beta = 1 - t (1 - alpha)."""
    calibration = pytest.importorskip("gsasrec.calibration")
    run = results / "grid" / "k1-t0"  # k = 1, t = 0 of 50 items: alpha = 1/49, beta = 1
    predictions = calibration.run_predictions(run)
    alpha = 1 / (NUM_ITEMS - 1)
    beta = 1 - 0.0 * (1 - alpha)
    p = predictions["top_probabilities"][:, :10].astype(np.float64)
    by_hand = alpha * p / (beta * (1 - p) + alpha * p)
    hits = predictions["top_items"][:, :10] == predictions["targets"][:, None]
    expected = calibration.expected_calibration_error(by_hand.reshape(-1),
                                                      hits.reshape(-1).astype(float))
    assert report.run_ece(run, recalibrated=True) == pytest.approx(expected)
    assert report.run_ece(run, recalibrated=True) != pytest.approx(report.run_ece(run))
    assert math.isnan(report.run_ece(results / "main" / "bert4rec", recalibrated=True))


def test_published_numbers_are_the_papers() -> None:
    published = report.published_numbers().set_index(["source", "label"])
    assert published.loc[("authors' PyTorch port", "gSASRec (k=256, t=0.75)"), "ndcg@10"] == 0.1726
    assert published.loc[("Klenitskiy & Vasilev, RecSys 2023", "BERT4Rec"), "recall@10"] == 0.2843
    claims = report.published_numbers().set_index("claim")["relative"]
    assert claims["NDCG@10 gSASRec vs BERT4Rec"] == 0.0947
    assert claims["training time gSASRec vs BERT4Rec"] == -0.73


def test_main_table_sets_our_rows_beside_the_published(results: Path) -> None:
    table = report.main_table(report.collect_runs(results))
    ml1m = table[table["dataset"] == "ml-1m"].set_index("label")
    assert list(ml1m.index) == ["SASRec (k=1, t=0)", "BERT4Rec", "gSASRec (k=256, t=0.75)"]
    gsasrec = ml1m.loc["gSASRec (k=256, t=0.75)"]
    assert gsasrec["runs"] == 2  # two seeds, averaged; the grid cell stays out
    assert gsasrec["ndcg@10"] == pytest.approx(0.17)
    assert gsasrec["published_ndcg@10"] == 0.1726
    assert gsasrec["ndcg_vs_bert4rec"] == pytest.approx(0.17 / 0.15 - 1)
    assert gsasrec["time_to_best_vs_bert4rec"] == pytest.approx(35.0 / 100.0 - 1)
    assert gsasrec["train_time_vs_bert4rec"] == pytest.approx(70.0 / 200.0 - 1)
    # BERT4Rec's 0.15 reached: seed 0 at its second best (30 s), seed 1 at its first (20 s)
    assert gsasrec["time_to_bert4rec_ndcg_s"] == pytest.approx(25.0)
    assert gsasrec["time_to_bert4rec_ndcg_vs_bert4rec"] == pytest.approx(25.0 / 100.0 - 1)
    assert math.isnan(ml1m.loc["SASRec (k=1, t=0)", "time_to_bert4rec_ndcg_s"])  # 0.12 < 0.15
    assert ml1m.loc["BERT4Rec", "published_ndcg@10"] == 0.1537
    assert ml1m.loc["BERT4Rec", "early_stopped"] == 1.0
    beauty = table[table["dataset"] == "beauty"]
    assert list(beauty["label"]) == ["BERT4Rec"] and beauty["published_ndcg@10"].isna().all()


def test_relative_differences_as_the_paper_reports(results: Path) -> None:
    relative = report.relative_differences(report.collect_runs(results))
    ml1m = relative[relative["dataset"] == "ml-1m"].set_index("comparison")
    ndcg = ml1m.loc["NDCG@10: gSASRec vs BERT4Rec"]
    assert ndcg["ours"] == pytest.approx(0.17 / 0.15 - 1) and ndcg["published"] == 0.0947
    time = ml1m.loc["training time to best checkpoint: gSASRec vs BERT4Rec"]
    assert time["ours"] == pytest.approx(-0.65) and time["published"] == -0.73
    matched = ml1m.loc["training time to BERT4Rec's test NDCG@10 (BERT4Rec: to its best "
                       "checkpoint): gSASRec vs BERT4Rec"]
    assert matched["ours"] == pytest.approx(-0.75) and matched["published"] == -0.73
    assert "beauty" not in set(relative["dataset"])  # no gSASRec run on Beauty


def test_quality_curves_are_the_tracked_checkpoints_of_main_runs(results: Path) -> None:
    curves = report.quality_curves(report.collect_runs(results))
    assert "grid" not in set(curves["name"])
    seed0 = curves[curves["name"] == "gsasrec-s0"]
    assert list(seed0["train_seconds"]) == [15.0, 30.0]
    assert list(seed0["test_ndcg@10"]) == pytest.approx([0.145, 0.165])
    assert set(curves["name"]) == {"bert4rec", "gsasrec-s0", "gsasrec-s1", "sasrec",
                                   "beauty-bert4rec"}


def test_replayed_early_stopping_follows_the_trainers_rule() -> None:
    nan = math.nan
    # (seconds, validation NDCG@10, test NDCG@10 of new bests)
    log = [(1.0, 0.10, 0.09), (2.0, 0.12, 0.11), (3.0, 0.12, nan), (4.0, 0.11, nan),
           (5.0, 0.13, 0.125), (6.0, 0.10, nan)]
    # a tie is no improvement: patience 2 stops at 4 s with the 2-s checkpoint
    assert report.replay_early_stopping(log, 2) == {
        "best_seconds": 2.0, "test_ndcg@10": 0.11, "stop_seconds": 4.0, "stopped": True}
    assert report.replay_early_stopping(log, 1)["stop_seconds"] == 3.0
    longer = report.replay_early_stopping(log, 3)  # never stops: the run's own result
    assert longer == {"best_seconds": 5.0, "test_ndcg@10": 0.125, "stop_seconds": 6.0,
                      "stopped": False}
    assert math.isnan(report.replay_early_stopping([], 5)["best_seconds"])


def test_patience_table_replays_each_row_against_bert4rec(results: Path) -> None:
    table = report.patience_table(report.collect_runs(results), patiences=(1, 100, 500))
    ml1m = table[table["dataset"] == "ml-1m"].set_index(["label", "patience"])
    # patience 1: the third validation is worse, so the second (best) checkpoint is kept
    gsasrec = ml1m.loc[("gSASRec (k=256, t=0.75)", 1)]
    assert gsasrec["runs"] == 2 and gsasrec["test_ndcg@10"] == pytest.approx(0.17)
    assert gsasrec["best_seconds"] == pytest.approx(35.0)
    assert gsasrec["stop_seconds"] == pytest.approx(70.0)
    assert gsasrec["ndcg_vs_bert4rec"] == pytest.approx(0.17 / 0.15 - 1)
    assert gsasrec["best_seconds_vs_bert4rec"] == pytest.approx(35.0 / 100.0 - 1)
    # the runs' own patience is 100: a longer one cannot be replayed
    assert math.isnan(ml1m.loc[("gSASRec (k=256, t=0.75)", 500), "test_ndcg@10"])
    assert not math.isnan(ml1m.loc[("gSASRec (k=256, t=0.75)", 100), "test_ndcg@10"])


def test_seconds_to_quality_is_the_first_tracked_checkpoint_at_the_level() -> None:
    tracked = [(10.0, 0.12), (20.0, 0.16), (30.0, 0.15), (40.0, 0.17)]
    assert report.seconds_to_quality(tracked, 0.15) == 20.0
    assert report.seconds_to_quality(tracked, 0.17) == 40.0
    assert math.isnan(report.seconds_to_quality(tracked, 0.2))
    assert math.isnan(report.seconds_to_quality([], 0.1))


def test_tuned_runs_get_their_own_row_beside_the_same_published_numbers(results: Path) -> None:
    write_run(results / "main" / "gsasrec-tuned", "gsasrec", "gbce", 256, 0.75, 0.18, 20.0,
              50.0, preset="gsasrec-ml1m-tuned")
    runs = report.collect_runs(results)
    table = report.main_table(runs).set_index("label")
    assert table.loc["gSASRec (k=256, t=0.75)", "runs"] == 2  # the paper config's seeds only
    tuned = table.loc[report.GSASREC_TUNED_LABEL]
    assert tuned["runs"] == 1 and tuned["ndcg@10"] == 0.18
    assert tuned["published_ndcg@10"] == 0.1726  # the port's gSASRec, as for the paper row
    assert tuned["ndcg_vs_bert4rec"] == pytest.approx(0.18 / 0.15 - 1)
    assert list(table.index).index(report.GSASREC_TUNED_LABEL) == \
        list(table.index).index("gSASRec (k=256, t=0.75)") + 1
    relative = report.relative_differences(runs).set_index("comparison")["ours"]
    assert relative["NDCG@10: gSASRec tuned vs BERT4Rec"] == pytest.approx(0.18 / 0.15 - 1)
    assert relative["training time to best checkpoint: gSASRec tuned vs BERT4Rec"] == \
        pytest.approx(20.0 / 100.0 - 1)
    assert relative["NDCG@10: gSASRec vs BERT4Rec"] == pytest.approx(0.17 / 0.15 - 1)
    paper, mine = report.targets(runs)
    assert paper["label"] == report.GSASREC_LABEL and not paper["ndcg_at_least_0.18"]
    assert mine["label"] == report.GSASREC_TUNED_LABEL and mine["ndcg_at_least_0.18"]
    # +13% NDCG@10 at 35% of BERT4Rec's time to best (paper rows), +20% at 20% (tuned)
    assert paper["beats_bert4rec_by_5pct_in_half_the_time"]
    assert mine["beats_bert4rec_by_5pct_in_half_the_time"]
    assert report.targets(runs[runs["model"] != "bert4rec"])[0][
        "beats_bert4rec_by_5pct_in_half_the_time"] is None
    paper_line, tuned_line = report.target_verdicts([paper, mine])
    assert "target >= 0.18: NOT met" in paper_line and "target >= 0.18: met" in tuned_line
    assert "NDCG@10 +20.0%" in tuned_line and "best checkpoint -80.0%" in tuned_line
    assert tuned_line.endswith("(target <= -50%): met.")
    no_bert = report.target_verdicts(report.targets(runs[runs["model"] != "bert4rec"]))
    assert "Against BERT4Rec: unknown (no BERT4Rec row)." in no_bert[0]


def test_speed_table_counts_steps_and_sequences_beside_the_tuned_main_runs(results: Path
                                                                          ) -> None:
    write_run(results / "main" / "gsasrec-tuned", "gsasrec", "gbce", 256, 0.75, 0.18, 20.0,
              50.0, preset="gsasrec-ml1m-tuned")
    write_run(results / "speed-b256" / "gsasrec-tuned", "gsasrec", "gbce", 256, 0.75, 0.16,
              90.0, 300.0, preset="gsasrec-ml1m-tuned", batch_size=256, learning_rate=3e-3)
    runs = report.collect_runs(results)
    assert report.main_table(runs).set_index("label").loc[
        report.GSASREC_TUNED_LABEL, "runs"] == 1  # side experiments stay out of the table
    table = report.speed_table(runs).set_index("experiment")
    assert list(table.index) == ["main", "speed-b256"]  # the reference tuned run first
    side = table.loc["speed-b256"]
    assert side["batch_size"] == 256 and side["learning_rate"] == 3e-3
    assert side["best_step"] == 400 and side["sequences_to_best"] == 400 * 256
    assert side["ms_per_step"] == pytest.approx(1000 * 300.0 / 600)
    # BERT4Rec's NDCG@10 is 0.15: the tuned run's first tracked checkpoint (0.16) reaches it
    # at step 200; the side run's (0.14 at step 200, 0.16 at 400) at step 400
    assert table.loc["main", "steps_to_bert4rec_ndcg"] == 200
    assert side["steps_to_bert4rec_ndcg"] == 400
    assert report.speed_table(runs, dataset="beauty").empty
    # without a main/ folder the reference falls back to the other runs, never the side run
    other = runs.assign(experiment=runs["experiment"].replace({"main": "other"}))
    assert list(report.speed_table(other)["experiment"]) == ["other", "speed-b256"]


def test_grid_table_pivots_k_by_t_from_grid_runs_only(results: Path) -> None:
    grid = report.grid_table(report.collect_runs(results), "ml-1m")
    assert list(grid.index) == [1, 256]
    assert list(grid["ndcg@10"].columns) == [0.0, 0.75, 1.0]
    assert grid.loc[1, ("ndcg@10", 0.0)] == 0.11
    assert grid.loc[256, ("ndcg@10", 0.75)] == 0.17  # the grid cell, not the main-table runs
    assert grid.loc[256, ("early_stopped", 1.0)] == 1.0
    assert math.isnan(grid.loc[1, ("ndcg@10", 1.0)])
    assert set(grid.columns.get_level_values(0)) == {"ndcg@10", "ece", "ece_recalibrated",
                                                     "early_stopped"}
    # t = 1: beta = alpha, so the inverse optimum is the identity and nothing changes
    assert grid.loc[256, ("ece_recalibrated", 1.0)] == pytest.approx(grid.loc[256, ("ece", 1.0)])


def test_grid_runs_alone_make_no_main_table(results: Path) -> None:
    grid_only = report.collect_runs(results)
    grid_only = grid_only[grid_only["experiment"] == "grid"]
    assert report.main_table(grid_only).empty
    assert len(report.grid_table(grid_only)) == 2


def test_empty_results_give_empty_tables(tmp_path: Path) -> None:
    runs = report.collect_runs(tmp_path)
    assert runs.empty and list(runs.columns) == report.RUN_COLUMNS
    assert report.main_table(runs).empty and report.grid_table(runs).empty
    assert report.relative_differences(runs).empty


def test_to_markdown_needs_no_tabulate() -> None:
    frame = report.published_numbers().head(4)[["source", "label", "ndcg@10"]]
    lines = report.to_markdown(frame).splitlines()
    assert lines[0] == "| source | label | ndcg@10 |"
    assert lines[-1] == "| authors' PyTorch port | SASRec (k=1, t=0) | 0.1259 |"
    assert lines[2].endswith("|  |")  # NaN prints as an empty cell


def test_table_command(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "grid.csv"
    assert main(["table", str(results), "--grid", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| ml-1m | gSASRec (k=256, t=0.75) | 0.1700 |" in printed
    assert "NDCG@10: gSASRec vs BERT4Rec" in printed
    assert out.exists()
    assert main(["table", str(tmp_path / "nothing")]) == 2
    assert "no finished runs" in capsys.readouterr().err
    only_grid = tmp_path / "only"
    shutil.copytree(results / "grid", only_grid / "grid")
    assert main(["table", str(only_grid)]) == 0  # grid cells only: said, not a table
    assert "no main-table runs" in capsys.readouterr().out


def test_main_table_of_results_uses_top_level_runs_not_side_experiments(tmp_path: Path) -> None:
    """`gsasrec table results`: the main rows are results/<run> folders; runs under
    results/experiments/... (other settings) must not be averaged into them."""
    root = tmp_path / "results"
    write_run(root / "ml1m-gsasrec", "gsasrec", "gbce", 256, 0.75, 0.17, 30.0, 60.0)
    write_run(root / "experiments" / "tuning" / "g1", "gsasrec", "gbce", 256, 0.75, 0.10,
              30.0, 60.0)
    table = report.main_table(report.collect_runs(root))
    row = table[table["label"] == "gSASRec (k=256, t=0.75)"].iloc[0]
    assert row["ndcg@10"] == pytest.approx(0.17) and row["runs"] == 1


def test_table_into_a_closed_pipe_ends_quietly(results: Path) -> None:
    """`gsasrec table results | head -1`: no traceback when the reader stops early."""
    process = subprocess.Popen([sys.executable, "-m", "gsasrec", "table", str(results)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line is written
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and b"Traceback" not in stderr, stderr.decode()
