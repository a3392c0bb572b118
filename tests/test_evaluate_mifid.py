"""FID / MiFID math against independent computations (closed forms, eigenvalues, scipy's cdist).

Pure numpy: no Keras, no network."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from painter.errors import DataError
from painter.evaluate import mifid


def exact_sample(mean: np.ndarray, covariance: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` rows whose sample mean and np.cov are exactly `mean` and `covariance`."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(count, len(mean)))
    noise -= noise.mean(axis=0)
    white = noise @ np.linalg.inv(np.linalg.cholesky(np.cov(noise, rowvar=False))).T
    return mean + white @ np.linalg.cholesky(covariance).T


def eigen_fid(generated: np.ndarray, real: np.ndarray) -> float:
    """FID with Tr sqrt(S_g S_r) = sum sqrt(eigenvalues of S_g S_r): no matrix square root."""
    s_g, s_r = np.cov(generated, rowvar=False), np.cov(real, rowvar=False)
    eigenvalues = np.clip(np.linalg.eigvals(s_g @ s_r).real, 0, None)
    diff = generated.mean(axis=0) - real.mean(axis=0)
    return float(diff @ diff + np.trace(s_g) + np.trace(s_r) - 2 * np.sqrt(eigenvalues).sum())


def test_identical_sets_have_zero_fid_and_zero_distance():
    features = np.random.default_rng(0).normal(size=(40, 6))
    scores = mifid.mifid_from_features(features, features.copy())
    assert abs(scores["fid"]) < 1e-9
    assert scores["memorization_distance"] == pytest.approx(0.0, abs=1e-12)
    assert scores["memorization_distance_thresholded"] == scores["memorization_distance"]


def test_diagonal_gaussians_give_the_closed_form_fid():
    mu_g, mu_r = np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.0, 1.0, 0.5, -1.0])
    var_g, var_r = np.array([4.0, 1.0, 0.25, 9.0]), np.array([1.0, 1.0, 1.0, 4.0])
    generated = exact_sample(mu_g, np.diag(var_g), 50, seed=1)
    real = exact_sample(mu_r, np.diag(var_r), 70, seed=2)
    # sqrtm of diagonal matrices is elementwise: FID = |dmu|^2 + sum (sqrt(v_g) - sqrt(v_r))^2
    expected = np.sum((mu_g - mu_r) ** 2) + np.sum((np.sqrt(var_g) - np.sqrt(var_r)) ** 2)
    assert expected == pytest.approx(26.0 + 2.25)  # by hand: (1+9+0+16) + (1+0+0.25+1)
    assert mifid.fid_from_features(generated, real) == pytest.approx(expected, rel=1e-9)


def test_commuting_full_covariances_give_the_closed_form_fid():
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(5, 5)))
    eig_g, eig_r = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([5.0, 1.0, 0.5, 2.0, 8.0])
    cov_g = rotation @ np.diag(eig_g) @ rotation.T
    cov_r = rotation @ np.diag(eig_r) @ rotation.T
    generated = exact_sample(np.zeros(5), cov_g, 30, seed=4)
    real = exact_sample(np.ones(5), cov_r, 30, seed=5)
    expected = 5.0 + np.sum((np.sqrt(eig_g) - np.sqrt(eig_r)) ** 2)
    assert mifid.fid_from_features(generated, real) == pytest.approx(expected, rel=1e-9)


def test_fid_of_random_sets_matches_an_eigenvalue_computation():
    rng = np.random.default_rng(6)
    generated = rng.gamma(2.0, size=(80, 12))
    real = rng.gamma(3.0, size=(60, 12)) @ rng.normal(size=(12, 12))
    assert mifid.fid_from_features(generated, real) == pytest.approx(
        eigen_fid(generated, real), rel=1e-8
    )


def test_copies_of_training_images_are_punished_as_kaggle_does():
    # Generated: the four axis directions at length 2; real: the same directions at length 4, so
    # every generated image copies a real one (|cos| = 1 exactly: distance exactly 0).
    # By hand: means 0; np.cov (n - 1 = 3) is diag(8/3, 8/3) and diag(32/3, 32/3); diagonal
    # covariances give FID = sum (sqrt(8/3) - sqrt(32/3))^2 = 2 * 8/3 * (1 - 2)^2 = 16/3.
    axes = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    scores = mifid.mifid_from_features(2 * axes, 4 * axes)
    assert scores["fid"] == pytest.approx(16 / 3, rel=1e-9)
    assert scores["memorization_distance"] == 0.0
    assert scores["memorization_distance_thresholded"] == 0.0  # 0 < 0.1: kept
    # Kaggle: MiFID = FID / (0 + 1e-15)
    assert scores["mifid"] == pytest.approx(16 / 3 * 1e15, rel=1e-9)


def test_close_but_not_copied_images_divide_by_the_raw_distance():
    # g = (1, 1, 0)/sqrt2 against the axes: 1 - |cos| = 1 - 1/sqrt2 = 0.29 >= 0.1 -> threshold 1
    assert mifid.threshold_distance(1 - 1 / np.sqrt(2)) == 1.0
    assert mifid.threshold_distance(0.05) == 0.05
    assert mifid.threshold_distance(0.1) == 1.0  # "d < eps", strictly
    # Generated: (24, 7) / 25 and its turns and mirrors, |cos| = 24/25 with the nearest real axis:
    # distance 1 - 0.96 = 0.04 < 0.1. By hand: real covariance (1250/3) I; the generated one,
    # (1/3) [[1250, 672], [672, 1250]], has eigenvalues 1922/3 and 578/3, and commutes with it:
    # FID = ((sqrt 1922 - sqrt 1250)^2 + (sqrt 578 - sqrt 1250)^2) / 3
    #     = ((31 - 25)^2 * 2 + (17 - 25)^2 * 2) / 3 = 200/3; MiFID = (200/3) / 0.04 = 5000/3.
    generated = np.array([[24.0, 7.0], [-24.0, -7.0], [7.0, 24.0], [-7.0, -24.0]])
    real = np.array([[25.0, 0.0], [-25.0, 0.0], [0.0, 25.0], [0.0, -25.0]])
    scores = mifid.mifid_from_features(generated, real)
    assert scores["fid"] == pytest.approx(200 / 3, rel=1e-9)
    assert scores["memorization_distance"] == pytest.approx(0.04, rel=1e-9)
    assert scores["mifid"] == pytest.approx(5000 / 3, rel=1e-9)


def test_a_distance_above_the_threshold_leaves_mifid_equal_to_fid():
    rng = np.random.default_rng(9)
    generated, real = rng.normal(size=(30, 64)), rng.normal(size=(40, 64)) + 0.5
    scores = mifid.mifid_from_features(generated, real)
    assert scores["memorization_distance"] > 0.1
    assert scores["memorization_distance_thresholded"] == 1.0
    assert scores["mifid"] == pytest.approx(scores["fid"], rel=1e-12)
    assert (scores["generated_count"], scores["real_count"], scores["feature_dim"]) == (30, 40, 64)


def test_distance_takes_the_minimum_over_real_images_for_each_generated_one():
    e = np.eye(4)
    generated = np.stack([e[0], 2 * e[0], -e[1]])  # every one is a real direction (|cos| = 1)
    real = e
    assert mifid.memorization_distance(generated, real) == pytest.approx(0.0)
    # the other direction (torchmetrics' order): e3, e4 have no generated match -> (0+0+1+1)/4
    assert mifid.memorization_distance(real, generated) == pytest.approx(0.5)
    diagonal = np.array([[1.0, 1.0, 0.0, 0.0]])
    assert mifid.memorization_distance(diagonal, real) == pytest.approx(1 - 1 / np.sqrt(2))


def test_distance_matches_scipy_cdist_whatever_the_chunk_size():
    rng = np.random.default_rng(10)
    generated, real = rng.normal(size=(37, 9)), rng.normal(size=(23, 9))
    cosine = cdist(generated, real, metric="cosine")  # 1 - cos
    expected = np.mean(np.min(np.minimum(cosine, 2 - cosine), axis=1))  # 1 - |cos|
    for chunk_rows in (1, 5, 37, 1000):
        assert mifid.memorization_distance(generated, real, chunk_rows=chunk_rows) == pytest.approx(
            expected, rel=1e-12
        )


def test_all_zero_rows_are_dropped_from_the_distance():
    rng = np.random.default_rng(11)
    generated, real = rng.gamma(2.0, size=(10, 6)), rng.gamma(2.0, size=(12, 6))
    zeros = np.zeros((3, 6))
    with_zeros = mifid.mifid_from_features(np.vstack([generated, zeros]), np.vstack([zeros, real]))
    assert with_zeros["memorization_distance"] == pytest.approx(
        mifid.memorization_distance(generated, real), rel=1e-12
    )
    assert (with_zeros["generated_zero_rows"], with_zeros["real_zero_rows"]) == (3, 3)
    with pytest.raises(DataError, match="all zeros"):
        mifid.memorization_distance(zeros, real)


def test_singular_covariances_give_a_finite_fid_that_matches_eigenvalues():
    rng = np.random.default_rng(12)
    generated, real = rng.gamma(2.0, size=(5, 10)), rng.gamma(2.0, size=(6, 10))  # rank <= 5
    fid = mifid.fid_from_features(generated, real)
    assert np.isfinite(fid)
    assert fid == pytest.approx(eigen_fid(generated, real), rel=1e-6)


def test_a_non_finite_root_retries_with_one_millionth_added_to_both_covariances(monkeypatch):
    calls = []
    real_sqrtm = mifid.scipy.linalg.sqrtm

    def failing_first(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.inf) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(mifid.scipy.linalg, "sqrtm", failing_first)
    sigma1, sigma2 = np.diag([1.0, 0.0, 4.0]), np.diag([0.0, 1.0, 9.0])
    fid = mifid.frechet_distance(np.zeros(3), sigma1, np.ones(3), sigma2)
    offset = np.eye(3) * 1e-6
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sigma1 + offset) @ (sigma2 + offset))
    root = np.sqrt(np.diag(calls[1]))
    assert fid == pytest.approx(3.0 + 1.0 + 1.0 + 13.0 - 2 * root.sum(), rel=1e-9)


def test_imaginary_parts_are_dropped_when_negligible_and_rejected_otherwise(monkeypatch):
    sigma = np.eye(2)
    monkeypatch.setattr(mifid.scipy.linalg, "sqrtm", lambda m: m + 1e-6j)
    assert mifid.frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma) == pytest.approx(0.0)
    monkeypatch.setattr(mifid.scipy.linalg, "sqrtm", lambda m: m + 0.5j)
    with pytest.raises(DataError, match="imaginary component of 0.5"):
        mifid.frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma)


@pytest.mark.parametrize(
    ("generated", "real", "message"),
    [
        (np.zeros(5), np.ones((3, 5)), "2-D array"),
        (np.ones((3, 4)), np.ones((3, 5)), "same feature model"),
        (np.full((3, 4), np.nan), np.ones((3, 4)), "NaN"),
        (np.ones((1, 4)), np.ones((3, 4)), "at least 2 generated"),
        (np.ones((0, 4)), np.ones((3, 4)), "empty"),
    ],
)
def test_bad_feature_arrays_are_refused_with_a_clear_error(generated, real, message):
    with pytest.raises(DataError, match=message):
        mifid.mifid_from_features(generated, real)
