"""The 256-px question the CPUs cannot answer: CycleGAN recipes on the kaggle-tpu architecture at
equal steps, scored in the style space at 256 px.

`bench_quality.py` picks recipes at 64 px on cpu-small's sizes, where an hour is 5,800 steps of 4.
This script trains the kaggle-tpu architecture itself (256 px, 64 filters, the ResNet's 9 blocks or
the U-Net, the 3-layer 70-px PatchGAN, batch 8, bfloat16 compute as on the TPU) for each recipe,
all recipes at once (one process each, sharing the accelerator), and scores the paintings of the
same 300 photos (`style_fd.fixed_photo_files`) after the same step counts (`--eval-at`) against
the 300 Monets, beside the two floors of the same run. Every recipe trains at a constant learning
rate (the first half of any plan), so a run cut short by `--deadline` still compares equal steps.
Measured on an H200 (`results/quality-256.json`): the paper's recipe against the presets' with
R1 gamma 0.2; the default now is the presets' gamma (`config_presets.r1_gamma`) against that 0.2.

It needs Keras on JAX and none of TensorFlow (painter's tf.data pipeline is replaced by a NumPy
feed with the paper's jitter and flips), so it runs on a GPU machine that has JAX but no
TensorFlow: the one the device tool lends. Everything it writes under `--out` is refreshed after
every evaluation, so a run stopped at its limit still leaves its results:

    results.json            floors, and per recipe and step: style FD, memorization, lattice,
                            losses, seconds
    side_by_side.png        the same 6 photos painted by every recipe at the last common step
    progress-RECIPE.png     one recipe's paintings of those photos at every evaluated step
    child-RECIPE.log        each training process's output

    python benchmarks/quality_256.py --data DIR --out OUT                 # on a GPU
    python benchmarks/quality_256.py --recipes paper,presets --data DIR --out OUT
    python benchmarks/quality_256.py --data DIR --out OUT --image-size 32 \\
        --set generator_filters=8 discriminator_filters=8 resnet_blocks=2 --eval-at 2,4 \\
        --steps-per-interval 2                                                  # a CPU check
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import style_fd  # noqa: E402
from bench_quality import side_by_side  # noqa: E402

from painter.config import PRESETS, QUALITY_RECIPE, Config  # noqa: E402

# The two recipes of the issue: the dataclass defaults (Zhu et al. 2017: ResNet, LSGAN, a pool of
# 50, cycle 10) and the presets' recipe, both on the kaggle-tpu architecture.
RECIPES: dict[str, dict] = {
    "paper": {},
    "presets": dict(QUALITY_RECIPE),
    # The presets' recipe as the H200 measured it on 2026-12-04 (R1 gamma 0.2, chosen at 64 px):
    # its Monet D won from ~2,000 steps at 256 px (loss 0.42, then 0.22 at 3,000).
    "presets-r1-0.2": {**QUALITY_RECIPE, "r1_weight": 0.2},
    # Adaptive R1 (`r1_target`): the rule's gamma as a ceiling, reached only as D memorises.
    "presets-r1a": {**QUALITY_RECIPE, "r1_target": 0.3},
    # cpu-small's stop-51 changes at 256 px: the generators paint over their input and D learns
    # at G's rate (at 64 px, 800 steps: 0.626 against 1.438 over three seeds; with CUT, not
    # the cycle these presets train).
    "presets-res": {**QUALITY_RECIPE, "generator_residual": True, "discriminator_lr": 4e-4},
}
EVAL_AT = (250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000)
SAMPLE_PHOTOS = 6
TILE = 128  # px of one painting in the PNGs


# --- data: NumPy in place of painter's tf.data pipeline ---------------------------------------
def load_at(files: list[Path], size: int, threads: int = 8) -> np.ndarray:
    """Decode `files` to uint8 [N, size, size, 3] (painter's loader: any mode, EXIF), enlarged
    bilinearly past 256 as the jitter's `tf.image.resize` does."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from painter.data.images import load_rgb

    def load(path: Path) -> np.ndarray:
        if size <= 256:
            return load_rgb(path, size)
        image = Image.fromarray(load_rgb(path, 256))
        return np.asarray(image.resize((size, size), Image.BILINEAR))

    with ThreadPoolExecutor(threads) as pool:
        return np.stack(list(pool.map(load, files)))


def batches(photos: np.ndarray, monets: np.ndarray, config: Config, seed: int):
    """Endless `(real_photo, real_monet)` float32 [-1, 1] batches: each domain shuffled anew every
    pass, each image a random `image_size` crop of its `resize_size` copy (the paper's jitter, as
    `resize_prob` 1), mirrored with `flip_prob`."""
    rng = np.random.default_rng(seed)
    size, batch = config.image_size, config.global_batch_size

    def indices(count: int):
        while True:
            yield from rng.permutation(count)

    photo_order, monet_order = indices(len(photos)), indices(len(monets))

    def draw(images: np.ndarray, order) -> np.ndarray:
        out = np.empty((batch, size, size, 3), np.float32)
        span = images.shape[1] - size
        for i in range(batch):
            y, x = rng.integers(0, span + 1, size=2)
            crop = images[next(order), y : y + size, x : x + size]
            if rng.random() < config.flip_prob:
                crop = crop[:, ::-1]
            out[i] = crop
        return out / 127.5 - 1.0

    while True:
        yield draw(photos, photo_order), draw(monets, monet_order)


# --- resizing without TensorFlow (as `at_submission_size`: antialiased bilinear down, bicubic up)
def to_model_size(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, 256, 256, 3] -> float32 [-1, 1] at `size`."""
    x = np.asarray(images, np.float32) / 127.5 - 1.0
    if size == x.shape[1]:
        return x
    import jax

    return np.asarray(jax.image.resize(x, (len(x), size, size, 3), method="linear", antialias=True))


def to_full_size(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] at any size -> uint8 at 256 (bicubic up, clipped, rounded half to even)."""
    x = np.asarray(images, np.float32)
    if x.shape[1] != style_fd.EMBED_SIZE:
        import jax

        size = style_fd.EMBED_SIZE
        x = np.asarray(jax.image.resize(x, (len(x), size, size, 3), method="cubic"))
    return np.clip(np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def round_trip(images: np.ndarray, size: int) -> np.ndarray:
    return (
        np.asarray(images, np.uint8) if size == 256 else to_full_size(to_model_size(images, size))
    )


# --- one recipe, in its own process -----------------------------------------------------------
def recipe_config(name: str, args) -> Config:
    """kaggle-tpu's sizes (not its recipe) + the recipe's fields + `--set`, `--eval-at`'s steps."""
    recipe_fields = set(QUALITY_RECIPE)
    sizes = {k: v for k, v in PRESETS["kaggle-tpu"].items() if k not in recipe_fields}
    interval = args.steps_per_interval
    epochs = -(-max(args.eval_at) // interval)
    config = Config.from_dict({**sizes, "preset": "kaggle-tpu"}).replace(
        image_size=args.image_size,
        resize_size=round(args.image_size * 286 / 256),
        seed=args.seed,
        epochs=epochs,
        steps_per_epoch=interval,
        decay_epochs=0,  # constant: a run cut short still compares equal steps
        **RECIPES[name],
    )
    return config.replace(**parse_sets(args.set))


def parse_sets(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run_child(name: str, args) -> int:
    """Train recipe `name`; at each step of `--eval-at`, paint the fixed photos and write
    `WORK/NAME/eval-STEP.npz` (style features, samples, lattice) and a line of `progress.jsonl`."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    work = args.work / name
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    config = recipe_config(name, args)
    config.validate()
    print(f"{name}: {keras.backend.backend()} on {device_name()}; config {config.to_dict()}")
    photo_files = sorted((args.data / "photo_jpg").glob("*.jpg"))
    monets = load_at(style_fd.monet_files(args.data), config.resize_size)
    photos = load_at(photo_files, config.resize_size)
    fixed = to_model_size(load_at(fixed_photo_files(args), 256), config.image_size)
    print(
        f"{name}: {len(photos)} photos, {len(monets)} Monets at {config.resize_size} px "
        f"in {time.time() - started:.0f}s",
        flush=True,
    )
    model = build_cyclegan(config, config.steps_per_epoch)
    embed = style_fd.StyleEmbedder(threads=args.embed_threads)
    eval_at = set(args.eval_at)
    progress = work / "progress.jsonl"
    progress.unlink(missing_ok=True)

    class Evaluate(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.train_seconds = 0.0
            self.interval_started = time.time()
            self.intervals: list[float] = []
            self.eval_seconds = 10.0

        def on_epoch_end(self, epoch, logs=None):
            spent = time.time() - self.interval_started
            self.train_seconds += spent
            self.intervals.append(spent)
            step = (epoch + 1) * config.steps_per_epoch
            logs = {k: float(v) for k, v in (logs or {}).items()}
            stop = not all(np.isfinite(v) for v in logs.values())
            if stop:
                print(f"{name}: non-finite loss at step {step}: {logs}", flush=True)
            # Stop when the next interval (as long as the last, + an evaluation) would pass the
            # deadline, and evaluate where it stops: what is finished stays comparable.
            left = args.deadline - (time.time() - args.t0)
            if left < self.intervals[-1] * 1.2 + 2 * self.eval_seconds + 5:
                print(f"{name}: stopping at step {step}: {left:.0f}s to the deadline", flush=True)
                stop = True
            if step in eval_at or (stop and left > self.eval_seconds + 5):
                self.evaluate(step, logs)
            self.model.stop_training = self.model.stop_training or stop
            self.interval_started = time.time()

        def evaluate(self, step: int, logs: dict) -> None:
            begun = time.time()
            painter_net = self.model.painting_generator()
            painted = np.concatenate(
                [
                    np.asarray(keras.ops.convert_to_numpy(painter_net(fixed[i : i + 25])))
                    for i in range(0, len(fixed), 25)
                ]
            ).astype(np.float32)
            paintings = to_full_size(painted)
            ridges = style_fd.lattice_ridges(painted)
            features = embed(paintings)
            target = work / f"eval-{step}.npz"
            tmp = work / f".eval-{step}.tmp.npz"
            np.savez(
                tmp,
                features=features,
                samples=paintings[sample_indices(len(paintings))],
            )
            tmp.replace(target)
            line = {
                "step": step,
                "device": device_name(),
                "train_seconds": round(self.train_seconds, 1),
                # The median interval: the first one holds the compilation.
                "seconds_per_step": round(
                    float(np.median(self.intervals)) / config.steps_per_epoch, 4
                ),
                "wall": round(time.time() - args.t0, 1),
                "eval_seconds": round(time.time() - begun, 1),
                "losses": {k: round(v, 4) for k, v in logs.items()},
                "lattice": {k: round(v, 3) for k, v in ridges.items()},
            }
            self.eval_seconds = time.time() - begun
            with open(progress, "a") as stream:
                stream.write(json.dumps(line) + "\n")
            print(f"{name}: step {step}: {line}", flush=True)

    model.fit(
        batches(photos, monets, config, config.seed),
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=[Evaluate()],
        verbose=0,
    )
    print(f"{name}: done in {time.time() - started:.0f}s", flush=True)
    return 0


def device_name() -> str:
    try:
        import jax

        device = jax.devices()[0]
        return f"{device.platform} {getattr(device, 'device_kind', '')}".strip()
    except Exception as error:  # noqa: BLE001  (a label only)
        return f"unknown ({error})"


def fixed_photo_files(args) -> list[Path]:
    """The 300 photos every recipe paints: `style_fd`'s (every 23rd of the sorted photo_jpg), or
    where only some photos travelled (`--fixed-list`), the file naming those 300."""
    if args.fixed_list is None:
        return style_fd.fixed_photo_files(args.data)
    names = args.fixed_list.read_text().split()
    files = [args.data / "photo_jpg" / name for name in names]
    missing = [str(f) for f in files if not f.exists()]
    if len(files) != style_fd.PHOTO_COUNT or missing:
        raise SystemExit(
            f"--fixed-list {args.fixed_list}: {len(files)} names, {len(missing)} missing "
            f"(first: {missing[:1]}); it must name {style_fd.PHOTO_COUNT} files of photo_jpg/"
        )
    return files


def sample_indices(count: int) -> np.ndarray:
    return np.linspace(0, count - 1, SAMPLE_PHOTOS).round().astype(int)


# --- the parent: references, children, the table and pictures --------------------------------
def references(args) -> dict:
    embed = style_fd.StyleEmbedder(threads=args.embed_threads)
    monets = load_at(style_fd.monet_files(args.data), 256)
    photos = load_at(fixed_photo_files(args), 256)
    monet_features = embed(round_trip(monets, args.image_size))
    photo_features = embed(round_trip(photos, args.image_size))
    floor = style_fd.floors(monet_features, photo_features)
    floor["photo_lattice"] = {
        k: round(v, 3)
        for k, v in style_fd.lattice_ridges(to_model_size(photos, args.image_size)).items()
    }
    return {
        "monet": monet_features,
        "floors": floor,
        "photo_samples": photos[sample_indices(len(photos))],
    }


def collect(args, names: list[str], refs: dict) -> dict:
    """Every finished evaluation of every recipe, scored against the Monets."""
    runs: dict[str, list[dict]] = {}
    for name in names:
        progress = args.work / name / "progress.jsonl"
        lines = progress.read_text().splitlines() if progress.exists() else []
        runs[name] = []
        for text in lines:
            line = json.loads(text)
            with np.load(args.work / name / f"eval-{line['step']}.npz") as saved:
                line.update(style_fd.style_scores(saved["features"], refs["monet"]))
            runs[name].append(line)
    return runs


def report(args, names: list[str], refs: dict, runs: dict, out: Path) -> None:
    floor = refs["floors"]
    results = {
        "image_size": args.image_size,
        "seed": args.seed,
        "floors": floor,
        "recipes": {name: RECIPES[name] for name in names},
        "config": {name: recipe_config(name, args).to_dict() for name in names},
        "runs": runs,
    }
    write_atomic(out / "results.json", json.dumps(results, indent=1).encode())
    print(
        f"\nstyle FD at {args.image_size} px against the 300 Monets (lower is better); floors: "
        f"photos {floor['photos']:.3f}, Monet half vs half {floor['monet_halves']:.3f}; "
        f"the photos' lattice {floor['photo_lattice']}"
    )
    print(
        f"{'recipe':10s} {'step':>6s} {'train s':>8s} {'s/step':>7s} {'style FD':>9s} "
        f"{'memoriz.':>9s} {'lattice 2/4/8':>15s}  losses"
    )
    for name in names:
        for line in runs[name]:
            lattice = "/".join(f"{v:.2f}" for v in line["lattice"].values())
            losses = ", ".join(f"{k} {v:.2f}" for k, v in line["losses"].items())
            print(
                f"{name:10s} {line['step']:6d} {line['train_seconds']:8.0f} "
                f"{line['seconds_per_step']:7.3f} {line['style_fd']:9.3f} "
                f"{line['memorization']:9.4f} {lattice:>15s}  {losses}"
            )
    for name in names:
        if runs[name]:
            progress_png(args, name, refs, runs[name], out / f"progress-{name}.png")
    common = set.intersection(*({line["step"] for line in runs[n]} for n in names))
    if common:
        step = max(common)
        columns = []
        for name in names:
            with np.load(args.work / name / f"eval-{step}.npz") as saved:
                columns.append((f"{name} @{step}", saved["samples"]))
        side_by_side(out / "side_by_side.png", refs["photo_samples"], columns, tile=TILE)
        print(f"side by side at step {step}: {out / 'side_by_side.png'}", flush=True)


def progress_png(args, name: str, refs: dict, lines: list[dict], path: Path) -> None:
    columns = []
    for line in lines:
        with np.load(args.work / name / f"eval-{line['step']}.npz") as saved:
            columns.append((f"@{line['step']} FD {line['style_fd']:.2f}", saved["samples"]))
    side_by_side(path, refs["photo_samples"], columns, tile=TILE)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="monet_jpg/ and photo_jpg/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="default OUT/../q256-work")
    parser.add_argument(
        "--fixed-list", type=Path, default=None, help="the 300 photos to paint, one name a line"
    )
    parser.add_argument("--recipes", default="presets,presets-res")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--eval-at", default=",".join(map(str, EVAL_AT)))
    parser.add_argument("--steps-per-interval", type=int, default=250)
    parser.add_argument("--deadline", type=float, default=480.0, help="seconds: stop training")
    parser.add_argument("--kill-after", type=float, default=30.0, help="seconds past deadline")
    parser.add_argument("--embed-threads", type=int, default=4)
    parser.add_argument("--mem-fraction", default="0.4", help="each JAX process's GPU share")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.eval_at = sorted(int(s) for s in str(args.eval_at).split(","))
    bad = [s for s in args.eval_at if s % args.steps_per_interval]
    if bad:
        raise SystemExit(
            f"--eval-at {bad}: not multiples of --steps-per-interval {args.steps_per_interval}"
        )
    args.work = args.work or args.out.parent / "q256-work"
    args.t0 = args.t0 or time.time()
    if args.child:
        return run_child(args.child, args)

    style_fd.require_benchmark_packages()
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {sorted(RECIPES)}")
    for name in names:  # a bad --set fails here, once, not in every child
        recipe_config(name, args).validate()
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_PYTHON_CLIENT_MEM_FRACTION=args.mem_fraction,
        PYTHONUNBUFFERED="1",
    )
    children = {}
    for name in names:
        log = open(args.out / f"child-{name}.log", "w")  # noqa: SIM115  (open while it runs)
        command = [sys.executable, __file__, "--child", name, "--t0", repr(args.t0)]
        command += [a for a in (argv if argv is not None else sys.argv[1:])]
        children[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    refs = references(args)
    print(
        f"floors at {args.image_size} px: {refs['floors']} ({time.time() - args.t0:.0f}s)",
        flush=True,
    )
    seen = -1
    while True:
        running = [n for n, c in children.items() if c.poll() is None]
        count = sum(
            len((args.work / n / "progress.jsonl").read_text().splitlines())
            for n in names
            if (args.work / n / "progress.jsonl").exists()
        )
        if count != seen:
            seen = count
            report(args, names, refs, collect(args, names, refs), args.out)
        if not running:
            break
        if time.time() - args.t0 > args.deadline + args.kill_after:
            for name in running:
                print(f"{name}: past the deadline; stopped", flush=True)
                os.killpg(children[name].pid, signal.SIGKILL)
            break
        time.sleep(2)
    for name, child in children.items():
        child.wait()
        print(f"{name}: exit {child.returncode}")
    report(args, names, refs, collect(args, names, refs), args.out)
    print(f"total {time.time() - args.t0:.0f}s")
    return 0 if all(c.returncode == 0 for c in children.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
