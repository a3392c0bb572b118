"""How long writing images.zip will take, measured on a few real batches (the time budget
reserves it)."""

from __future__ import annotations

import io
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from painter.data.images import JPEG_QUALITY, encode_jpeg
from painter.submission.inference import predictor, replica_count
from painter.submission.validate import SUBMISSION_IMAGE_SIZE, check_image


def estimate_submission_seconds(
    generator: Any,
    photo_count: int,
    *,
    batch_size: int = 64,
    image_size: int = SUBMISSION_IMAGE_SIZE,
    timed_batches: int = 3,
    jpeg_quality: int = JPEG_QUALITY,
) -> float:
    """Seconds `write_submission` will take for `photo_count` photos, measured, not guessed.

    One batch warms up (compilation), `timed_batches` real batches are timed, and their mean is
    extrapolated; reading (a JPEG decode per photo), JPEG encoding and validation are timed on one
    batch the same way. The estimate adds the warm-up and assumes no overlap between reading,
    inference and encoding, so it errs long: the time budget reserves it. The compiled model is
    cached, so a `write_submission` with the same generator and batch size does not compile
    again."""
    if photo_count <= 0:
        return 0.0
    replicas = replica_count(generator) if hasattr(generator, "predict_on_batch") else 1
    batch_size = int(math.ceil(batch_size / replicas) * replicas)
    predict = predictor(generator)
    rng = np.random.default_rng(0)
    real_photo = rng.integers(0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8)
    start = time.perf_counter()
    fake_monet = predict(real_photo)  # compiles
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(max(1, timed_batches)):
        fake_monet = predict(real_photo)
    infer = (time.perf_counter() - start) / max(1, timed_batches)

    workers = max(1, os.cpu_count() or 1)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        encoded = list(pool.map(lambda p: encode_jpeg(p, jpeg_quality), fake_monet))
    encode = time.perf_counter() - start
    start = time.perf_counter()
    for data in encoded:  # the writer checks each JPEG's markers before writing it
        check_image("estimate.jpg", data, image_size, decode=False)
    validate = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # reading the photos: a JPEG decode each
        list(pool.map(lambda data: Image.open(io.BytesIO(data)).load(), encoded))
    read = time.perf_counter() - start

    batches = math.ceil(photo_count / batch_size)
    return warm_up + batches * (read + infer + encode + validate)


__all__ = ["estimate_submission_seconds"]
