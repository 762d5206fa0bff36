"""Multi-process training through torchrun and DistributedDataParallel.

`torchrun --nproc_per_node N -m gsasrec train ...` sets RANK, WORLD_SIZE and LOCAL_RANK;
each process then trains on a disjoint shard of every global batch (NCCL on GPUs, gloo on
CPUs), and only rank 0 validates into files and writes checkpoints and metrics. All ranks
hold identical parameters, so they reach identical early-stopping decisions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gsasrec.errors import GsasrecError


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str, requested: bool = False) -> DistributedContext:
    """Join the process group that torchrun describes in the environment (or stay single)."""
    if not (requested or launched_by_torchrun()):
        return DistributedContext()
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise GsasrecError("--distributed needs the torchrun environment (RANK, WORLD_SIZE); "
                           "start with `torchrun --nproc_per_node N -m gsasrec train ...`")
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, backend)


def device_for(context: DistributedContext, device: torch.device) -> torch.device:
    """Each rank takes its own GPU."""
    if context.active and device.type == "cuda":
        return torch.device("cuda", context.local_rank)
    return device


def agree_on_code(code: int, context: DistributedContext, device: torch.device) -> int:
    """The largest stop code over all ranks, so every rank stops at the same step."""
    if not context.active:
        return code
    flag = torch.tensor([code], dtype=torch.int64,
                        device=device if context.backend == "nccl" else "cpu")
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item())


def parameter_checksums(model: torch.nn.Module, context: DistributedContext) -> list[float]:
    """A float64 checksum of the parameters from every rank (equal when in sync)."""
    total = float(sum(p.detach().double().sum().item() + p.detach().double().abs().sum().item()
                      for p in model.parameters()))
    if not context.active:
        return [total]
    gathered: list[float | None] = [None] * context.world_size
    dist.all_gather_object(gathered, total)
    return [float(x) for x in gathered]


def teardown(context: DistributedContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()
