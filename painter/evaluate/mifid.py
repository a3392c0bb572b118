"""FID and MiFID exactly as Kaggle's scoring code for "I'm Something of a Painter Myself" computes
them (jybai/generative-memorization-benchmark, src/competition_scoring.py), from feature arrays.

Kaggle's recipe, step by step:
1. FID between the generated and the real features: means and `np.cov(rowvar=False)` covariances,
   `|mu_g - mu_r|^2 + Tr(S_g + S_r - 2 sqrtm(S_g S_r))` with `scipy.linalg.sqrtm`; when that root is
   not finite, 1e-6 * I is added to both covariances and the root taken again; a negligible
   imaginary part (diagonal within 1e-3 of 0) is dropped, a larger one is an error.
2. Memorization distance: all-zero feature rows dropped, rows L2-normalised,
   `d_ij = 1 - |cos(g_i, r_j)|`, `d = mean_i min_j d_ij` (minimum over the REAL images for each
   GENERATED image: the order of the arguments matters).
3. The threshold is applied once, to that mean: `d_thr = d if d < 0.1 else 1`.
4. `MiFID = FID / (d_thr + 1e-15)`: a submission that is not close to the training images
   (d >= 0.1) scores its plain FID; one that memorises them is punished by the division.

Nothing here imports Keras: `mifid_from_features` works on any arrays, so the math is testable
without a network. `evaluate(generated, real)` extracts Inception features first
(`painter.evaluate.features`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from painter.errors import DataError
from painter.evaluate.images import iterate_images

# Kaggle's constants (competition_scoring.py).
COSINE_DISTANCE_THRESHOLD = 0.1  # model_params['Inception']['cosine_distance_eps']
MIFID_EPSILON = 1e-15  # fid_epsilon: keeps a distance of exactly 0 from dividing by zero
SQRTM_OFFSET = 1e-6  # eps in calculate_frechet_distance: added to both covariances on failure
IMAGINARY_TOLERANCE = 1e-3  # np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)

# Rows of generated features compared with every real image at once: 1,024 x 7,038 float64
# similarities are 58 MB, where the full 10,000 x 7,038 matrix Kaggle builds would be 563 MB.
DEFAULT_CHUNK_ROWS = 1024


def _as_features(features: Any, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise DataError(
            f"{name} features must be a 2-D array [images, features]; got shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise DataError(f"{name} features are empty: no images to compare.")
    if not np.isfinite(array).all():
        raise DataError(f"{name} features contain NaN or infinity; check the feature model.")
    return array


def _check_pair(generated: np.ndarray, real: np.ndarray) -> None:
    if generated.shape[1] != real.shape[1]:
        raise DataError(
            f"generated features have {generated.shape[1]} values per image but real features "
            f"have {real.shape[1]}: both sides must come from the same feature model."
        )


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = SQRTM_OFFSET,
    sqrtm: Callable[[np.ndarray], np.ndarray] | None = None,
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), as Kaggle's
    `calculate_frechet_distance` computes it (same fallback and imaginary-part rule).

    `sqrtm` defaults to `scipy.linalg.sqrtm` (looked up at call time so tests can replace it)."""
    sqrtm = sqrtm or scipy.linalg.sqrtm
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise DataError(
            f"means {mu1.shape} / {mu2.shape} and covariances {sigma1.shape} / {sigma2.shape} "
            "must have matching shapes."
        )
    diff = mu1 - mu2
    covmean = np.asarray(sqrtm(sigma1.dot(sigma2)))
    if not np.isfinite(covmean).all():
        # Kaggle's fallback: the product is (nearly) singular, e.g. fewer images than features.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = np.asarray(sqrtm((sigma1 + offset).dot(sigma2 + offset)))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_TOLERANCE):
            largest = float(np.max(np.abs(covmean.imag)))
            raise DataError(
                f"the square root of the covariance product has an imaginary component of "
                f"{largest:.3g} (Kaggle's code rejects this too): the features are degenerate; "
                "use more images or check the feature model."
            )
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(generated: Any, real: Any) -> float:
    """FID between two feature sets [images, features] (means, `np.cov(rowvar=False)`)."""
    generated = _as_features(generated, "generated")
    real = _as_features(real, "real")
    _check_pair(generated, real)
    for name, features in (("generated", generated), ("real", real)):
        if features.shape[0] < 2:
            raise DataError(f"FID needs at least 2 {name} images for a covariance; got 1.")
    return frechet_distance(
        generated.mean(axis=0),
        np.cov(generated, rowvar=False),
        real.mean(axis=0),
        np.cov(real, rowvar=False),
    )


def _nonzero_rows(features: np.ndarray, name: str) -> np.ndarray:
    # Kaggle drops rows whose sum is 0; for Inception's non-negative (post-ReLU) features that is
    # exactly the all-zero rows, which are what have no direction to compare.
    keep = np.any(features != 0, axis=1)
    if not keep.any():
        raise DataError(f"every {name} feature row is all zeros: nothing to compare.")
    return features if keep.all() else features[keep]


def _row_norms(features: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", features, features))  # no squared copy of the matrix


def memorization_distance(
    generated: Any, real: Any, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> float:
    """Kaggle's memorization distance: mean over generated images of the minimum over real images
    of `1 - |cos(g, r)|`, all-zero rows dropped first. Generated first: swapping the arguments
    gives a different number. Computed `chunk_rows` generated rows at a time, so memory holds the
    normalised real features and one [chunk_rows, real] block, never the whole matrix."""
    generated = _as_features(generated, "generated")
    real = _as_features(real, "real")
    _check_pair(generated, real)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1; got {chunk_rows}.")
    real = _nonzero_rows(real, "real")
    # unit rows, stored [features, real] contiguous: matmul would copy a transposed view per chunk
    real_t = np.array(real.T, order="C")  # a copy, so dividing in place leaves the input alone
    real_t /= _row_norms(real)[None, :]
    generated = _nonzero_rows(generated, "generated")
    generated_norms = _row_norms(generated)
    minima = np.empty(generated.shape[0], dtype=np.float64)
    for start in range(0, generated.shape[0], chunk_rows):
        stop = start + chunk_rows
        cosine = generated[start:stop] @ real_t
        cosine /= generated_norms[start:stop, None]  # = normalising the generated rows first
        np.abs(cosine, out=cosine)
        # min_j (1 - |cos|) == 1 - max_j |cos| exactly (rounding is monotonic), one array fewer
        minima[start:stop] = 1.0 - np.max(cosine, axis=1)
    return float(np.mean(minima))


def threshold_distance(distance: float, threshold: float = COSINE_DISTANCE_THRESHOLD) -> float:
    """Kaggle's `distance_thresholding`: the distance itself when below `threshold`, else 1."""
    return float(distance) if distance < threshold else 1.0


def mifid_from_features(generated: Any, real: Any) -> dict[str, float | int]:
    """FID, memorization distance (raw and thresholded) and MiFID from two feature arrays.

    Returns `{"fid", "memorization_distance", "memorization_distance_thresholded", "mifid",
    "generated_count", "real_count", "generated_zero_rows", "real_zero_rows", "feature_dim"}`.
    `mifid == fid` whenever the distance is at least 0.1."""
    generated = _as_features(generated, "generated")
    real = _as_features(real, "real")
    fid = fid_from_features(generated, real)
    distance = memorization_distance(generated, real)
    distance_thr = threshold_distance(distance)
    return {
        "fid": fid,
        "memorization_distance": distance,
        "memorization_distance_thresholded": distance_thr,
        "mifid": fid / (distance_thr + MIFID_EPSILON),
        "generated_count": int(generated.shape[0]),
        "real_count": int(real.shape[0]),
        "generated_zero_rows": int(np.sum(~np.any(generated != 0, axis=1))),
        "real_zero_rows": int(np.sum(~np.any(real != 0, axis=1))),
        "feature_dim": int(generated.shape[1]),
    }


def evaluate(
    generated: str | os.PathLike,
    real: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    model: Any = None,
    *,
    batch_size: int = 32,
    limit: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """MiFID of the images at `generated` (images.zip or a folder) against the images at `real`
    (a folder of images or TFRecords, or a zip).

    Features come from Inception-v3's 2,048-value pool layer with ImageNet weights (downloaded,
    found in Keras' cache or a Kaggle input, or the file/folder `weights`), or from `model` (a
    Keras model or a `.keras` file). Choose the runtime (`painter.select_runtime()`) before calling
    if the backend matters. Returns `mifid_from_features`'s dict plus "feature_model",
    "generated" and "real"."""
    from painter.evaluate import features as features_module  # imports Keras

    # Both paths are checked before the (slow) feature model loads.
    sources = {
        "generated": iterate_images(generated, limit=limit),
        "real": iterate_images(real, limit=limit),
    }
    extractor = features_module.load_feature_extractor(weights=weights, model=model)
    results = {
        side: extractor.extract(
            images, batch_size=batch_size, progress=f"{side} features" if progress else None
        )
        for side, images in sources.items()
    }
    scores: dict[str, Any] = dict(mifid_from_features(results["generated"], results["real"]))
    scores.update(feature_model=extractor.description, generated=str(generated), real=str(real))
    return scores
