"""Shared helpers for the GPU benchmarks: timing, provenance, JSON output, CUDA MPS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def mps_daemon(enabled: bool) -> Iterator[bool]:
    """CUDA MPS for the processes started inside: their kernels then share the GPU at once
    instead of taking turns, which pays when each process is a small model whose short
    kernels leave most of the GPU idle (the k x t grid). Yields whether MPS is on: False when
    not asked for, and also when the control program is missing or a test client fails (then
    the runs go on without it, with a warning). A daemon already running is used as it is;
    otherwise the daemon and its pipe directory are this process's own and go when it
    leaves. The GPU's settings are never touched."""
    control = shutil.which("nvidia-cuda-mps-control")
    if not enabled or control is None:
        if enabled:
            print("mps: nvidia-cuda-mps-control not found; running without MPS", flush=True)
        yield False
        return
    running = Path(os.environ.get("CUDA_MPS_PIPE_DIRECTORY", "/tmp/nvidia-mps"))
    if (running / "control").exists():  # someone's daemon already serves this machine
        print(f"mps: a daemon already listens in {running}; using it", flush=True)
        yield True
        return
    folder = tempfile.mkdtemp(prefix="gsasrec-mps-")
    variables = {"CUDA_MPS_PIPE_DIRECTORY": folder, "CUDA_MPS_LOG_DIRECTORY": folder}
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    started = subprocess.run([control, "-d"], capture_output=True, text=True).returncode == 0
    probe = "import torch; x = torch.ones(64, 64, device='cuda'); print(float((x @ x).sum()))"
    try:
        working = started and subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                             timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        working = False
    if not working:
        print("mps: the daemon did not serve a test client; running without MPS", flush=True)
        _stop_mps(control, started, variables, saved)
        yield False
        return
    try:
        yield True
    finally:
        _stop_mps(control, True, variables, saved)


def _stop_mps(control: str, started: bool, variables: dict[str, str],
              saved: dict[str, str | None]) -> None:
    """Quit the daemon (which ends its server), put the environment back, remove the pipes."""
    if started:
        subprocess.run([control], input="quit\n", text=True, capture_output=True, timeout=60)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(variables["CUDA_MPS_PIPE_DIRECTORY"], ignore_errors=True)
