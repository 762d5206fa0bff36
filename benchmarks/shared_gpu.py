"""Steps per second of several training processes sharing one GPU, with and without CUDA MPS.

The k x t grid trains 25 small models. One gSASRec ML-1M step is ~330 short kernels in
~3.3 ms; without MPS the GPU takes the processes in turns, so N of them together make
little more progress than one, while under MPS their kernels run side by side. Each worker
is a real `gsasrec train` step (the paper's configuration with the grid's k values in
turn, CUDA-graph step when on CUDA): it builds its trainer, warms up, waits for a common
start, steps for --seconds and reports how many steps it made. The baseline is N processes
without MPS, measured in the same run.

    python benchmarks/shared_gpu.py --configs off:1,off:5,on:5,on:25 \
        --out results/benchmarks/shared_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import ml1m_or_standin, mps_daemon, random_batch_step, write_result
from paper_runs import GRID_K  # the grid's negatives, given to the workers in turn

from gsasrec.config import PRESETS
from gsasrec.training import Trainer

READY_TIMEOUT_S = 300.0


def worker(args: argparse.Namespace) -> None:
    """One process: build, warm up, say ready, wait for the start, step, report."""
    config = PRESETS["gsasrec-ml1m"].replace(device=args.device, num_negatives=args.k,
                                             **ml1m_or_standin())
    trainer = Trainer(config, None, progress=False)
    step = random_batch_step(trainer, seed=args.k)
    for _ in range(args.warmup):
        step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    Path(args.ready).write_text("ready")
    while not Path(args.go).exists():
        time.sleep(0.01)
    start = float(Path(args.go).read_text())
    while time.time() < start:
        time.sleep(0.001)
    steps = 0
    began = time.perf_counter()
    while time.time() < start + args.seconds:
        step()
        steps += 1
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    seconds = time.perf_counter() - began
    Path(args.result).write_text(json.dumps({"k": args.k, "steps": steps, "seconds": seconds}))


def measure(processes: int, mps: bool, args: argparse.Namespace) -> dict:
    """Start `processes` workers (under MPS when asked) and sum their steps per second."""
    with mps_daemon(mps) as mps_on, tempfile.TemporaryDirectory() as folder:
        row = {"processes": processes, "mps_requested": mps, "mps": mps_on}
        tmp = Path(folder)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        workers = []
        for i in range(processes):
            k = GRID_K[i % len(GRID_K)] if processes > 1 else args.single_k
            command = [sys.executable, __file__, "--worker", "--k", str(k), "--device",
                       args.device, "--warmup", str(args.warmup), "--seconds",
                       str(args.seconds), "--ready", str(tmp / f"ready{i}"), "--go",
                       str(tmp / "go"), "--result", str(tmp / f"result{i}.json")]
            workers.append(subprocess.Popen(command, env=env))
        deadline = time.time() + READY_TIMEOUT_S
        while not all((tmp / f"ready{i}").exists() for i in range(processes)):
            if time.time() > deadline or any(w.poll() not in (None, 0) for w in workers):
                for w in workers:
                    w.kill()
                return {**row, "status": "workers failed"}
            time.sleep(0.1)
        (tmp / "go.tmp").write_text(f"{time.time() + 1.0}")
        (tmp / "go.tmp").rename(tmp / "go")
        codes = [w.wait() for w in workers]
        results = [json.loads((tmp / f"result{i}.json").read_text())
                   for i in range(processes) if (tmp / f"result{i}.json").exists()]
    if len(results) < processes:
        return {**row, "status": f"exit codes {codes}"}
    total = sum(r["steps"] / r["seconds"] for r in results)
    return {**row, "status": "ok", "steps_per_second": total, "per_process": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/benchmarks/shared_gpu.json")
    parser.add_argument("--configs", default="off:1,off:5,on:5,on:25",
                        help="MPS on/off and process count, e.g. off:5,on:5")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per config")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--single-k", type=int, default=256, help="k of a lone process")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, default=256, help=argparse.SUPPRESS)
    for name in ("--ready", "--go", "--result"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    rows = []
    for item in args.configs.split(","):
        mode, count = item.split(":")
        rows.append(measure(int(count), mode == "on", args))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "per_process"}), flush=True)
    for row in rows:  # against the same number of processes without MPS, same run
        base = next((r for r in rows if r["processes"] == row["processes"] and not r["mps"]
                     and r["status"] == "ok"), None)
        if row["status"] == "ok" and base is not None:
            row["ratio_vs_no_mps_same_processes"] = row["steps_per_second"] / base[
                "steps_per_second"]
    lone = next((r for r in rows if r["processes"] == 1 and not r["mps"]
                 and r["status"] == "ok"), None)
    print(f"{'processes':>9s} {'mps':>5s} {'steps/s':>9s} {'x 1 proc':>8s} {'x no MPS':>8s}")
    for row in rows:
        if row["status"] != "ok":
            print(f"{row['processes']:9d} {str(row['mps']):>5s} {row['status']}")
            continue
        row["ratio_vs_one_process"] = (row["steps_per_second"] / lone["steps_per_second"]
                                       if lone else None)
        print(f"{row['processes']:9d} {str(row['mps']):>5s} {row['steps_per_second']:9.1f} "
              f"{row['ratio_vs_one_process'] or 0:8.2f} "
              f"{row.get('ratio_vs_no_mps_same_processes') or 0:8.2f}")
    write_result(args.out, {"benchmark": "shared_gpu", "configuration": "gsasrec-ml1m, k in "
                            f"{list(GRID_K)} in turn", "seconds_timed": args.seconds,
                            "warmup_steps": args.warmup, "rows": rows},
                 torch.device(args.device))


if __name__ == "__main__":
    main()
