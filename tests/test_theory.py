"""theory.py against the paper's closed forms and a brute-force minimisation of the expected
loss, and the sampler plus gBCE converging where theory says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsasrec import theory
from gsasrec.losses import gbce_loss
from gsasrec.sampling import sample_negatives


def expected_loss_minimiser(p_true: float, alpha: float, beta: float) -> float:
    """argmin_p -beta P log p - alpha (1 - P) log(1 - p), by a dense grid in logit space
    refined twice around the best point (no closed form used)."""
    low, high = -40.0, 40.0
    for _ in range(3):
        logits = np.linspace(low, high, 200_001)
        log_p = -np.logaddexp(0.0, -logits)  # log sigmoid
        log_1mp = -np.logaddexp(0.0, logits)  # log (1 - sigmoid)
        loss = -beta * p_true * log_p - alpha * (1.0 - p_true) * log_1mp
        best = logits[np.argmin(loss)]
        step = (high - low) / 200_000
        low, high = best - 50 * step, best + 50 * step
    return float(1.0 / (1.0 + np.exp(-best)))


def test_sampling_rate_counts_real_items_only():
    assert theory.sampling_rate(256, 3416) == pytest.approx(256 / 3415)
    assert theory.sampling_rate(1, 2) == 1.0
    for k, n in [(0, 10), (10, 10), (1, 1)]:
        with pytest.raises(ValueError):
            theory.sampling_rate(k, n)


def test_beta_matches_the_papers_two_forms():
    alpha = np.array([1e-6, 0.01, 0.3, 1.0])
    for t in (0.0, 0.25, 0.75, 1.0):
        papers_form = alpha * (t * (1 - 1 / alpha) + 1 / alpha)
        np.testing.assert_allclose(theory.beta(alpha, t), papers_form, rtol=1e-9)
    assert theory.beta(0.01, 0.0) == 1.0  # BCE
    assert theory.beta(0.01, 1.0) == pytest.approx(0.01)  # beta = alpha


@pytest.mark.parametrize("t", [0.0, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("alpha", [1e-3, 0.05, 0.5])
@pytest.mark.parametrize("p_true", [1e-3, 0.05, 0.3, 0.7, 0.99])
def test_predicted_probability_minimises_the_expected_loss(p_true, alpha, t):
    beta = 1.0 - t * (1.0 - alpha)
    brute = expected_loss_minimiser(p_true, alpha, beta)
    assert theory.predicted_probability(p_true, alpha, t) == pytest.approx(brute, rel=1e-4)


def test_bce_is_overconfident_and_t_1_is_calibrated():
    p = np.array([1e-4, 0.01, 0.2, 0.7])
    alpha = 256 / 3415
    bce = theory.predicted_probability(p, alpha, 0.0)
    np.testing.assert_allclose(bce, p / (p + alpha * (1 - p)), rtol=1e-12)
    assert np.all(bce > p)
    np.testing.assert_allclose(theory.predicted_probability(p, alpha, 1.0), p, rtol=1e-12)
    by_t = np.stack([theory.predicted_probability(p, alpha, t) for t in np.linspace(0, 1, 11)])
    assert np.all(np.diff(by_t, axis=0) < 0)  # decreasing in t, from BCE's down to P
    # with alpha -> 0 BCE pushes every positive item towards probability 1
    assert theory.predicted_probability(1e-4, 1e-9, 0.0) > 0.999


def test_true_probability_inverts_predicted_probability():
    rng = np.random.default_rng(0)
    p = rng.uniform(1e-6, 1 - 1e-6, 1000)
    alpha = rng.uniform(1e-5, 1.0, 1000)
    t = rng.uniform(0, 1, 1000)
    predicted = theory.predicted_probability(p, alpha, t)
    np.testing.assert_allclose(theory.true_probability(predicted, alpha, t), p, rtol=1e-9)
    closed_form = alpha * predicted / (theory.beta(alpha, t) * (1 - predicted) + alpha * predicted)
    np.testing.assert_allclose(theory.true_probability(predicted, alpha, t), closed_form)
    assert isinstance(theory.true_probability(0.5, 0.1, 0.5), float)


def test_positive_drawn_variant_gives_041_for_p_07():
    """paper.md: with the positive drawable, t = 1 maps P = 0.7 to 0.41, not 0.7."""
    k, num_items = 256, 3416
    value = theory.predicted_probability_with_positive_drawn(0.7, k, num_items, 1.0)
    alpha = k / (num_items - 1)
    assert value == pytest.approx(alpha * 0.7 / (alpha * 0.7 + k / num_items), rel=1e-12)
    assert value == pytest.approx(0.41, abs=0.005)
    # for small P the exclusion hardly matters
    small = theory.predicted_probability_with_positive_drawn(1e-4, k, num_items, 1.0)
    assert small == pytest.approx(1e-4, rel=1e-3)


def _fit_free_logits(true_p: np.ndarray, k: int, t: float, exclude_positive: bool,
                     steps: int = 100_000) -> np.ndarray:
    """Fit one free logit per item with gbce_loss on sampled (positive, negatives) pairs."""
    generator = torch.Generator().manual_seed(0)
    num_items = len(true_p)
    probs = torch.tensor(np.concatenate([[0.0], true_p]))
    positives = torch.multinomial(probs, steps, replacement=True, generator=generator)
    if exclude_positive:
        negatives = sample_negatives(positives, k, num_items, generator)
    else:  # the authors' port: uniform over all items, the positive included
        negatives = torch.randint(1, num_items + 1, (steps, k), generator=generator)
    alpha = theory.sampling_rate(k, num_items)
    logits = torch.zeros(num_items + 1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([logits], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = gbce_loss(logits[positives].double(), logits[negatives].double(), alpha, t)
        loss.backward()
        return loss

    optimiser.step(closure)
    return torch.sigmoid(logits[1:]).detach().numpy()


@pytest.mark.parametrize("t", [0.0, 1.0])
def test_sampler_and_loss_converge_to_the_predicted_probability(t):
    """Free logits trained with our sampler and gBCE land where theory says (sample noise)."""
    true_p = np.array([0.5, 0.25, 0.15, 0.06, 0.03, 0.01])
    k = 2
    fitted = _fit_free_logits(true_p, k, t, exclude_positive=True)
    expected = theory.predicted_probability(true_p, theory.sampling_rate(k, len(true_p)), t)
    np.testing.assert_allclose(fitted, expected, rtol=0.05)


def test_drawing_the_positive_breaks_calibration_as_predicted():
    true_p = np.array([0.7, 0.15, 0.1, 0.05])
    k = 2
    fitted = _fit_free_logits(true_p, k, 1.0, exclude_positive=False)
    expected = theory.predicted_probability_with_positive_drawn(true_p, k, len(true_p), 1.0)
    np.testing.assert_allclose(fitted, expected, rtol=0.05)
    assert fitted[0] < 0.6  # far from the calibrated 0.7
