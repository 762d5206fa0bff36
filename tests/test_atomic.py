"""Result files are written whole or not at all: an interrupted write leaves the previous
file intact and no temporary file behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from gsasrec.config import TrainConfig
from gsasrec.io import (
    atomic_savez,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    remove_stale_temporaries,
)
from gsasrec.training import train

ROOT = Path(__file__).resolve().parents[1]
TINY = TrainConfig(synthetic_num_items=20, synthetic_num_users=60, val_users=10,
                   embedding_dim=8, num_blocks=1, max_seq_len=5, num_negatives=2, batch_size=16,
                   max_epochs=1, device="cpu")

WRITERS: dict[str, Callable[[Path], None]] = {
    "bytes": lambda path: atomic_write_bytes(path, b"new" * 1000),
    "json": lambda path: atomic_write_json(path, {"ndcg@10": 0.5}),
    "torch": lambda path: atomic_torch_save(path, {"model": torch.ones(3)}),
    "npz": lambda path: atomic_savez(path, ranks=np.arange(5)),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def fail(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("broken", ["os.replace", "os.fsync"])
def test_a_failed_write_keeps_the_previous_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str, broken: str) -> None:
    path = tmp_path / "result"
    path.write_bytes(b"previous")
    with monkeypatch.context() as patch:
        patch.setattr(os, broken.split(".")[1], fail)
        with pytest.raises(OSError, match="No space left"):
            WRITERS[writer](path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["result"]


KILLED_WRITER = """
import sys
from gsasrec.io import atomic_write_bytes
path = sys.argv[1]
for n in range(10_000):
    atomic_write_bytes(path, bytes([n % 2 + 65]) * 30_000_000)  # 30 MB of A, then of B, ...
"""


def test_a_writer_killed_mid_write_leaves_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT)
    deadline = time.monotonic() + 120
    while not path.exists():  # the first version is complete; the next ones are under way
        assert writer.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)

    data = path.read_bytes()
    assert len(data) == 30_000_000 and data in (b"A" * len(data), b"B" * len(data))
    # what the kill cut short is only a temporary, which the next run in the folder removes
    stale = remove_stale_temporaries(tmp_path)
    assert all(p.name.startswith(".big.bin.") for p in stale)
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_run_whose_last_write_fails_keeps_its_previous_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train(TINY, tmp_path, progress=False)
    before = (tmp_path / "metrics.json").read_bytes()
    replace = os.replace

    def replace_but_not_metrics(source: str, target: str | Path) -> None:
        if Path(target).name == "metrics.json":
            fail()
        replace(source, target)

    with monkeypatch.context() as patch:  # --resume of a finished run evaluates and rewrites
        patch.setattr(os, "replace", replace_but_not_metrics)
        with pytest.raises(OSError):
            train(TINY, tmp_path, resume=True, progress=False)
    assert (tmp_path / "metrics.json").read_bytes() == before
    assert json.loads(before)["test"]["ndcg@10"] >= 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_run_that_fails_before_the_end_writes_no_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """metrics.json is written last: a folder holding it is a finished run."""
    replace = os.replace

    def replace_but_not_predictions(source: str, target: str | Path) -> None:
        if Path(target).name == "predictions.npz":
            fail()
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_but_not_predictions)
    with pytest.raises(OSError):
        train(TINY, tmp_path, progress=False)
    assert (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()
    assert not (tmp_path / "metrics.json").exists()
    assert not list(tmp_path.glob(".*.tmp"))
