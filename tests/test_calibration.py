"""Calibration metrics against a direct computation and scikit-learn; recalibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from gsasrec import calibration, theory
from gsasrec.cli import main


@pytest.fixture
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    predicted = rng.beta(0.5, 2.0, size=5000)
    outcomes = (rng.random(5000) < predicted**1.5).astype(float)  # overconfident on purpose
    return predicted, outcomes


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_table_matches_sklearn(sample, strategy):
    predicted, outcomes = sample
    table = calibration.reliability_table(predicted, outcomes, 10, strategy)
    prob_true, prob_pred = calibration_curve(outcomes, predicted, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(table["observed_frequency"], prob_true)
    np.testing.assert_allclose(table["mean_predicted"], prob_pred)
    assert table["count"].sum() == len(predicted)


def test_metrics_against_direct_computation():
    predicted = np.array([0.05, 0.15, 0.12, 0.85, 0.95, 0.55])
    outcomes = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    # bins (uniform, 10): [0.05] [0.15, 0.12] [0.55] [0.85] [0.95]
    gaps = [(abs(0.05 - 0), 1), (abs(0.135 - 0.5), 2), (abs(0.55 - 0), 1),
            (abs(0.85 - 1), 1), (abs(0.95 - 1), 1)]
    ece = sum(g * n for g, n in gaps) / 6
    assert calibration.expected_calibration_error(predicted, outcomes) == pytest.approx(ece)
    assert calibration.maximum_calibration_error(predicted, outcomes) == pytest.approx(0.55)
    assert calibration.brier_score(predicted, outcomes) == pytest.approx(
        np.mean((predicted - outcomes) ** 2))
    expected_log_loss = -np.mean(outcomes * np.log(predicted)
                                 + (1 - outcomes) * np.log(1 - predicted))
    assert calibration.log_loss(predicted, outcomes) == pytest.approx(expected_log_loss)
    summary = calibration.calibration_summary(predicted, outcomes)
    assert summary["count"] == 6 and summary["ece"] == pytest.approx(ece)
    assert summary["observed_frequency"] == pytest.approx(0.5)


def test_perfectly_calibrated_truth_has_zero_error():
    p = np.linspace(0.001, 0.999, 1000)
    assert calibration.expected_calibration_error(p, p) == pytest.approx(0.0)
    table = calibration.truth_calibration(p, p)
    np.testing.assert_allclose(table["mean_predicted"], table["mean_true"])
    assert calibration.overconfidence_ratio(2 * p / 3, p / 3) == pytest.approx(2.0)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="lie in"):
        calibration.brier_score([1.2], [1])
    with pytest.raises(ValueError, match="differ"):
        calibration.log_loss([0.2, 0.3], [1])
    with pytest.raises(ValueError, match="strategy"):
        calibration.reliability_table([0.2], [1], strategy="kmeans")


@pytest.mark.parametrize(("k", "t"), [(1, 0.0), (16, 0.5), (256, 0.75), (64, 1.0)])
def test_recalibration_inverts_the_optimum(k, t):
    num_items = 3416
    p_true = np.logspace(-5, -0.01, 50)
    trained = theory.predicted_probability(p_true, theory.sampling_rate(k, num_items), t)
    np.testing.assert_allclose(calibration.recalibrate(trained, k, num_items, t), p_true,
                               rtol=1e-9)


def _fake_run(path, loss, scores, log_normalisers=None):
    rng = np.random.default_rng(1)
    users = len(scores)
    top_items = np.tile(np.arange(1, 11), (users, 1))
    targets = rng.integers(1, 15, size=users)
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"loss": loss, "gbce_t": 0.0,
                                                  "num_negatives": 1}))
    (path / "metrics.json").write_text(json.dumps({
        "loss": loss, "num_negatives": 1, "alpha": 1 / 99, "split": {"num_items": 100},
        "test": {"ndcg@10": 0.1}}))
    np.savez(path / "predictions.npz", users=np.arange(users), targets=targets,
             target_scores=scores[:, 0], ranks=np.ones(users, dtype=np.int64),
             top_items=top_items, top_scores=scores,
             log_normalisers=np.zeros(users) if log_normalisers is None else log_normalisers)
    return targets


def test_run_predictions_and_top_k_data(tmp_path):
    scores = np.sort(np.random.default_rng(0).normal(size=(40, 10)), axis=1)[:, ::-1].copy()
    targets = _fake_run(tmp_path / "bce", "bce", scores)
    predictions = calibration.run_predictions(tmp_path / "bce")
    np.testing.assert_allclose(predictions["top_probabilities"], 1 / (1 + np.exp(-scores)))
    predicted, outcomes = calibration.top_k_reliability_data(predictions, top_k=3)
    assert predicted.shape == (120,)
    assert outcomes.sum() == np.sum(targets <= 3)
    lse = np.log(np.exp(scores).sum(1) + 5.0)
    _fake_run(tmp_path / "ce", "ce", scores, lse)
    softmax = calibration.run_predictions(tmp_path / "ce")["top_probabilities"]
    np.testing.assert_allclose(softmax, np.exp(scores - lse[:, None]))


def test_cli_calibrate_writes_files(tmp_path, capsys):
    scores = np.random.default_rng(0).normal(2.0, 1.0, size=(30, 10))
    _fake_run(tmp_path / "run", "bce", scores)
    assert main(["calibrate", str(tmp_path / "run"), "--top-k", "5"]) == 0
    report = json.loads((tmp_path / "run" / "calibration.json").read_text())
    assert report["model"]["count"] == 150
    # BCE with 1 negative out of 100 items: recalibration lowers every probability
    assert report["recalibrated"]["mean_predicted"] < report["model"]["mean_predicted"]
    csv = (tmp_path / "run" / "reliability.csv").read_text().splitlines()
    assert csv[0] == "bin_lower,bin_upper,mean_predicted,observed_frequency,count,stage"
    assert main(["calibrate", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
