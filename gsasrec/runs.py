"""Run folders as objects: load a trained run, re-evaluate it, recommend from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gsasrec.config import TrainConfig
from gsasrec.data import Interactions, LeaveOneOutSplit
from gsasrec.data.interactions import Sequences
from gsasrec.errors import GsasrecError
from gsasrec.evaluation import EvalResult, evaluate_ranking
from gsasrec.io import read_json
from gsasrec.models import build_model


@dataclass
class Run:
    """A trained model with its config and the metrics it was stored with."""

    path: Path
    config: TrainConfig
    model: torch.nn.Module
    num_items: int
    metrics: dict[str, Any]

    @property
    def loss(self) -> str:
        return self.config.resolved_loss

    def probabilities(self, scores: np.ndarray, log_normalisers: np.ndarray | None = None
                      ) -> np.ndarray:
        """Scores read as probabilities: sigmoid for BCE/gBCE, softmax for CE losses."""
        from gsasrec.calibration import scores_to_probabilities

        return scores_to_probabilities(scores, self.loss, log_normalisers)

    def evaluate(self, interactions: Interactions | None = None, device: str = "cpu",
                 which: str = "test") -> tuple[dict[str, float], EvalResult, LeaveOneOutSplit]:
        """Rebuild the run's data and split from its config and rank its test targets again."""
        from gsasrec.training import load_interactions, make_split

        interactions = interactions or load_interactions(self.config)
        split = make_split(self.config, interactions)
        inputs, targets = ((split.test_inputs, split.test_targets) if which == "test"
                           else (split.val_inputs, split.val_targets))
        self.model.to(device)
        result = evaluate_ranking(self.model, inputs, targets, self.num_items,
                                  self.config.max_seq_len, self.config.filter_seen,
                                  self.config.eval_batch_size, device=device)
        return result.metrics(), result, split

    @torch.no_grad()
    def recommend(self, histories: Mapping[Any, Sequence[int]], k: int = 10,
                  filter_seen: bool = True, device: str = "cpu") -> pd.DataFrame:
        """Top-k items for each history (internal item ids, oldest first).

        Returns one row per (user, rank) with item, score and predicted probability.
        """
        users = list(histories)
        sequences = Sequences.from_lists([np.asarray(histories[u], dtype=np.int64)
                                          for u in users])
        if len(sequences.items) and (sequences.items.min() < 1
                                     or sequences.items.max() > self.num_items):
            raise GsasrecError(f"item ids must be in 1..{self.num_items}")
        # target 0 (padding) matches no item, so the seen filter spares nothing: a real item
        # as a dummy target would escape the filter, as a target always does
        no_targets = np.zeros(len(users), dtype=np.int64)
        self.model.to(device)
        result = evaluate_ranking(self.model, sequences, no_targets, self.num_items,
                                  self.config.max_seq_len, filter_seen, top_k=k, device=device)
        probabilities = self.probabilities(result.top_scores, result.log_normalisers)
        k = result.top_items.shape[1]
        frame = pd.DataFrame({
            "user": np.repeat(np.asarray(users, dtype=object), k),
            "rank": np.tile(np.arange(1, k + 1), len(users)),
            "item": result.top_items.reshape(-1),
            "score": result.top_scores.reshape(-1),
            "probability": probabilities.reshape(-1),
        })
        # fewer than k unseen items: the rest of the top-k are masked (-inf) seen items
        return frame[np.isfinite(frame["score"].to_numpy())].reset_index(drop=True)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[TrainConfig, torch.nn.Module,
                                                                     int]:
    """Rebuild a model from a checkpoint file alone (weights_only: no code is unpickled)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise GsasrecError(f"{path}: checkpoint not found") from None
    except Exception as error:  # truncated or foreign files raise many types
        raise GsasrecError(f"{path}: unreadable checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise GsasrecError(f"{path}: not a gsasrec checkpoint")
    config = TrainConfig.from_dict(state["config"])
    model = build_model(config, int(state["num_items"]))
    model.load_state_dict(state["model"])
    model.eval()
    return config, model.to(device), int(state["num_items"])


def load_run(path: str | Path, device: str = "cpu") -> Run:
    """Load a run folder (best.pt, metrics.json when present)."""
    path = Path(path)
    if not path.is_dir():
        raise GsasrecError(f"{path}: no such run folder")
    config, model, num_items = load_checkpoint(path / "best.pt", device)
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    return Run(path, config, model, num_items, metrics)
