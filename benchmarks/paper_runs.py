"""The GPU runs behind the paper's comparison (issue 5), in groups that each fit one command.

Each group is a few `gsasrec train` processes sharing one GPU. A group command stops its
runs at a wall-clock deadline (SIGTERM: each run saves last.pt) and the same command with
--resume continues them; finished runs (metrics.json) are skipped, so repeating a group's
command until it prints "group done" completes it. Budgets are training seconds (data
loading, validation and testing excluded), counted across resumes; early stopping on
validation NDCG@10 may end a run sooner.

    python benchmarks/paper_runs.py --list
    python benchmarks/paper_runs.py --group ml1m-pair --out results/paper --resume
    python benchmarks/paper_runs.py --group grid-1 grid-2 grid-3 --resume   # 15 at once

Run folders: <out>/<experiment>/<dataset>-<model>-<loss>-k<k>-t<t>[-tuned]-s<seed> holding
config.json, log.jsonl, best.pt, metrics.json, predictions.npz (last.pt is deleted once a
run has finished, unless --keep-last); process output goes to <out>/logs/ (`log_name`).
--mps shares the GPU between the processes through CUDA MPS (benchmarks/shared_gpu.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import mps_daemon  # noqa: E402

from gsasrec.cli import build_parser, config_from_args  # noqa: E402
from gsasrec.config import TrainConfig  # noqa: E402
from gsasrec.io import atomic_write_json, environment  # noqa: E402

DEADLINE_S = 540.0  # wall seconds per command: under the 10-minute limit, with margin
GRACE_S = 45.0  # after SIGTERM: time for runs to save last.pt before they are killed
MIN_START_S = 90.0  # do not start a run with less wall time than this left
STARTUP_S = 40.0  # per process: imports, data, CUDA context, final test (estimate)
# steps per second of all processes together on one H200 (gSASRec ML-1M: ~300 alone, 5 x
# 55-87 shared; results/README.md); only for planning step budgets
SHARED_STEPS_PER_S = 330.0


@dataclass(frozen=True)
class RunSpec:
    """One training run: a preset plus the budget flags that define it."""

    experiment: str  # "main" or "grid": the folder under --out
    preset: str
    time_budget: float | None  # training seconds (None: max_steps is the budget)
    patience: int  # validations without improvement before early stopping
    val_every_epochs: int
    flags: tuple[str, ...] = ()  # further `gsasrec train` flags
    max_steps: int | None = None  # a budget in steps: the same whatever shares the GPU

    def arguments(self, seed: int, scale: float, extra: tuple[str, ...]) -> list[str]:
        budget = (["--time-budget", f"{self.time_budget * scale:g}"] if self.time_budget
                  else [])
        if self.max_steps:
            budget += ["--max-steps", str(max(1, round(self.max_steps * scale)))]
        return ["--preset", self.preset, *self.flags, *budget, "--patience",
                str(self.patience), "--val-every-epochs", str(self.val_every_epochs),
                "--seed", str(seed), *extra]

    def budget_seconds(self, parallel: int) -> float:
        """Expected training seconds: the time budget, or the steps at the shared speed."""
        if self.time_budget:
            return self.time_budget
        return self.max_steps * parallel / SHARED_STEPS_PER_S

    def config(self, seed: int, scale: float, extra: tuple[str, ...]) -> TrainConfig:
        args = build_parser().parse_args(["train", *self.arguments(seed, scale, extra)])
        return config_from_args(args)


def run_name(config: TrainConfig) -> str:
    """dataset-model-loss-k<k>-t<t>-s<seed>; k 'all' and t 'na' for the full softmax."""
    loss = config.resolved_loss
    k = "all" if loss == "ce" else str(config.num_negatives)
    t = {"gbce": f"{config.gbce_t:g}", "bce": "0"}.get(loss, "na")
    variant = f"-{config.variant}" if config.variant else ""
    return f"{config.dataset}-{config.model}-{loss}-k{k}-t{t}{variant}-s{config.seed}"


def log_name(folder: Path) -> str:
    """The process log of a run folder under <out>/logs: main runs by their name, other
    experiments' runs prefixed with the experiment, since a grid cell can share a main
    run's name (ml-1m-gsasrec-gbce-k256-t0.75-s0)."""
    experiment = folder.parent.name
    return f"{folder.name}.log" if experiment == "main" else f"{experiment}-{folder.name}.log"


@dataclass(frozen=True)
class Group:
    runs: tuple[RunSpec, ...]
    parallel: int  # processes sharing the GPU at once
    note: str


def _main_group(presets: tuple[str, ...], budget: float, patience: int, val_every: int,
                note: str) -> Group:
    runs = tuple(RunSpec("main", p, budget, patience, val_every) for p in presets)
    return Group(runs, len(runs), note)


# ML-1M: 6,040 users, so an epoch is 47 steps at batch 128 (94 at BERT4Rec's batch 64):
# validating every 2 SASRec epochs / every BERT4Rec epoch is every ~94 steps, close to the
# authors' port (100 batches per epoch, patience 200). Beauty: 40,226 users, 314 steps per
# epoch at batch 128; validated every epoch.
GRID_K = (1, 4, 16, 64, 256)
GRID_T = (0.0, 0.25, 0.5, 0.75, 1.0)
# per cell: a budget in steps, equal whatever shares the GPU, so groups can run together
# (12,000 steps = 255 epochs; the main gSASRec runs had their best checkpoints at 10-21k)
GRID_STEPS = 12_000
GRID_PATIENCE = 100

GROUPS: dict[str, Group] = {
    # the timed pair: each alone on the GPU
    "ml1m-gsasrec": _main_group(("gsasrec-ml1m",), 900, 200, 2,
                                "gSASRec k=256 t=0.75, alone on the GPU (timed pair)"),
    "ml1m-bert4rec": _main_group(("bert4rec-ml1m",), 1500, 200, 1,
                                 "BERT4Rec, alone on the GPU (timed pair)"),
    # the same two runs (same folders) one after the other in one command: one machine start
    "ml1m-pair": Group((RunSpec("main", "gsasrec-ml1m", 900, 200, 2),
                        RunSpec("main", "bert4rec-ml1m", 1500, 200, 1)), 1,
                       "gSASRec then BERT4Rec, each alone on the GPU (timed pair)"),
    # the same pair with our tuned gSASRec (dropout 0.2, pre-norm blocks; config.py says why)
    "ml1m-pair-tuned": Group((RunSpec("main", "gsasrec-ml1m-tuned", 900, 200, 2),
                              RunSpec("main", "bert4rec-ml1m", 1500, 200, 1)), 1,
                             "tuned gSASRec then BERT4Rec, each alone on the GPU (timed pair)"),
    "ml1m-baselines": _main_group(("sasrec-ml1m", "sasrec-ce-ml1m", "gsasrec-t1-ml1m"), 900,
                                  200, 2, "SASRec k=1, SASRec-CE, gSASRec t=1, in parallel"),
    "beauty-gsasrec": _main_group(("gsasrec-beauty",), 600, 50, 1,
                                  "gSASRec k=256 t=0.75 on Beauty, alone (timed pair)"),
    "beauty-gsasrec-tuned": _main_group(("gsasrec-beauty-tuned",), 600, 50, 1,
                                        "tuned gSASRec on Beauty, alone (timed pair)"),
    "beauty-bert4rec": _main_group(("bert4rec-beauty",), 900, 50, 1,
                                   "BERT4Rec on Beauty, alone (timed pair)"),
    "beauty-baselines": _main_group(("sasrec-beauty", "sasrec-ce-beauty", "gsasrec-t1-beauty"),
                                    600, 50, 1, "Beauty baselines, in parallel"),
    # tuning the tuned preset for time to its best checkpoint (the issue's "half BERT4Rec's
    # time"): a larger learning rate and batch; shared, so compare them by steps, not seconds
    "ml1m-tuned-speed": Group(tuple(
        RunSpec(f"speed-{name}", "gsasrec-ml1m-tuned", 900, 200, val_every, flags)
        for name, val_every, flags in (
            ("lr2e-3", 2, ("--lr", "2e-3")),
            ("lr3e-3", 2, ("--lr", "3e-3")),
            # an epoch is 24 steps at batch 256: validate every 4 (96 steps, as at 128)
            ("b256-lr2e-3", 4, ("--batch-size", "256", "--lr", "2e-3")),
            ("b256-lr3e-3", 4, ("--batch-size", "256", "--lr", "3e-3")),
        )), 4, "tuned gSASRec with larger learning rates and batches, in parallel"),
}
# the k x t grid as a Latin square: every group holds each k once and each t once, so every
# cell shares the GPU with the same mix of neighbours (its seconds stay comparable; its
# budget is in steps anyway)
for _g in range(len(GRID_T)):
    GROUPS[f"grid-{_g + 1}"] = Group(
        tuple(RunSpec("grid", "gsasrec-ml1m", None, GRID_PATIENCE, 2,
                      ("--negatives", str(k), "--t", f"{GRID_T[(i + _g) % len(GRID_T)]:g}"),
                      max_steps=GRID_STEPS)
              for i, k in enumerate(GRID_K)),
        len(GRID_K), "ML-1M k x t grid cells (gSASRec architecture, gBCE; t=0 is BCE)")


def expected_commands(group: Group, scale: float, deadline: float) -> int:
    """Commands a group needs if no run stops early (waves of `parallel` runs)."""
    waves = math.ceil(len(group.runs) / group.parallel)
    longest = max(r.budget_seconds(group.parallel) for r in group.runs) * scale + STARTUP_S
    return waves * math.ceil(longest * 1.1 / (deadline - GRACE_S))  # 10% validation overhead


def list_groups(scale: float, deadline: float) -> None:
    print(f"{'group':18} {'runs':>4} {'par':>3} {'budget s':>9} {'patience':>8} "
          f"{'commands':>8}  note")
    for name, group in GROUPS.items():
        budget = max(r.budget_seconds(group.parallel) for r in group.runs) * scale
        print(f"{name:18} {len(group.runs):4d} {group.parallel:3d} {budget:9.0f} "
              f"{group.runs[0].patience:8d} {expected_commands(group, scale, deadline):8d}  "
              f"{group.note}")


def supervise(pending: list[tuple[Path, list[str]]], args: argparse.Namespace, parallel: int,
              env: dict[str, str], logs: Path, record: dict, start: float) -> None:
    """Run the pending jobs, `parallel` at a time; at the deadline send SIGTERM (runs save
    last.pt) and kill what is still running GRACE_S later. Records each run's end."""
    running: dict[Path, tuple[subprocess.Popen, float]] = {}
    stopped = False
    while pending or running:
        left = args.deadline - (time.time() - start)
        while pending and len(running) < parallel and not stopped \
                and left > min(MIN_START_S, args.deadline / 4):
            folder, command = pending.pop(0)
            log = open(logs / log_name(folder), "a")
            log.write(f"\n### {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
            log.flush()
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            log.close()  # the child holds its own handle
            running[folder] = (process, time.time())
            print(f"started {folder.name} (pid {process.pid})", flush=True)
        if not running:
            break
        if left <= 0 and not stopped:
            stopped = True
            print(f"deadline: stopping {len(running)} run(s); repeat with --resume", flush=True)
            for process, _ in running.values():
                process.send_signal(signal.SIGTERM)
        for folder, (process, began) in list(running.items()):
            if process.poll() is None and not (stopped and left < -GRACE_S):
                continue
            if process.poll() is None:
                process.kill()
                process.wait()
            finished = (folder / "metrics.json").exists()
            record["runs"][folder.name] = {"exit_code": process.returncode,
                                           "wall_seconds": round(time.time() - began, 1),
                                           "finished": finished}
            if finished and not args.keep_last:
                (folder / "last.pt").unlink(missing_ok=True)
            print(f"{'finished' if finished else 'paused'} {folder.name} "
                  f"(exit {process.returncode}, {time.time() - began:.0f} s)", flush=True)
            del running[folder]
        time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", nargs="+", choices=sorted(GROUPS),
                        help="the runs to (continue to) train; several groups run together")
    parser.add_argument("--list", action="store_true", help="list the groups and budgets")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "paper")
    parser.add_argument("--resume", action="store_true",
                        help="continue runs that have a last.pt (finished runs are skipped)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every time budget")
    parser.add_argument("--deadline", type=float, default=DEADLINE_S,
                        help="wall seconds before running runs are stopped (to resume later)")
    parser.add_argument("--parallel", type=int, help="override the group's process count")
    parser.add_argument("--train-flags", default="",
                        help="extra `gsasrec train` flags for every run, e.g. '--device cuda' "
                        "(keep them identical across resumes)")
    parser.add_argument("--keep-last", action="store_true", help="keep last.pt of finished runs")
    parser.add_argument("--mps", action="store_true",
                        help="run the processes under CUDA MPS, so their kernels share the GPU "
                        "at once (benchmarks/shared_gpu.py measures the gain)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()
    if args.list or not args.group:
        list_groups(args.scale, args.deadline)
        return 0

    start = time.time()
    groups = [GROUPS[name] for name in dict.fromkeys(args.group)]
    group_name = "+".join(dict.fromkeys(args.group))
    extra = tuple(args.train_flags.split())
    parallel = args.parallel or sum(g.parallel for g in groups)
    logs = args.out / "logs"
    jobs = []
    for spec in (spec for g in groups for spec in g.runs):
        config = spec.config(args.seed, args.scale, extra)
        folder = args.out / spec.experiment / run_name(config)
        command = [sys.executable, "-m", "gsasrec", "train",
                   *spec.arguments(args.seed, args.scale, extra), "--out", str(folder),
                   "--resume", "--no-progress"]
        if folder not in {f for f, _ in jobs}:  # groups may share a run (the pairs' BERT4Rec)
            jobs.append((folder, command))
    for _folder, command in jobs:
        print(("[dry-run] " if args.dry_run else "") + " ".join(command[1:]), flush=True)
    if args.dry_run:
        return 0
    partial = [f for f, _ in jobs if (f / "last.pt").exists() and not (f / "metrics.json")
               .exists()]
    if partial and not args.resume:
        print(f"{len(partial)} run(s) have progress in last.pt (e.g. {partial[0]}); pass "
              "--resume to continue them, or delete them to start over", file=sys.stderr)
        return 2

    logs.mkdir(parents=True, exist_ok=True)
    pending = [(f, c) for f, c in jobs if not (f / "metrics.json").exists()]
    threads = str(max(1, (os.cpu_count() or 2) // parallel))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}
    record = {"group": group_name, "started": start, "argv": sys.argv, "runs": {},
              "environment": environment()}  # no CUDA context here
    with mps_daemon(args.mps) as mps_on:
        record["mps"] = mps_on
        supervise(pending, args, parallel, env, logs, record, start)

    record["wall_seconds"] = round(time.time() - start, 1)
    done = all((f / "metrics.json").exists() for f, _ in jobs)
    record["group_done"] = done
    atomic_write_json(logs / f"{group_name}-{time.strftime('%Y%m%d-%H%M%S')}.json", record)
    print(json.dumps({"group": group_name, "group_done": done,
                      "wall_seconds": record["wall_seconds"]}))
    print("group done" if done else "group not done: run the same command again with --resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
