"""Execute every notebooks/*.ipynb with papermill, writing the executed notebook, its HTML and
its JSON of key numbers into --out. Exits non-zero when any notebook raises.

    python scripts/run_notebooks.py --mode quick --out test-output/notebooks
    python scripts/run_notebooks.py --mode full --out reports     # make reports
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

# Executed copies keep plotly's JSON (for JupyterLab) plus HTML that loads plotly.js from its
# CDN, so the exported reports show their charts without embedding 5 MB of JavaScript each.
os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype+notebook_connected")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

# Quick mode: sizes that finish in about a minute per notebook on a CPU (CI and tests).
QUICK_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_overconfidence_theory": {
        "quick": True, "num_items": 1000, "k_values": [1, 16, 64], "t_values": [0.0, 1.0],
        "steps": 200, "num_contexts": 2,
    },
    "02_calibration_synthetic": {
        "quick": True, "cells": [[1, 0.0], [48, 0.0], [48, 1.0]], "num_items": 100,
        "num_users": 400, "epochs": 12, "embedding_dim": 32,
    },
    "03_calibration_ml1m": {
        "quick": True, "num_items": 300, "num_users": 300, "epochs": 6, "embedding_dim": 16,
    },
}


def parameters_for(name: str, mode: str, out: Path) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if mode == "quick":  # every notebook has a `quick` flag; some also have smaller sizes here
        parameters = {"quick": True, **QUICK_PARAMETERS.get(name, {})}
    parameters["output_dir"] = str(out.resolve())
    return parameters


def run_notebook(path: Path, mode: str, out: Path, html: bool = True) -> float:
    """Execute one notebook into `out` (and export HTML); returns its wall time in seconds."""
    import papermill

    executed = out / path.name
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path), str(executed), parameters=parameters_for(path.stem, mode, out),
        kernel_name="python3", cwd=str(ROOT), progress_bar=False,
        language="python",
    )
    seconds = time.perf_counter() - start
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(executed))
        (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    parser.add_argument("notebooks", nargs="*", help="names to run (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.stem in args.notebooks or p.name in args.notebooks]
    failed = []
    for path in paths:
        try:
            seconds = run_notebook(path, args.mode, args.out, html=not args.no_html)
            print(f"ok    {path.name}  {seconds:.1f}s", flush=True)
        except Exception as error:  # papermill raises PapermillExecutionError and others
            failed.append(path.name)
            print(f"FAIL  {path.name}: {type(error).__name__}: {str(error)[:2000]}",
                  file=sys.stderr, flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
