"""The presets: a few `Config` fields per hardware (`kaggle-tpu`, `gpu`, `cpu-small`, `smoke`,
`demo`), each override with its reason, and the quality recipe they share.

Plain data (standard library only): `painter.config.preset(name)` turns a name into a Config.
"""

from __future__ import annotations

from typing import Any

R1_GAMMA_AT_64_PX_OF_4 = 0.4  # r1_gamma's anchor: the gamma measured best, at cpu-small's sizes


def r1_gamma(image_size: int, batch_size: int) -> float:
    """R1's gamma as Karras et al. 2020's heuristic (StyleGAN2-ADA) scales it, size^2 / batch,
    anchored where it was measured: 0.4 at cpu-small's 64 px of 4 (~2x StyleGAN2-ADA's 0.0002 *
    size^2 / batch). On sharp Monets 0.2 let the Monet D win and paint dark blots by 14,000
    steps; 0.4 held it with none, 0.8 blurred the paintings (bench_quality.py, stop 49)."""
    return round(R1_GAMMA_AT_64_PX_OF_4 * (image_size / 64) ** 2 * 4 / batch_size, 2)


# The recipe the quality benchmark chose (benchmarks/bench_quality.py, results/quality.json: style
# FD at 64 px, equal steps, several seeds); the dataclass defaults stay the 2017 paper's.
QUALITY_RECIPE: dict[str, Any] = {
    "generator": "unet",  # skip connections keep the photo's layout from the first steps
    # Bilinear x2 + conv: no checkerboard, and no 2-px lattice (nearest x2 painted one in every
    # hour); alone it let the Monet D memorise the 300 paintings from ~2,200 steps: R1 holds it
    "upsampling": "bilinear",
    "adversarial_loss": "bce",  # the starter's: beat LSGAN at equal steps here
    "pool_size": 0,  # the starter's: no history pool
    "cycle_weight": 2.5,  # a quarter of the paper's lambda: room for the painting's texture
    # The paper's 0.5 (x cycle_weight): without it one run inverted colours (dark skies, white
    # water) and at 800 steps style FD was 1.74 against 1.47 with it (bench_quality.py, seed 0)
    "identity_weight": 0.5,
    "generator_lr": 4e-4,  # twice D's: the best 800-step rows (0.75 / 0.65 / 0.79 vs 2e-4's 0.79)
    # R1 holds the Monet D (cpu-small without it: its loss 0.10 and the hour 0.73), and at 256 px
    # on an H200 a gamma of 0.2 let it win from ~2,000 steps (0.42, then 0.22 at 3,000;
    # quality_256.py). The rule above scales the gamma measured best at 64 px of 4 to 256 px of 8
    # (not measured at 256 px: erring high cost least at 64 px)
    "r1_weight": r1_gamma(256, 8),
    "ema_decay": 0.999,  # paint with the weights' moving average: fewer blotches late in a run
}

# At 256 px the competition's 256-px JPEGs can only be enlarged to reach the paper's 286-px
# jitter, and the enlargement blurs: the Monets as D sees them are at style FD 0.430 from
# themselves (2-4 px detail 0.36; flips alone 0.017; benchmarks/augment_reference.py). At 64 px,
# where the jitter can crop sharp pixels, no jitter at all painted best (cpu-small's hour plan,
# seed 0: 0.417, sharp jitter 0.444, the blurred one 0.497), so the 256-px presets train on
# flips alone. Not yet measured at 256 px (quality_256.py --set resize_size=256 on a lent GPU).
NO_JITTER: dict[str, Any] = {"resize_prob": 0.0}

# Each override says why. `smoke` is for tests and CI: tiny, seconds.
PRESETS: dict[str, dict[str, Any]] = {
    "kaggle-tpu": {
        # The defaults are the competition on a TPU v5e-8 in one session.
        **QUALITY_RECIPE,
        **NO_JITTER,
        "mixed_precision": True,  # bfloat16 is the TPU's native matmul type: ~2x throughput
        "epochs": 0,  # as many as the session fits: a fixed 30 used ~25-45 of its ~180 minutes
        # the starter's step was overhead-bound (126 ms at batch 1 or 32)
        "steps_per_execution": 16,
    },
    "gpu": {
        **QUALITY_RECIPE,
        **NO_JITTER,
        "global_batch_size": 4,  # one GPU: small batches keep CycleGAN's per-image updates
        "r1_weight": r1_gamma(256, 4),  # the rule above, at this batch
        "mixed_precision": False,  # float16 would need loss scaling; bfloat16 is slow on older GPUs
        "session_limit_minutes": 540.0,  # Kaggle's GPU sessions run up to 12 h; keep slack
    },
    "cpu-small": {
        **QUALITY_RECIPE,
        # CUT's PatchNCE for the cycle (one generator, one D): a step 0.58x CycleGAN's; its hour,
        # 14,000 steps, scored 0.408 / 0.412 (seeds 0 / 2) against the cycle's 0.473 / 0.491 in
        # 5,800 and 0.457 in 8,400 (bench_quality.py, blurred Monets). This preset's budgeted
        # hour (stop 51, seed 42): 11,800 steps on a loaded host, style FD 0.267 (stop 50's
        # recipe: 0.292 / 0.309 in 17,600 / 19,000 steps). Cycle / identity unused
        "objective": "cut",
        # The U-Net paints over the photo (PaintOver): it starts from the photo, sharp, where the
        # plain U-Net first redraws it blurred. 800 steps: 0.835 / 0.829 against 1.611 / 1.544
        # (seeds 0 / 2); 5,800 steps: 0.373 (live 0.320) against 0.499 (live 0.416; seed 1)
        "generator_residual": True,
        # The weight average over about the last t / 10 steps (the presets' ramp; ~1,800 at the
        # end of an hour, 0.9998's ~5,000 only past step 50,000): with t / 2 its window at 800
        # steps held the first weights (0.835 / 0.829 against 0.725 / 0.682, seeds 0 / 2)
        "ema_decay": 0.9998,
        "ema_warmup": 10.0,
        # D as fast as G: from the photo G's first steps wait on D to learn what tells a Monet
        # from a photo; 800 steps 0.603 / 0.672 against 0.725 / 0.831 (seeds 0 / 1)
        "discriminator_lr": 4e-4,
        # 16x fewer pixels than 256: learns colour and texture in an hour on 2 cores
        "image_size": 64,
        "resize_size": 72,  # the same 286/256 jitter ratio
        "generator_filters": 32,  # half width: 4x fewer FLOPs
        "discriminator_filters": 32,
        # A 34 px PatchGAN (2 strided layers): at 64 px the paper's 70 px one sees the whole image;
        # style FD at 800 steps 1.13 / 0.78 (seeds 0 / 1) against 1.47 / 1.43 with 3 layers
        "discriminator_layers": 2,
        "global_batch_size": 4,
        # The rule's anchor, measured on sharp Monets at 14,000 steps (seed 0): 0.2 0.339 with
        # dark blots and a 2-px lattice (1.11), 0.4 0.360 with neither, 0.8 0.426, blurrier
        "r1_weight": r1_gamma(64, 4),
        # R1 only from step 1,000 (D memorises from ~2,200): 800 steps 0.81 / 0.64 / 0.82 against
        # 0.98 / 0.75 with R1 from step 0; the hour 0.473 against 0.448 (seed 0; seeds differ 0.03)
        "r1_start": 1000,
        # Lazy R1 (StyleGAN2's every 16th step, x 16): the step 166 against 185 ms (R1's whole
        # cost), equal painting at equal steps: 800 steps 1.551 against 1.547 (3 seeds), 5,800
        # steps 0.497 against 0.494 (seed 0; bench_quality.py -lazy16 recipes)
        "r1_interval": 16,
        "epochs": 0,  # as many as the hour fits: a fixed 4 trained 14 of its 55 training minutes
        "decay_epochs": 2,
        # An epoch of 800 photos: ~31 s of CUT here, so the budget's plan (and a checkpoint)
        # follows the hour closely at no measurable cost (200 bare steps take ~32 s)
        "steps_per_epoch": 200,
        "session_limit_minutes": 60.0,
        "safety_margin_minutes": 3.0,
    },
    "smoke": {
        "image_size": 32,  # tiny: a step takes milliseconds on CPU
        "resize_size": 36,
        "generator_filters": 8,
        "discriminator_filters": 8,
        "resnet_blocks": 2,
        "global_batch_size": 2,  # two replicas in tests get one image each
        "epochs": 2,
        "decay_epochs": 1,
        "steps_per_epoch": 4,
        "pool_size": 4,
        "sample_count": 2,
        "session_limit_minutes": 10.0,
        "safety_margin_minutes": 0.5,
        "submission_batch_size": 16,
        "cache": "memory",
    },
    "demo": {
        # `make demo`: a few minutes of CPU on the generated two-domain set (painter.demo.run).
        "image_size": 32,  # the generated scenes are simple: 32 px shows the palette being learnt
        "resize_size": 36,
        "generator_filters": 16,
        "discriminator_filters": 16,
        "resnet_blocks": 3,
        "global_batch_size": 4,
        "epochs": 18,  # ~3 minutes on 2 CPU cores (60 steps of ~0.17 s an epoch)
        "decay_epochs": 9,
        "steps_per_epoch": 0,  # every one of the demo's 240 generated photos once per epoch
        "pool_size": 20,
        "sample_count": 4,
        "session_limit_minutes": 5.0,  # the budget stops a slower machine: make demo < 10 min
        "safety_margin_minutes": 0.5,
        "submission_batch_size": 32,
        "cache": "memory",
    },
}


__all__ = ["PRESETS", "QUALITY_RECIPE", "r1_gamma"]
