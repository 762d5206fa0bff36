"""Large catalogues on one GPU: gSASRec (k=256) on Gowalla-sized synthetic data, and where
full-softmax models (SASRec-CE, BERT4Rec) stop fitting or slow down as the catalogue grows.

Part 1 (`--part gowalla`): synthetic data of Gowalla size (1.3M items, 100k users, about
6M interactions, power-law popularity); gSASRec trains for a fixed number of steps (step
time, peak memory) and then ranks every user's test item against all 1.3M items.
Part 2 (`--part sizes`): step time and peak memory per step against catalogue size for
gSASRec (k=256), SASRec with full softmax and BERT4Rec; out-of-memory is a result.

    python benchmarks/large_catalogue.py --out results/benchmarks/large_catalogue.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import torch
from common import random_batch_step, time_steps, write_result

from gsasrec.config import PRESETS, TrainConfig
from gsasrec.data.synthetic import MarkovChainGenerator, SyntheticConfig
from gsasrec.errors import GsasrecError
from gsasrec.training import Trainer

CELL_PREFIX = "CELL "
SIZES = (10_000, 100_000, 1_000_000, 3_000_000)
MODELS = {  # name -> preset and overrides
    "gsasrec k=256": ("gsasrec-ml1m", {}),
    "sasrec-ce (full softmax)": ("sasrec-ce-ml1m", {}),
    "bert4rec (full softmax)": ("bert4rec-ml1m", {}),
}


def synthetic(num_items: int, num_users: int, mean_length: int, seed: int = 0):
    config = SyntheticConfig(num_items=num_items, num_users=num_users,
                             min_length=5, max_length=2 * mean_length - 5,
                             popularity_exponent=1.0, seed=seed)
    return MarkovChainGenerator(config).generate()


def measure(config: TrainConfig, interactions: Any, warmup: int, steps: int) -> dict[str, Any]:
    """Time `steps` training steps; out-of-memory is reported, not raised."""
    device = torch.device(config.device)
    row: dict[str, Any] = {}
    trainer = None
    try:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        trainer = Trainer(config, None, interactions=interactions, progress=False)
        row["ms_per_step"] = time_steps(random_batch_step(trainer), warmup, steps, device)
        row["scoring"] = ("full softmax" if config.resolved_loss == "ce"
                          else getattr(trainer.objective, "scoring", "full softmax"))
        row["status"] = "ok"
    except (RuntimeError, GsasrecError) as error:  # OOM, a failed capture, too large to index
        message = str(error)
        row["status"] = ("out of memory" if "out of memory" in message
                         else f"failed: {message.splitlines()[0][:160]}")
    if device.type == "cuda":
        row["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    row["trainer"] = trainer
    return row


def part_gowalla(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    interactions = synthetic(args.gowalla_items, args.gowalla_users, args.mean_length)
    generated = time.perf_counter() - started
    config = PRESETS["gsasrec-ml1m"].replace(dataset="synthetic", device=args.device,
                                             negatives_warmup_steps=0)
    row = measure(config, interactions, args.warmup, args.steps)
    trainer = row.pop("trainer")
    result = {"num_items": interactions.num_items, "num_users": interactions.num_users,
              "num_interactions": interactions.num_interactions,
              "generation_seconds": generated, **row}
    if trainer is not None:
        device = trainer.device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        evaluation = trainer.evaluate("test")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        result["eval_all_users_seconds"] = time.perf_counter() - t0
        result["eval_users"] = len(evaluation.ranks)
        result["eval_peak_memory_gb"] = (torch.cuda.max_memory_allocated(device) / 2**30
                                         if device.type == "cuda" else None)
    return result


def run_cell(args: argparse.Namespace) -> None:
    """One (catalogue size, model) measurement in its own process, printed as a JSON line:
    an out-of-memory error or a failed graph capture cannot spoil the cells after it."""
    size, name = args.cell
    preset, overrides = MODELS[name]
    interactions = synthetic(int(size), args.size_users, args.mean_length, seed=1)
    config = PRESETS[preset].replace(dataset="synthetic", device=args.device,
                                     negatives_warmup_steps=0, cuda_graph=not args.eager,
                                     **overrides)
    row = measure(config, interactions, args.warmup, args.steps)
    row.pop("trainer")
    row = {"num_items": int(size), "model": name, "batch_size": config.batch_size,
           "max_seq_len": config.max_seq_len,
           "mode": "eager" if args.eager or config.device == "cpu" else "cuda-graph", **row}
    print(CELL_PREFIX + json.dumps(row), flush=True)


def cell_in_subprocess(args: argparse.Namespace, size: int, name: str, eager: bool
                       ) -> dict[str, Any]:
    command = [sys.executable, __file__, "--cell", str(size), name, "--device", args.device,
               "--size-users", str(args.size_users), "--mean-length", str(args.mean_length),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if eager:
        command.append("--eager")
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=args.cell_timeout)
    except subprocess.TimeoutExpired:
        return {"num_items": size, "model": name, "status": f"over {args.cell_timeout:g} s"}
    for line in done.stdout.splitlines():
        if line.startswith(CELL_PREFIX):
            return json.loads(line[len(CELL_PREFIX):])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    status = "out of memory" if "out of memory" in done.stderr else f"failed: {last[:160]}"
    return {"num_items": size, "model": name, "status": status}


def part_sizes(args: argparse.Namespace, on_row: Any = None) -> list[dict[str, Any]]:
    """The catalogue-size table; a cell whose CUDA-graph step fails is measured again in
    eager mode (a captured graph keeps its own memory pool, so it can need more memory)."""
    rows = []
    for size in args.sizes:
        for name in MODELS:
            row = cell_in_subprocess(args, size, name, eager=False)
            if row["status"] != "ok" and args.device != "cpu":
                row = {**cell_in_subprocess(args, size, name, eager=True),
                       "cuda_graph_status": row["status"]}
            rows.append(row)
            print(row, flush=True)
            if on_row is not None:
                on_row(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results/benchmarks/large_catalogue.json")
    parser.add_argument("--part", choices=["gowalla", "sizes", "both"], default="both")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--gowalla-items", type=int, default=1_300_000)
    parser.add_argument("--gowalla-users", type=int, default=100_000)
    parser.add_argument("--mean-length", type=int, default=60)
    parser.add_argument("--size-users", type=int, default=20_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--cell-timeout", type=float, default=150.0,
                        help="seconds before one size/model cell counts as too slow")
    parser.add_argument("--cell", nargs=2, metavar=("SIZE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--eager", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        run_cell(args)
        return
    payload: dict[str, Any] = {"benchmark": "large_catalogue", "steps_timed": args.steps}
    if args.part in ("gowalla", "both"):
        payload["gowalla_sized"] = part_gowalla(args)
        print(payload["gowalla_sized"], flush=True)
        write_result(args.out, payload, torch.device(args.device))  # kept if later parts fail
    if args.part in ("sizes", "both"):
        def keep(rows: list[dict[str, Any]]) -> None:
            write_result(args.out, {**payload, "catalogue_sizes": rows},
                         torch.device(args.device))

        payload["catalogue_sizes"] = part_sizes(args, keep)
    write_result(args.out, payload, torch.device(args.device))
    print_table(payload.get("catalogue_sizes", []))


def print_table(rows: list[dict[str, Any]]) -> None:
    """Catalogue size against step time and peak memory, one column per model."""
    if not rows:
        return
    models = list(dict.fromkeys(row["model"] for row in rows))
    print("\nms per training step (peak GPU memory GiB) against catalogue size")
    print(f"{'items':>10} " + " ".join(f"{m:>28}" for m in models))
    for size in dict.fromkeys(row["num_items"] for row in rows):
        cells = []
        for model in models:
            row = next(r for r in rows if r["num_items"] == size and r["model"] == model)
            if row["status"] != "ok":
                cells.append(f"{row['status'][:28]:>28}")
                continue
            memory = row.get("peak_memory_gb")
            extra = f" ({memory:.1f})" if memory is not None else ""
            cells.append(f"{row['ms_per_step']:.1f}{extra} {row.get('mode', '')}".rjust(28))
        print(f"{size:>10,} " + " ".join(cells))


if __name__ == "__main__":
    main()
