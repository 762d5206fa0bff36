"""The device helpers: scripts/device_pack.py brings results back in parts under the device
tool's limits, each file once, the parts giving back the same bytes; scripts/device_travel.sh
takes the stored results out of the index for device calls and puts everything back."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
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


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=repo, capture_output=True, text=True)


def test_travel_light_and_restore(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for path in ("gsasrec/a.py", "results/run/best.pt", "reports/r.html", "docs/f.png"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(path)
    (repo / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "device_travel.sh", repo / "scripts")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    assert git(repo, "commit", "-qm", "start").returncode == 0
    light = subprocess.run(["bash", "scripts/device_travel.sh", "light"], cwd=repo,
                           capture_output=True, text=True)
    assert light.returncode == 0, light.stderr
    assert git(repo, "ls-files").stdout.split() == ["gsasrec/a.py", "scripts/device_travel.sh"]
    untracked = git(repo, "status", "--porcelain").stdout
    assert "??" not in untracked  # the removed folders are ignored, not new files
    assert (repo / "results/run/best.pt").exists()  # the files never leave the disk
    assert git(repo, "commit", "-qm", "oops").returncode != 0  # the hook refuses
    restore = subprocess.run(["bash", "scripts/device_travel.sh", "restore"], cwd=repo,
                             capture_output=True, text=True)
    assert restore.returncode == 0, restore.stderr
    assert git(repo, "status", "--porcelain").stdout == ""
    assert "device_travel" not in (repo / ".git/info/exclude").read_text()
    assert not (repo / ".git/hooks/pre-commit").exists()
