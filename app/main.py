"""gSASRec calibration dashboard: `streamlit run app/main.py` (or `make app`).

Layout only: every number comes from `gsasrec.dashboard` (and the modules it calls); heavy
calls sit behind st.cache_data / st.cache_resource. Stored runs are looked for in results/
and runs/ of the folder the app is started from, in GSASREC_RUNS_DIR, and in the sidebar box.
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from gsasrec import dashboard as dash

BCE_COLOUR, GBCE_COLOUR, DIAGONAL_COLOUR = "#d62728", "#1f77b4", "#7f7f7f"
LIVE_SIZES = (100, 300, 1000)
LIVE_STEPS = (100, 200, 500, 1000)
LIVE_CONTEXTS = 4


# ----- cached wrappers ----------------------------------------------------------------------
@st.cache_data(ttl=30, show_spinner=False)
def discover(roots: tuple[str, ...]) -> dash.Discovery:
    return dash.discover_runs([Path(r) for r in roots])


@st.cache_data(show_spinner="Reading predictions...", max_entries=64)
def reliability(key: tuple, _runs: tuple[dash.RunSummary, ...], roots: tuple[str, ...],
                num_bins: int, strategy: str, recalibrated: bool) -> dash.Reliability:
    return dash.run_reliability(_runs, [Path(r) for r in roots], num_bins, strategy,
                                recalibrated=recalibrated)


@st.cache_resource(show_spinner="Loading models...", max_entries=8)
def models(key: tuple, _runs: tuple[dash.RunSummary, ...], roots: tuple[str, ...]):
    return dash.load_runs(_runs, [Path(r) for r in roots])


@st.cache_resource(show_spinner="Loading the data set...", max_entries=4)
def interactions(key: tuple, _run):
    return dash.user_histories([_run])


@st.cache_data(show_spinner=False)
def titles(dataset: str) -> dict[int, str]:
    from gsasrec.data.registry import load_item_titles

    return load_item_titles(dataset)


@st.cache_resource
def live_results() -> dict:
    """Live-experiment results by (catalogue size, k, t, steps), kept across reruns."""
    return {}


def run_key(runs) -> tuple:
    """What a cached result over runs depends on: their folders and file times."""
    def stamp(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return -1.0
    return tuple((run.label, str(run.path), stamp(run.path / "predictions.npz"),
                  stamp(run.path / "best.pt")) for run in runs)


# ----- charts -------------------------------------------------------------------------------
def diagonal(figure: go.Figure, low: float, name: str) -> None:
    figure.add_trace(go.Scatter(x=[low, 1.0], y=[low, 1.0], mode="lines", name=name,
                                line={"color": DIAGONAL_COLOUR, "dash": "dot"}))


def theory_figure(curves: dash.TheoryCurves, point: dict[str, float]) -> go.Figure:
    frame = curves.curves
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=frame["p_true"], y=frame["bce"], mode="lines",
                                name="BCE (t = 0)", line={"color": BCE_COLOUR}))
    figure.add_trace(go.Scatter(x=frame["p_true"], y=frame["gbce"], mode="lines",
                                name=f"gBCE (t = {curves.t:g})", line={"color": GBCE_COLOUR}))
    diagonal(figure, float(frame["p_true"].min()), "calibrated (p̂ = P)")
    figure.add_trace(go.Scatter(x=[point["p_true"]], y=[point["bce"]], mode="markers",
                                name="BCE at P", marker={"color": BCE_COLOUR, "size": 10}))
    figure.add_trace(go.Scatter(x=[point["p_true"]], y=[point["gbce"]], mode="markers",
                                name="gBCE at P", marker={"color": GBCE_COLOUR, "size": 10}))
    figure.update_layout(
        xaxis={"title": "true probability P", "type": "log"},
        yaxis={"title": "predicted probability p̂ (the loss's optimum)", "type": "log"},
        height=430, margin={"t": 30}, legend={"x": 0.01, "y": 0.99})
    return figure


def live_figure(frame, curves: dash.TheoryCurves) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(go.Scattergl(x=frame["p_true"], y=frame["p_predicted"], mode="markers",
                                  name="trained free logits", opacity=0.5,
                                  marker={"size": 4, "color": "#2ca02c"}))
    figure.add_trace(go.Scatter(x=curves.curves["p_true"], y=curves.curves["gbce"],
                                mode="lines", name=f"theory (k = {curves.num_negatives}, "
                                f"t = {curves.t:g})", line={"color": GBCE_COLOUR}))
    diagonal(figure, float(curves.curves["p_true"].min()), "calibrated (p̂ = P)")
    figure.update_layout(xaxis={"title": "true probability P", "type": "log"},
                         yaxis={"title": "predicted probability p̂", "type": "log"},
                         height=430, margin={"t": 30}, legend={"x": 0.01, "y": 0.99})
    return figure


def reliability_figure(tables: dict, ece: dict, theory: tuple[float, float] | None = None,
                       log_axes: bool = False) -> go.Figure:
    figure = go.Figure()
    for label, table in tables.items():
        figure.add_trace(go.Scatter(
            x=table["mean_predicted"], y=table["observed_frequency"], mode="lines+markers",
            name=f"{label} (ECE {ece[label]:.3f})", customdata=table["count"],
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} items"))
    if theory is not None:
        curve = dash.theory_observed_curve(*theory)
        figure.add_trace(go.Scatter(x=curve["predicted"], y=curve["observed"], mode="lines",
                                    name="free-logit theory", line={"dash": "dash",
                                                                    "color": GBCE_COLOUR}))
    diagonal(figure, 1e-4 if log_axes else 0.0, "perfectly calibrated")
    axis = {"type": "log"} if log_axes else {"range": [0, 1]}
    figure.update_layout(
        xaxis={"title": "predicted probability (top-10 items of each test user)", **axis},
        yaxis={"title": "observed frequency", **axis},
        height=430, margin={"t": 30}, legend={"x": 0.01, "y": 0.99})
    return figure


def heatmap(table, title: str, colour: str, selected: tuple[int, float] | None) -> go.Figure:
    x = [str(k) for k in table.columns]
    y = [f"{t:g}" for t in table.index]
    figure = go.Figure(go.Heatmap(z=table.to_numpy(), x=x, y=y, colorscale=colour,
                                  texttemplate="%{z:.3f}", hoverongaps=False))
    if selected is not None:
        figure.add_trace(go.Scatter(x=[str(selected[0])], y=[f"{selected[1]:g}"],
                                    mode="markers", showlegend=False, hoverinfo="skip",
                                    marker={"symbol": "square-open", "size": 34,
                                            "color": "black", "line": {"width": 3}}))
    figure.update_layout(title=title, xaxis={"title": "negatives k", "type": "category"},
                         yaxis={"title": "t", "type": "category"}, height=340,
                         margin={"t": 40})
    return figure


# ----- page ---------------------------------------------------------------------------------
st.set_page_config(page_title="gSASRec calibration", layout="wide")
st.title("gSASRec: negatives, t and calibration")
st.caption("SASRec trained with k sampled negatives overestimates probabilities; gBCE with "
           "parameter t corrects it (Petrov & Macdonald, RecSys 2023).")

with st.sidebar:
    st.header("Setting")
    num_items = st.select_slider("catalogue size |I|", options=dash.CATALOGUE_SIZES, value=3416,
                                 key="num_items")
    cap = dash.max_negatives(num_items)
    k_key = f"num_negatives_{cap}"  # one widget per cap: its options never change under it
    if k_key not in st.session_state:
        st.session_state[k_key] = dash.clamp_negatives(st.session_state.get("k_last", 256),
                                                       num_items)
    k = st.select_slider(f"negatives k (log scale, at most |I| - 1 = {cap})",
                         options=dash.negatives_options(num_items), key=k_key)
    st.session_state["k_last"] = k
    t = st.slider("calibration parameter t", 0.0, 1.0, 0.75, 0.05, key="t")
    st.header("Stored runs")
    extra = st.text_input("more run folders (separated by ';')", key="extra_roots",
                          help="Added to results/, runs/ and GSASREC_RUNS_DIR.")
    if st.button("Rescan run folders"):
        discover.clear()

roots = dash.configured_roots([p for p in extra.split(";")])
roots_key = tuple(str(r) for r in roots)
found = discover(roots_key)

# 1. Theory ------------------------------------------------------------------------------
st.header("1. Theory", anchor="theory")
curves = dash.theory_curves(num_items, k, t)
columns = st.columns([1, 1, 1, 1, 2])
columns[0].metric("alpha", f"{curves.alpha:.4g}", help="sampling rate k / (|I| - 1)")
columns[1].metric("beta", f"{curves.beta:.4g}", help="1 - t (1 - alpha)")
p_mark = columns[4].number_input("mark a true probability P", min_value=1e-4, max_value=1.0,
                                 value=0.01, step=0.005, format="%.4f", key="p_mark")
point = dash.theory_point(num_items, k, t, p_mark)
columns[2].metric("BCE p̂ at P", f"{point['bce']:.4g}")
columns[3].metric("gBCE p̂ at P", f"{point['gbce']:.4g}")
st.plotly_chart(theory_figure(curves, point), key="theory_chart")
st.caption("Where each loss's expected value is minimised, for an item whose true next-item "
           "probability is P: p̂ = βP / (βP + α(1 − P)). BCE (β = 1) pushes every likely item "
           "towards 1; t = 1 (β = α) gives p̂ = P.")

# 2. Live experiment -----------------------------------------------------------------------
st.header("2. Live experiment: free logits", anchor="live")
st.caption(f"One free logit per (context, item), {LIVE_CONTEXTS} contexts with known power-law "
           "next-item distributions, trained with k uniform negatives and gBCE(t) on the CPU. "
           "No architecture stands in between, so the points should land on the theory curve.")
left, middle, right, last = st.columns(4)
live_items = left.select_slider("catalogue size", options=LIVE_SIZES, value=300,
                                key="live_items")
live_cap = dash.max_negatives(live_items)
live_k_key = f"live_negatives_{live_cap}"
if live_k_key not in st.session_state:
    st.session_state[live_k_key] = dash.clamp_negatives(min(k, live_cap), live_items)
live_k = middle.select_slider(f"negatives k (≤ {live_cap})",
                              options=dash.negatives_options(live_items), key=live_k_key)
if "live_t" not in st.session_state:
    st.session_state["live_t"] = float(t)
live_t = right.slider("t", 0.0, 1.0, step=0.05, key="live_t")
live_steps = last.select_slider("training steps", options=LIVE_STEPS, value=200,
                                key="live_steps")
live_key = (live_items, live_k, round(live_t, 6), live_steps)
store = live_results()
if st.button("Train free logits", type="primary"):
    bar = st.progress(0.0, text="training...")
    from gsasrec.free_logits import run_free_logit_experiment

    store[live_key] = run_free_logit_experiment(
        num_items=live_items, num_negatives=live_k, t=live_t, steps=live_steps,
        # fewer rows per step as k grows, so that a step stays cheap on a CPU
        num_contexts=LIVE_CONTEXTS, batch_size=min(4096, max(256, 65536 // live_k)),
        progress=lambda fraction: bar.progress(min(1.0, fraction), text="training..."))
    bar.progress(1.0, text="done")
if live_key in store:
    from gsasrec.free_logits import summarise_free_logits

    frame = store[live_key]
    summary = summarise_free_logits(frame, live_items)
    live_curves = dash.theory_curves(live_items, live_k, live_t, p_min=float(
        max(1e-6, frame["p_true"].min())))
    a, b, c = st.columns(3)
    a.metric("median |p̂ − theory| / theory", f"{summary['median_relative_error']:.3f}")
    b.metric("p̂ of the next item (trained)", f"{summary['p_next_predicted']:.3f}")
    c.metric("p̂ of the next item (theory)", f"{summary['p_next_theory']:.3f}")
    st.plotly_chart(live_figure(frame, live_curves), key="live_chart")
else:
    st.info("Press **Train free logits** to train on the spot (a few seconds to a minute on "
            "a CPU); results are kept for each (catalogue size, k, t, steps).")

# 3. Trained models ------------------------------------------------------------------------
st.header("3. Trained models", anchor="trained")
if found.warnings:
    st.warning(f"{len(found.warnings)} run folder problem(s); those runs are skipped or "
               "incomplete:\n\n" + "\n".join(f"- {w}" for w in found.warnings))
if not found.runs:
    st.info("No finished runs found in: " + ", ".join(f"`{r}`" for r in roots)
            + ".\n\nTrain one, e.g.\n\n```\n" + dash.TRAIN_HINT + "\n```\n\nor a quick one "
            "on synthetic data:\n\n```\n" + dash.QUICK_TRAIN_HINT + "\n```")
else:
    usable = [run for run in found.runs if run.has_predictions]
    labels = [run.label for run in found.runs]
    picked_labels = st.multiselect("runs", labels, default=[r.label for r in usable[:5]],
                                   key="picked_runs")
    picked = tuple(run for run in found.runs if run.label in picked_labels)
    a, b, c, d = st.columns(4)
    num_bins = a.slider("bins", 5, 20, 10, key="bins")
    strategy = b.radio("bins of", ["uniform", "quantile"], horizontal=True, key="strategy",
                       format_func=lambda s: {"uniform": "equal width",
                                              "quantile": "equal count"}[s])
    recalibrated = c.toggle("recalibrate", key="recalibrate",
                            help="map BCE/gBCE probabilities back through the theory's "
                                 "inverse, theory.true_probability")
    log_axes = d.toggle("log axes", key="log_axes",
                        help="observed frequencies on real data are small; a log scale "
                             "spreads them out (empty bins are not drawn)")
    result = reliability(run_key(picked), picked, roots_key, num_bins, strategy, recalibrated)
    for warning in result.warnings:
        st.warning(warning)
    if result.tables:
        st.plotly_chart(reliability_figure(result.tables, result.ece, log_axes=log_axes),
                        key="reliability_chart")
        st.caption("On real data the true probabilities are unknown, so the y-axis is how "
                   "often a top-10 item was the user's held-out test item: observed frequency.")
    st.dataframe(dash.runs_table(picked, result.ece), hide_index=True)

    grids = dash.find_grids(found.runs)
    if not grids:
        st.info("No k × t grid of runs yet: train one data set and model over several "
                "`--negatives` and `--t`, e.g.\n\n```\nfor k in 16 64 256; do for t in 0 0.5 "
                "1; do python -m gsasrec train --dataset ml-1m --negatives $k --t $t "
                "--out runs/grid/k$k-t$t; done; done\n```")
    else:
        grid = grids[0]
        if len(grids) > 1:
            names = [g.name for g in grids]
            grid = grids[names.index(st.selectbox("grid", names, key="grid"))]
        grid_runs = tuple(run for cell in grid.cells.values() for run in cell)
        grid_result = reliability(run_key(grid_runs), grid_runs, roots_key, num_bins, strategy,
                                  recalibrated)
        match, exact = dash.matching_run(grid, k, t)
        selected = (match.num_negatives, round(match.calibration_t, 6)) if match else None
        st.subheader(f"Grid: {grid.name}")
        left, right = st.columns(2)
        left.plotly_chart(heatmap(dash.grid_table(grid, dash.metric_values(grid_runs, "ndcg@10")),
                                  "test NDCG@10", "Viridis", selected), key="ndcg_heatmap")
        right.plotly_chart(heatmap(dash.grid_table(grid, grid_result.ece), "ECE (top-10)",
                                   "Reds", selected), key="ece_heatmap")
        if match is not None:
            note = "" if exact else (f" (no run at k = {k}, t = {t:g}; nearest: "
                                     f"k = {match.num_negatives}, t = {match.calibration_t:g})")
            st.markdown(f"**Run at the sidebar's k and t: `{match.label}`**{note}")
            if match.label in grid_result.tables:
                t_used = 0.0 if recalibrated else match.calibration_t
                alpha = match.alpha
                theory = (alpha, t_used) if alpha is not None and not recalibrated else None
                st.plotly_chart(reliability_figure({match.label: grid_result.tables[match.label]},
                                                   grid_result.ece, theory, log_axes),
                                key="matching_chart")

# 4. Recommendations -----------------------------------------------------------------------
st.header("4. Recommendations", anchor="recommendations")
with_models = [run for run in found.runs if run.has_checkpoint]
datasets = sorted({run.dataset for run in with_models}, key=lambda d: (d != "ml-1m", d))
if "ml-1m" not in datasets:
    st.info("Movie titles need a model trained on ML-1M and its files (ml-1m.txt, movies.dat, "
            "sas_to_original_items.txt) in the data folder (`GSASREC_DATA_DIR`, now "
            f"`{os.environ.get('GSASREC_DATA_DIR', 'data/')}`):\n\n```\npython -m gsasrec "
            f"download ml-1m\n{dash.TRAIN_HINT}\n```")
if datasets:
    dataset = st.selectbox("data set", datasets, key="rec_dataset")
    candidates = [run for run in with_models if run.dataset == dataset]
    picked_labels = st.multiselect("models", [r.label for r in candidates],
                                   default=[r.label for r in candidates[:3]], key="rec_runs")
    chosen = tuple(run for run in candidates if run.label in picked_labels)
    if chosen:
        loaded, load_warnings = models(run_key(chosen), chosen, roots_key)
        for warning in load_warnings:
            st.warning(warning)
        if loaded:
            first = next(iter(loaded.values()))
            data, problem = interactions((dataset, str(first.path)), first)
            if data is None:
                st.warning(f"Cannot load the data set {dataset!r}: {problem}")
            else:
                names = titles(dataset)
                left, right = st.columns([1, 2], vertical_alignment="bottom")
                user = left.selectbox("user", list(data.user_ids), key=f"user_{dataset}")
                hold_out = right.checkbox("hold out the user's last item (the test target; "
                                          "marked * when recommended)", value=True,
                                          key="hold_out")
                history, target = dash.user_history(data, user, hold_out)
                tables, rec_warnings = dash.recommendation_tables(loaded, history, names,
                                                                  target=target)
                for warning in rec_warnings:
                    st.warning(warning)
                st.markdown(f"**History** of user {user} ({len(history)} items, newest first)"
                            + (f"; held out: {dash.title_of(target, names)}"
                               if target is not None else ""))
                st.dataframe(dash.history_table(history, names), hide_index=True, height=212,
                             column_order=("position", "title"))
                for column, (label, table) in zip(st.columns(max(2, len(tables))),
                                                  tables.items(), strict=False):
                    with column:
                        st.markdown(f"**{label}**")
                        st.dataframe(table, hide_index=True, height=390,
                                     column_order=("rank", "title", "probability",
                                                   "calibrated"),
                                     column_config={
                                         "rank": st.column_config.NumberColumn("#", width=30),
                                         "title": st.column_config.TextColumn(width=160),
                                         "probability": st.column_config.NumberColumn(
                                             "p", format="%.3f", width=50,
                                             help="probability as trained"),
                                         "calibrated": st.column_config.NumberColumn(
                                             "cal.", format="%.3f", width=50,
                                             help="mapped back through the theory's inverse")})
elif found.runs:
    st.info("None of the stored runs has a readable best.pt to recommend with.")
