"""benchmarks/paper_runs.py on the CPU: groups list, commands, and a tiny group run to the end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_runs.py"


def paper_runs(*flags: str, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    return run_script(SCRIPT, *flags, data_dir=data_dir)


def test_groups_and_their_commands() -> None:
    listing = paper_runs("--list")
    assert listing.returncode == 0
    for group in ("ml1m-pair", "ml1m-baselines", "grid-1", "grid-5", "beauty-gsasrec"):
        assert group in listing.stdout
    dry = paper_runs("--group", "ml1m-pair", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    commands = [line for line in dry.stdout.splitlines() if line.startswith("[dry-run]")]
    assert len(commands) == 2
    assert "--preset gsasrec-ml1m" in commands[0] and "--preset bert4rec-ml1m" in commands[1]
    assert all("--resume" in c and "--no-progress" in c for c in commands)
    grid = paper_runs("--group", "grid-2", "--dry-run").stdout
    # a Latin square: each group holds every k once and every t once
    ks = sorted(int(c.split("--negatives ")[1].split()[0]) for c in grid.splitlines())
    ts = sorted(float(c.split("--t ")[1].split()[0]) for c in grid.splitlines())
    assert ks == [1, 4, 16, 64, 256] and ts == [0.0, 0.25, 0.5, 0.75, 1.0]
    # grid cells have a budget in steps, so several groups can share the GPU in one command
    assert all("--max-steps 12000" in c and "--time-budget" not in c
               for c in grid.splitlines())
    both = paper_runs("--group", "grid-1", "grid-2", "--dry-run").stdout.splitlines()
    assert len(both) == 10 and len(set(both)) == 10
    tuned = paper_runs("--group", "ml1m-pair-tuned", "--dry-run").stdout.splitlines()
    assert "--preset gsasrec-ml1m-tuned" in tuned[0] and "-tuned-s0" in tuned[0]
    assert "--preset bert4rec-ml1m" in tuned[1]
    assert tuned[1].split("--out ")[1] == commands[1].split("--out ")[1]  # one BERT4Rec run
    pairs = paper_runs("--group", "ml1m-pair", "ml1m-pair-tuned", "--dry-run").stdout
    assert len(pairs.splitlines()) == 3  # the shared BERT4Rec run listed once
    # the speed variants share a run name, so each needs its own experiment folder
    speed = paper_runs("--group", "ml1m-tuned-speed", "--dry-run").stdout.splitlines()
    folders = [c.split("--out ")[1].split()[0] for c in speed]
    assert len(speed) == 4 and len({Path(f).parent.name for f in folders}) == 4
    assert all(Path(f).parent.name.startswith("speed-") for f in folders)
    b256 = [c for c in speed if "--batch-size 256" in c]
    assert len(b256) == 2 and all("--val-every-epochs 4" in c for c in b256)


def test_a_tiny_group_runs_to_the_end(tmp_path: Path, ml1m_file: Path) -> None:
    out = tmp_path / "paper"
    done = paper_runs("--group", "ml1m-gsasrec", "--scale", "0.001", "--out", str(out),
                      "--train-flags", "--device cpu", "--mps", data_dir=ml1m_file.parents[1])
    assert done.returncode == 0, done.stderr
    assert "group done" in done.stdout
    # no MPS on a CPU machine: the group says so, runs without it, and records that
    assert "running without MPS" in done.stdout
    (record,) = (out / "logs").glob("ml1m-gsasrec-*.json")
    assert json.loads(record.read_text())["mps"] is False
    (run,) = (out / "main").iterdir()
    assert run.name == "ml-1m-gsasrec-gbce-k256-t0.75-s0"
    assert not (run / "last.pt").exists()  # finished: only what is worth keeping stays
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["stop_reason"] == "time_budget"
    again = paper_runs("--group", "ml1m-gsasrec", "--scale", "0.001", "--out", str(out),
                       "--train-flags", "--device cpu", data_dir=ml1m_file.parents[1])
    assert again.returncode == 0 and "group done" in again.stdout  # nothing left to run


def test_a_group_stopped_at_its_deadline_resumes(tmp_path: Path, ml1m_file: Path) -> None:
    """The wall-clock deadline of one device command stops the runs (SIGTERM: they save
    last.pt); the same command with --resume finishes them."""
    out = tmp_path / "paper"
    # 36 s of training; the deadline falls well after start-up (data, model) and before the end
    flags = ("--group", "ml1m-gsasrec", "--scale", "0.04", "--out", str(out),
             "--train-flags", "--device cpu")
    first = paper_runs(*flags, "--deadline", "25", data_dir=ml1m_file.parents[1])
    assert first.returncode == 0, first.stderr
    assert "group not done" in first.stdout
    (run,) = (out / "main").iterdir()
    assert (run / "last.pt").exists() and not (run / "metrics.json").exists()
    refused = paper_runs(*flags, data_dir=ml1m_file.parents[1])  # progress, but no --resume
    assert refused.returncode == 2 and "--resume" in refused.stderr
    second = paper_runs(*flags, "--resume", data_dir=ml1m_file.parents[1])
    assert second.returncode == 0 and "group done" in second.stdout, second.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["resumed"] and metrics["training"]["train_seconds"] >= 36


def test_process_logs_of_a_grid_cell_and_a_main_run_never_collide() -> None:
    """A grid cell can carry a main run's name (the paper configuration is one of the cells);
    their process logs under <out>/logs must stay two files."""
    import sys

    sys.path.insert(0, str(SCRIPT.parent))
    from paper_runs import log_name

    name = "ml-1m-gsasrec-gbce-k256-t0.75-s0"
    out = Path("results/paper")
    assert log_name(out / "main" / name) == f"{name}.log"  # as the stored main runs' logs
    assert log_name(out / "grid" / name) == f"grid-{name}.log"
