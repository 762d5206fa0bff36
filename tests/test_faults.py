"""Numerical and memory faults stop training with a message that says what to change, and
keep the last good checkpoint."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from gsasrec import training
from gsasrec.cli import main
from gsasrec.config import TrainConfig
from gsasrec.errors import GsasrecError
from gsasrec.training import Trainer

CONFIG = TrainConfig(synthetic_num_items=30, synthetic_num_users=120, val_users=10,
                     embedding_dim=8, num_blocks=1, max_seq_len=8, num_negatives=3,
                     batch_size=16, max_epochs=4, device="cpu", seed=1)
STEPS_PER_EPOCH = 7  # 120 training users // 16


pytestmark = pytest.mark.usefixtures("one_thread")


def diverging(trainer: Trainer, from_step: int) -> Trainer:
    """The loss turns NaN from `from_step` on, and the NaN reaches the weights."""
    loss_fn = trainer.loss_fn

    def poisoned(*args: object) -> torch.Tensor:
        loss = loss_fn(*args)
        return loss * float("nan") if trainer.step >= from_step else loss

    trainer.loss_fn = poisoned
    return trainer


def finite(state: dict[str, torch.Tensor]) -> bool:
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("config", [CONFIG, CONFIG.replace(max_steps=2 * STEPS_PER_EPOCH + 3)],
                         ids=["end-of-epoch", "max-steps-mid-epoch"])
def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_good_checkpoint(
        tmp_path: Path, config: TrainConfig) -> None:
    trainer = diverging(Trainer(config, tmp_path, progress=False), 2 * STEPS_PER_EPOCH + 1)

    with pytest.raises(GsasrecError) as error:
        trainer.run()

    message = str(error.value)
    assert "diverged: non-finite loss" in message and "--lr" in message
    assert f"last good checkpoint is kept in {tmp_path / 'last.pt'}" in message
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["step"] == 2 * STEPS_PER_EPOCH  # before the NaN
    assert finite(last["model"])
    assert finite(torch.load(tmp_path / "best.pt", weights_only=True)["model"])
    assert not (tmp_path / "metrics.json").exists()


def test_an_interrupt_after_divergence_does_not_save_the_broken_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = diverging(Trainer(CONFIG, tmp_path, progress=False), STEPS_PER_EPOCH + 1)
    step = Trainer.train_step

    def train_step(self: Trainer, index: torch.Tensor) -> torch.Tensor:
        if self.step == STEPS_PER_EPOCH + 3:
            signal.raise_signal(signal.SIGTERM)
        return step(self, index)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    with pytest.raises(GsasrecError, match="diverged"):
        trainer.run()
    assert finite(torch.load(tmp_path / "last.pt", weights_only=True)["model"])


def out_of_memory(*args: object, **kwargs: object) -> None:
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_out_of_memory_in_training_names_the_settings_to_lower(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Trainer, "train_step", out_of_memory)
    code = main(["train", "--dataset", "synthetic", "--synthetic-items", "30",
                 "--synthetic-users", "60", "--val-users", "10", "--embedding-dim", "8",
                 "--negatives", "3", "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith("gsasrec: error: GPU out of memory")
    for setting in ("--batch-size", "--max-seq-len", "--negatives"):
        assert setting in stderr


def test_out_of_memory_in_evaluation_names_the_evaluation_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "evaluate_ranking", out_of_memory)
    with pytest.raises(GsasrecError, match="out of memory during validation.*--eval-batch-size"):
        training.train(CONFIG, tmp_path, progress=False)
