"""Training throughput of the gsasrec-ml1m configuration (k=256, B=128, L=200, d=128).

Every variant runs the project's own training step on the same data in the same process;
the baseline is that step in eager float32 gathering the k + 1 scored embeddings, with
negatives sampled on the GPU. Prints a table and writes JSON with ms_per_step per variant,
the ratio to the baseline, full-ranking evaluation time of all users, and a floor estimate.

    python benchmarks/train_throughput.py --out results/benchmarks/train_throughput.json
"""

from __future__ import annotations

import argparse
import time

import torch
from common import ml1m_or_standin, random_batch_step, time_steps, write_result

from gsasrec import objectives
from gsasrec.config import PRESETS
from gsasrec.errors import GsasrecError
from gsasrec.training import Trainer

VARIANTS = [  # name, precision, scoring, mode (eager | compiled | graph), preset
    ("baseline eager fp32 gather", "fp32", "gather", "eager", "gsasrec-ml1m"),
    ("eager fp32 full", "fp32", "full", "eager", "gsasrec-ml1m"),
    ("eager bf16 gather", "bf16", "gather", "eager", "gsasrec-ml1m"),
    ("eager bf16 full", "bf16", "full", "eager", "gsasrec-ml1m"),
    ("compiled bf16 full", "bf16", "full", "compiled", "gsasrec-ml1m"),
    ("cuda-graph bf16 full", "bf16", "full", "graph", "gsasrec-ml1m"),
    ("cuda-graph bf16 gather", "bf16", "gather", "graph", "gsasrec-ml1m"),
    ("cuda-graph fp32 full", "fp32", "full", "graph", "gsasrec-ml1m"),
    ("sasrec k=1 eager bf16 gather", "bf16", "gather", "eager", "sasrec-ml1m"),
    ("sasrec k=1 cuda-graph bf16 gather", "bf16", "gather", "graph", "sasrec-ml1m"),
    ("sasrec k=1 cuda-graph bf16 full", "bf16", "full", "graph", "sasrec-ml1m"),
    # the item table as it is (3,417 rows) rather than padded to a multiple of 64 rows
    ("cuda-graph bf16 full, unpadded table", "bf16", "full", "graph", "gsasrec-ml1m", 1),
]


def floor_estimate(num_items: int, batch: int, length: int, dim: int, blocks: int,
                   k: int) -> dict[str, float]:
    """FLOPs and bytes of one step with full scoring, and the time they need at the ceilings
    measured on an H200 here (~790 TFLOP/s bf16 matmul, ~4.3 TB/s copy)."""
    positions = batch * length
    macs_per_position = blocks * (4 * dim * dim + 2 * dim * dim + 2 * length * dim) \
        + (num_items + 1) * dim
    flops = 3 * 2 * macs_per_position * positions  # forward + backward (2x forward)
    logits_bytes = positions * (num_items + 1) * 2  # bf16 logits
    # logits: written forward, read by the gather, gradient written and read backward
    bytes_moved = 4 * logits_bytes + positions * (k + 1) * 4 * 3
    return {"gflop": flops / 1e9, "gbytes": bytes_moved / 1e9,
            "compute_floor_ms": flops / 790e12 * 1e3, "memory_floor_ms": bytes_moved / 4.3e12 * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results/benchmarks/train_throughput.json")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--variants", default="all", help="comma-separated indices or 'all'")
    args = parser.parse_args()
    data = ml1m_or_standin()
    base = PRESETS["gsasrec-ml1m"].replace(device=args.device, **data)
    chosen = VARIANTS if args.variants == "all" else [VARIANTS[int(i)]
                                                      for i in args.variants.split(",")]
    rows = []
    padding = objectives.FULL_SCORING_ROW_MULTIPLE
    for name, precision, scoring, mode, preset, *rest in chosen:
        objectives.FULL_SCORING_ROW_MULTIPLE = rest[0] if rest else padding
        config = PRESETS[preset].replace(device=args.device, precision=precision,
                                         scoring=scoring, compile=mode == "compiled",
                                         cuda_graph=mode == "graph", **data)
        trainer = Trainer(config, None, progress=False)
        device = trainer.device
        batch = config.batch_size
        started = time.perf_counter()
        try:
            ms = time_steps(random_batch_step(trainer), args.warmup, args.steps, device)
        except (GsasrecError, RuntimeError) as error:  # e.g. a capture that fails: a result
            rows.append({"variant": name, "mode": mode,
                         "status": f"failed: {str(error).splitlines()[0][:200]}"})
            print(f"{name}: {rows[-1]['status']}", flush=True)
            del trainer
            continue
        rows.append({"variant": name, "preset": preset, "precision": precision, "scoring": scoring,
                     "mode": mode, "table_row_multiple": objectives.FULL_SCORING_ROW_MULTIPLE,
                     "ms_per_step": ms, "steps_per_second": 1000 / ms,
                     "sequences_per_second": 1000 / ms * batch,
                     "variant_wall_seconds": time.perf_counter() - started})
        # full-ranking evaluation of every test user (seen items masked)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        trainer.evaluate("test")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rows[-1]["eval_all_users_seconds"] = time.perf_counter() - t0
        del trainer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    baseline = rows[0].get("ms_per_step")
    print(f"{'variant':32s} {'ms/step':>9s} {'steps/s':>9s} {'seq/s':>9s} {'x base':>7s}")
    for row in rows:
        if "ms_per_step" not in row:
            print(f"{row['variant']:32s} {row['status']}")
            continue
        row["speedup_vs_baseline"] = baseline / row["ms_per_step"] if baseline else None
        print(f"{row['variant']:32s} {row['ms_per_step']:9.2f} {row['steps_per_second']:9.1f} "
              f"{row['sequences_per_second']:9.0f} {row['speedup_vs_baseline'] or 0:7.1f}")
    num_items = 3416
    write_result(args.out, {
        "benchmark": "train_throughput", "configuration": "gsasrec-ml1m (k=256, t=0.75, "
        "B=128, L=200, d=128, 2 blocks, 1 head)", "dataset": base.dataset,
        "baseline": VARIANTS[0][0], "steps_timed": args.steps, "warmup_steps": args.warmup,
        "variants": rows,
        "floor_estimate": floor_estimate(num_items, base.batch_size, base.max_seq_len,
                                         base.embedding_dim, base.num_blocks,
                                         base.num_negatives),
    }, torch.device(args.device))


if __name__ == "__main__":
    main()
