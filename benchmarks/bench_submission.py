"""images.zip two ways on the same machine with the same generator: painter's writer vs the
starter's.

The starter notebook's way: one generator call per photo (batch 1), `PIL.Image.save` of each JPEG
into a folder, then `shutil.make_archive`. painter's way: `write_submission` (batched inference,
parallel JPEG encoding, streamed into a ZIP_STORED zip, validated). Both read the photos with the
same painter.data reader, and each runs in its own subprocess so its peak memory (max RSS) is its
own. Prints images/s for both, their ratio and peak memory.

The floor, measured in the same run on the same photos: no generator at all, only read + decode +
encode (painter's JPEG quality, the submission's image size) on every core + a ZIP_STORED zip,
with two codecs, each in its own subprocess: TensorFlow's libjpeg-turbo (`tf.io.decode_jpeg` /
`tf.io.encode_jpeg` in a `tf.data` map with AUTOTUNE parallelism) and PIL's (a thread pool; PIL
releases the GIL while it decodes and encodes). The floor is the faster of the two: no writer
of images.zip on this machine can beat it. Methods are interleaved `--repeats` times and medians
reported; the last line is `ratio painter/starter: R, painter/floor: F`.

Each method also reports its CPU time an image (every thread, user + system), which a busy
neighbour moves less than its wall time, and the painter runs time the generator alone as the
writer runs it (uint8 in and out, compiled): the floor plus that is the most any writer can reach
with this generator here, and painter's share of it is what is left to the writer.

    python benchmarks/bench_submission.py                         # 1-layer conv, 7,038 photos
    python benchmarks/bench_submission.py --generator resnet --limit 200     # the real ResNet
    python benchmarks/bench_submission.py --limit 100 --repeats 1  # a quick check

`--generator conv` is the cheap generator (one 1x1 convolution and tanh: still ~0.7 ms of CPU an
image on XLA:CPU, half the floor's whole decode + encode); `--generator identity` paints nothing,
so what is measured against the floor is the writer itself; `--generator resnet` is the kaggle-tpu
config's 9-block ResNet (float32 on CPU unless --bf16), where inference dominates.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "gan-getting-started"
METHODS = ("painter", "starter", "floor-tf", "floor-pil")
FLOOR_METHODS = ("floor-tf", "floor-pil")


def build_generator(kind: str, bf16: bool):
    import keras

    keras.utils.set_random_seed(0)
    if kind == "identity":
        # No work at all: what is left is the writer itself (read, uint8 <-> model range,
        # encode, check, zip) against the floor's read + encode + zip.
        inputs = keras.Input((None, None, 3))
        return keras.Model(inputs, keras.layers.Identity()(inputs), name="identity_generator")
    if kind in ("conv", "conv3"):
        # conv: one 1x1 convolution, the cheap generator (~0.7 ms of CPU an image on XLA:CPU);
        # conv3: one 3x3 convolution (on CPU a 3-channel 3x3 conv costs ~3 ms per 256x256 image).
        inputs = keras.Input((None, None, 3))
        kernel = 1 if kind == "conv" else 3
        outputs = keras.layers.Conv2D(3, kernel, padding="same", activation="tanh")(inputs)
        return keras.Model(inputs, outputs, name=f"{kind}_generator")
    from painter.config import preset
    from painter.models import build_generator as build

    config = preset("kaggle-tpu")
    if not bf16:  # bfloat16 is the TPU's type; CPUs without AMX emulate it slowly
        config = config.replace(mixed_precision=False)
    return build(config, "monet_generator")


def photo_source(photos: Path, limit: int | None):
    from painter.data.sources import ImageSource, find_source

    source = find_source(photos)
    if limit:
        source = ImageSource(source.kind, source.files[:limit], source.root)
    return source


def run_painter(args, generator, source, out_dir: Path) -> int:
    from painter.submission.writer import write_submission

    count = len(source.files)
    report = write_submission(
        generator,
        source,
        out_dir / "images.zip",
        batch_size=args.batch_size,
        min_count=min(7000, count),
        progress=False,
    )
    return report.count


def generator_seconds_per_image(args, generator, calls: int = 5) -> float:
    """The generator alone, as the writer runs it (`predictor`: uint8 in, uint8 out, compiled
    and cached by the write before): the median wall seconds a photo of `calls` batches of
    random photos. Added to the floor's time a photo, it gives the fastest any writer could
    paint with this generator on this machine."""
    import numpy as np

    from painter.submission.inference import predictor
    from painter.submission.validate import SUBMISSION_IMAGE_SIZE as size

    predict = predictor(generator)
    photos = np.random.default_rng(0).integers(0, 256, (args.batch_size, size, size, 3), np.uint8)
    predict(photos)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(photos)
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[len(seconds) // 2] / args.batch_size


def run_starter(args, generator, source, out_dir: Path) -> int:
    """The starter notebook's loop, verbatim in spirit: batch 1, PIL save, make_archive."""
    import shutil

    import numpy as np
    from PIL import Image

    from painter.data.reader import read_images

    images_dir = out_dir / "images"
    images_dir.mkdir()
    count = 0
    for element in read_images(source, image_size=256).batch(1):
        img = element["image"].numpy().astype(np.float32) / 127.5 - 1
        prediction = np.asarray(generator(img, training=False))[0]
        prediction = (prediction * 127.5 + 127.5).astype(np.uint8)
        Image.fromarray(prediction).save(images_dir / f"{count + 1}.jpg")
        count += 1
    shutil.make_archive(str(out_dir / "images"), "zip", str(images_dir))
    return count


def _image_files(source) -> list[str]:
    if source.kind != "images":
        sys.exit(f"the floor reads JPEG files; {source.describe()} holds TFRecords")
    return [str(path) for path in source.files]


def run_floor_tf(args, source, out_dir: Path) -> int:
    """The floor with TensorFlow's codec (libjpeg-turbo): read, decode, fit to the submission's
    size (a no-op tf.cond for the 256x256 photos), encode at painter's quality, in a tf.data map
    on every core; the bytes are written in order into a ZIP_STORED zip."""
    import tensorflow as tf

    from painter.data.images import JPEG_QUALITY, fit_to_size_tf
    from painter.submission.validate import SUBMISSION_IMAGE_SIZE

    def transcode(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        image = fit_to_size_tf(image, SUBMISSION_IMAGE_SIZE)
        return tf.io.encode_jpeg(image, quality=JPEG_QUALITY)

    dataset = (
        tf.data.Dataset.from_tensor_slices(_image_files(source))
        .map(transcode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    count = 0
    with zipfile.ZipFile(out_dir / "images.zip", "w", zipfile.ZIP_STORED) as archive:
        for encoded in dataset.as_numpy_iterator():
            for data in encoded:
                count += 1
                archive.writestr(f"{count}.jpg", data)
    return count


def run_floor_pil(args, source, out_dir: Path) -> int:
    """The floor with PIL's codec: the same work as run_floor_tf in a thread pool of one worker per
    core (PIL releases the GIL in decode and encode), chunks of 16 files, at most 4 chunks per
    worker in flight; the bytes are written in order into a ZIP_STORED zip."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from painter.data.images import JPEG_QUALITY, fit_to_size
    from painter.submission.validate import SUBMISSION_IMAGE_SIZE

    size = SUBMISSION_IMAGE_SIZE

    def transcode(paths: list[str]) -> list[bytes]:
        encoded = []
        for path in paths:
            with Image.open(path) as image:
                rgb = image if image.mode == "RGB" else image.convert("RGB")
                if rgb.size != (size, size):
                    rgb = fit_to_size(rgb, size)
                buffer = io.BytesIO()
                rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
            encoded.append(buffer.getvalue())
        return encoded

    files = _image_files(source)
    workers = os.cpu_count() or 1
    chunk = 16
    count = 0
    with (
        ThreadPoolExecutor(workers) as pool,
        zipfile.ZipFile(out_dir / "images.zip", "w", zipfile.ZIP_STORED) as archive,
    ):
        in_flight: deque = deque()
        for start in range(0, len(files), chunk):
            in_flight.append(pool.submit(transcode, files[start : start + chunk]))
            while len(in_flight) > 4 * workers or (start + chunk >= len(files) and in_flight):
                for data in in_flight.popleft().result():
                    count += 1
                    archive.writestr(f"{count}.jpg", data)
    return count


def child(args) -> None:
    """One method in this process: prints a JSON line with its figures."""
    import resource

    source = photo_source(args.photos, args.limit)
    floor = args.method in FLOOR_METHODS
    generator = None if floor else build_generator(args.generator, args.bf16)
    if args.method == "floor-tf":
        import tensorflow as tf  # imported before the baseline, as painter's and starter's are

        del tf
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(dir=args.tmp) as out_dir:
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        if floor:
            method = run_floor_tf if args.method == "floor-tf" else run_floor_pil
            count = method(args, source, Path(out_dir))
        else:
            method = run_painter if args.method == "painter" else run_starter
            count = method(args, generator, source, Path(out_dir))
        seconds = time.perf_counter() - start
        cpu_seconds = _cpu_seconds() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "method": args.method,
        "count": count,
        "seconds": seconds,
        "images_per_second": count / seconds,
        "cpu_ms_per_image": 1000 * cpu_seconds / count,
        "peak_rss_mb": peak_mb,
        "rss_before_run_mb": baseline_mb,
    }
    if args.method == "painter":
        figures["generator_seconds_per_image"] = generator_seconds_per_image(args, generator)
    print(json.dumps(figures))


def _cpu_seconds() -> float:
    """CPU time of this process, every thread, user + system: the work a method does, which a
    busy neighbour on a shared machine slows less than it slows wall time."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = Path(os.environ.get("PAINTER_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--photos", type=Path, default=data / "photo_jpg")
    parser.add_argument(
        "--generator", choices=("identity", "conv", "conv3", "resnet"), default="conv"
    )
    parser.add_argument("--limit", type=int, default=None, help="time the first N photos only")
    parser.add_argument(
        "--starter-limit",
        type=int,
        default=None,
        help="time the starter on fewer photos than painter (it is slow)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="painter's batch (and floor-tf's tf.data batch)"
    )
    parser.add_argument("--bf16", action="store_true", help="keep the preset's bfloat16")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--tmp", default=None, help="where the zips are written (default: /tmp)")
    parser.add_argument(
        "--repeats",
        "--repeat",
        dest="repeat",
        type=int,
        default=3,
        help="runs of each method (painter, starter, the two floors), interleaved; the median "
        "is reported (the starter's rate varies up to 2x between runs on a shared 2-core machine)",
    )
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        return child(args)

    runs: dict[str, list[dict]] = {method: [] for method in METHODS}
    for _ in range(max(1, args.repeat)):
        for method in METHODS:
            limit = args.starter_limit if method == "starter" and args.starter_limit else args.limit
            command = [
                sys.executable,
                __file__,
                "--method",
                method,
                "--photos",
                str(args.photos),
                "--generator",
                args.generator,
                "--batch-size",
                str(args.batch_size),
            ]
            command += ["--limit", str(limit)] if limit else []
            command += ["--bf16"] if args.bf16 else []
            command += ["--tmp", args.tmp] if args.tmp else []
            env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode or not lines:
                sys.exit(f"{method} failed:\n{done.stderr[-3000:]}")
            runs[method].append(json.loads(lines[-1]))
    # The median run of each method (by rate); the range shows the spread.
    results = {
        m: sorted(r, key=lambda x: x["images_per_second"])[len(r) // 2] for m, r in runs.items()
    }

    print(
        f"bench_submission: generator={args.generator} backend={args.backend} "
        f"batch={args.batch_size} cpus={os.cpu_count()}"
    )
    for method, r in results.items():
        print(
            f"  {method:9s} {r['count']:5d} images in {r['seconds']:7.1f} s = "
            f"{r['images_per_second']:7.1f} images/s, {r['cpu_ms_per_image']:.2f} ms of CPU an "
            f"image; peak RSS {r['peak_rss_mb']:.0f} MB "
            f"({r['rss_before_run_mb']:.0f} MB before the run); runs: "
            + ", ".join(f"{x['images_per_second']:.0f}" for x in runs[method])
            + " images/s"
        )
    ratio = results["painter"]["images_per_second"] / results["starter"]["images_per_second"]
    print(f"  speed-up painter/starter (medians of {len(runs['painter'])} runs): {ratio:.1f}x")
    floor = max(FLOOR_METHODS, key=lambda m: results[m]["images_per_second"])
    floor_rate = results[floor]["images_per_second"]
    floor_ratio = results["painter"]["images_per_second"] / floor_rate
    print(
        f"  floor = {floor} (the faster codec: read + decode + encode on {os.cpu_count()} cores "
        f"+ ZIP_STORED, no generator): {floor_rate:.1f} images/s, peak RSS "
        f"{results[floor]['peak_rss_mb']:.0f} MB; painter reaches {floor_ratio:.0%} of it"
    )
    # The generator's own time a photo (median of the painter runs), added to the floor's: the
    # fastest any writer could be with this generator; what is left is the writer's.
    generator_seconds = sorted(x["generator_seconds_per_image"] for x in runs["painter"])[
        len(runs["painter"]) // 2
    ]
    ceiling = 1 / (1 / floor_rate + generator_seconds)
    print(
        f"  the generator alone ({args.generator}, as the writer runs it, uint8 in and out): "
        f"{1000 * generator_seconds:.3f} ms an image = {1 / generator_seconds:.0f} images/s; "
        f"floor + generator = {ceiling:.1f} images/s, the most a writer can reach with it here; "
        f"painter reaches {results['painter']['images_per_second'] / ceiling:.0%} of that"
    )
    painter_calls = -(-results["painter"]["count"] // args.batch_size)
    print(
        f"  generator calls: painter {painter_calls}, starter {results['starter']['count']} "
        "(one per photo: on an accelerator each call also pays a host<->device round trip)"
    )
    seconds_7038 = {m: 7038 / r["images_per_second"] for m, r in results.items()}
    print(
        "  extrapolated to 7,038 photos: "
        + ", ".join(f"{m} {s / 60:.1f} min" for m, s in seconds_7038.items())
    )
    print(f"ratio painter/starter: {ratio:.2f}, painter/floor: {floor_ratio:.2f}")


if __name__ == "__main__":
    main()
