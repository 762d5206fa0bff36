"""Shared fixtures. With CI=true a missing data file or tool fails the test, never skips it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def require(condition: bool, reason: str) -> None:
    """Skip locally when something optional is missing; fail in CI, where it must exist."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data directory (GSASREC_DATA_DIR, as .ci/run sets it to ../shared/data)."""
    configured = os.environ.get("GSASREC_DATA_DIR")
    path = Path(configured) if configured else ROOT.parent / "shared" / "data"
    require(path.is_dir(), f"data directory {path} (set GSASREC_DATA_DIR)")
    os.environ["GSASREC_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def ml1m_file(data_dir: Path) -> Path:
    path = data_dir / "ml-1m" / "ml-1m.txt"
    require(path.exists(), f"{path}")
    return path


@pytest.fixture(scope="session")
def ml100k_file(data_dir: Path) -> Path:
    path = data_dir / "ml-100k" / "u.data"
    require(path.exists(), f"{path}")
    return path


@pytest.fixture
def one_thread() -> Iterator[None]:
    """In-process runs on one thread: tiny models only lose time to a busy second core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def free_port() -> int:
    """A local TCP port nobody listens on (for servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server the test started; kill it if it will not go."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_script(script: Path, *args: str, data_dir: Path | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one of the project's scripts as a user would, with a fixed commit id for its
    provenance and, when given, GSASREC_DATA_DIR pointing at `data_dir`."""
    env = dict(os.environ, GSASREC_GIT_COMMIT="test", OMP_NUM_THREADS="2")
    if data_dir is not None:
        env["GSASREC_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)

