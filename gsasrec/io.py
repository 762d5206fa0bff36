"""Files that are never half-written, and the provenance recorded beside every result."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gsasrec.data.registry import PROJECT_ROOT


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that a killed writer left in `folder`; returns them."""
    stale = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a run folder, or one GsasrecError saying what is wrong with it."""
    from gsasrec.errors import GsasrecError

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GsasrecError(f"{path}: missing; is this a finished gsasrec run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GsasrecError(f"{path}: not valid JSON ({error})") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def atomic_write_json(path: str | Path, payload: Any) -> None:
    text = json.dumps(payload, indent=2, default=_json_default, allow_nan=True)
    atomic_write_bytes(path, (text + "\n").encode())


def atomic_torch_save(path: str | Path, payload: Any) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_savez(path: str | Path, **arrays: np.ndarray) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def git_commit() -> dict[str, Any]:
    """The project's git commit and whether the tree had uncommitted changes.

    GSASREC_GIT_COMMIT names the commit of a copied tree (a GPU machine gets the files, not
    the repository): its state is then unknown here (git_dirty None), since any git
    repository around the copy is another tree."""
    named = os.environ.get("GSASREC_GIT_COMMIT")
    if named:
        return {"git_commit": named, "git_dirty": None}

    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def environment(device: str | None = None) -> dict[str, Any]:
    """Versions and hardware that a result depends on."""
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    if device is not None and device.startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda_version"] = torch.version.cuda
    else:
        info["device_name"] = platform.processor() or platform.machine() or "cpu"
    info.update(git_commit())
    return info
