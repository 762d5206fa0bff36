"""scripts/device_pack.py: results come back in parts under the device tool's limits, each
file once, and the parts put back together give the same bytes."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from conftest import ROOT, run_script

SCRIPT = ROOT / "scripts" / "device_pack.py"


def unpack(out: Path, name: str) -> dict[str, bytes]:
    data = b"".join(p.read_bytes() for p in sorted(out.glob(f"{name}.tar.part-*")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_new_files_only_within_the_limit(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    (root / "run").mkdir(parents=True)
    big = os.urandom(16_500_000)  # more than one 15 MB part
    (root / "run" / "best.pt").write_bytes(big)
    (root / "run" / "metrics.json").write_text("{}")
    (root / "run" / "last.pt").write_bytes(b"resume state")
    first = run_script(SCRIPT, str(root), str(tmp_path / "out1"), "--name", "c1",
                       "--exclude", "last.pt", "--limit-mb", "1")
    assert first.returncode == 0, first.stderr
    assert unpack(tmp_path / "out1", "c1") == {"paper/run/metrics.json": b"{}"}
    assert "1 files (16.5 MB) left" in first.stdout
    second = run_script(SCRIPT, str(root), str(tmp_path / "out2"), "--name", "c2",
                        "--exclude", "last.pt")
    parts = sorted((tmp_path / "out2").iterdir())
    assert len(parts) == 2 and all(p.stat().st_size <= 15_000_000 for p in parts)
    assert unpack(tmp_path / "out2", "c2") == {"paper/run/best.pt": big}, second.stdout
    (root / "run" / "metrics.json").write_text('{"done": true}')  # changed: sent again
    third = run_script(SCRIPT, str(root), str(tmp_path / "out3"), "--name", "c3",
                       "--exclude", "last.pt")
    assert third.returncode == 0
    assert unpack(tmp_path / "out3", "c3") == {"paper/run/metrics.json": b'{"done": true}'}
