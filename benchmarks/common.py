"""Shared helpers for the GPU benchmarks: timing with CUDA events, provenance, JSON output."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gsasrec.data.registry import dataset_path  # noqa: E402
from gsasrec.errors import GsasrecError  # noqa: E402
from gsasrec.io import atomic_write_json, environment  # noqa: E402


def ml1m_or_standin() -> dict[str, Any]:
    """Config overrides for the benchmark data: ML-1M where its file is found, else
    synthetic data of ML-1M's size (3,416 items, 6,040 users), so the step is the same."""
    try:
        dataset_path("ml-1m")
        return {}
    except GsasrecError:
        return {"dataset": "synthetic", "synthetic_num_items": 3416, "synthetic_num_users": 6040}


def random_batch_step(trainer: Any, seed: int = 0) -> Any:
    """A function that runs one training step on a seeded random batch of training users:
    the unit every step benchmark times."""
    generator = torch.Generator().manual_seed(seed)
    batch = trainer.config.batch_size

    def step() -> None:
        index = torch.randint(0, trainer.num_train_users, (batch,), generator=generator)
        trainer.train_step(index.to(trainer.device, non_blocking=True))
    return step


def time_steps(step: Any, warmup: int, steps: int, device: torch.device) -> float:
    """Mean milliseconds per call of `step()` after `warmup` calls (compilation included there)."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000.0 / steps


def write_result(path: str | Path, payload: dict[str, Any], device: torch.device) -> None:
    payload = {**payload, "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "environment": environment(str(device))}
    atomic_write_json(path, payload)
    print(json.dumps(payload, indent=2, default=str))
