"""The command line: errors a user can fix, `evaluate`, and the Python API of a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gsasrec.cli import main
from gsasrec.runs import load_run

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--embedding-dim", "8", "--num-blocks", "1", "--max-seq-len", "10", "--batch-size", "16",
        "--val-users", "10", "--device", "cpu", "--no-progress"]


def write_sequences(path: Path, lengths: list[int], num_items: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = [f"{user + 1} {item}\n" for user, length in enumerate(lengths)
             for item in rng.choice(np.arange(1, num_items + 1), size=length, replace=False)]
    path.write_text("".join(lines))
    return path


def assert_one_line_error(stderr: str, pattern: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("gsasrec: error: "), stderr
    assert "Traceback" not in stderr
    assert pattern in lines[0], stderr


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_no_finished_run(out: Path) -> None:
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize(
    ("content", "pattern"),
    [(None, "file not found"), ("1 2\n1 3\n2 4\n2 5 6\n", "bad.txt:4: expected 2 fields")],
    ids=["missing-file", "malformed-line"],
)
def test_cli_errors_as_a_subprocess(tmp_path, content, pattern):
    data = tmp_path / "bad.txt"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.run(
        [sys.executable, "-m", "gsasrec", "train", "--data-file", str(data), "--out", str(out),
         *TINY], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert process.returncode == 2
    assert_one_line_error(process.stderr, pattern)
    assert str(data) in process.stderr
    assert_no_finished_run(out)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [("1 2\n1 3\n2 x\n", "bad.txt:3: non-numeric item 'x'"),
     ("", "bad.txt: file is empty"),
     ("1 2\n1 3\n2 4\n", "no user has two or more training items")],
    ids=["non-numeric-id", "empty-file", "all-users-too-short"],
)
def test_cli_data_errors(tmp_path, capsys, content, pattern):
    data = tmp_path / "bad.txt"
    data.write_text(content)
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--data-file", str(data), "--negatives", "1",
                            "--out", str(out), *TINY], capsys)
    assert code == 2
    assert_one_line_error(err, pattern)
    assert_no_finished_run(out)


@pytest.mark.parametrize(
    ("flags", "pattern"),
    [(["--t", "1.5"], "--t must be in [0, 1]"),
     (["--t", "-0.1"], "--t must be in [0, 1]"),
     (["--negatives", "0"], "--negatives must be at least 1"),
     (["--negatives", "20"], "--negatives must be below the number of items (20)"),
     (["--negatives", "25"], "--negatives must be below the number of items (20)"),
     (["--max-seq-len", "0"], "--max-seq-len must be at least 1")],
)
def test_cli_rejects_invalid_hyperparameters(tmp_path, capsys, flags, pattern):
    data = write_sequences(tmp_path / "data.txt", [6] * 30, num_items=20)
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--data-file", str(data), "--model", "gsasrec",
                            "--out", str(out), *TINY, *flags], capsys)
    assert code == 2
    assert_one_line_error(err, pattern)
    assert_no_finished_run(out)


def test_users_too_short_are_dropped_and_counted(tmp_path, capsys):
    data = write_sequences(tmp_path / "data.txt", [6] * 30 + [1, 2, 2, 1, 5], num_items=20)
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["train", "--data-file", str(data), "--negatives", "4",
                               "--max-steps", "2", "--out", str(out), *TINY], capsys)
    assert code == 0
    assert json.loads(stdout)["out"] == str(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"]["dropped_users"] == 4
    assert metrics["split"]["test_users"] == 31


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A few steps of gSASRec on a small synthetic data set, trained through the CLI."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(["train", "--dataset", "synthetic", "--synthetic-items", "60",
                 "--synthetic-users", "120", "--model", "gsasrec", "--negatives", "8",
                 "--t", "0.5", "--max-steps", "6", "--out", str(out), *TINY])
    assert code == 0
    return out


def test_run_folder_holds_config_checkpoints_and_metrics(tiny_run):
    for name in ("config.json", "log.jsonl", "best.pt", "last.pt", "metrics.json"):
        assert (tiny_run / name).exists(), name
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["model"] == "gsasrec" and metrics["loss"] == "gbce"
    assert metrics["num_negatives"] == 8 and metrics["gbce_t"] == 0.5
    assert metrics["command"].startswith("gsasrec train")
    assert set(metrics["test"]) == {"ndcg@10", "recall@1", "recall@10"}
    assert metrics["training"]["steps"] == 6
    assert json.loads((tiny_run / "config.json").read_text())["num_negatives"] == 8


def test_refuses_to_overwrite_a_finished_run(tiny_run, capsys):
    before = (tiny_run / "metrics.json").read_text()
    code, _, err = run_cli(["train", "--out", str(tiny_run), *TINY], capsys)
    assert code == 2
    assert_one_line_error(err, "already holds a finished run")
    assert (tiny_run / "metrics.json").read_text() == before


def test_evaluate_reproduces_the_stored_metrics(tiny_run, capsys):
    code, stdout, _ = run_cli(["evaluate", str(tiny_run)], capsys)
    assert code == 0
    report = json.loads(stdout)
    stored = json.loads((tiny_run / "metrics.json").read_text())["test"]
    for key, value in stored.items():
        assert report["test"][key] == pytest.approx(value, abs=1e-6)
    code, _, err = run_cli(["evaluate", str(tiny_run / "absent")], capsys)
    assert code == 2
    assert_one_line_error(err, "no such run folder")


def brute_force_top_k(run, history: list[int], k: int, filter_seen: bool) -> list[int]:
    items = torch.tensor([history])
    user = run.model.user_vectors(items, torch.tensor([len(history)]))[0]
    scores = (run.model.output_table()[1:] @ user).detach().numpy().astype(np.float64)
    if filter_seen:
        scores[np.asarray(history) - 1] = -np.inf
    return (np.argsort(-scores, kind="stable")[:k] + 1).tolist()


def test_recommend_returns_top_unseen_items_with_probabilities(tiny_run):
    run = load_run(tiny_run)
    histories = {"ann": [1, 5, 9, 2], "bob": [7], "cy": [3, 1]}  # item 1 appears in histories
    frame = run.recommend(histories, k=5)
    assert list(frame.columns) == ["user", "rank", "item", "score", "probability"]
    assert len(frame) == 15
    for user, history in histories.items():
        rows = frame[frame.user == user]
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        assert not set(rows["item"]) & set(history)
        assert np.all(np.diff(rows["score"]) <= 0)
        assert rows["item"].tolist() == brute_force_top_k(run, history, 5, filter_seen=True)
        np.testing.assert_allclose(rows["probability"], 1 / (1 + np.exp(-rows["score"])),
                                   rtol=1e-6)  # gBCE: sigmoid of the score
    unfiltered = run.recommend({"ann": [1, 5, 9, 2]}, k=5, filter_seen=False)
    assert unfiltered["item"].tolist() == brute_force_top_k(run, [1, 5, 9, 2], 5, False)


def test_recommend_never_pads_with_seen_items(tiny_run):
    run = load_run(tiny_run)
    history = list(range(1, 58))  # 57 of 60 items seen: only 3 left to recommend
    frame = run.recommend({"u": history}, k=10)
    assert sorted(frame["item"]) == [58, 59, 60]


def test_presets_are_recorded_and_tuned_runs_named_apart():
    from gsasrec.cli import build_parser, config_from_args, default_run_name

    def config(*flags: str):
        return config_from_args(build_parser().parse_args(["train", *flags]))

    paper, tuned = config("--preset", "gsasrec-ml1m"), config("--preset", "gsasrec-ml1m-tuned")
    assert paper.extra == {"preset": "gsasrec-ml1m"} and paper.variant == ""
    assert tuned.variant == "tuned" and tuned.dropout == 0.2
    assert default_run_name(paper) == "ml-1m-gsasrec-gbce-k256-t0.75-s0"
    assert default_run_name(tuned) == "ml-1m-gsasrec-gbce-k256-t0.75-tuned-s0"
    assert config().extra == {} and config("--dropout", "0.3").variant == ""
