"""The dashboard script under streamlit's AppTest: it runs with no data and with stored runs,
and the numbers it shows follow gsasrec.theory as the sliders move."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dashboard_runs import run_name, stored_runs

from gsasrec import theory

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "main.py"
TIMEOUT = 180  # seconds per script run; the machine may be shared and slow


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stored_runs(tmp_path_factory)


def start(monkeypatch: pytest.MonkeyPatch, workdir: Path, runs: Path | None) -> AppTest:
    """The app started from `workdir` (its results/ and runs/ roots), GSASREC_RUNS_DIR=runs."""
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("GSASREC_RUNS_DIR", str(runs or workdir / "no-runs"))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def metric(app: AppTest, label: str) -> str:
    (found,) = [m for m in app.metric if m.label == label]
    return found.value


def chart(app: AppTest, key: str) -> dict:
    (found,) = [c for c in app.get("plotly_chart") if key in (c.proto.id or "")]
    return json.loads(found.proto.spec)


def trace(figure: dict, name: str) -> dict:
    (found,) = [t for t in figure["data"] if t.get("name") == name]
    return found


def array(values: list | dict) -> np.ndarray:
    """Plotly >= 6 sends numpy data as base64 typed arrays ({"dtype", "bdata"})."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values, dtype=np.float64)


def slider(app: AppTest, key_prefix: str):
    (found,) = [s for s in app.select_slider if s.key and s.key.startswith(key_prefix)]
    return found


def texts(app: AppTest, kind: str) -> str:
    return "\n".join(e.value for e in getattr(app, kind))


def test_runs_with_no_data_and_says_what_to_run(tmp_path, monkeypatch):
    app = start(monkeypatch, tmp_path, None)
    assert metric(app, "alpha") == f"{theory.sampling_rate(256, 3416):.4g}"
    assert metric(app, "beta") == f"{theory.beta(256 / 3415, 0.75):.4g}"
    info = texts(app, "info")
    assert "No finished runs found" in info and "python -m gsasrec train" in info
    assert "gsasrec download ml-1m" in info
    assert [c.proto.id for c in app.get("plotly_chart")]  # the theory chart
    assert not app.warning


def test_moving_k_and_t_changes_alpha_beta_and_the_curve(tmp_path, monkeypatch):
    app = start(monkeypatch, tmp_path, None)
    slider(app, "num_items").set_value(1000).run()
    slider(app, "num_negatives_").set_value(16).run()
    app.slider(key="t").set_value(0.5).run()
    app.number_input(key="p_mark").set_value(0.02).run()
    assert not app.exception
    alpha = theory.sampling_rate(16, 1000)
    assert metric(app, "alpha") == f"{alpha:.4g}"
    assert metric(app, "beta") == f"{theory.beta(alpha, 0.5):.4g}"
    bce, gbce = (theory.predicted_probability(0.02, alpha, t) for t in (0.0, 0.5))
    assert metric(app, "BCE p̂ at P") == f"{bce:.4g}"
    assert metric(app, "gBCE p̂ at P") == f"{gbce:.4g}"
    figure = chart(app, "theory_chart")
    marked = trace(figure, "gBCE at P")
    assert marked["x"][0] == pytest.approx(0.02) and marked["y"][0] == pytest.approx(gbce)
    curve = trace(figure, "gBCE (t = 0.5)")
    x, y = array(curve["x"]), array(curve["y"])
    assert len(x) == 200 and x[0] == pytest.approx(1e-4) and x[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(y, theory.predicted_probability(x, alpha, 0.5))
    np.testing.assert_allclose(array(trace(figure, "BCE (t = 0)")["y"]),
                               theory.predicted_probability(x, alpha, 0.0))


def test_k_never_exceeds_catalogue_size_minus_one(tmp_path, monkeypatch):
    app = start(monkeypatch, tmp_path, None)
    slider(app, "num_negatives_").set_value(2048).run()
    slider(app, "num_items").set_value(10).run()
    k = slider(app, "num_negatives_")
    assert max(int(o) for o in k.options) == 9 and k.value == 9
    assert metric(app, "alpha") == f"{theory.sampling_rate(9, 10):.4g}"
    assert max(int(o) for o in slider(app, "live_negatives_").options) <= 299


def test_live_experiment_trains_and_draws_points_over_the_theory(tmp_path, monkeypatch):
    app = start(monkeypatch, tmp_path, None)
    slider(app, "live_items").set_value(100).run()
    slider(app, "live_negatives_").set_value(4).run()
    slider(app, "live_steps").set_value(100).run()
    app.button[0].click().run()  # the first button on the page body: "Train free logits"
    assert not app.exception, [e.value for e in app.exception]
    figure = chart(app, "live_chart")
    points = trace(figure, "trained free logits")
    assert len(array(points["x"])) == 4 * 100  # contexts x items
    assert metric(app, "median |p̂ − theory| / theory")


def test_runs_with_stored_runs(tmp_path, monkeypatch, runs_dir):
    app = start(monkeypatch, tmp_path, runs_dir)
    assert not app.warning, texts(app, "warning")
    reliability = chart(app, "reliability_chart")
    assert reliability["layout"]["yaxis"]["title"]["text"] == "observed frequency"
    names = [t["name"] for t in reliability["data"]]
    assert any(name.startswith(run_name(4, 0.5)) and "ECE" in name for name in names)
    runs_table = app.dataframe[0].value
    assert sorted(runs_table["run"]) == [run_name(4, 0.5), run_name(4, 1.0)]
    for key in ("ndcg_heatmap", "ece_heatmap"):
        assert chart(app, key)["data"][0]["type"] == "heatmap"
    # the sidebar's k and t pick the matching run of the grid
    slider(app, "num_negatives_").set_value(4).run()
    app.slider(key="t").set_value(1.0).run()
    assert f"`{run_name(4, 1.0)}`" in texts(app, "markdown")
    assert chart(app, "matching_chart")["data"][0]["name"].startswith(run_name(4, 1.0))
    # recommendations: the history, then one top-10 table per model, side by side
    tables = [frame.value for frame in app.dataframe]
    history, first, second = tables[-3:]
    assert list(history["title"])[0].startswith("item ")  # synthetic items have no titles
    for top in (first, second):
        assert list(top["rank"]) == list(range(1, 11))
        assert top["probability"].between(0, 1).all()
    markdown = texts(app, "markdown")
    assert f"**{run_name(4, 0.5)}**" in markdown and f"**{run_name(4, 1.0)}**" in markdown
    assert not app.exception


def test_damaged_and_deleted_runs_show_warnings_not_errors(tmp_path, monkeypatch, runs_dir):
    runs = tmp_path / "runs"
    shutil.copytree(runs_dir, runs)
    (runs / "broken").mkdir()
    (runs / "broken" / "metrics.json").write_text("{")
    good = runs / run_name(4, 0.5)
    data = (good / "best.pt").read_bytes()
    (good / "best.pt").write_bytes(data[:100])
    app = start(monkeypatch, tmp_path, None)  # runs/ of the working folder is a root
    warnings = texts(app, "warning")
    assert "broken" in warnings and "best.pt" in warnings
    shutil.rmtree(runs / run_name(4, 1.0))  # deleted while the app holds its listing
    app.slider(key="bins").set_value(8).run()
    assert not app.exception, [e.value for e in app.exception]
    assert run_name(4, 1.0) in texts(app, "warning")
    next(b for b in app.button if b.label == "Rescan run folders").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.multiselect(key="picked_runs").options == [run_name(4, 0.5)]
