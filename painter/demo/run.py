"""`python -m painter demo` (what `make demo` runs): the whole job in a few minutes on a CPU.

1. Make a small two-domain data set in code (`painter.training.synthetic`: smooth landscapes as
   "photos", the same kind of scenes repainted with a Monet-like palette and brush strokes as
   "paintings") and write it in the competition's TFRecord format. Nothing is downloaded.
   With `--data DIR` the same steps run on real data instead.
2. Train the `demo` preset under a time budget of `--minutes` (default: the preset's 6 minutes,
   counted from the demo's start and including writing images.zip), with checkpoints, history,
   sample grids and loss curves in the workdir. Running the demo again resumes.
3. Write images.zip (256x256 JPEGs, as the competition wants) and validate it. The competition
   needs 7,000 to 10,000 images; the demo has far fewer photos, so the demo lowers the minimum to
   its photo count and says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from painter.config import preset
from painter.data.preview import save_preview
from painter.data.reader import scan
from painter.data.sources import find_domains
from painter.evaluate.colours import plot_run_histograms
from painter.submission.submitter import submission_reserve, submit
from painter.submission.validate import MAX_COUNT, MIN_COUNT, SUBMISSION_IMAGE_SIZE
from painter.training.budget import TimeBudget
from painter.training.synthetic import make_dataset
from painter.training.train import train

DEMO_PHOTOS = 240  # enough variety for the demo's scenes; generated and written in seconds
DEMO_MONETS = 80  # the competition's ratio is 7,038 : 300; the demo keeps paintings scarcer too
DEMO_SOURCE_SIZE = 256  # the competition's size (images.zip needs it); training downscales


def run_demo(
    workdir: str | os.PathLike = "demo-workdir",
    *,
    data: str | os.PathLike | None = None,
    minutes: float | None = None,
    overrides: list[str] | None = None,
    printer=print,
):
    """Generate data (unless `data` is given), train the `demo` preset, write and validate
    images.zip. Returns the TrainResult; everything is under `workdir`."""
    started = time.time()
    workdir = Path(workdir)
    config = preset("demo")
    if minutes is not None:
        config = config.replace(
            session_limit_minutes=float(minutes),
            safety_margin_minutes=min(config.safety_margin_minutes, float(minutes) / 10),
        )
    if data is not None:
        # Real data has thousands of photos: short epochs keep checkpoints and samples coming.
        config = config.replace(steps_per_epoch=60)
    config = config.with_overrides(overrides)
    budget = TimeBudget.from_config(config, started_at=started)

    if data is None:
        data = workdir / "data"
        if not (data / "photo_tfrec").is_dir() or not (data / "monet_tfrec").is_dir():
            printer(
                f"demo: generating {DEMO_PHOTOS} photos and {DEMO_MONETS} paintings "
                f"({DEMO_SOURCE_SIZE}x{DEMO_SOURCE_SIZE}) in {data}"
            )
            make_dataset(data, photos=DEMO_PHOTOS, monets=DEMO_MONETS, size=DEMO_SOURCE_SIZE)
        else:
            printer(f"demo: reusing the generated data in {data}")

    run_dir = workdir / "run"
    result = train(
        config,
        run_dir,
        data=data,
        budget=budget,
        submission_estimate=submission_reserve(config, printer=printer),
        verbose=0,
        printer=printer,
    )
    zip_path, report_line = _write_zip(result, config, data, workdir, printer)
    pictures = _draw_pictures(config, data, zip_path, workdir)

    printer("")
    printer(
        f"demo finished in {time.time() - started:.0f}s ({result.epochs_done} epochs). "
        "Everything is here:"
    )
    rows = [
        ("data (TFRecords + JPEGs)", data),
        ("config", run_dir / "config.json"),
        ("checkpoints", run_dir / "checkpoints"),
        ("history", run_dir / "history.json"),
        ("loss curves", run_dir / "loss_curves.png"),
        ("sample grids", run_dir / "samples"),
        ("generator", run_dir / "monet_generator.keras"),
        ("submission", zip_path),
        ("RGB histograms", pictures["histograms"]),
        ("augmentation preview", pictures["preview"]),
    ]
    for label, path in rows:
        printer(f"  {label:<25} {path}")
    printer(report_line)
    printer(
        f"Run `python -m painter demo --workdir {workdir}` again to train further "
        "(it resumes), or `--data DIR` for real data."
    )
    return result


def _draw_pictures(config, data, zip_path: Path, workdir: Path) -> dict[str, Path]:
    """The colours of paintings, photos and generated images; what augmentation does."""
    monet, photo = find_domains(data)
    return {
        "histograms": plot_run_histograms(monet, photo, zip_path, workdir / "rgb_histograms.png"),
        "preview": save_preview(
            photo, workdir / "augmentation_preview.png", config=config, count=4
        ),
    }


def _write_zip(result, config, data, workdir: Path, printer) -> tuple[Path, str]:
    # What this call trained, else (nothing trained in this call) what the workdir holds.
    generator = result.model.painting_generator() if result.model is not None else None
    _, photo_source = find_domains(data)
    photo_count = len(scan(photo_source).good)
    min_count = min(MIN_COUNT, photo_count)
    if min_count < MIN_COUNT:
        printer(
            f"demo: the competition needs {MIN_COUNT:,}-{MAX_COUNT:,} images; this data set has "
            f"{photo_count} photos, so the demo lowers the minimum to {min_count}."
        )
    zip_path = workdir / "images.zip"
    report = submit(
        generator if generator is not None else result.generator_path,
        photo_source,
        zip_path,
        train_size=config.image_size,
        batch_size=config.submission_batch_size,
        min_count=min_count,
        progress=False,
        full_validation=True,
    )
    validation = report.validation
    verdict = "valid" if validation.ok else "INVALID: " + "; ".join(validation.violations[:5])
    line = (
        f"images.zip: {report.count} JPEGs of {SUBMISSION_IMAGE_SIZE}x{SUBMISSION_IMAGE_SIZE} "
        f"written in {report.seconds:.1f}s; {verdict} (minimum {min_count} for the demo)"
    )
    return zip_path, line


__all__ = ["run_demo"]
