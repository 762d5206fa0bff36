"""Checkpoints are loaded as weights only: a file carrying code is refused, never run."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from gsasrec.config import TrainConfig
from gsasrec.errors import GsasrecError
from gsasrec.runs import load_checkpoint, load_run
from gsasrec.training import train


class Payload:
    """Unpickling this object would create the folder `target`."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.target),))


def crafted_checkpoints(folder: Path) -> list[Path]:
    marker = folder / "code-ran"
    torch_saved = folder / "custom_class.pt"  # torch.save of a custom object among weights
    torch.save({"config": TrainConfig().to_dict(), "num_items": 3,
                "model": {"weight": torch.zeros(2)}, "extra": Payload(marker)}, torch_saved)
    raw = folder / "raw_pickle.pt"  # a plain pickle whose loading calls os.mkdir
    raw.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    return [torch_saved, raw]


def test_load_checkpoint_refuses_pickled_code_without_running_it(tmp_path: Path) -> None:
    for path in crafted_checkpoints(tmp_path):
        with pytest.raises(GsasrecError, match=str(path)):
            load_checkpoint(path)
    assert not (tmp_path / "code-ran").exists()


def test_a_run_folder_with_a_crafted_best_checkpoint_is_refused(tmp_path: Path) -> None:
    path = crafted_checkpoints(tmp_path)[0]
    path.rename(tmp_path / "best.pt")
    with pytest.raises(GsasrecError, match="best.pt"):
        load_run(tmp_path)
    assert not (tmp_path / "code-ran").exists()


@pytest.mark.parametrize("content", ["code", "truncated"])
def test_resume_refuses_a_crafted_or_truncated_last_checkpoint(tmp_path: Path,
                                                               content: str) -> None:
    config = TrainConfig(synthetic_num_items=20, synthetic_num_users=60, val_users=10,
                         embedding_dim=8, num_blocks=1, max_seq_len=5, num_negatives=2,
                         batch_size=16, max_epochs=1, device="cpu")
    out = tmp_path / "run"
    out.mkdir()
    if content == "code":
        crafted_checkpoints(tmp_path)[0].rename(out / "last.pt")
    else:
        train(config, tmp_path / "good", progress=False)
        whole = (tmp_path / "good" / "last.pt").read_bytes()
        (out / "last.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(GsasrecError, match=r"last\.pt: unreadable checkpoint.*new --out"):
        train(config, out, resume=True, progress=False)
    assert not (tmp_path / "code-ran").exists()
