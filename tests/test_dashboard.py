"""gsasrec.dashboard: theory curves, run discovery that never raises, grids, reliability and
recommendations, on runs made by the real `gsasrec train` (see dashboard_runs.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from dashboard_runs import GRID, run_name, stored_runs

from gsasrec import dashboard as dash
from gsasrec import theory
from gsasrec.calibration import expected_calibration_error, top_k_reliability_data


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stored_runs(tmp_path_factory)


@pytest.fixture
def root(tmp_path: Path, runs_dir: Path) -> Path:
    """A private copy of the stored runs, free to damage."""
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    return copy


# ----- theory -------------------------------------------------------------------------------
@pytest.mark.parametrize("num_items, expected", [
    (2, [1]), (10, [1, 2, 4, 8, 9]), (17, [1, 2, 4, 8, 16]),
    (3416, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3415]),
    (1_000_000, [2**i for i in range(13)]),
])
def test_negatives_options_are_powers_of_two_capped_at_catalogue_minus_one(num_items, expected):
    assert dash.negatives_options(num_items) == expected
    assert dash.max_negatives(num_items) == expected[-1]
    assert max(dash.negatives_options(num_items)) <= num_items - 1


def test_clamp_negatives_picks_the_nearest_allowed_option():
    assert dash.clamp_negatives(256, 100) == 99
    assert dash.clamp_negatives(256, 10) == 9
    assert dash.clamp_negatives(256, 3416) == 256
    assert dash.clamp_negatives(5000, 10**6) == 4096
    with pytest.raises(ValueError):
        dash.max_negatives(1)


@pytest.mark.parametrize("num_items, k, t", [(3416, 256, 0.75), (100, 1, 0.0), (10, 9, 1.0)])
def test_theory_curves_match_the_closed_forms(num_items, k, t):
    curves = dash.theory_curves(num_items, k, t)
    alpha = k / (num_items - 1)
    assert curves.alpha == pytest.approx(alpha)
    assert curves.beta == pytest.approx(1 - t * (1 - alpha))
    p = curves.curves["p_true"].to_numpy()
    assert p[0] == pytest.approx(1e-4) and p[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log(p)), np.log(p[1]) - np.log(p[0]))  # log grid
    np.testing.assert_allclose(curves.curves["bce"], theory.predicted_probability(p, alpha, 0.0))
    np.testing.assert_allclose(curves.curves["gbce"], theory.predicted_probability(p, alpha, t))
    assert np.all(curves.curves["bce"] >= p - 1e-12)  # BCE is never underconfident
    if t == 1.0:
        np.testing.assert_allclose(curves.curves["gbce"], p)  # t = 1 calibrates


def test_theory_point_is_on_the_curves():
    point = dash.theory_point(1000, 16, 0.5, 0.02)
    alpha = theory.sampling_rate(16, 1000)
    assert point["bce"] == pytest.approx(theory.predicted_probability(0.02, alpha, 0.0))
    assert point["gbce"] == pytest.approx(theory.predicted_probability(0.02, alpha, 0.5))
    with pytest.raises(ValueError):
        dash.theory_curves(100, 100, 0.5)  # k above |I| - 1


# ----- roots and discovery ------------------------------------------------------------------
def test_configured_roots_are_results_runs_env_and_extra(tmp_path: Path):
    env = {dash.RUNS_DIR_ENV: f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"}
    roots = dash.configured_roots(["", "  ", str(tmp_path / "c"), "runs"], cwd=tmp_path,
                                  environ=env)
    assert roots == [tmp_path.resolve() / name for name in ("results", "runs", "a", "b", "c")]
    assert dash.configured_roots(cwd=tmp_path, environ={}) == [
        tmp_path.resolve() / "results", tmp_path.resolve() / "runs"]


def test_discovery_lists_finished_runs_with_their_settings(root: Path):
    found = dash.discover_runs([root, root.parent / "missing"])
    assert found.warnings == []
    assert [run.label for run in found.runs] == sorted(run_name(k, t) for k, t in GRID)
    for run in found.runs:
        stored = json.loads((run.path / "metrics.json").read_text())
        assert (run.dataset, run.model, run.loss) == ("synthetic", "gsasrec", "gbce")
        assert (run.num_negatives, run.gbce_t) == (stored["num_negatives"], stored["gbce_t"])
        assert run.test == stored["test"] and run.num_items == 100
        assert run.has_predictions and run.has_checkpoint
    table = dash.runs_table(found.runs)
    assert list(table.columns) == ["run", "dataset", "model", "loss", "k", "t", *dash.METRICS]


def test_discovery_of_nothing_is_empty_not_an_error(tmp_path: Path):
    found = dash.discover_runs([tmp_path / "none", tmp_path])
    assert found.runs == [] and found.warnings == []


def _damage(root: Path) -> None:
    good = root / run_name(*GRID[0])
    (root / "unfinished").mkdir()
    shutil.copy(good / "config.json", root / "unfinished" / "config.json")
    shutil.copytree(good, root / "corrupt-json")
    (root / "corrupt-json" / "metrics.json").write_text("{not json")
    shutil.copytree(good, root / "truncated-json")
    text = (good / "metrics.json").read_text()
    (root / "truncated-json" / "metrics.json").write_text(text[: len(text) // 2])
    shutil.copytree(good, root / "missing-field")
    metrics = json.loads(text)
    del metrics["test"]
    (root / "missing-field" / "metrics.json").write_text(json.dumps(metrics))
    shutil.copytree(good, root / "truncated-files")
    for name in ("best.pt", "predictions.npz"):
        data = (good / name).read_bytes()
        (root / "truncated-files" / name).write_bytes(data[: len(data) // 2])
    (root / "binary").mkdir()
    (root / "binary" / "metrics.json").write_bytes(b"\xff\xfe\x00garbage")


def test_damaged_runs_are_skipped_with_a_warning_each(root: Path):
    _damage(root)
    found = dash.discover_runs([root])
    labels = [run.label for run in found.runs]
    for bad in ("unfinished", "corrupt-json", "truncated-json", "missing-field", "binary"):
        assert bad not in labels
        assert sum(w.startswith(f"{bad}:") for w in found.warnings) == 1, found.warnings
    assert "--resume" in next(w for w in found.warnings if w.startswith("unfinished:"))
    # truncated checkpoint and predictions: listed (metrics are fine), each problem flagged
    truncated = next(run for run in found.runs if run.label == "truncated-files")
    assert not truncated.has_predictions and not truncated.has_checkpoint
    assert sum(w.startswith("truncated-files:") for w in found.warnings) == 2
    # and the later steps turn them into warnings too, never exceptions
    reliability = dash.run_reliability([truncated], [root])
    assert reliability.tables == {} and len(reliability.warnings) == 1
    models, warnings = dash.load_runs([truncated], [root])
    assert models == {} and "truncated-files" in warnings[0]


def test_a_run_deleted_after_discovery_gives_warnings(root: Path):
    found = dash.discover_runs([root])
    victim = found.runs[0]
    shutil.rmtree(victim.path)
    reliability = dash.run_reliability(found.runs, [root])
    assert victim.label not in reliability.tables and len(reliability.tables) == 1
    assert len(reliability.warnings) == 1 and victim.label in reliability.warnings[0]
    models, warnings = dash.load_runs([victim], [root])
    assert models == {} and len(warnings) == 1
    summary, warnings = dash.read_run_summary(victim.path)
    assert summary is None and "no longer exists" in warnings[0]


def test_runs_outside_the_roots_are_not_read(root: Path, tmp_path: Path):
    found = dash.discover_runs([root])
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert not dash.is_under(found.runs[0].path, [other])
    reliability = dash.run_reliability(found.runs, [other])
    assert reliability.tables == {} and len(reliability.warnings) == len(found.runs)
    models, warnings = dash.load_runs(found.runs, [other])
    assert models == {} and len(warnings) == len(found.runs)
    (other / "link").symlink_to(found.runs[0].path)  # a link out of a root is outside it
    assert not dash.is_under(other / "link", [other])
    linked = dash.discover_runs([other])
    assert linked.runs == [] and "outside" in linked.warnings[0]


# ----- grids --------------------------------------------------------------------------------
def _summary(label: str, k: int | None, t: float | None, loss: str = "gbce",
             model: str = "gsasrec", dataset: str = "ml-1m", ndcg: float = 0.1):
    return dash.RunSummary(Path(label), label, dataset, model, loss, k, t, None, 3416,
                           {"ndcg@10": ndcg, "recall@1": 0.0, "recall@10": 0.0}, True, True)


def test_grids_group_bce_and_gbce_runs_by_dataset_and_model():
    runs = [_summary("a", 16, 0.5, ndcg=0.1), _summary("b", 256, 0.5, ndcg=0.2),
            _summary("c", 16, None, loss="bce", ndcg=0.3),  # BCE sits at t = 0
            _summary("c2", 16, None, loss="bce", ndcg=0.5),  # a second seed: averaged
            _summary("d", None, None, loss="ce", model="bert4rec"),
            _summary("e", 16, 0.5, dataset="beauty")]  # alone: no grid
    (grid,) = dash.find_grids(runs)
    assert (grid.dataset, grid.model, grid.ks, grid.ts) == ("ml-1m", "gsasrec", (16, 256),
                                                            (0.0, 0.5))
    table = dash.grid_table(grid, dash.metric_values(runs, "ndcg@10"))
    assert table.loc[0.0, 16] == pytest.approx(0.4)
    assert table.loc[0.5, 256] == pytest.approx(0.2)
    assert np.isnan(table.loc[0.0, 256])
    assert dash.matching_run(grid, 256, 0.5) == (runs[1], True)
    run, exact = dash.matching_run(grid, 200, 0.45)  # nearest: k = 256, t = 0.5
    assert run is runs[1] and not exact


def test_runs_of_other_folders_form_their_own_grids():
    """A side experiment in another folder (another block or dropout) never averages into
    the main grid's cells."""
    runs = [_summary("k16-t0.5", 16, 0.5, ndcg=0.2), _summary("k16-t1", 16, 1.0, ndcg=0.3),
            _summary("experiments/old/k16-t0.5", 16, 0.5, ndcg=0.0),
            _summary("experiments/old/k16-t1", 16, 1.0, ndcg=0.0)]
    main, old = dash.find_grids(runs)
    assert (main.name, old.name) == ("ml-1m / gsasrec", "ml-1m / gsasrec in experiments/old")
    table = dash.grid_table(main, dash.metric_values(runs, "ndcg@10"))
    assert table.loc[0.5, 16] == pytest.approx(0.2) and table.loc[1.0, 16] == pytest.approx(0.3)


def test_the_largest_grid_comes_first():
    """The app shows the first grid by default: the full k x t grid, not the two settings of
    another data set's main table (beauty sorts before ml-1m by name)."""
    runs = [dataclasses.replace(_summary(f"main/beauty-t{t:g}", 256, t), dataset="beauty")
            for t in (0.75, 1.0)]
    runs += [_summary(f"grid/k{k}-t{t:g}", k, t) for k in (1, 4) for t in (0.0, 1.0)]
    big, small = dash.find_grids(runs)
    assert (len(big.cells), big.name) == (4, "ml-1m / gsasrec in grid")
    assert (len(small.cells), small.name) == (2, "beauty / gsasrec in main")


def test_tuned_runs_form_their_own_grid(tmp_path: Path):
    """Runs of a *-tuned preset (config.json's extra.preset) share a folder with the paper's
    configuration in results/paper/main, but never a grid cell."""
    runs = []
    for name, k, t, preset in (("paper-t0.75", 256, 0.75, "gsasrec-ml1m"),
                               ("paper-t1", 256, 1.0, "gsasrec-t1-ml1m"),
                               ("tuned-t0.75", 256, 0.75, "gsasrec-ml1m-tuned"),
                               ("tuned-t1", 256, 1.0, "gsasrec-t1-ml1m-tuned")):
        folder = tmp_path / "main" / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"extra": {"preset": preset}}))
        assert dash._variant(folder) == ("tuned" if "tuned" in name else "")
        runs.append(dataclasses.replace(_summary(f"main/{name}", k, t), path=folder,
                                        variant=dash._variant(folder)))
    (folder / "config.json").write_text("{not json")  # unreadable: the paper's variant
    assert dash._variant(folder) == ""
    paper, tuned = dash.find_grids(runs)
    assert (paper.name, tuned.name) == ("ml-1m / gsasrec in main",
                                        "ml-1m / gsasrec, tuned in main")
    assert [r.label for r in tuned.cells[(256, 0.75)]] == ["main/tuned-t0.75"]


def test_grid_of_the_stored_runs(root: Path):
    found = dash.discover_runs([root])
    (grid,) = dash.find_grids(found.runs)
    assert grid.ks == (4,) and grid.ts == (0.5, 1.0)
    run, exact = dash.matching_run(grid, 4, 1.0)
    assert exact and run.label == run_name(4, 1.0)


# ----- reliability --------------------------------------------------------------------------
def test_reliability_matches_the_calibration_module(root: Path):
    found = dash.discover_runs([root])
    result = dash.run_reliability(found.runs, [root], num_bins=5)
    assert result.warnings == []
    for run in found.runs:
        predicted, outcomes = top_k_reliability_data(run.path)
        assert result.ece[run.label] == pytest.approx(
            expected_calibration_error(predicted, outcomes, 5))
        assert result.tables[run.label]["count"].sum() == predicted.size
    recalibrated = dash.run_reliability(found.runs, [root], recalibrated=True)
    assert set(recalibrated.ece) == set(result.ece)


def test_theory_observed_curve_inverts_the_optimum():
    curve = dash.theory_observed_curve(0.01, 0.0)
    p = curve["predicted"].to_numpy()
    np.testing.assert_allclose(theory.predicted_probability(curve["observed"], 0.01, 0.0), p,
                               atol=1e-12)


# ----- recommendations ----------------------------------------------------------------------
def test_recommendations_side_by_side_with_titles_and_probabilities(root: Path):
    found = dash.discover_runs([root])
    models, warnings = dash.load_runs(found.runs, [root])
    assert warnings == [] and set(models) == {run.label for run in found.runs}
    data, problem = dash.user_histories(list(models.values()))
    assert problem is None
    user = data.user_ids[3]
    history, target = dash.user_history(data, user)
    full = data.sequences[3]
    assert list(history) == list(full[:-1]) and target == full[-1]
    titles = {int(history[-1]): "The Newest"}
    shown = dash.history_table(history, titles, last=5)
    assert list(shown["item"]) == list(history[::-1][:5])
    assert shown["title"].iloc[0] == "The Newest" and shown["position"].iloc[0] == len(history)
    tables, warnings = dash.recommendation_tables(models, history, titles, target=target)
    assert warnings == [] and set(tables) == set(models)
    for label, run in models.items():
        table = tables[label]
        top = run.recommend({0: list(history)}, k=10)
        assert list(table["rank"]) == list(range(1, 11))
        assert list(table["item"]) == list(top["item"])
        np.testing.assert_allclose(table["probability"], top["probability"])
        assert np.all((table["probability"] > 0) & (table["probability"] < 1))
        alpha = theory.sampling_rate(run.config.num_negatives, run.num_items)
        np.testing.assert_allclose(table["calibrated"], theory.true_probability(
            top["probability"].to_numpy(), alpha, run.config.gbce_t))
        expected = [titles.get(i, f"item {i}") + (" *" if i == target else "")
                    for i in top["item"]]
        assert list(table["title"]) == expected
    wide = dash.side_by_side(tables)
    first = next(iter(tables))
    assert len(wide) == 10 and list(wide.columns[:4]) == [
        "rank", f"{first} | title", f"{first} | probability", f"{first} | calibrated"]
    with pytest.raises(KeyError):
        dash.user_history(data, "no such user")


def test_ml1m_titles_reach_the_history(data_dir: Path):
    from gsasrec.data.registry import load_item_titles

    titles = load_item_titles("ml-1m")
    assert len(titles) == 3416
    table = dash.history_table([1, 2], titles)
    assert list(table["title"]) == [titles[2], titles[1]]
    assert all(not title.startswith("item ") for title in table["title"])


def test_a_huge_root_is_scanned_only_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dash, "MAX_FOLDERS", 5)
    for i in range(10):
        (tmp_path / f"d{i}").mkdir()
    found = dash.discover_runs([tmp_path])
    assert found.runs == [] and len(found.warnings) == 1 and "stopped" in found.warnings[0]
