"""Notebook parameters are checked before work starts, with the parameter named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gsasrec.errors import GsasrecError
from gsasrec.params import validate_notebook_parameters

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def parameters_of(notebook: Path) -> dict[str, object]:
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    values: dict[str, object] = {}
    exec("".join(cell["source"]), {}, values)  # flat literals only, by the notebooks' style
    return values


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_every_notebook_default_passes(notebook: Path) -> None:
    values = parameters_of(notebook)
    assert validate_notebook_parameters(**values).keys() == values.keys()


@pytest.mark.parametrize(("values", "message"), [
    ({"num_items": "1000"}, r"num_items must be an integer >= 3, got '1000' \(str\)"),
    ({"num_items": 2}, "num_items must be an integer >= 3"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"quick": "False"}, "quick must be True or False"),
    ({"t_values": [0.0, 1.5]}, r"t_values\[1\] must be a number in \[0, 1\]"),
    ({"t_values": []}, "t_values must be a non-empty list"),
    ({"k_values": [1, 4, 4]}, "k_values must be a list without repeats"),
    ({"cells": [[16, 0.5], [0, 1.0]]}, r"cells\[1\] k must be an integer >= 1"),
    ({"cells": [[16, float("nan")]]}, r"cells\[0\] t must be a number"),
    ({"datasets": ["ml-1m", "ml-2m"]}, r"datasets\[1\] must be one of"),
    ({"models": ["gsasrec", "sasrec-ml1m"]}, r"models\[1\] must be one of"),
    ({"output_dir": ""}, "output_dir must be a non-empty string"),
    ({"num_items": 100, "k_values": [1, 256]}, "k = 256, which must be below num_items"),
    ({"epoch": 5}, r"epoch have no check"),
])
def test_a_bad_value_is_refused_naming_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(GsasrecError, match=message):
        validate_notebook_parameters(**values)


def test_checked_values_come_back_normalised() -> None:
    checked = validate_notebook_parameters(t_values=[0, 1], cells=[(16, 1)], seed=0)
    assert checked == {"t_values": [0.0, 1.0], "cells": [[16, 1.0]], "seed": 0}
    assert isinstance(checked["t_values"][0], float)
