"""The training loop: Adam, bf16 autocast on GPU, early stopping on validation NDCG@10,
checkpoints that resume exactly, and a run folder written so it is never half-complete.

Run folder layout: config.json (at start), log.jsonl (one line per validation), best.pt
(model weights + config), last.pt (everything needed to resume), and, only once training
and the test evaluation have finished, predictions.npz and metrics.json.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gsasrec
from gsasrec import distributed
from gsasrec.config import TrainConfig
from gsasrec.data import Interactions, LeaveOneOutSplit, leave_one_out, load_dataset
from gsasrec.errors import GsasrecError
from gsasrec.evaluation import EvalResult, evaluate_ranking
from gsasrec.io import (
    atomic_savez,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    remove_stale_temporaries,
)
from gsasrec.io import environment as environment_info
from gsasrec.models import build_model
from gsasrec.objectives import make_objective
from gsasrec.theory import beta as beta_of
from gsasrec.theory import sampling_rate

CHECKPOINT_FORMAT = 1


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GsasrecError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GsasrecError(f"--device must be cpu, cuda, cuda:N or auto, got {name!r}") from None


def load_interactions(config: TrainConfig) -> Interactions:
    return load_dataset(config.dataset, config.data_file, config.synthetic_num_items,
                        config.synthetic_num_users, config.synthetic_seed)


def make_split(config: TrainConfig, interactions: Interactions) -> LeaveOneOutSplit:
    return leave_one_out(interactions, config.val_users, config.split_seed, config.split_mode)



def same_training(saved: object, current: dict) -> bool:
    """Whether a saved config trains the run `current` describes: every field but `extra`,
    whose free-form notes (e.g. the preset's name, recorded since 2026-11-29) never change
    the training, so older checkpoints still resume."""
    if not isinstance(saved, dict):
        return False
    return ({k: v for k, v in saved.items() if k != "extra"}
            == {k: v for k, v in current.items() if k != "extra"})

@dataclass
class TrainResult:
    """What `train` returns: the run folder, the model (best weights) and its metrics."""

    out_dir: Path | None
    model: torch.nn.Module
    config: TrainConfig
    split: LeaveOneOutSplit
    metrics: dict[str, Any]
    test: EvalResult
    history: list[dict[str, Any]] = field(default_factory=list)


class _StopRequest:
    """Turns SIGTERM / Ctrl-C into a flag the loop checks between steps."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    """Holds a run's state; `run()` trains, selects on validation and tests."""

    def __init__(self, config: TrainConfig, out_dir: str | Path | None = None, *,
                 interactions: Interactions | None = None, progress: bool = True,
                 command: str | None = None) -> None:
        config.validate()
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self.command = command
        self.device = resolve_device(config.device)
        self.dist = distributed.setup(self.device.type, requested=config.distributed)
        self.device = distributed.device_for(self.dist, self.device)
        self.interactions = interactions if interactions is not None else load_interactions(config)
        self.split = make_split(config, self.interactions)
        self.num_items = self.split.num_items
        config.validate(self.num_items)
        self.alpha = sampling_rate(min(config.num_negatives, self.num_items - 1), self.num_items)
        self.autocast_dtype = (torch.bfloat16 if self.device.type == "cuda"
                               and config.precision in ("auto", "bf16") else None)
        if self.device.type == "cpu" and config.precision == "bf16":
            self.autocast_dtype = torch.bfloat16
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.model = build_model(config, self.num_items).to(self.device)
        self.train_model: torch.nn.Module = self.model
        if self.dist.active:
            if config.batch_size % self.dist.world_size:
                raise GsasrecError(f"--batch-size ({config.batch_size}) must be divisible by "
                                   f"the number of processes ({self.dist.world_size})")
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            torch.manual_seed(config.seed + 7919 * self.dist.rank)  # own dropout per rank
        fused = self.device.type == "cuda"
        self.objective = make_objective(config, self.num_items, self.device)
        self.use_graph = (fused and config.cuda_graph and not config.compile
                          and not self.dist.active
                          and getattr(self.objective, "graph_safe", False))
        lr = torch.tensor(config.learning_rate, device=self.device) if self.use_graph \
            else config.learning_rate  # a tensor lr lets the scheduler change a captured step
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr,
                                          weight_decay=config.weight_decay, fused=fused,
                                          capturable=self.use_graph)
        if config.negatives_warmup_steps:
            self.objective.set_active_negatives(1)
        self.loss_fn = self.objective
        if config.compile:
            self.loss_fn = torch.compile(self.objective)
        # training rows: each user's last max_seq_len + 1 training items, right-padded
        rows, lengths = self.split.train.padded_tail(config.max_seq_len + 1)
        usable = lengths >= 2
        self.train_rows = torch.from_numpy(rows[usable]).to(self.device)
        self.train_lengths = torch.from_numpy(lengths[usable]).to(self.device)
        if config.train_window == "random":  # whole histories stay on the device, flat
            kept = self.split.train.select(np.flatnonzero(usable))
            self.train_flat = torch.from_numpy(kept.items).to(self.device)
            self.train_starts = torch.from_numpy(kept.offsets[:-1]).to(self.device)
            self.train_ends = torch.from_numpy(kept.offsets[1:]).to(self.device)
        self.num_train_users = int(usable.sum())
        if self.num_train_users == 0:
            raise GsasrecError("no user has two or more training items; the data is too short")
        self.order_generator = torch.Generator().manual_seed(config.seed)
        self.negative_generator = torch.Generator(device=self.device).manual_seed(
            config.seed + 1 + 7919 * self.dist.rank)  # the data order stays shared by all ranks
        self._graphed = None
        self._last_saved = -math.inf  # wall clock of the last last.pt write
        # progress state (saved in last.pt)
        self.epoch = 0
        self.step = 0
        self.batch_in_epoch = 0
        self.epoch_order: torch.Tensor | None = None
        self.epoch_loss_sum: torch.Tensor | None = None  # the interrupted epoch's loss so far
        self.epoch_loss_count = 0
        self.best_ndcg = -math.inf
        self.best_epoch = 0
        self.best_step = 0
        self.best_wall = None
        self.bad_validations = 0
        self.train_seconds = 0.0
        self.history: list[dict[str, Any]] = []
        self.stop_reason = ""

    # ----- checkpoints ---------------------------------------------------------------------
    def _path(self, name: str) -> Path | None:
        """Where to write `name`: only rank 0 writes files."""
        if self.out_dir is None or not self.dist.is_main:
            return None
        return self.out_dir / name

    def _file(self, name: str) -> Path | None:
        """Where to read `name` (every rank reads, for resume)."""
        return None if self.out_dir is None else self.out_dir / name

    def save_best(self) -> None:
        path = self._path("best.pt")
        if path is not None:
            atomic_torch_save(path, {
                "format": CHECKPOINT_FORMAT, "config": self.config.to_dict(),
                "num_items": self.num_items, "epoch": self.epoch, "step": self.step,
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            })
        self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def save_last(self) -> None:
        path = self._path("last.pt")
        if path is None:
            return
        state = {
            "format": CHECKPOINT_FORMAT, "config": self.config.to_dict(),
            "num_items": self.num_items, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch,
            "epoch_order": self.epoch_order, "best_ndcg": self.best_ndcg,
            "epoch_loss_sum": self.epoch_loss_sum, "epoch_loss_count": self.epoch_loss_count,
            "best_epoch": self.best_epoch, "best_step": self.best_step,
            "bad_validations": self.bad_validations, "train_seconds": self.train_seconds,
            "stop_reason": self.stop_reason, "best_wall": self.best_wall,
            "history": json.dumps(self.history),
            "rng_cpu": torch.get_rng_state(), "rng_order": self.order_generator.get_state(),
            "rng_negatives": self.negative_generator.get_state(),
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda"
            else torch.zeros(0, dtype=torch.uint8),
        }
        atomic_torch_save(path, state)
        self._last_saved = time.time()

    def load_last(self) -> bool:
        """Restore everything from last.pt; False when there is none to resume from."""
        path = self._file("last.pt")
        if path is None or not path.exists():
            return False
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as error:  # truncated, foreign, or holding code: never unpickled
            raise GsasrecError(f"{path}: unreadable checkpoint ({type(error).__name__}); "
                               "delete it to start over, or train into a new --out") from None
        if not isinstance(state, dict) or not same_training(state.get("config"),
                                                            self.config.to_dict()):
            raise GsasrecError(f"{path}: saved with a different config; resume with the same "
                               "flags, or start a new --out folder")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for name in ("epoch", "step", "batch_in_epoch", "best_ndcg", "best_epoch", "best_step",
                     "bad_validations", "train_seconds", "stop_reason", "best_wall"):
            setattr(self, name, state[name])
        self.epoch_order = state["epoch_order"]
        self.epoch_loss_sum = state.get("epoch_loss_sum")
        self.epoch_loss_count = state.get("epoch_loss_count", 0)
        self.history = json.loads(state["history"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        self.order_generator.set_state(state["rng_order"].cpu())
        self.negative_generator.set_state(state["rng_negatives"].cpu())
        if self.device.type == "cuda" and state["rng_cuda"].numel():
            torch.cuda.set_rng_state(state["rng_cuda"].cpu(), self.device)
        best = self._file("best.pt")
        if best is not None and best.exists():
            saved = torch.load(best, map_location=self.device, weights_only=True)
            self._best_state = saved["model"]
        return True

    # ----- evaluation ----------------------------------------------------------------------
    def evaluate(self, which: str) -> EvalResult:
        split = self.split
        inputs, targets = ((split.val_inputs, split.val_targets) if which == "validation"
                           else (split.test_inputs, split.test_targets))
        try:
            return evaluate_ranking(
                self.model, inputs, targets, self.num_items, self.config.max_seq_len,
                filter_seen=self.config.filter_seen, batch_size=self.config.eval_batch_size,
                device=self.device, autocast_dtype=self.autocast_dtype,
            )
        except torch.cuda.OutOfMemoryError:
            raise GsasrecError(f"GPU out of memory during {which} evaluation; lower "
                               "--eval-batch-size") from None

    # ----- the loop ------------------------------------------------------------------------
    def _t_now(self) -> float:
        warmup = self.config.gbce_t_warmup_steps
        if not warmup:
            return self.config.gbce_t
        return self.config.gbce_t * min(1.0, self.step / warmup)

    def _negatives_now(self) -> int:
        """Geometric warm-up of the number of negatives from 1 to k."""
        k = self.objective.num_negatives
        fraction = min(1.0, self.step / self.config.negatives_warmup_steps)
        return max(1, min(k, round(k ** fraction)))

    def _should_stop(self, start: float) -> str:
        cfg = self.config
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            return "max_steps"
        if cfg.time_budget is not None and self.train_seconds + time.perf_counter() - start \
                >= cfg.time_budget:
            return "time_budget"
        return ""

    def _random_windows(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A window of max_seq_len + 1 items ending anywhere in each user's history
        (departure from SASRec, which always trains on the most recent window)."""
        width = self.config.max_seq_len + 1
        starts, ends = self.train_starts[index], self.train_ends[index]
        total = ends - starts
        size = total.clamp(max=width)
        spare = total - size  # how far back the window may end
        shift = (torch.rand(index.shape, device=index.device) * (spare + 1)).long()
        first = ends - shift.clamp(max=spare) - size
        slots = torch.arange(width, device=index.device)
        position = (first[:, None] + slots[None, :]).clamp(max=self.train_flat.numel() - 1)
        rows = torch.where(slots[None, :] < size[:, None], self.train_flat[position], 0)
        return rows, size

    def _step_body(self, index: torch.Tensor, generator: torch.Generator | None
                   ) -> torch.Tensor:
        if self.config.train_window == "random":
            rows, lengths = self._random_windows(index)
        else:
            rows, lengths = self.train_rows[index], self.train_lengths[index]
        negatives = self.objective.negatives(rows[:, 1:], generator)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                            enabled=self.autocast_dtype is not None,
                            cache_enabled=not self.use_graph):  # graphs need no cast cache
            loss = self.loss_fn(self.train_model, rows, lengths, negatives)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def train_step(self, index: torch.Tensor) -> torch.Tensor:
        """One optimisation step on the training rows `index`; returns the loss (no sync)."""
        if self.config.gbce_t_warmup_steps:
            self.objective.set_t(self._t_now())
        if self.config.negatives_warmup_steps:
            self.objective.set_active_negatives(self._negatives_now())
        if self.config.lr_warmup_steps and self.step <= self.config.lr_warmup_steps:
            self._set_lr(self._lr_now())
        if self.use_graph:
            if self._graphed is None:
                from gsasrec.graphed import GraphedTrainStep

                try:
                    self._graphed = GraphedTrainStep(lambda i: self._step_body(i, None),
                                                     self.model, self.optimizer, len(index),
                                                     self.device)
                except RuntimeError as error:  # a failed capture leaves CUDA RNG unusable
                    raise GsasrecError(
                        f"CUDA graph capture of the training step failed ({error}); "
                        "rerun with --cuda-graph false") from None
            if self._graphed is not None:
                return self._graphed(index)
        self.optimizer.zero_grad(set_to_none=True)
        return self._step_body(index, self.negative_generator)

    def _lr_now(self) -> float:
        """Linear learning-rate warm-up, then constant (as the paper's Adam)."""
        warmup = self.config.lr_warmup_steps
        scale = min(1.0, (self.step + 1) / warmup) if warmup else 1.0
        return self.config.learning_rate * scale

    def _set_lr(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            if torch.is_tensor(group["lr"]):
                group["lr"].fill_(value)  # in place: a captured graph reads this tensor
            else:
                group["lr"] = value

    def _train_epoch(self, start: float, stop: _StopRequest, bar: Any) -> tuple[str, float]:
        cfg = self.config
        batch = min(cfg.batch_size, self.num_train_users)
        steps_per_epoch = self.num_train_users // batch  # drop the ragged tail: fixed shapes
        if self.epoch_order is None:
            self.epoch_order = torch.randperm(self.num_train_users, generator=self.order_generator)
            self.batch_in_epoch = 0
        order = self.epoch_order.to(self.device)
        loss_sum = (torch.zeros((), device=self.device) if self.epoch_loss_sum is None
                    else self.epoch_loss_sum.to(self.device))
        counted = self.epoch_loss_count
        while self.batch_in_epoch < steps_per_epoch:
            reason = self._should_stop(start) or (f"signal:{stop.reason}" if stop.reason else "")
            if self.dist.active:  # every rank must stop at the same step
                reason = self._agree(reason, stop)
            if reason:
                self.epoch_loss_sum, self.epoch_loss_count = loss_sum.detach().clone(), counted
                return reason, self._finite_mean(loss_sum, counted)  # never save diverged weights
            index = order[self.batch_in_epoch * batch:(self.batch_in_epoch + 1) * batch]
            if self.dist.active:  # a disjoint shard of the global batch per rank
                index = index[self.dist.rank::self.dist.world_size]
            loss_sum += self.train_step(index)
            counted += 1
            self.step += 1
            self.batch_in_epoch += 1
            if bar is not None:
                bar.update(1)
        self.epoch += 1
        self.epoch_order = None
        self.batch_in_epoch = 0
        self.epoch_loss_sum, self.epoch_loss_count = None, 0
        return "", self._finite_mean(loss_sum, counted)

    def _agree(self, reason: str, stop: _StopRequest) -> str:
        codes = ["", "max_steps", "time_budget", "signal"]
        code = distributed.agree_on_code(codes.index(reason.split(":")[0]), self.dist,
                                         self.device)
        if codes[code] == "signal":
            return f"signal:{stop.reason or 'another rank'}"
        return codes[code]

    def _finite_mean(self, loss_sum: torch.Tensor, counted: int) -> float:
        """The mean loss of the steps so far; a non-finite one stops training before anything
        is saved (checked once per epoch or stop, so steps need no host sync)."""
        mean_loss = loss_sum.item() / max(counted, 1)
        if not math.isfinite(mean_loss):
            last = self._file("last.pt")
            kept = (f"the last good checkpoint is kept in {last}; " if last is not None
                    and last.exists() else "")
            raise GsasrecError(
                f"training diverged: non-finite loss (nan or inf) by step {self.step}; {kept}"
                "lower --lr or use --precision fp32, and train into a new --out folder"
            )
        return mean_loss

    def _validate(self, mean_loss: float | None) -> bool:
        """Validate, log, keep the best weights; True when early stopping should fire."""
        metrics = self.evaluate("validation").metrics()
        now = time.time()
        entry = {"epoch": self.epoch, "step": self.step, "train_loss": mean_loss,
                 "t": self._t_now(), "lr": self._lr_now(),
                 **{f"val_{k}": v for k, v in metrics.items()},
                 "train_seconds": round(self.train_seconds, 3),
                 "process_seconds": round(now - gsasrec.PROCESS_START, 3)}
        self.history.append(entry)
        if metrics["ndcg@10"] > self.best_ndcg:
            self.best_ndcg, self.best_epoch, self.best_step = metrics["ndcg@10"], self.epoch, \
                self.step
            self.bad_validations = 0
            self.save_best()
            self.best_wall = time.time() - gsasrec.PROCESS_START
            entry["best"] = True
            entry["best_checkpoint_process_seconds"] = round(self.best_wall, 3)
            if self.config.track_test_of_best:  # for time-to-quality curves only, never selection
                entry.update({f"test_{k}": v for k, v in self.evaluate("test").metrics().items()})
        else:
            self.bad_validations += 1
        log = self._path("log.jsonl")
        if log is not None:
            atomic_write_bytes(log, "".join(json.dumps(e) + "\n" for e in self.history).encode())
        return self.bad_validations >= self.config.patience

    def run(self, resume: bool = False) -> TrainResult:
        cfg = self.config
        if self.out_dir is not None:
            if (self.out_dir / "metrics.json").exists() and not resume:
                raise GsasrecError(f"{self.out_dir} already holds a finished run; choose another "
                                   "--out, delete it, or pass --resume to re-use it")
        if self._path("config.json") is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.out_dir)  # half-written files of a killed run
            atomic_write_json(self.out_dir / "config.json", cfg.to_dict())
        resumed = resume and self.load_last()
        if self.stop_reason:  # resuming a run that had already stopped: only re-evaluate
            return self._finish(resumed=resumed)
        self.model.train()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        total = cfg.max_steps or ((cfg.max_epochs or 0) * (self.num_train_users //
                                  min(cfg.batch_size, self.num_train_users)) or None)
        bar = None
        if self.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=self.step, unit="step", dynamic_ncols=True,
                       desc=f"{cfg.model} {self.interactions.name}", file=sys.stderr)
        with _StopRequest() as stop:
            while True:
                start = time.perf_counter()
                try:
                    reason, mean_loss = self._train_epoch(start, stop, bar)
                except torch.cuda.OutOfMemoryError:
                    raise GsasrecError(
                        "GPU out of memory; lower --batch-size or --max-seq-len, use fewer "
                        "--negatives, or --scoring gather for large catalogues") from None
                finally:
                    self.train_seconds += time.perf_counter() - start
                if reason.startswith("signal"):
                    self.save_last()
                    raise GsasrecError(f"interrupted ({reason[7:]}); progress saved in "
                                       f"{self.out_dir}/last.pt: continue with --resume")
                if not reason and self.epoch % cfg.val_every_epochs == 0:
                    if self._validate(mean_loss):
                        reason = "early_stopping"
                    if time.time() - self._last_saved >= cfg.checkpoint_every_seconds:
                        self.save_last()
                    if bar is not None:
                        last_ndcg = self.history[-1]["val_ndcg@10"]
                        bar.set_postfix(loss=f"{mean_loss:.4f}", val_ndcg=f"{last_ndcg:.4f}",
                                        best=f"{self.best_ndcg:.4f}")
                if not reason and cfg.max_epochs is not None and self.epoch >= cfg.max_epochs:
                    reason = "max_epochs"
                if reason:
                    self.stop_reason = reason
                    break
        if bar is not None:
            bar.close()
        if not self.history or self.history[-1]["step"] != self.step:
            self._validate(None)  # a stop mid-epoch still gets its last validation
        self.save_last()
        return self._finish(resumed=resumed)

    def _finish(self, resumed: bool) -> TrainResult:
        self.model.load_state_dict(self._best_state)
        test = self.evaluate("test")
        validation = self.evaluate("validation")
        metrics = self._metrics(test, validation, resumed)
        if self._path("metrics.json") is not None:
            atomic_savez(
                self.out_dir / "predictions.npz",
                users=self.interactions.user_ids[self.split.users],
                targets=self.split.test_targets, target_scores=test.target_scores,
                ranks=test.ranks, top_items=test.top_items, top_scores=test.top_scores,
                log_normalisers=test.log_normalisers,
            )
            atomic_write_json(self.out_dir / "metrics.json", metrics)
        return TrainResult(self.out_dir, self.model, self.config, self.split, metrics, test,
                           self.history)

    def _metrics(self, test: EvalResult, validation: EvalResult, resumed: bool
                 ) -> dict[str, Any]:
        cfg = self.config
        loss = cfg.resolved_loss
        pick = ("ndcg@10", "recall@1", "recall@10")
        test_metrics, val_metrics = test.metrics(), validation.metrics()
        peak = (torch.cuda.max_memory_allocated(self.device) / 2**20
                if self.device.type == "cuda" else None)
        return {
            "dataset": self.interactions.name if cfg.data_file else cfg.dataset,
            "model": cfg.model,
            "loss": loss,
            "num_negatives": cfg.num_negatives if loss != "ce" else None,
            "gbce_t": cfg.gbce_t if loss == "gbce" else (0.0 if loss == "bce" else None),
            "alpha": self.alpha if loss != "ce" else None,
            "beta": float(beta_of(self.alpha, cfg.gbce_t if loss == "gbce" else 0.0))
            if loss in ("bce", "gbce") else None,
            "command": self.command,
            "validation": {k: val_metrics[k] for k in pick},
            "test": {k: test_metrics[k] for k in pick},
            "split": self.split.summary(),
            "training": {
                "epochs": self.epoch, "steps": self.step, "stop_reason": self.stop_reason,
                "early_stopped": self.stop_reason == "early_stopping",
                "patience": cfg.patience, "best_epoch": self.best_epoch,
                "best_step": self.best_step, "train_seconds": round(self.train_seconds, 3),
                "steps_per_second": round(self.step / self.train_seconds, 2)
                if self.train_seconds else None,
                "seconds_to_best_checkpoint": self.best_wall,
                "wall_seconds": round(time.time() - gsasrec.PROCESS_START, 3),
                "peak_gpu_memory_mb": peak, "resumed": resumed,
            },
            "distributed": {"world_size": self.dist.world_size, "backend": self.dist.backend,
                            "parameter_checksums": distributed.parameter_checksums(self.model,
                                                                                   self.dist)},
            "provenance": {"seed": cfg.seed, "split_seed": cfg.split_seed,
                           "device": str(self.device), **environment_info(str(self.device))},
        }


def train(config: TrainConfig, out_dir: str | Path | None = None, *, resume: bool = False,
          progress: bool = True, interactions: Interactions | None = None,
          command: str | None = None) -> TrainResult:
    """Train a model from a config, select on validation NDCG@10, evaluate on test."""
    trainer = Trainer(config, out_dir, interactions=interactions, progress=progress,
                      command=command)
    try:
        return trainer.run(resume=resume)
    finally:
        distributed.teardown(trainer.dist)
