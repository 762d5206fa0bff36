"""The whole training step (sampling, forward, backward, Adam) captured as one CUDA graph.

An eager step launches a few hundred small kernels; at ML-1M's size the GPU then waits on
the CPU. Replaying a captured graph removes that launch cost. Inputs live in static
buffers: the batch's row indices are copied in, and t, alpha and the number of active
negatives are 0-d tensors the objective reads, so warm-ups need no re-capture.
Negatives come from the default CUDA generator, which graph replay advances safely.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class GraphedTrainStep:
    """Captures `body(index) -> loss` once; each call copies `index` in and replays."""

    def __init__(self, body: Callable[[torch.Tensor], torch.Tensor], model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, batch_size: int, device: torch.device,
                 warmup_steps: int = 3) -> None:
        self.index = torch.zeros(batch_size, dtype=torch.int64, device=device)
        # the warm-up steps really update the model: undo them after capture
        saved_params = [p.detach().clone() for p in model.parameters()]
        saved_state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                       for p, s in optimizer.state.items()}
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):  # warm-up allocates optimizer state and caches kernels
            for _ in range(warmup_steps):
                optimizer.zero_grad(set_to_none=True)
                body(self.index)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.loss = body(self.index)
        with torch.no_grad():
            for param, saved in zip(model.parameters(), saved_params, strict=True):
                param.copy_(saved)
            for param, state in optimizer.state.items():
                for key, value in state.items():
                    if not torch.is_tensor(value):
                        continue
                    if param in saved_state:
                        value.copy_(saved_state[param][key])
                    else:
                        value.zero_()  # fresh optimizer: moments and step count start at 0

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        self.index.copy_(index, non_blocking=True)
        self.graph.replay()
        return self.loss
