"""Notebook (papermill) parameters, checked before any work starts: a wrong type or value
stops the notebook at once with one GsasrecError naming the parameter and what it must be.

Rules go by parameter name, one spelling for the same thing in every notebook:

    validate_notebook_parameters(quick=quick, num_items=num_items, k_values=k_values)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from gsasrec.errors import GsasrecError

Check = Callable[[str, Any], Any]


def _fail(name: str, value: Any, expected: str) -> GsasrecError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return GsasrecError(f"notebook parameter {name} must be {expected}, "
                        f"got {shown} ({type(value).__name__})")


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, value, "True or False")
    return value


def integer(low: int | None = None, high: int | None = None) -> Check:
    """An int (not a bool) in [low, high]."""
    bounds = " and ".join(([f">= {low}"] if low is not None else []) +
                          ([f"<= {high}"] if high is not None else []))
    expected = "an integer" + (f" {bounds}" if bounds else "")

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or \
                (low is not None and value < low) or (high is not None and value > high):
            raise _fail(name, value, expected)
        return value
    return check


def number(low: float, high: float) -> Check:
    """A finite int or float in [low, high], returned as a float."""
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value) or not low <= value <= high:
            raise _fail(name, value, f"a number in [{low:g}, {high:g}]")
        return float(value)
    return check


def text(choices: tuple[str, ...] | None = None) -> Check:
    """A non-empty string, one of `choices` when given."""
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            raise _fail(name, value, "a non-empty string")
        if choices is not None and value not in choices:
            raise _fail(name, value, f"one of {', '.join(choices)}")
        return value
    return check


def items(of: Check, unique: bool = False) -> Check:
    """A non-empty list (or tuple) whose every element passes `of`."""
    def check(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list | tuple) or not value:
            raise _fail(name, value, "a non-empty list")
        checked = [of(f"{name}[{i}]", element) for i, element in enumerate(value)]
        if unique and len(set(map(repr, checked))) < len(checked):
            raise _fail(name, value, "a list without repeats")
        return checked
    return check


def k_t_pair(name: str, value: Any) -> list[Any]:
    """A [k, t] cell of the k x t grid: k >= 1 negatives, t in [0, 1]."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _fail(name, value, "a pair [k, t]")
    return [integer(1)(f"{name} k", value[0]), number(0.0, 1.0)(f"{name} t", value[1])]


def _datasets() -> tuple[str, ...]:
    from gsasrec.data.registry import DATASETS

    return (*DATASETS, "synthetic")


def _preset_stems() -> tuple[str, ...]:
    from gsasrec.config import preset_stems

    return preset_stems()


# name -> check; a callable without a name argument builds the check when it is needed
RULES: dict[str, Check] = {
    "quick": boolean,
    "retrain_on_gpu": boolean,
    "num_items": integer(3),
    "num_users": integer(1),
    "num_contexts": integer(1),
    "steps": integer(1),
    "epochs": integer(1),
    "quick_epochs": integer(1),
    "embedding_dim": integer(1),
    "top_k": integer(1),
    "num_bins": integer(1),
    "seed": integer(0, 2**32 - 1),
    "k_values": items(integer(1), unique=True),
    "quick_grid_k": items(integer(1), unique=True),
    "t_values": items(number(0.0, 1.0), unique=True),
    "quick_grid_t": items(number(0.0, 1.0), unique=True),
    "cells": items(k_t_pair, unique=True),
    "output_dir": text(),
    "results_dir": text(),
    "benchmarks_dir": text(),
    "time_to_quality_files": items(text(), unique=True),
    "target_ndcg": number(0.0, 1.0),
    "gpu_groups": items(text(), unique=True),
    "datasets": lambda name, value: items(text(_datasets()), unique=True)(name, value),
    "grid_dataset": lambda name, value: text(_datasets())(name, value),
    "models": lambda name, value: items(text(_preset_stems()), unique=True)(name, value),
}


def validate_notebook_parameters(**values: Any) -> dict[str, Any]:
    """Check each parameter by its name's rule; return them checked (ints given for floats
    become floats). A name with no rule is refused, so a new parameter gets one."""
    unknown = sorted(set(values) - set(RULES))
    if unknown:
        raise GsasrecError(f"notebook parameter(s) {', '.join(unknown)} have no check; add "
                           "a rule to gsasrec.params.RULES")
    checked = {name: RULES[name](name, value) for name, value in values.items()}
    num_items = checked.get("num_items")
    if num_items is not None:  # a negative sample needs items besides the positive one
        ks = [("k_values", k) for k in checked.get("k_values", [])] + \
             [("cells", k) for k, _ in checked.get("cells", [])]
        for name, k in ks:
            if k >= num_items:
                raise GsasrecError(f"notebook parameter {name} holds k = {k}, which must be "
                                   f"below num_items ({num_items})")
    return checked
