"""Time-to-quality on ML-1M: test NDCG@10 of the validation-selected checkpoint against wall
time from process start (data loading, graph capture and validation included).

Runs each configuration alone with `--track-test true` (test metrics of every new best
checkpoint are logged, never used for selection), or, with `--from-logs`, rebuilds the
curves from finished run folders. Writes one JSON with a curve per run and the first time
a checkpoint scoring at least `--target` was saved.

    python benchmarks/time_to_quality.py --budget 180 --out results/benchmarks/time_to_quality.json
    python benchmarks/time_to_quality.py --from-logs results/ml1m-* --out /tmp/ttq.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from common import ROOT, write_result

CONFIGS = {  # label -> extra flags after the preset
    "gsasrec-ml1m (paper config, SASRec blocks)": ["--preset", "gsasrec-ml1m"],
    "gsasrec-ml1m without negatives warm-up": ["--preset", "gsasrec-ml1m",
                                               "--negatives-warmup-steps", "0"],
    "gsasrec-ml1m with pre-norm blocks": ["--preset", "gsasrec-ml1m",
                                          "--block-style", "pre-norm"],
    "gsasrec-ml1m-tuned (pre-norm, dropout 0.2)": ["--preset", "gsasrec-ml1m-tuned"],
    "gsasrec-ml1m, last.pt at most every 60 s": ["--preset", "gsasrec-ml1m",
                                                 "--checkpoint-every", "60"],
}


def curve(run_dir: Path, target: float) -> dict[str, Any]:
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    best = [e for e in log if e.get("best") and "test_ndcg@10" in e]
    points = [{"process_seconds": e["best_checkpoint_process_seconds"], "step": e["step"],
               "val_ndcg@10": e["val_ndcg@10"], "test_ndcg@10": e["test_ndcg@10"]} for e in best]
    reached = next((p for p in points if p["test_ndcg@10"] >= target), None)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"run": run_dir.name, "command": metrics.get("command"),
            "final_test": metrics.get("test"), "curve": points,
            f"first_checkpoint_with_test_ndcg@10>={target}": reached}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results/benchmarks/time_to_quality.json")
    parser.add_argument("--budget", type=float, default=180.0, help="training seconds per run")
    parser.add_argument("--target", type=float, default=0.17)
    parser.add_argument("--from-logs", nargs="*", type=Path)
    parser.add_argument("--configs", default="all",
                        help="comma-separated indices into CONFIGS, or 'all'")
    args = parser.parse_args()
    runs = []
    if args.from_logs:
        runs = [curve(path, args.target) for path in args.from_logs]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            chosen = list(CONFIGS.items())
            if args.configs != "all":
                chosen = [chosen[int(i)] for i in args.configs.split(",")]
            for number, (label, flags) in enumerate(chosen):
                out = Path(scratch) / f"config-{number}"  # one folder per config
                subprocess.run([sys.executable, "-m", "gsasrec", "train", *flags,
                                "--time-budget", str(args.budget), "--track-test", "true",
                                "--no-progress", "--out", str(out)], check=True, cwd=ROOT)
                runs.append({"label": label, **curve(out, args.target)})
                save(args, runs)  # after each run: a later failure keeps what is done
    save(args, runs)


def save(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    write_result(args.out, {"benchmark": "time_to_quality", "dataset": "ml-1m",
                            "training_budget_s": args.budget,
                            "target_test_ndcg@10": args.target, "runs": runs},
                 torch.device("cuda" if torch.cuda.is_available() else "cpu"))


if __name__ == "__main__":
    main()
