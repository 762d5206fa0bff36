"""An interrupted run, resumed with --resume, ends exactly where an uninterrupted one does.

Runs are bounded by epochs (never by time) on tiny synthetic data, so they are reproducible
and take seconds on a CPU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gsasrec.config import TrainConfig
from gsasrec.errors import GsasrecError
from gsasrec.training import Trainer, same_training, train

ROOT = Path(__file__).resolve().parents[1]

# small, but with every source of randomness in play: dropout, random training windows,
# negatives, and step-dependent warm-ups of lr, k and t; early stopping fires at epoch 6
FLAGS = ("--dataset synthetic --synthetic-items 40 --synthetic-users 300 --val-users 20 "
         "--embedding-dim 8 --num-blocks 1 --max-seq-len 10 --negatives 4 --batch-size 16 "
         "--max-epochs 8 --patience 3 --train-window random --lr-warmup-steps 5 "
         "--negatives-warmup-steps 6 --t-warmup-steps 7 --device cpu --no-progress "
         "--seed 3").split()
CONFIG = TrainConfig(
    dataset="synthetic", synthetic_num_items=40, synthetic_num_users=300, val_users=20,
    embedding_dim=8, num_blocks=1, max_seq_len=10, num_negatives=4, batch_size=16,
    max_epochs=5, patience=3, train_window="random", lr_warmup_steps=5,
    negatives_warmup_steps=6, gbce_t_warmup_steps=7, device="cpu", seed=3,
)
TOLERANCE = 1e-6


pytestmark = pytest.mark.usefixtures("one_thread")


def start(out: Path, *extra: str) -> subprocess.Popen:
    # one thread in every process: the interrupted and the reference runs add up equally
    env = dict(os.environ, OMP_NUM_THREADS="1", GSASREC_GIT_COMMIT="test")
    return subprocess.Popen([sys.executable, "-m", "gsasrec", "train", *FLAGS, "--out", str(out),
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def signal_after_first_checkpoint(out: Path, signum: int) -> tuple[int, str]:
    process = start(out)
    deadline = time.monotonic() + 300
    while not (out / "last.pt").exists():
        assert process.poll() is None, f"ended before its first checkpoint: {finish(process)}"
        assert time.monotonic() < deadline, "no last.pt after 300 s"
        time.sleep(0.005)
    process.send_signal(signum)
    return finish(process)


def results(out: Path) -> tuple[dict, list[dict]]:
    metrics = json.loads((out / "metrics.json").read_text())
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return metrics, log


def assert_same_run(resumed: Path, reference: Path) -> None:
    (got, got_log), (want, want_log) = results(resumed), results(reference)
    for part in ("test", "validation"):
        assert got[part].keys() == want[part].keys()
        for name, value in want[part].items():
            assert abs(got[part][name] - value) <= TOLERANCE, (part, name)
    for key in ("epochs", "steps", "stop_reason", "best_epoch", "best_step"):
        assert got["training"][key] == want["training"][key], key
    assert got["training"]["resumed"] and not want["training"]["resumed"]
    # the validation log, the loss of the interrupted epoch included, is the same too
    assert len(got_log) == len(want_log)
    for a, b in zip(got_log, want_log, strict=True):
        for key in ("epoch", "step", "train_loss", "t", "lr", "val_ndcg@10", "val_recall@10"):
            assert a[key] == pytest.approx(b[key], abs=TOLERANCE), key
    with np.load(resumed / "predictions.npz") as a, np.load(reference / "predictions.npz") as b:
        np.testing.assert_array_equal(a["top_items"], b["top_items"])
        np.testing.assert_allclose(a["top_scores"], b["top_scores"], atol=TOLERANCE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    code, stderr = finish(start(out))
    assert code == 0, stderr
    assert json.loads((out / "metrics.json").read_text())["training"]["epochs"] >= 3
    return out


def test_sigkill_after_first_checkpoint_then_resume_matches_uninterrupted(
        reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, _ = signal_after_first_checkpoint(out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (out / "metrics.json").exists()  # the kill did cut the run short

    code, stderr = finish(start(out, "--resume"))

    assert code == 0, stderr
    assert_same_run(out, reference)
    assert not list(out.glob(".*.tmp"))  # nothing half-written is left behind


def test_sigterm_saves_a_checkpoint_and_exits_with_one_line(reference: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stderr = signal_after_first_checkpoint(out, signal.SIGTERM)

    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("gsasrec: error: interrupted (SIGTERM)")
    assert "--resume" in stderr and "Traceback" not in stderr
    assert (out / "last.pt").exists() and not (out / "metrics.json").exists()

    code, stderr = finish(start(out, "--resume"))
    assert code == 0, stderr
    assert_same_run(out, reference)


def test_interrupt_in_the_middle_of_an_epoch_resumes_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM at a fixed step inside epoch 2: the epoch's order, position, RNG streams and
    partial loss all come back from last.pt."""
    train(CONFIG, tmp_path / "reference", progress=False)
    step = Trainer.train_step

    def train_step(self: Trainer, index: torch.Tensor) -> torch.Tensor:
        if self.step == 25:  # epoch 2 (18 steps an epoch), batch 7
            signal.raise_signal(signal.SIGTERM)
        return step(self, index)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_step", train_step)
        with pytest.raises(GsasrecError, match=r"interrupted \(SIGTERM\).*--resume"):
            train(CONFIG, tmp_path / "run", progress=False)
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["step"], saved["batch_in_epoch"]) == (1, 26, 8)

    train(CONFIG, tmp_path / "run", resume=True, progress=False)

    assert_same_run(tmp_path / "run", tmp_path / "reference")


def test_resume_with_different_settings_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = CONFIG.replace(max_epochs=1)
    train(config, tmp_path, progress=False)
    with pytest.raises(GsasrecError, match="different config.*new --out"):
        train(config.replace(learning_rate=0.01), tmp_path, resume=True, progress=False)
    with pytest.raises(GsasrecError, match="already holds a finished run"):
        train(config, tmp_path, progress=False)


def test_notes_in_extra_do_not_block_a_resume(tmp_path: Path) -> None:
    """A checkpoint saved before runs recorded their preset in `extra` still resumes."""
    config = CONFIG.replace(max_epochs=2)
    stop_after_one = config.replace(max_epochs=1)
    train(stop_after_one, tmp_path / "run", progress=False)
    (tmp_path / "run" / "metrics.json").unlink()  # as if stopped by a signal after epoch 1
    (tmp_path / "run" / "config.json").write_text(json.dumps(config.to_dict()))
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    state["config"] = config.to_dict()  # saved by older code: no preset note
    state["stop_reason"] = ""  # paused after epoch 1, not finished
    torch.save(state, tmp_path / "run" / "last.pt")
    result = train(config.replace(extra={"preset": "gsasrec-ml1m"}), tmp_path / "run",
                   resume=True, progress=False)
    assert result.metrics["training"]["epochs"] == 2
    assert not same_training(config.to_dict(), config.replace(learning_rate=0.5).to_dict())
    assert not same_training(None, config.to_dict())
