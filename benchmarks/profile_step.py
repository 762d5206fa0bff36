"""Where the GPU time of one gsasrec-ml1m training step goes: kernels grouped by name.

The CUDA-graph step replays the same kernels as the eager step without the launch gaps, so
the kernel times of the eager bf16 step, summed, are the graph step's busy time; the table
says which kernels to fuse or avoid. Writes JSON (top kernels, sum per step) and prints it.

    python benchmarks/profile_step.py --out results/benchmarks/profile_step.json
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from common import ml1m_or_standin, random_batch_step, write_result
from torch.profiler import ProfilerActivity, profile

from gsasrec.config import PRESETS
from gsasrec.training import Trainer


def kernel_table(prof: Any, steps: int, top: int) -> tuple[list[dict[str, Any]], float, float]:
    """(rows of the `top` kernels by GPU time, kernel ms per step, kernels per step)."""
    rows = []
    total_us = 0.0
    launches = 0
    for event in prof.key_averages():
        device_us = getattr(event, "self_device_time_total", None)
        if device_us is None:
            device_us = getattr(event, "self_cuda_time_total", 0.0)
        if device_us <= 0 or event.device_type != torch.autograd.DeviceType.CUDA:
            continue
        total_us += device_us
        launches += event.count
        rows.append({"kernel": event.key[:120], "calls_per_step": event.count / steps,
                     "ms_per_step": device_us / steps / 1000.0})
    rows.sort(key=lambda row: -row["ms_per_step"])
    return rows[:top], total_us / steps / 1000.0, launches / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results/benchmarks/profile_step.json")
    parser.add_argument("--preset", default="gsasrec-ml1m")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps before profiling")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    data = ml1m_or_standin()
    config = PRESETS[args.preset].replace(device=args.device, cuda_graph=False,
                                          negatives_warmup_steps=0, **data)
    trainer = Trainer(config, None, progress=False)
    step = random_batch_step(trainer)
    for _ in range(args.warmup):
        step()
    activities = [ProfilerActivity.CPU]
    if trainer.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize(trainer.device)
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)
    if trainer.device.type == "cuda":  # torch's own view, in case kernel naming changes
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=25))
    rows, kernel_ms, kernels = kernel_table(prof, args.steps, args.top)
    print(f"kernel time per step: {kernel_ms:.3f} ms in {kernels:.0f} kernels")
    for row in rows:
        print(f"{row['ms_per_step']:8.4f} ms {row['calls_per_step']:6.1f}x  {row['kernel']}")
    write_result(args.out, {"benchmark": "profile_step", "preset": args.preset,
                            "dataset": config.dataset,
                            "mode": "eager (kernels as in the CUDA-graph step)",
                            "steps_profiled": args.steps, "kernel_ms_per_step": kernel_ms,
                            "kernels_per_step": kernels,
                            "top_kernels": rows}, trainer.device)


if __name__ == "__main__":
    main()
