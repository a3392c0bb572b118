"""Painting quality of CycleGAN recipes on the real data, at equal steps: style FD and floors.

Each named recipe (a set of painter config overrides on the cpu-small architecture) is trained on
the competition's data from the same seed for the same number of steps, each in its own process,
then paints a fixed set of 300 photos (every 23rd of the sorted photo_jpg). The paintings, brought
to 256 px as `at_submission_size` does, are embedded in Magenta's style space
(`benchmarks/style_fd.py`) and compared with the 300 Monets brought to the training size and back
the same way. One table: recipe, seed, steps, training seconds, style FD, memorization distance,
beside the two floors of the same run (the photos themselves; Monet half vs Monet half), the
paintings' lattice (grid periods) and their detail (luminance power per octave of 2-4, 4-8 and
8-16 px periods over the Monets': the style FD counts pixel-scale detail heavily, `style_fd` says
how much). One PNG shows the same 6 photos painted by every recipe side by side.

Equal steps, not equal seconds: a busy machine changes the seconds, never the figures. Results
are kept in `benchmarks/results/quality.json` (config, commit, seed, figures) and a recipe already
measured there (same recipe, seed, steps, size and overrides) is not retrained; an interrupted
training resumes from its workdir's checkpoints.

    pip install -r benchmarks/requirements.txt
    python benchmarks/bench_quality.py                                  # paper, starter; seed 0
    python benchmarks/bench_quality.py --recipes starter,painter --seeds 0,1 --steps 800
    python benchmarks/bench_quality.py --list                           # the recipes
    python benchmarks/bench_quality.py --evaluate WORKDIR    # any run's monet_generator.keras
                                                             # (+ its checkpoint's live one)
    python benchmarks/bench_quality.py --recipes X --steps 5800 --curve-every 2  # + FD per 2 epochs

`--curve-every N` also scores the painting generator every N epochs of 200 steps while it trains
(`curve` in quality.json: steps, style FD with and without the EMA, the EMA's detail), so a run
shows where it was best and whether it ended there; its seconds are kept out of the training
seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import style_fd  # noqa: E402

from painter.config import PRESETS, Config  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "quality.json"
# The competition's data: $PAINTER_DATA_DIR, else the shared copy beside the repository.
DEFAULT_DATA = Path(
    os.environ.get("PAINTER_DATA_DIR", ROOT.parent / "shared" / "data" / "gan-getting-started")
)
SAMPLE_PHOTOS = 6  # photos shown side by side in the PNG (the first of the fixed set, spread)
STEPS_PER_EPOCH = 200  # cpu-small's epoch: 800 photos at batch 4
CURVE_FILE = "curve.json"  # a run's style FD every --curve-every epochs

# Each recipe: painter config overrides on top of the cpu-small preset. `decay` is the fraction of
# the run over which the learning rate decays linearly to 0 (the paper: the second half).
_STARTER = {
    "generator": "unet",
    "upsampling": "transpose",
    "adversarial_loss": "bce",
    "pool_size": 0,
}
# The presets' recipe before bilinear, cycle 2.5 and the faster generator lr (`QUALITY_RECIPE` up to
# stop 19), pinned here so a stored result still names what was trained whatever the presets become.
_PAINTER = {
    "generator": "unet",
    "upsampling": "resize",
    "adversarial_loss": "bce",
    "pool_size": 0,
    "cycle_weight": 5.0,
    "identity_weight": 0.5,
    "ema_decay": 0.999,
}
_D2B = {**_PAINTER, "discriminator_layers": 2, "upsampling": "bilinear"}
# The best 800-step row: bilinear, cycle 2.5, G lr 4e-4 (its variants below add one change each).
_D2B_GLR4 = {**_D2B, "cycle_weight": 2.5, "generator_lr": 4e-4}
# The presets' recipe now (stop 28): that, with R1 (gamma 0.2) from step 1,000.
_R1S1000 = {**_D2B_GLR4, "r1_weight": 0.2, "r1_start": 1000}
# Both learning rates doubled, their ratio kept.
_LR8 = {"generator_lr": 8e-4, "discriminator_lr": 4e-4}
# The presets' recipe with CUT's objective (cpu-small's since stop 34).
_CUT = {**_R1S1000, "objective": "cut"}
# A weight average about five times as long at the end of an hour (see the -cut-ema2 recipe).
_EMA2 = {"ema_decay": 0.9998, "ema_warmup": 2.0}
# cpu-small's recipe since stop 38: CUT, that average and lazy R1 (every 16th step); the hour
# recipes below each change one thing in it.
_CUT_LAZY = {**_CUT, **_EMA2, "r1_interval": 16}
# cpu-small's recipe of stop 49-50 (gamma 0.4) with the generator painting over the photo.
_RES = {**_CUT_LAZY, "r1_weight": 0.4, "generator_residual": True}
_ADA = {
    "diffaugment": "color,translation,cutout",
    "diffaugment_target": 0.6,
    "diffaugment_adjust_images": 2000,
}
_ADA60 = {**_ADA, "diffaugment_max_probability": 0.6}
# The presets' recipe with the U-Net's full-size head and its full-size skip (800 steps and hour).
_HEAD_SKIP = {
    **_D2B_GLR4,
    "r1_weight": 0.2,
    "r1_start": 1000,
    "unet_head": True,
    "unet_full_skip": True,
}
# The fields of cpu-small that are its sizes, not its recipe: every recipe runs at these and states
# its own recipe over the paper's. Named, not derived (every preset field but the recipe's): so a
# recipe field newly added to the preset cannot leak into every recipe unnoticed (cpu-small's
# `ema_warmup` once would have: no row was trained so). The run's length is recipe_config's own.
CPU_SMALL_SIZE_FIELDS = (
    "image_size",
    "resize_size",
    "generator_filters",
    "discriminator_filters",
    "global_batch_size",
)

# The presets' recipe with both Ds twice as wide (64 filters, the dataclass's width).
_DF64 = {**_R1S1000, "discriminator_filters": 64}

RECIPES: dict[str, dict] = {
    # Zhu et al. 2017: ResNet, LSGAN, a pool of 50, identity 0.5, lr decayed over the second half.
    "paper": {"overrides": {}, "decay": 0.5},
    # The competition starter through painter's settings: U-Net with transposed convolutions,
    # BCE, no pool, constant lr.
    "starter": {"overrides": dict(_STARTER), "decay": 0.0},
    # One change at a time from the paper, to find why it loses to the starter.
    "paper-unet": {"overrides": {"generator": "unet", "upsampling": "transpose"}, "decay": 0.5},
    "paper-nopool": {"overrides": {"pool_size": 0}, "decay": 0.5},
    "paper-bce": {"overrides": {"adversarial_loss": "bce"}, "decay": 0.5},
    # The starter plus one change.
    "starter-lsgan": {"overrides": {**_STARTER, "adversarial_loss": "lsgan"}, "decay": 0.0},
    "starter-diffaug": {
        "overrides": {**_STARTER, "diffaugment": "color,translation,cutout"},
        "decay": 0.0,
    },
    "starter-ema": {"overrides": {**_STARTER, "ema_decay": 0.999}, "decay": 0.0},
    "starter-lecam": {"overrides": {**_STARTER, "lecam_weight": 0.1}, "decay": 0.0},
    "starter-sn": {"overrides": {**_STARTER, "spectral_norm": True}, "decay": 0.0},
    "starter-decay": {"overrides": dict(_STARTER), "decay": 0.5},
    "starter-noidentity": {"overrides": {**_STARTER, "identity_weight": 0.0}, "decay": 0.0},
    "starter-cycle5": {"overrides": {**_STARTER, "cycle_weight": 5.0}, "decay": 0.0},
    # bfloat16 compute (bench_train_step.py's fastest variant): does it paint as float32 does?
    "starter-bf16": {"overrides": {**_STARTER, "mixed_precision": True}, "decay": 0.0},
    # Combinations.
    "unet-diffaug-ema": {
        "overrides": {**_STARTER, "diffaugment": "color,translation,cutout", "ema_decay": 0.999},
        "decay": 0.5,
    },
    # What the presets used before bilinear (nearest x2, cycle 5), the paper's decay.
    "painter": {"overrides": dict(_PAINTER), "decay": 0.5},
    "painter-diffaug": {
        "overrides": {**_PAINTER, "diffaugment": "color,translation,cutout"},
        "decay": 0.5,
    },
    "painter-lecam": {"overrides": {**_PAINTER, "lecam_weight": 0.1}, "decay": 0.5},
    # The presets' recipe with a constant lr: what an hour-long cpu-small run (epochs=0, decay
    # over the second half of the plan) has done after its first 800 steps.
    "painter-const": {"overrides": dict(_PAINTER), "decay": 0.0},
    "painter-const-cycle2": {"overrides": {**_PAINTER, "cycle_weight": 2.0}, "decay": 0.0},
    "painter-const-identity": {
        "overrides": {**_PAINTER, "identity_weight": 0.5},
        "decay": 0.0,
    },
    "painter-const-lr4": {
        "overrides": {**_PAINTER, "generator_lr": 4e-4, "discriminator_lr": 4e-4},
        "decay": 0.0,
    },
    "painter-const-lr8": {
        "overrides": {**_PAINTER, "generator_lr": 8e-4, "discriminator_lr": 8e-4},
        "decay": 0.0,
    },
    # A faster generator than discriminator (the reverse of TTUR's usual direction): the
    # generator is what lags at 800 steps.
    "painter-const-glr4": {
        "overrides": {**_PAINTER, "generator_lr": 4e-4},
        "decay": 0.0,
    },
    # Two strided layers instead of three: at 64 px a 3-layer PatchGAN sees the whole image (70 px
    # receptive field); 2 layers (34 px) judge texture patches, as the 70 px D does at 256 px.
    "painter-const-d2": {
        "overrides": {**_PAINTER, "discriminator_layers": 2},
        "decay": 0.0,
    },
    # One strided layer: a 16 px receptive field, the paper's 70/256 ratio at 64 px.
    "painter-const-d1": {
        "overrides": {**_PAINTER, "discriminator_layers": 1},
        "decay": 0.0,
    },
    # The 2-layer PatchGAN with bilinear instead of nearest x2 before each 3x3 convolution: the
    # lattice cpu-small's hour painted over skies comes from nearest x2 (models.layers.resize_conv).
    "painter-const-d2-bilinear": {
        "overrides": {**_PAINTER, "discriminator_layers": 2, "upsampling": "bilinear"},
        "decay": 0.0,
    },
    "painter-const-d1-bilinear": {
        "overrides": {**_PAINTER, "discriminator_layers": 1, "upsampling": "bilinear"},
        "decay": 0.0,
    },
    # A shorter average (~100 steps): at 800 steps the 0.999 average still holds early weights.
    "painter-const-ema99": {"overrides": {**_PAINTER, "ema_decay": 0.99}, "decay": 0.0},
    # One change at a time from the best 800-step row (2-layer D, bilinear), aimed at its weakness
    # at 2,800 steps (the Monet D wins) or at more texture.
    "d2b-cycle2.5": {"overrides": {**_D2B, "cycle_weight": 2.5}, "decay": 0.0},
    "d2b-smooth": {"overrides": {**_D2B, "label_smoothing": 0.1}, "decay": 0.0},
    "d2b-dlr1": {"overrides": {**_D2B, "discriminator_lr": 1e-4}, "decay": 0.0},
    "d2b-lecam": {"overrides": {**_D2B, "lecam_weight": 0.1}, "decay": 0.0},
    "d2b-diffaug": {
        "overrides": {**_D2B, "diffaugment": "color,translation,cutout"},
        "decay": 0.0,
    },
    # The best 800-step row (cycle 2.5) plus one more change, for more texture early on.
    "d2b-c2.5-glr4": {
        "overrides": dict(_D2B_GLR4),
        "decay": 0.0,
    },
    "d2b-c2.5-glr8": {
        "overrides": {**_D2B, "cycle_weight": 2.5, "generator_lr": 8e-4},
        "decay": 0.0,
    },
    "d2b-c2.5-lecam": {
        "overrides": {**_D2B, "cycle_weight": 2.5, "lecam_weight": 0.1},
        "decay": 0.0,
    },
    # cpu-small's hour plan (`--steps 5800`: 29 epochs of 200, the lr decayed over the last 15,
    # what `epochs=0` planned for the hour unloaded) for the best 800-step row.
    "hour-d2b-cycle2.5": {
        "overrides": {**_D2B, "cycle_weight": 2.5},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4": {
        "overrides": dict(_D2B_GLR4),
        "decay": 15 / 29,
    },
    # Its Monet D memorised the 300 paintings from ~2,200 steps: adaptive DiffAugment (ADA's
    # target 0.6), which stays off until D's outputs on real Monets say it is memorising.
    "d2b-c2.5-glr4-ada": {
        "overrides": {**_D2B_GLR4, **_ADA},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-ada": {
        "overrides": {**_D2B_GLR4, **_ADA},
        "decay": 15 / 29,
    },
    # Its hour painted dark corner blots once p passed 0.8 (leaking, as ADA's paper calls it?):
    # the same with p capped at 0.6, and the presets' recipe (nearest x2, cycle 5, the best hour
    # so far, with a lattice) with the capped ADA.
    "hour-d2b-c2.5-glr4-ada60": {
        "overrides": {**_D2B_GLR4, **_ADA60},
        "decay": 15 / 29,
    },
    # The presets' recipe with only bilinear x2 (cycle 5, G lr 2e-4): its Monet D never won in the
    # hour with nearest x2; bilinear (no lattice) with cycle 2.5 and G lr 4e-4 lost to one at ~2,200
    # steps. Which change lets D win?
    "hour-d2b": {"overrides": dict(_D2B), "decay": 15 / 29},
    # Its Monet D began to win at ~2,200 steps too (loss 0.57 -> 0.42 over epochs 8-11): bilinear
    # alone lets it. LeCam (Tseng et al. 2021) is the regulariser made for a discriminator that
    # overfits a small dataset, without augmenting what D sees (ADA's blots).
    "hour-d2b-lecam": {"overrides": {**_D2B, "lecam_weight": 0.1}, "decay": 15 / 29},
    # It held D (loss 0.52-0.62 all hour) but the generator barely painted (1.19): a tenth of it.
    # Measured: D won from epoch 11 all the same (loss 0.22 at the end); 1.43.
    "hour-d2b-lecam0.01": {"overrides": {**_D2B, "lecam_weight": 0.01}, "decay": 15 / 29},
    # Both bilinear hours lost to a Monet D that learnt the fakes were smooth: the starter's U-Net
    # paints RGB straight from one x2 of half-size features, so without nearest x2's lattice it
    # has no way to paint 1-px texture. A full-size conv block before the RGB conv (`unet_head`,
    # as the paper's ResNet ends) gives it one.
    "hour-d2b-head": {"overrides": {**_D2B, "unet_head": True}, "decay": 15 / 29},
    # Measured: its D never won (loss 0.56-0.61 all hour) but it painted slowly: 0.69 at the hour's
    # end, 1.57 / 1.53 at 800 steps (without the head 0.87 / 0.86).
    "d2b-head": {"overrides": {**_D2B, "unet_head": True}, "decay": 0.0},
    # The head on the presets' own recipe (nearest x2): two convolutions after the x2 instead of
    # one may soften the 2-px lattice the presets paint, and keep what holds their Monet D back.
    "hour-d2-head": {
        "overrides": {**_PAINTER, "discriminator_layers": 2, "unet_head": True},
        "decay": 15 / 29,
    },
    # The head held bilinear's Monet D but slowed the generator: give it back its push (G lr 4e-4,
    # which led bilinear's 800-step rows).
    "hour-d2b-head-glr4": {
        "overrides": {**_D2B, "unet_head": True, "generator_lr": 4e-4},
        "decay": 15 / 29,
    },
    # R1 (Mescheder et al. 2018) penalises D's slope on the real images, the thing a D that has
    # memorised 300 paintings makes steep: |d mean logit / d image|^2 on real Monets was ~25 for
    # hour-d2b-lecam0.01's winning Monet D at its end and 0.86 for hour-d2b-head's held one.
    # gamma 0.2 costs the held D ~0.09 and the winning one ~2.5, against BCE losses of 0.2-0.7.
    # Measured: its Monet D held (loss 0.58-0.60 from epoch 4 to the end) and the hour ended at
    # 0.60, like ADA's.
    "hour-d2b-r1": {"overrides": {**_D2B, "r1_weight": 0.2}, "decay": 15 / 29},
    "d2b-r1": {"overrides": {**_D2B, "r1_weight": 0.2}, "decay": 0.0},
    # So R1 on the best 800-step recipe (cycle 2.5, G lr 4e-4), whose hour without it its D won
    # (0.73). Measured: D held (0.63-0.66 all hour) and the hour ended at 0.45 (live 0.46), no
    # lattice.
    "hour-d2b-c2.5-glr4-r1": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.2},
        "decay": 15 / 29,
    },
    # Before it becomes the presets' recipe: its 800-step rows (the issue's first target) and a
    # second seed of its hour; and a lighter gamma, whose D may give the generator a sharper push.
    # Measured: 800 steps 0.98 / 0.75 (seeds 0 / 1; without R1 0.75 / 0.65); the hour's seed 1
    # 0.478 (seed 0 0.448), no lattice: the presets' recipe now.
    "d2b-c2.5-glr4-r1": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.2},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1-0.1": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.1},
        "decay": 15 / 29,
    },
    # Measured (seed 0): gamma 0.1 let the Monet D gain slowly (its loss 0.65 at epoch 9, 0.55 at
    # the end) and ended at 0.515 against 0.2's 0.448. So the other side: gamma 0.4.
    "hour-d2b-c2.5-glr4-r1-0.4": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.4},
        "decay": 15 / 29,
    },
    # With R1 the Monet D's loss sits at 0.62-0.65 all hour (near chance, 0.69): a D that pushes
    # harder may teach more texture. Its learning rate up to G's (R1 still holds it).
    # Measured (seed 0): 0.469 (live 0.483), its Monet D 0.59-0.65, no lattice: no better.
    "hour-d2b-c2.5-lr4-r1": {
        "overrides": {**_D2B_GLR4, "discriminator_lr": 4e-4, "r1_weight": 0.2},
        "decay": 15 / 29,
    },
    # The generator's other restraint: cycle 2.5 beat 5 at 800 steps (0.79 vs 0.87); with R1
    # holding D all hour, a weaker cycle loss may leave room for more of the texture it rewards.
    # Measured (seed 0): 0.452 (live 0.464), its Monet D 0.64-0.68, no lattice: as cycle 2.5.
    "hour-d2b-c1.5-glr4-r1": {
        "overrides": {**_D2B_GLR4, "cycle_weight": 1.5, "r1_weight": 0.2},
        "decay": 15 / 29,
    },
    # R1 costs the first 800 steps (0.98 / 0.75 against 0.75 / 0.65 without it) because it
    # restrains D from step 1, while D only starts to memorise at ~2,200. Adaptive R1 (gamma x s,
    # s moved by ADA's rule from D's outputs on real Monets) leaves the early steps free; up to
    # twice the fixed gamma (0.4 cost the hour 0.03 on seed 0) once D memorises. Target 0.3, not
    # ADA's 0.6: held at 0.6 by ADA the Monet D's loss sat at 0.40-0.48 (the hour 0.61), while
    # the best hours kept it at 0.63-0.66, as un-regularised 800-step runs have it.
    # Measured (800 steps, seed 0): 0.861 (live 0.836) between fixed R1's 0.977 and none's 0.747;
    # s rose from epoch 2 (epoch means 0.001, 0.06, 0.21, 0.29): D passes 0.3 within 800 steps.
    "d2b-c2.5-glr4-r1a": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.4, "r1_target": 0.3},
        "decay": 0.0,
    },
    # Measured (hour, seed 0): 0.541 (live 0.536), no lattice: worse than fixed 0.2's 0.448. s sat
    # at 0.04-0.18 to epoch 12 while D gained (loss 0.66 -> 0.615), then rose to 1 by epoch 21:
    # the full 0.4 over a painting that had lost its push; the last grid is softer, less stroke.
    "hour-d2b-c2.5-glr4-r1a": {
        "overrides": {**_D2B_GLR4, "r1_weight": 0.4, "r1_target": 0.3},
        "decay": 15 / 29,
    },
    # So R1 from a fixed step (`r1_start`): off for the first 1,000 steps, where it only cost
    # (800 steps: 0.98 / 0.75 with it, 0.75 / 0.65 / 0.79 without), then the full 0.2 from
    # well before ~2,200, where D without it starts to memorise (adaptive R1 let D gain until
    # ~2,400 and lost the hour). Its 800 steps train as R1-free ones do (R1 computed, times 0).
    # Measured: 800 steps 0.808 / 0.641 / 0.819 (seeds 0 / 1 / 2; R1 from step 0: 0.977 / 0.752);
    # the hour (seed 0) 0.473 against 0.448, its Monet D 0.63-0.65 to epoch 23, 0.61 at the end;
    # the same grid as R1 from step 0. cpu-small takes it (the 800-step gain is above the seeds'
    # spread, the hour's loss within it).
    "d2b-c2.5-glr4-r1s1000": {
        "overrides": _R1S1000,
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000": {
        "overrides": _R1S1000,
        "decay": 15 / 29,
    },
    # The identity loss (G(real_monet) = real_monet, x cycle_weight) keeps each photo's colours;
    # the hours' paintings keep much of the photos' palette. Less of it, on the presets' recipe
    # (identity 0.5: the hour 0.473, seed 0), with the style FD every 2 epochs (--curve-every 2).
    # Measured (seed 0): the hour lost: identity 0 0.535 (best 0.502 at step 4,000; luminance
    # inverted: dark water painted white, the lighthouse's sky dark: hour-id0-samples.png),
    # 0.2 0.550 (plateau 0.54-0.55 from step 2,400; the photos' own colours, little of Monet's).
    # At 800 steps 0.2 scored 0.699 (the hour's curve) / 0.656 / 0.806 against 0.808 / 0.641 /
    # 0.819: not enough to pay for the hour. The presets keep the paper's 0.5.
    "hour-d2b-c2.5-glr4-r1s1000-id0": {
        "overrides": {**_R1S1000, "identity_weight": 0.0},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-id0.2": {
        "overrides": {**_R1S1000, "identity_weight": 0.2},
        "decay": 15 / 29,
    },
    # In those hours the live generator's style FD swung 0.82 -> 1.16 -> 0.91 from one evaluation
    # to the next while its EMA fell smoothly: a longer average? A larger ema_decay would not
    # give one: the ramp min(decay, t / (10 + t)) spans only the last ~t / 10 steps (~80 at step
    # 800, ~580 at 5,800) and reaches 0.999 at ~10,000.
    # A slower ramp (`ema_warmup` 3: the last ~t / 3 steps) on the presets' recipe.
    # Measured (800 steps, seed 0): 0.988 (live 0.818) against 0.808 with 10: at step 800 the
    # generator is still improving fast and the longer average holds older weights. Stopped there
    # (seeds 1-2 and the hour) to give the cores to the constant-lr hour.
    "d2b-c2.5-glr4-r1s1000-ew3": {
        "overrides": {**_R1S1000, "ema_warmup": 3.0},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-ew3": {
        "overrides": {**_R1S1000, "ema_warmup": 3.0},
        "decay": 15 / 29,
    },
    # In the identity hours the FD rose through the lr decay as the Monet D gained (identity 0:
    # 0.502 at step 4,000, 0.535 at the end; D's loss 0.64 -> 0.59), as in cpu-small's own hour.
    # The presets' recipe with a constant lr to the end (the EMA still averages).
    # Measured (seed 0): 0.512 (live 0.547) against 0.473 with the decay; its curve 0.55 at step
    # 2,800, 0.499 at 4,000-4,400, then 0.51-0.52, and its Monet D gained all the same (loss 0.65
    # at epoch 6, 0.59 at the end): the decay is not what lets D gain, and it pays. Kept.
    "hour-d2b-c2.5-glr4-r1s1000-const": {
        "overrides": _R1S1000,
        "decay": 0.0,
    },
    # Every hour above plateaus at 0.50-0.55 by ~3,000 steps whatever the loss weights; the
    # networks' reach is what none of them changed. The Monet D's width (64 filters, 4x its
    # FLOPs; R1 holds it as before), and its depth: 3 strided layers, a 70 px field that sees
    # the whole 64 px painting (its composition and colour balance), with R1 this time (without
    # it the 3-layer D lost to 2 at 800 steps, 1.47 / 1.43 vs 1.13 / 0.78).
    # Measured: df64's hour 0.465 (live 0.476) against 0.473, the same curve. d3 at 800 steps
    # ran with 64-filter Ds (the bug below: `-df64-d3`), 1.18 / 1.37 (seeds 0 / 1) against 0.907
    # (seed 0) for the same Ds with 2 layers; its hour stopped at step 600.
    "hour-d2b-c2.5-glr4-r1s1000-df64": {
        "overrides": {**_R1S1000, "discriminator_filters": 64},
        "decay": 15 / 29,
    },
    "d2b-c2.5-glr4-r1s1000-d3": {
        "overrides": {**_R1S1000, "discriminator_layers": 3},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-d3": {
        "overrides": {**_R1S1000, "discriminator_layers": 3},
        "decay": 15 / 29,
    },
    # Painted then evaluated with simple edits, a 600-step generator's style FD fell from 1.26 to
    # 0.89 with Gaussian noise (sd 0.03) added at 64 px and to 1.11 when sharpened, and rose when
    # blurred (1.87): the paintings lack Monet's pixel-scale texture. The bilinear U-Net paints
    # RGB from one x2 of half-size features, so it cannot paint it; `unet_head` (a full-size
    # block) can. Without R1 it held D and painted slowly (0.69 over the hour); now R1 holds D.
    # Measured at 800 steps with 64-filter Ds (the bug below: `-df64-head`): 2.26 / 2.32 (seeds
    # 0 / 1; detail 2-4 px 0.28 / 0.24) against 0.907 (seed 0) without the head: washed-out
    # pastel blotches. (And at the end of df64's hour every such
    # edit raised the FD, 0.46 -> 0.80 with the noise: the early lack of detail is gone by then.)
    "hour-d2b-c2.5-glr4-r1s1000-head": {
        "overrides": {**_R1S1000, "unet_head": True},
        "decay": 15 / 29,
    },
    "d2b-c2.5-glr4-r1s1000-head": {
        "overrides": {**_R1S1000, "unet_head": True},
        "decay": 0.0,
    },
    # The head paints at full size but from half-size features only: no layer that paints a
    # pixel sees that pixel of the photo. `unet_full_skip` joins a full-size level of the photo.
    # Measured at 800 steps with 64-filter Ds (`-df64-head-skip`): 1.17 / 1.19 (seeds 0 / 1)
    # against 0.907: the photo passed through, desaturated (cycle loss 0.14 against 0.37), its
    # 2-4 px detail still 0.33 (the photos' 1.10).
    "d2b-c2.5-glr4-r1s1000-head-skip": {
        "overrides": _HEAD_SKIP,
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-head-skip": {
        "overrides": _HEAD_SKIP,
        "decay": 15 / 29,
    },
    "d2b-c2.5-glr4-r1s1000-id0": {
        "overrides": {**_R1S1000, "identity_weight": 0.0},
        "decay": 0.0,
    },
    "d2b-c2.5-glr4-r1s1000-id0.2": {
        "overrides": {**_R1S1000, "identity_weight": 0.2},
        "decay": 0.0,
    },
    # The adversarial loss itself: BCE asks D for an absolute verdict per patch, which a D that
    # has seen 300 paintings can give by memorising them. Relativistic pairing (RpGAN; Jolicoeur-
    # Martineau 2019; with R1 the base of Huang et al. 2024's R3GAN) asks only that each real
    # image score above a generated one, and gives the generator a gradient that moves each
    # painting past a real Monet's score rather than towards a fixed label.
    # Measured at 800 steps: 0.753 / 0.660 / 0.841 (seeds 0 / 1 / 2; live 0.827 / 0.831 /
    # 0.796) against BCE's 0.808 / 0.641 / 0.819: a tie (means 0.751 / 0.756), the same
    # multi-coloured stipple, no lattice; its Monet D's loss 0.26-0.30 against indifference's
    # 0.35. With 64-filter Ds (`-df64-rp`, the bug below) 0.901 / 0.851 against BCE's 0.907.
    "d2b-c2.5-glr4-r1s1000-rp": {
        "overrides": {**_R1S1000, "adversarial_loss": "rpgan"},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-rp": {
        "overrides": {**_R1S1000, "adversarial_loss": "rpgan"},
        "decay": 15 / 29,
    },
    # Reach bought with time: the hour's plateau (0.46-0.48 from step 4,000) moved with no loss
    # weight, the D's width or depth. A wider generator (48 filters: 2.25x its FLOPs) or batches
    # of 8, each trained for the steps that take as long as the presets' 5,800 here (the step
    # measured at 518 and 468 ms against 277 ms, TF, this machine: 1.87x and 1.69x), so these
    # rows compare at equal time, not equal steps. Batch 8: R1's gamma by the rule (0.1) and its
    # start at the same image count (500 steps of 8).
    # Measured (seed 0): b8 0.538 (live 0.546) against 0.473; ahead at equal time at step 1,200
    # (0.585), then 0.55-0.56 from step 1,600 to the end as its Monet D gained (0.64 -> 0.55).
    # gf48 matched the presets' curve step for step (2.04 / 0.78 / 0.67 at 400 / 800 / 1,200
    # against 1.85 / 0.79 / 0.65), so ~0.1 behind at equal time; stopped at step 1,200.
    "hour-d2b-c2.5-glr4-r1s1000-gf48": {
        "overrides": {**_R1S1000, "generator_filters": 48},
        "decay": 8 / 15,
    },
    "hour-d2b-c2.5-glr4-r1s1000-b8": {
        "overrides": {
            **_D2B_GLR4,
            "r1_weight": 0.1,  # r1_gamma(64, 8) at the time (0.0002 x)
            "r1_start": 500,
            "global_batch_size": 8,
        },
        "decay": 9 / 17,
    },
    # The cycle term on block averages (`cycle_downsample`): CycleGAN passes each photo's finest
    # detail through the painting as a low-amplitude high-frequency code so that F can rebuild
    # it (Chu et al. 2017), which may be the multi-coloured stipple every recipe here paints.
    # Compared in 2 x 2 (or 4 x 4) averages, the photo needs only its layout and colours back.
    # Measured (800 steps): cd2 0.733 / 0.643 / 0.847 (seeds 0 / 1 / 2; seed 0 is step 800 of
    # its hour's curve, constant lr until then) and cd4 0.732 / 0.669 / 0.726 against the presets'
    # 0.808 / 0.641 / 0.819: cd2 a tie (mean 0.741 against 0.756), cd4 ahead on two seeds of
    # three (mean 0.709, spread 0.67-0.73 against 0.64-0.82), short of 0.7. The
    # hour (seed 0): cd2 0.530 (live 0.534), cd4 0.544 (live 0.547) against 0.473: the presets'
    # curve to step ~3,200, then 0.51-0.54 to the end; the cycled photos blur as allowed, the fake
    # Monets keep the multi-coloured stipple (so it is not, or not only, a hidden code). Not kept.
    "d2b-c2.5-glr4-r1s1000-cd2": {
        "overrides": {**_R1S1000, "cycle_downsample": 2},
        "decay": 0.0,
    },
    "d2b-c2.5-glr4-r1s1000-cd4": {
        "overrides": {**_R1S1000, "cycle_downsample": 4},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cd2": {
        "overrides": {**_R1S1000, "cycle_downsample": 2},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cd4": {
        "overrides": {**_R1S1000, "cycle_downsample": 4},
        "decay": 15 / 29,
    },
    # A second PatchGAN judging the image average-pooled 2x (pix2pixHD's multi-scale D): the
    # hour's grids leave some photos close to themselves (a meadow under a white sky), whose
    # 34 px patches pass as paint; the half-size judge sees 68 px, most of the image.
    # Measured at 800 steps: 0.745 / 0.632 / 0.750 (seeds 0 / 1 / 2) against the presets'
    # 0.808 / 0.641 / 0.819: ahead on every seed, mean 0.709 against 0.756. Over the hour (seed
    # 0, trained through a scratch builder of the same networks, so not in quality.json): 0.542
    # against 0.473, the meadow and the cave still left close to the photos.
    "d2b-c2.5-glr4-r1s1000-ms2": {
        "overrides": {**_R1S1000, "discriminator_scales": 2},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-ms2": {
        "overrides": {**_R1S1000, "discriminator_scales": 2},
        "decay": 15 / 29,
    },
    # CUT (Park et al. 2020, `objective="cut"`): the presets' recipe with PatchNCE in place of
    # the cycle (one generator and one D; cycle_weight and identity_weight unused). Its step costs
    # 0.58x the cycle's on these cores; its hour plan is 14,000 steps (`--steps 14000
    # --curve-every 10`; the cycle's 5,800 took 47 training minutes on seed 0). Measured: the
    # hour 0.412 on seed 2 in 41 minutes (a prototype on seed 0: 0.408) against the cycle's
    # 0.491 / 0.473: cpu-small's objective since stop 34. At 800 steps it is behind.
    "d2b-c2.5-glr4-r1s1000-cut": {
        "overrides": dict(_CUT),
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut": {
        "overrides": dict(_CUT),
        "decay": 15 / 29,
    },
    # CUT with both learning rates doubled (G 8e-4, D 4e-4: the same ratio): at 800 steps CUT
    # paints closer to the photos than the cycle (its "means" term 0.96 against the style
    # spread's 0.48); a scratch prototype of the same step scored 1.20 against 1.44 (seed 0).
    # Measured: the hour (seed 2, `--curve-every 4`) 1.215 / 1.221 / 1.076 / 0.894 / 0.744 at
    # steps 800 / 1,600 / 2,400 / 3,200 / 4,000 against 4e-4's own 800 steps on seed 2, 1.180,
    # and its hour's 0.566 at 2,000 and 0.459 at 4,000: its Monet D sat at indifference (loss
    # 0.67-0.68) and the paintings stayed near the photos, desaturated, with coloured fringes;
    # stopped at 4,000 steps. Not kept.
    "d2b-c2.5-glr8-r1s1000-cut": {
        "overrides": {**_CUT, **_LR8},
        "decay": 0.0,
    },
    "hour-d2b-c2.5-glr8-r1s1000-cut": {
        "overrides": {**_CUT, **_LR8},
        "decay": 15 / 29,
    },
    # CUT with a longer weight average: 0.9998 reached at step 10,000 (warmup 2: about the last
    # t / 2 steps until then), ~5,000 steps from there on, against the presets' 0.999 / 10 (t / 10,
    # then 1,000). On one prototype run (seed 0, the hour plan) the average ended the hour at 0.394
    # against the preset's 0.423, while early in the run it held older, worse weights.
    # Measured: 800 steps 1.590 / 1.508 / 1.550 (seeds 0 / 1 / 2) against 1.432 / 0.956 / 1.180;
    # cpu-small's budgeted hour (seed 42) 0.358 against 0.383: cpu-small's average since stop 36.
    "d2b-c2.5-glr4-r1s1000-cut-ema2": {
        "overrides": {**_CUT, **_EMA2},
        "decay": 0.0,
    },
    # cpu-small's recipe (CUT, the longer average) with bfloat16 compute (`mixed_precision`): this
    # CPU's AMX runs CUT's step at 138 against 159 ms (R1 on, medians of 5 interleaved), ~15% more
    # steps in an hour, if the painting holds up at equal steps. Measured: 800 steps 1.573 / 1.415
    # / 1.607 (seeds 0 / 1 / 2) against float32's 1.590 / 1.508 / 1.550; cpu-small's budgeted
    # hour in bfloat16 (seed 42) 125 epochs against 111, and 0.379 against float32's 0.358 (seed
    # 42) and 0.401 (seed 0): inside float32's spread, no gain shown; not adopted.
    "d2b-c2.5-glr4-r1s1000-cut-ema2-bf16": {
        "overrides": {**_CUT, **_EMA2, "mixed_precision": True},
        "decay": 0.0,
    },
    # Lazy R1 (`r1_interval`: every 16th step, x 16, StyleGAN2's) against R1 on every step, both
    # from step 0 so the 800 steps hold the difference (cpu-small's r1_start=1000 would leave
    # none): cpu-small's recipe otherwise. At equal steps the lazy run is the faster one.
    "d2b-c2.5-glr4-r1s0-cut-ema2": {
        "overrides": {**_CUT, **_EMA2, "r1_start": 0},
        "decay": 0.0,
    },
    "d2b-c2.5-glr4-r1s0-cut-ema2-lazy16": {
        "overrides": {**_CUT, **_EMA2, "r1_start": 0, "r1_interval": 16},
        "decay": 0.0,
    },
    # The same pair over the hour recipes' 5,800 steps with cpu-small's own R1 (from step 1,000):
    # whether painting per step holds up over a longer run once R1 is only every 16th step.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2": {
        "overrides": {**_CUT, **_EMA2},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16": {
        "overrides": dict(_CUT_LAZY),
        "decay": 15 / 29,
    },
    # Without CUT's identity PatchNCE on the Monets (`nce_identity=False`, as FastCUT): the step
    # skips G(real_monet) and its encoder pass, 126 against 185 ms (cpu-small, 3 interleaved
    # rounds, medians): ~1.45x the steps in an hour, if the painting holds up at equal steps.
    # `-fast` is FastCUT as published (Park et al. 2020: no identity term, lambda_NCE 10).
    # Measured (seed 0): at 5,800 steps 0.580 (live 0.477) against the preset's 0.497 (live
    # 0.426); at equal time, 8,400 steps (`--steps 8400`), 0.491 (live 0.430): no gain, so the
    # identity term stays. FastCUT 1.086 (live 1.015): its Monet D won (loss 0.36-0.45, the
    # generator's 1.35-1.9) and its paintings stayed blurred photos.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-noid": {
        "overrides": {**_CUT_LAZY, "nce_identity": False},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-fast": {
        "overrides": {
            **_CUT_LAZY,
            "nce_identity": False,
            "nce_weight": 10.0,
        },
        "decay": 15 / 29,
    },
    # CUT's identity PatchNCE on one Monet of the 4 only (`nce_identity_stride=4`, its term x 4:
    # the same expected loss): G's call shrinks from 8 images to 5, the step from 199 to 159 ms
    # (cpu-small, TF, 3 interleaved rounds of 40 steps, medians; without the identity term 148):
    # 1.25x the steps in an hour, if the painting holds up. `--steps 7200` is the preset's 5,800
    # steps' time. Measured: at 5,800 steps (seed 0) 0.565 (live 0.469) against the preset's
    # 0.497 (0.426); at equal time, 7,200 steps, 0.516 / 0.546 (live 0.459 / 0.513; seeds 0 /
    # 1) against the preset's 5,800 at 0.497 / 0.523 (0.426 / 0.464): behind on both seeds,
    # live and averaged, no lattice. The identity term on every Monet stays (stride 1).
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-ids4": {
        "overrides": {**_CUT_LAZY, "nce_identity_stride": 4},
        "decay": 15 / 29,
    },
    # Spectral normalization of the Monet D (Miyato et al. 2018: each convolution's kernel over
    # its largest singular value, one power iteration a step; its instance norms dropped), on
    # the presets' recipe, beside its R1: an issue-14 recipe not yet measured at this length.
    # Measured (seed 0, 5,800 steps): 0.701 (live 0.593) against 0.497 (0.426); its D sat at
    # 0.67 all run (the preset's 0.62-0.65), the paintings nearer the photos (2-4 px detail
    # 0.48 against 0.56), no lattice. Off.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-sn": {
        "overrides": {**_CUT_LAZY, "spectral_norm": True},
        "decay": 15 / 29,
    },
    # CUT's lambda_NCE halved and doubled: the hour's paintings keep less fine detail than the
    # Monets (2-4 px: 0.62 of theirs) and stay close to the photos' layout; a lighter PatchNCE
    # leaves the generator freer to paint, a heavier one holds the photo harder. Same step cost.
    # Measured (seed 0, 5,800 steps): 0.5 scored 0.590 (live 0.453), 2 scored 0.555 (live
    # 0.500), against the preset's 1 at 0.497 (live 0.426): both worse, live and averaged; the
    # Monet D ended at 0.66 (0.5) and 0.57 (2) against 0.64. Side by side the three paint alike;
    # 0.5 with more violet speckle on the mountain, 2 closer to the photos. lambda 1 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-nce0.5": {
        "overrides": {**_CUT_LAZY, "nce_weight": 0.5},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-nce2": {
        "overrides": {**_CUT_LAZY, "nce_weight": 2.0},
        "decay": 15 / 29,
    },
    # 64 PatchNCE patches per layer and image instead of CUT's 256: at 64 px only the U-Net's
    # input and first level have more than 256 positions (4,096 and 1,024; the 16 x 16 level has
    # exactly 256), so the heads and the P x P logits shrink there and at 16 x 16; each query keeps
    # 63 negatives instead of 255. The step is cheaper; worth it if the painting holds at equal
    # steps. Measured: the step 190 against 220 ms (cpu-small, TF, 4 interleaved rounds of 40
    # steps, medians; 0.86x); 5,800 steps (seed 0) 0.524 (live 0.435) against the preset's 0.497
    # (live 0.426), lattice and detail alike, side by side the same paintings (a little more
    # speckle on the mountain). At equal time ~6,700 steps: about level, no gain shown; 256 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-p64": {
        "overrides": {**_CUT_LAZY, "nce_patches": 64},
        "decay": 15 / 29,
    },
    # CUT's own learning rates (Park et al. 2020: 2e-4 for G and D): the presets' G lr of 4e-4 was
    # chosen for the cycle objective at 800 steps (`d2b-c2.5-glr4`) and came along to CUT
    # untested. Same step cost. Measured (seed 0, 5,800 steps): 0.563 (live 0.493) against the
    # preset's 0.497 (live 0.426); Monet D 0.63 at the end (0.64); side by side darker skies, the
    # same layouts. 4e-4 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-glr2": {
        "overrides": {**_CUT_LAZY, "generator_lr": 2e-4},
        "decay": 15 / 29,
    },
    # PatchNCE without its pixel layer (`nce_pixels=False`: the U-Net's four encoder levels, not
    # the input's RGB, CUT's layer 0): a 1 x 1 "patch" of colour that each painted pixel must match
    # among 255 others may hold back the texture the paintings lack (2-4 px detail 0.56 of
    # Monet's). Same step cost (one head fewer). Measured (seed 0, 5,800 steps; trained at 1ba5ddc
    # with a local switch that left the input layer out, the same math as the field): 0.587 (live
    # 0.474) against the preset's 0.497 (live 0.426), detail 0.53 (no more texture), no lattice;
    # side by side the same layouts, the meadow yellower and a magenta roof. The input layer stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-nopix": {
        "overrides": {**_CUT_LAZY, "nce_pixels": False},
        "decay": 15 / 29,
    },
    # CUT's InfoNCE temperature (0.07) softened and sharpened, same step cost. Measured (seed 0,
    # 5,800 steps): 0.15 scored 0.594 (live 0.560), 0.05 scored 0.488 (live 0.427), against the
    # preset's 0.497 (live 0.426): 0.15 behind (side by side a darker sunset sky, more speckle in
    # the waterfall), 0.05 level (inside one seed's noise, the same paintings); on seed 1 0.05
    # scored 0.528 (live 0.477) against the preset's 0.523 (0.464): level. 0.07 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-t0.15": {
        "overrides": {**_CUT_LAZY, "nce_temperature": 0.15},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-t0.05": {
        "overrides": {**_CUT_LAZY, "nce_temperature": 0.05},
        "decay": 15 / 29,
    },
    # The hour plan's learning rate decaying over its last 7 of 29 epochs instead of the paper's
    # last half (15): longer at the full rate, the weight average to smooth the end. Measured
    # (seed 0, 5,800 steps): 0.506 (live 0.415) against 0.497 (live 0.426): level, the same
    # paintings side by side. The half stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-decay7": {
        "overrides": dict(_CUT_LAZY),
        "decay": 7 / 29,
    },
    # R1 from step 0 (lazy, every 16th step) instead of 1,000: cpu-small's r1_start was chosen
    # for the cycle's 800 steps (0.81 / 0.64 / 0.82 against 0.98 / 0.75), although over the
    # cycle's hour R1 from step 0 ended ahead (0.448 against 0.473, seed 0); cpu-small is an
    # hour's preset. Measured (seed 0, 5,800 steps): 0.565 (live 0.481) against the preset's
    # 0.497 (live 0.426): behind with CUT; R1 from step 1,000 stays.
    "hour-d2b-c2.5-glr4-r1s0-cut-ema2-lazy16": {
        "overrides": {**_CUT_LAZY, "r1_start": 0},
        "decay": 15 / 29,
    },
    # CUT's Monet D twice as wide (64 filters, the dataclass's): all hour its loss sits at
    # 0.64-0.65 (BCE's chance 0.69), a weak judge of texture; the step costs more. Measured
    # (seed 0, 5,800 steps): 0.580 (live 0.462) against 0.497 (live 0.426), its D's loss 0.63 at
    # the end, epochs ~25% longer beside another run: behind; D keeps 32 filters.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-df64": {
        "overrides": {**_CUT_LAZY, "discriminator_filters": 64},
        "decay": 15 / 29,
    },
    # Faster learning rates for CUT's hour: G's 2e-4 lost to 4e-4 (0.563 against 0.497), so the
    # hour may want more still (6e-4), or a D that keeps up with it (D's 4e-4, G's 4e-4): the
    # step count is what limits the hour, and the weight average smooths a noisier G. Measured
    # (seed 0, 5,800 steps): G's 6e-4 0.504 (live 0.442), level with the preset's 0.497 (live
    # 0.426), the same paintings; D's 4e-4 0.670 (live 0.521), behind, its 2-4 px detail 0.46
    # (0.56), blurrier. Both Ds still sat at a loss of 0.64-0.67 all run. 4e-4 / 2e-4 stay.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-glr6": {
        "overrides": {**_CUT_LAZY, "generator_lr": 6e-4},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-dlr4": {
        "overrides": {**_CUT_LAZY, "discriminator_lr": 4e-4},
        "decay": 15 / 29,
    },
    # The other way: a weaker Monet D. Every change that strengthened CUT's D lost over the hour
    # plan (R1 from step 0, 64 filters, D's lr 4e-4), so a slower D (lr 1e-4: G's 4e-4 is then
    # 4x, TTUR) or a smoother one (R1's gamma 0.4 instead of 0.2) may paint better. Measured
    # (seed 0, 5,800 steps): D's 1e-4 0.492 (live 0.433), level with the preset's 0.497 (live
    # 0.426), the same paintings; R1 0.4 0.548 (live 0.448), behind. D's loss ended at 0.64 / 0.65
    # (the preset's 0.64). 2e-4 and 0.2 stay: D's strength is not what holds CUT's hour back.
    # D's 1e-4 on seed 1: 0.555 (live 0.465) against the preset's 0.523 (0.464).
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-dlr1": {
        "overrides": {**_CUT_LAZY, "discriminator_lr": 1e-4},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-r1-0.4": {
        "overrides": {**_CUT_LAZY, "r1_weight": 0.4},
        "decay": 15 / 29,
    },
    # Adam's beta_1 at 0, StyleGAN2's (Karras et al. 2020), whose lazy R1 and generator average
    # cpu-small already takes; the paper's 0.5 came with the 2017 recipe, which had neither.
    # Measured (seed 0, 5,800 steps): 0.570 (live 0.477) against the preset's 0.497 (live 0.426),
    # 2-4 px detail 0.51 (0.56), no lattice; behind. 0.5 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-b0": {
        "overrides": {**_CUT_LAZY, "beta_1": 0.0},
        "decay": 15 / 29,
    },
    # Adam's beta_2 at 0.99, StyleGAN2's (Karras et al. 2020), beside its lazy R1 and weight
    # average that cpu-small already takes: v then remembers ~100 steps, not ~1,000, so a step's
    # size follows the gradients' scale as the D and the generator move (beta_1 0 lost: it is the
    # other half of StyleGAN's Adam). Same step cost. Measured (5,800 steps, seeds 0 / 1 / 2):
    # 0.495 / 0.506 / 0.499 (live 0.453 / 0.461 / 0.457) against the preset's 0.497 / 0.523 /
    # 0.488 (live 0.426 / 0.464 / 0.446): means 0.500 against 0.503, live 0.457 against 0.445.
    # Level; the paintings alike, no lattice. 0.999 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-b2-0.99": {
        "overrides": {**_CUT_LAZY, "beta_2": 0.99},
        "decay": 15 / 29,
    },
    # One-sided label smoothing of the Monet D's BCE (real -> 0.9; Salimans et al. 2016), beside
    # R1: a Kaggle entrant reported MiFID 51.5 -> 39.7 with it, and on the cycle's 800 steps it
    # was level (`d2b-smooth`: 0.87 / 0.83 against 0.87 / 0.86), but it is meant for the later
    # steps, where a D that is too sure of the 300 Monets stops teaching texture. Same step cost.
    # Measured (5,800 steps, seeds 0 / 1): 0.494 / 0.514 (live 0.452 / 0.441) against the
    # preset's 0.497 / 0.523 (live 0.426 / 0.464): level; the same paintings, no lattice. Off.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-ls0.1": {
        "overrides": {**_CUT_LAZY, "label_smoothing": 0.1},
        "decay": 15 / 29,
    },
    # The preset's recipe again after the jitter fix (stop 48): the images are cached at
    # resize_size (72) and the jitter crops 64 px of their own pixels, where until then it
    # enlarged a 64-px copy and the blur halved the 2-4 px detail of every image D saw (the
    # Monets as D saw them scored 0.347 against themselves; augment_reference.py). Same fields,
    # so its own name: the runs above it trained on the blurred images.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop": {
        "overrides": dict(_CUT_LAZY),
        "decay": 15 / 29,
    },
    # The same without the jitter (flips only): at 256 px the 256-px JPEGs can only be enlarged to
    # reach 286 (the Monets as D sees them: 0.430 from themselves, 2-4 px detail 0.36), so the
    # presets that train at 256 choose between a blurred jitter and none; this measures "none"
    # at 64 px, where the sharp jitter is there to compare with.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-flips": {
        "overrides": {**_CUT_LAZY, "resize_size": 64},
        "decay": 15 / 29,
    },
    # R1's gamma again on the sharp images (stop 49): on them the Monet D wins more (its loss
    # 0.52 / 0.44 at the end of `-crop`'s seeds 0 / 1, 0.62 on the blurred ones), seed 1's
    # paintings carry faint horizontal streaks and the 14,000-step run dark blots, the marks of
    # a winning D. 0.2 was chosen on the blurred images (0.4 lost there: 0.548 against 0.497).
    # Measured (seed 0, 14,000 steps, both at once): 0.4 0.360 (live 0.344), 0.8 0.426 (live
    # 0.309), against 0.2's 0.339 (live 0.301); the Monet D's loss at the end 0.53 / 0.62
    # against 0.46; lattice at 2 px 1.01 / 1.00 against 1.11; 2-4 px detail 0.92 / 0.69
    # against 0.95. Side by side and in the last grids 0.2 paints dark blots (the sunset's
    # clouds and sky, the beach's sky, the overcast field, the lighthouse), 0.4 and 0.8 none;
    # 0.8 is the softest. 0.4 becomes cpu-small's gamma (the rule's anchor: config_presets).
    # 0.4 on 5,800 steps, seed 1 (where 0.2's D won most: loss 0.44, streaks): 0.499 (live
    # 0.416, D's loss 0.56) against 0.521 (live 0.583); less speckle, fainter streaks.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop-r1-0.4": {
        "overrides": {**_CUT_LAZY, "r1_weight": 0.4},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop-r1-0.8": {
        "overrides": {**_CUT_LAZY, "r1_weight": 0.8},
        "decay": 15 / 29,
    },
    # The generator paints over the photo (`generator_residual`, stop 51): its output is
    # tanh(net + atanh(0.99 photo)), so the untrained U-Net returns the photo, sharp, where the
    # preset's first steps redraw it blurred from half-size features (800 steps: 1.611 / 1.158
    # / 1.544, live 1.056 / 0.789 / 1.091, 2-4 px detail 0.48). `-ew10`: with it the ~5,000-step
    # average's window ramps as t / 10, not t / 2 (the presets' ramp), so at 800 steps it
    # averages the last ~80 instead of ~400.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop-r1-0.4-res": {
        "overrides": _RES,
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop-r1-0.4-res-ew10": {
        "overrides": {**_RES, "ema_warmup": 10.0},
        "decay": 15 / 29,
    },
    # `-dlr4`: D's learning rate up to G's 4e-4: with the generator starting from the photo its
    # first steps wait on D to learn what tells a Monet from a photo (D's loss 0.67 at 800).
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-crop-r1-0.4-res-ew10-dlr4": {
        "overrides": {**_RES, "ema_warmup": 10.0, "discriminator_lr": 4e-4},
        "decay": 15 / 29,
    },
    # A narrower generator (16 filters, not cpu-small's 32): at 64 px the hour is bound by steps
    # (14,000 steps 0.41, 15,800 0.39, 22,200 0.36), and the U-Net's share of the step shrinks
    # with its width squared; worth it if the painting holds at equal steps. Measured (seed 0,
    # 5,800 steps): 0.591 (live 0.603) against the preset's 0.497 (live 0.426). Alone on the same
    # day it trained in 703 s against `-b0`'s 1,240 s (the preset's step cost): 0.57x, so about
    # 10,000 steps at equal time (the D, PatchNCE and the per-op overhead stay). It would have to
    # make up 0.09 in ~4,200 steps where the preset's own runs gain ~0.01 a 1,000. Measured at
    # equal time (stop 44, seed 0, `--steps 10000`, alone: 1,180 s): 0.532 (live 0.567) against
    # the preset's 0.497 (live 0.426) in 5,800: behind. Side by side, at both lengths, a
    # yellow-brown meadow and coloured speckle on the sunset's sky, the mountain and the
    # waterfall, no lattice. 32 filters stay (24 would lie between).
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-gf16": {
        "overrides": {**_CUT_LAZY, "generator_filters": 16},
        "decay": 15 / 29,
    },
    # Batches of 2 and of 1 (CUT's own) for about the time of the presets' 5,800 steps of 4:
    # batch 8 lost to 4 at equal time (more images, fewer steps), so the steps may be what the
    # hour buys, and at 64 px a step of 2 or of 1 costs far less than one of 4: 105 / 78 against
    # 193 ms (TF, 3 interleaved rounds, medians); in training, epochs of 200 steps took 25.6 /
    # 16.8 s against 39 s (medians), so 8,400 steps of 2 and ~13,400 of 1 match 5,800 of 4. R1
    # as `-b8` set it: gamma by the rule (0.41 at 2, 0.82 at 1), its start at the same images.
    # Measured (seed 0): b2, 8,400 steps in 1,244 s, 0.618 (live 0.530); b1, 10,000 steps (0.8x
    # the time: 942 s) 0.936 (live 0.998); against batch 4's 0.497 (live 0.426) in 1,183-1,205 s
    # (the -nce rows' time, same session). Their Monet D sat at 0.66-0.68 all run (batch 4's
    # 0.64); side by side blurrier, with magenta and green speckle on the mountain (b1 the most).
    # Batch 4 stays.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-b2": {
        "overrides": {
            **_CUT_LAZY,
            "global_batch_size": 2,
            "r1_weight": 0.41,  # r1_gamma(64, 2) at the time (0.0002 x)
            "r1_start": 2000,
        },
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-b1": {
        "overrides": {
            **_CUT_LAZY,
            "global_batch_size": 1,
            "r1_weight": 0.82,  # r1_gamma(64, 1) at the time (0.0002 x)
            "r1_start": 4000,
        },
        "decay": 15 / 29,
    },
    # Progressive resolution: the first part of the run at 32 px, the rest at 64 (`"small"`: the
    # size and the share of the epochs trained at it; `run_child` trains them, then resumes the
    # same state at 64 px). The hour is bound by steps, and every weight of this recipe is
    # size-free (fully convolutional, no image pool). The U-Net must then be 5 levels deep (32 =
    # 2^5), so `-d5` is its like-for-like baseline at 64 px. At 32 px an epoch of 200 steps took
    # 17 s against 36 s at 64 (alone, TF): only 2.1x cheaper for 4x fewer pixels (the step's
    # per-op cost), so the time of 29 epochs at 64 px buys 30 at 32 + 15 at 64 (9,000 steps;
    # the decay over the 64 px part). Measured (seed 0): `-d5` 0.530 (live 0.502) in 5,800 steps;
    # `-d5-p32` 0.589 (live 0.496) in 9,000, its epochs beside `-d5`'s taking the same time
    # (1,775 s against 1,702 s, both at once): level on the live weights, behind on the average
    # (its window still holds 32 px weights). Both behind the preset's 0.497 (live 0.426): 6
    # levels stay, and no progressive phase.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-d5": {
        "overrides": {**_CUT_LAZY, "unet_depth": 5},
        "decay": 15 / 29,
    },
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-d5-p32": {
        "overrides": {**_CUT_LAZY, "unet_depth": 5},
        "decay": 15 / 45,
        "small": {"image_size": 32, "share": 30 / 45},
    },
    # The U-Net's deepest encoder layer without instance norm (pix2pix's own U-Net; the starter
    # normalises it): at 64 px it is 1x1, where the norm leaves only its offset, so the bottleneck
    # is a constant and no global view of the photo reaches the decoder. Dropping that norm alone
    # changed nothing: seed 1 scored 0.5230035 (live 0.4641249), bit for bit the preset's seed 1,
    # because the bilinear decoder level that reads it resizes 1x1 to a constant map, which its
    # norm zeroes again. `unet_bottleneck_norm=False` now drops both. Measured (5,800 steps):
    # 0.503 / 0.521 (live 0.449 / 0.465, seeds 0 / 1) against the preset's 0.497 / 0.523 (live
    # 0.426 / 0.464): level, the same paintings side by side; the field stays the starter's.
    "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-bn0": {
        "overrides": {**_CUT_LAZY, "unet_bottleneck_norm": False},
        "decay": 15 / 29,
    },
    # The rows below were trained by the bug `recipe_config` had from stop 30 to 31: every recipe
    # got the dataclass's 64-filter D, cpu-small's 32 dropped, so the `-head`, `-head-skip`,
    # `-d3` and `-rp` figures measured at 800 steps then are these recipes' (quality.json keeps
    # them under these names). Their like-for-like baseline is the presets' recipe with that D:
    # 0.907 at step 800 of `hour-...-df64`'s curve (seed 0; the same constant lr to step 2,800).
    # Measured (seed 1, 800 steps): 0.831 (live 0.949).
    "d2b-c2.5-glr4-r1s1000-df64": {"overrides": _DF64, "decay": 0.0},
    "d2b-c2.5-glr4-r1s1000-df64-head": {"overrides": {**_DF64, "unet_head": True}, "decay": 0.0},
    "d2b-c2.5-glr4-r1s1000-df64-head-skip": {
        "overrides": {**_HEAD_SKIP, "discriminator_filters": 64},
        "decay": 0.0,
    },
    "d2b-c2.5-glr4-r1s1000-df64-d3": {
        "overrides": {**_DF64, "discriminator_layers": 3},
        "decay": 0.0,
    },
    "d2b-c2.5-glr4-r1s1000-df64-rp": {
        "overrides": {**_DF64, "adversarial_loss": "rpgan"},
        "decay": 0.0,
    },
    "hour-painter-d2-ada60": {
        "overrides": {**_PAINTER, "discriminator_layers": 2, **_ADA60},
        "decay": 15 / 29,
    },
}
DEFAULT_RECIPES = ("paper", "starter")


# --- one recipe, in its own process ----------------------------------------------------------
def recipe_config(name: str, seed: int, steps: int, image_size: int):
    """The painter Config of recipe `name`: cpu-small's sizes (not its recipe: every run starts
    from the paper's choices), `steps` steps of 4."""
    recipe = RECIPES[name]
    per_epoch = min(steps, STEPS_PER_EPOCH)
    epochs = steps // per_epoch
    if epochs * per_epoch != steps:
        raise SystemExit(
            f"--steps must be below or a multiple of {STEPS_PER_EPOCH}. Received: {steps}"
        )
    # cpu-small's sizes, not its recipe: every recipe states its own (a preset's recipe field,
    # e.g. cpu-small's r1_start, is not a size: without its r1_weight it would not even be a
    # valid config). A recipe may still override a size (the `-gf48`, `-b8`, `-df64` rows): its
    # overrides come last. (Until stop 31 every field any recipe set was dropped from the sizes,
    # so once `-df64` set discriminator_filters every recipe got the dataclass's 64 filters.)
    sizes = {k: PRESETS["cpu-small"][k] for k in CPU_SMALL_SIZE_FIELDS}
    base = Config.from_dict({**sizes, "preset": "cpu-small"})
    jitter = round(image_size * base.resize_size / base.image_size)
    settings = {
        "image_size": image_size,
        "resize_size": jitter,
        "seed": seed,
        "epochs": epochs,
        "steps_per_epoch": per_epoch,
        "decay_epochs": round(epochs * recipe["decay"]),
        "session_limit_minutes": 100000.0,
        "sample_count": SAMPLE_PHOTOS,
    }
    return base.replace(**{**settings, **recipe["overrides"]})


def style_curve_callback(
    workdir: Path, data: Path, image_size: int, every: int, steps_per_epoch: int
):
    """A Keras callback that, every `every` epochs, paints the fixed photos with the model's
    painting generator (the EMA where there is one) and its live one, and appends their style FD
    to `workdir/curve.json` (kept across a resumed run; written to a temporary name, then
    renamed). Its own seconds go to `.seconds`, to keep them out of the training time."""
    import keras

    refs = reference_features(image_size, data, workdir.parent)
    photos = fixed_photos_at(image_size, data)  # read once, painted at every point
    monets = monets_at(image_size, data)
    path = workdir / CURVE_FILE
    embed = style_fd.StyleEmbedder()

    class StyleCurve(keras.callbacks.Callback):
        seconds = 0.0

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every:
                return
            started = time.perf_counter()
            model = self.model
            if hasattr(model, "jax_state_sync"):
                model.jax_state_sync()  # on JAX, inside fit() the live values sit outside
            point = {"epoch": epoch + 1, "steps": (epoch + 1) * steps_per_epoch}
            generators = {"style_fd": model.painting_generator()}
            if generators["style_fd"] is not model.monet_generator:
                generators["style_fd_live"] = model.monet_generator
            for key, generator in generators.items():
                painted = paint(generator, photos)
                features = embed(style_fd.to_full_size(painted))
                point[key] = round(style_fd.style_scores(features, refs["monet"])["style_fd"], 4)
                if key == "style_fd":  # the painting generator's pixel-scale detail
                    ratios = style_fd.detail_ratios(painted, monets)
                    point["detail"] = {k: round(v, 3) for k, v in ratios.items()}
            curve = [p for p in read_curve(workdir) if p["epoch"] != point["epoch"]]
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(sorted([*curve, point], key=lambda p: p["epoch"])))
            tmp.replace(path)
            self.seconds += time.perf_counter() - started
            print(f"curve: {point}", flush=True)

    return StyleCurve()


def read_curve(workdir: Path) -> list[dict]:
    """The points `style_curve_callback` wrote in `workdir` ([] if none)."""
    path = workdir / CURVE_FILE
    return json.loads(path.read_text()) if path.exists() else []


def run_child(
    name: str,
    seed: int,
    steps: int,
    image_size: int,
    data: Path,
    workdir: Path,
    curve_every: int = 0,
) -> int:
    """Train recipe `name` in `workdir` (resuming), paint the fixed photos, embed them; write
    `workdir/quality.npz` (features, sample paintings) and `workdir/run.json`. With
    `curve_every`, also the style FD every that many epochs (`workdir/curve.json`)."""
    from painter.training.train import train

    config = recipe_config(name, seed, steps, image_size)
    callbacks = []
    if curve_every:
        callbacks.append(
            style_curve_callback(workdir, data, image_size, curve_every, config.steps_per_epoch)
        )
    started = time.perf_counter()
    if "small" in RECIPES[name]:
        train_small_part(config, RECIPES[name]["small"], workdir, data)
    result = train(config, workdir, data=data, verbose=0, callbacks=callbacks)
    train_seconds = time.perf_counter() - started - sum(c.seconds for c in callbacks)
    previous = workdir / "train_seconds.json"
    if result.start_epoch > 0 and previous.exists():  # a resumed run: add the earlier part
        train_seconds += json.loads(previous.read_text())["seconds"]
    previous.write_text(json.dumps({"seconds": train_seconds}))

    import keras

    import painter.models  # noqa: F401  (registers painter's layers for load_model)

    if result.model is not None:
        model = result.model
        generator = (
            model.painting_generator()
            if hasattr(model, "painting_generator")
            else model.monet_generator
        )
    else:
        generator = keras.saving.load_model(workdir / "monet_generator.keras", compile=False)
    embed = style_fd.StyleEmbedder()
    painted = paint_at_model_size(generator, image_size, data)
    paintings = style_fd.to_full_size(painted)
    ridges = style_fd.lattice_ridges(painted)
    detail = style_fd.detail_ratios(painted, monets_at(image_size, data))
    arrays = {
        "features": embed(paintings),
        "samples": paintings[sample_indices(len(paintings))],
        # Periods and their ridges, as two arrays (npz holds arrays, not dicts).
        "lattice_periods": np.array([int(p) for p in ridges]),
        "lattice": np.array(list(ridges.values())),
        "detail_octaves": np.array(list(detail)),
        "detail": np.array(list(detail.values())),
    }
    # With an EMA, the live generator too: the average's own contribution, from one run (from
    # the last checkpoint when this call trained nothing: a finished workdir scored again).
    if result.model is None:
        live = live_generator_of(workdir, config, generator)
        live_generator = live[1] if live is not None else None
    elif generator is not result.model.monet_generator:
        live_generator = result.model.monet_generator
    else:
        live_generator = None
    if live_generator is not None:
        arrays["live_features"] = embed(paint_fixed_photos(live_generator, image_size, data))
    np.savez(workdir / "quality.npz", **arrays)
    history = result.history or {}
    last = {k: float(v[-1]) for k, v in history.items() if k != "epoch" and v}
    (workdir / "run.json").write_text(
        json.dumps(
            {
                "train_seconds": train_seconds,
                "epochs": result.epochs_done,
                "final_losses": last,
                "backend": keras.backend.backend(),
                "config": config.to_dict(),
            },
            indent=2,
        )
    )
    return 0


def train_small_part(config: Config, small: dict, workdir: Path, data: Path) -> None:
    """A progressive recipe's first part: its first `small["share"]` of the epochs at
    `small["image_size"]` (the same schedule, seeds and steps; resumed if interrupted), then its
    last checkpoint relabelled with the full-size config, so that `train(config)` resumes the
    same state at the full size. Valid only where no state depends on the image size: the image
    pool's does, so a recipe with a pool is refused."""
    import keras

    from painter.training.checkpoint import latest_checkpoint, update_meta
    from painter.training.train import train

    if config.pool_size:
        raise SystemExit(
            f"a progressive recipe needs pool_size 0 (its pool holds {config.image_size} px "
            f"images; got {config.pool_size})"
        )
    size = int(small["image_size"])
    small_epochs = round(config.epochs * float(small["share"]))
    small_config = config.replace(
        image_size=size, resize_size=round(size * config.resize_size / config.image_size)
    )
    latest = latest_checkpoint(workdir, folder=config.checkpoint_dir)
    at_size = latest.meta["config"]["image_size"] if latest is not None else size
    if at_size != size:  # relabelled earlier: the full-size part has begun
        return
    if latest is None or latest.epoch < small_epochs:

        class StopAfterSmallPart(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):  # after painter's checkpoint callback
                if epoch + 1 >= small_epochs:
                    self.model.stop_training = True

        train(small_config, workdir, data=data, verbose=0, callbacks=[StopAfterSmallPart()])
        keras.backend.clear_session()
        latest = latest_checkpoint(workdir, folder=config.checkpoint_dir)
    assert latest is not None and latest.epoch == small_epochs, latest
    update_meta(latest, config=config.to_dict())
    config.save(workdir / "config.json")
    print(f"{small_epochs} epochs at {size} px done; the rest at {config.image_size} px")


def paint_at_model_size(generator, image_size: int, data: Path) -> np.ndarray:
    """The fixed 300 photos brought to `image_size` and painted (float, [-1, 1], that size)."""
    return paint(generator, fixed_photos_at(image_size, data))


def paint(generator, photos: np.ndarray) -> np.ndarray:
    """`photos` (float, [-1, 1], the generator's size) painted, 50 at a time."""
    import keras

    return np.concatenate(
        [
            keras.ops.convert_to_numpy(generator(photos[i : i + 50], training=False))
            for i in range(0, len(photos), 50)
        ]
    )


def fixed_photos_at(image_size: int, data: Path) -> np.ndarray:
    """The fixed 300 photos at `image_size`, float [-1, 1], as the generator takes them."""
    photos = style_fd.load_images(style_fd.fixed_photo_files(data))
    return style_fd.to_model_size(photos, image_size)


def monets_at(image_size: int, data: Path) -> np.ndarray:
    """The 300 Monets at `image_size`, float [-1, 1] (antialiased, as the writer resizes)."""
    return style_fd.to_model_size(style_fd.load_images(style_fd.monet_files(data)), image_size)


def detail_text(ratios: dict[str, float]) -> str:
    """`2-4 px 0.38, 4-8 px 0.81, ...`: the octaves of `style_fd.detail_ratios`."""
    return ", ".join(f"{octave} px {value:.2f}" for octave, value in ratios.items())


def paint_fixed_photos(generator, image_size: int, data: Path) -> np.ndarray:
    """The fixed 300 photos painted at `image_size`, brought back to 256 (uint8)."""
    return style_fd.to_full_size(paint_at_model_size(generator, image_size, data))


def lattice_text(ridges: dict[str, float]) -> str:
    """`2 px 1.03, 4 px 0.98, ...`: the lattice ridges of `style_fd.lattice_ridges`."""
    return ", ".join(f"{period} px {value:.2f}" for period, value in ridges.items())


def load_workdir_generator(workdir: Path):
    """(config, generator): a training workdir's config and its `monet_generator.keras` (the
    painting generator: the EMA's weights when it has one)."""
    import keras

    import painter.models  # noqa: F401  (registers painter's layers for load_model)

    config = Config.load(workdir / "config.json")
    return config, keras.saving.load_model(workdir / "monet_generator.keras", compile=False)


def live_generator_of(workdir: Path, config: Config, generator):
    """(epoch, generator): the saved generator with the live (not averaged) weights of the
    workdir's last checkpoint, when the run kept an EMA; None otherwise."""
    import keras

    from painter.training.checkpoint import latest_checkpoint

    if not config.ema_decay:
        return None
    checkpoint = latest_checkpoint(workdir, folder=config.checkpoint_dir)
    if checkpoint is None:
        return None
    state = checkpoint.load_state()
    keys = [f"monet_generator/{weight.path}" for weight in generator.weights]
    missing = [key for key in keys if key not in state]
    if missing:
        raise SystemExit(f"{checkpoint.path}: no live weights {missing[:3]} for {workdir}")
    live = keras.models.clone_model(generator)
    live.build(generator.input_shape)
    for weight, key in zip(live.weights, keys, strict=True):
        weight.assign(state[key])
    return checkpoint.epoch, live


def evaluate_workdir(workdir: Path, data: Path, out: Path) -> int:
    """Style FD of a training workdir's `monet_generator.keras` at its config's image size (and
    of its last checkpoint's live generator, when the file holds an EMA)."""
    config, generator = load_workdir_generator(workdir)
    refs = reference_features(config.image_size, data, out)
    floor = style_fd.floors(refs["monet"], refs["photo"])
    painted = paint_at_model_size(generator, config.image_size, data)
    paintings = style_fd.to_full_size(painted)
    embed = style_fd.StyleEmbedder()  # one ONNX session for the EMA's and the live paintings
    features = embed(paintings)
    scores = style_fd.style_scores(features, refs["monet"])
    terms = style_fd.fd_terms(features, refs["monet"])
    photos = fixed_photos_at(config.image_size, data)
    photo_ridges = style_fd.lattice_ridges(photos)
    monets = monets_at(config.image_size, data)
    history = workdir / "history.json"
    epochs = len(json.loads(history.read_text()).get("epoch", [])) if history.exists() else "?"
    print(
        f"{workdir}: {epochs} epochs at {config.image_size} px: style FD "
        f"{scores['style_fd']:.3f}, memorization {scores['memorization']:.4f}; floors: photos "
        f"{floor['photos']:.3f}, Monet half vs half {floor['monet_halves']:.3f}\n"
        f"    style FD = {style_fd.fd_terms_text(terms)}\n"
        f"    lattice (spectrum at each grid period over its neighbours; ~1 = none, above = grid "
        f"lines, below = blocks): "
        f"{lattice_text(style_fd.lattice_ridges(painted))}; "
        f"the photos: {lattice_text(photo_ridges)}\n"
        f"    detail (luminance power per octave of periods over the Monets'; 1 = Monet's): "
        f"{detail_text(style_fd.detail_ratios(painted, monets))}; "
        f"the photos: {detail_text(style_fd.detail_ratios(photos, monets))}"
    )
    columns = [("painted", paintings[sample_indices(len(paintings))])]
    live = live_generator_of(workdir, config, generator)
    if live is not None:
        epoch, live_generator = live
        live_paintings = style_fd.to_full_size(
            paint_at_model_size(live_generator, config.image_size, data)
        )
        live_scores = style_fd.style_scores(embed(live_paintings), refs["monet"])
        print(
            f"    live generator (checkpoint of epoch {epoch}, without the EMA): style FD "
            f"{live_scores['style_fd']:.3f}, memorization {live_scores['memorization']:.4f}"
        )
        columns.append(("live", live_paintings[sample_indices(len(live_paintings))]))
    side_by_side(workdir / "quality_samples.png", refs["photo_samples"], columns)
    return 0


def sample_indices(count: int) -> np.ndarray:
    return np.linspace(0, count - 1, SAMPLE_PHOTOS).round().astype(int)


# --- the table -------------------------------------------------------------------------------
def reference_features(size: int, data: Path, cache: Path) -> dict[str, np.ndarray]:
    """Style features of the 300 Monets and the 300 fixed photos, both at `size` and back."""
    path = cache / f"references-{size}.npz"
    if path.exists():
        with np.load(path) as saved:
            return {key: saved[key] for key in saved.files}
    embed = style_fd.StyleEmbedder()
    monets = style_fd.load_images(style_fd.monet_files(data))
    photos = style_fd.load_images(style_fd.fixed_photo_files(data))
    features = {
        "monet": embed(style_fd.round_trip(monets, size)),
        "photo": embed(style_fd.round_trip(photos, size)),
        "photo_samples": photos[sample_indices(len(photos))],
    }
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **features)
    return features


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "painter"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_results(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": {}, "floors": {}}


def save_results(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")  # two benchmarks may save at once
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def run_key(name: str, seed: int, steps: int, size: int, backend: str) -> str:
    return f"{name}/seed{seed}/steps{steps}/{size}px/{backend}"


def label_lines(name: str, width: int) -> list[str]:
    """`name` in lines of at most `width` characters, broken after its hyphens where it can be."""
    return textwrap.wrap(name, width, break_on_hyphens=True) or [""]


def side_by_side(
    path: Path,
    photo_samples: np.ndarray,
    columns: list[tuple[str, np.ndarray]],
    tile: int = 160,
) -> None:
    """One PNG: a row per photo; the photo, then each column's painting of it (its label on top,
    wrapped at its hyphens: recipe names that share a long prefix stay told apart), each `tile`
    px; written under a temporary name, then renamed."""
    from PIL import Image, ImageDraw

    names = ["photo", *[name for name, _ in columns]]
    images = [photo_samples, *[samples for _, samples in columns]]
    # PIL's default bitmap font: ~6 px a character, 11 px a line.
    lines = [label_lines(name, tile * 26 // 160) for name in names]
    label = 6 + 12 * max(len(text) for text in lines)
    canvas = Image.new("RGB", (tile * len(names), label + tile * len(photo_samples)), "white")
    draw = ImageDraw.Draw(canvas)
    for col, (text, column) in enumerate(zip(lines, images, strict=True)):
        draw.multiline_text((col * tile + 4, 3), "\n".join(text), fill="black", spacing=1)
        for row, image in enumerate(column):
            canvas.paste(
                Image.fromarray(image).resize((tile, tile), Image.BICUBIC),
                (col * tile, label + row * tile),
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    canvas.save(tmp, format="PNG")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "quality")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="the JSON of measured runs (default benchmarks/results/quality.json)",
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        help="side-by-side PNG (default OUT/side_by_side-SIZEpx.png)",
    )
    parser.add_argument(
        "--retrain", action="store_true", help="measure again even where quality.json has the run"
    )
    parser.add_argument("--list", action="store_true", help="print the recipes and exit")
    parser.add_argument(
        "--evaluate",
        type=Path,
        metavar="WORKDIR",
        help="only measure the monet_generator.keras of a training workdir",
    )
    parser.add_argument(
        "--curve-every",
        type=int,
        default=0,
        metavar="N",
        help="also score the generator every N epochs of 200 steps while it trains (0 = off)",
    )
    parser.add_argument("--child", nargs=2, metavar=("RECIPE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.list:
        for name, recipe in RECIPES.items():
            print(f"{name:24s} decay={recipe['decay']:.2f} {recipe['overrides']}")
        return 0
    if args.evaluate:
        return evaluate_workdir(args.evaluate, args.data, args.out)
    if args.child:
        name, seed = args.child[0], int(args.child[1])
        return run_child(
            name,
            seed,
            args.steps,
            args.image_size,
            args.data,
            workdir_of(args, name, seed),
            args.curve_every,
        )

    style_fd.require_benchmark_packages()
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {sorted(RECIPES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    results = load_results(args.results)
    refs = reference_features(args.image_size, args.data, args.out)
    floor = style_fd.floors(refs["monet"], refs["photo"])
    photos = fixed_photos_at(args.image_size, args.data)
    floor["photo_lattice"] = style_fd.lattice_ridges(photos)
    floor["photo_detail"] = style_fd.detail_ratios(photos, monets_at(args.image_size, args.data))
    results["floors"][f"{args.image_size}px"] = floor
    save_results(results, args.results)

    for name in names:
        for seed in seeds:
            key = run_key(name, seed, args.steps, args.image_size, args.backend)
            known = results["runs"].get(key)
            if known and known["overrides"] == RECIPES[name]["overrides"] and not args.retrain:
                continue
            workdir = workdir_of(args, name, seed)
            finished = (workdir / "quality.npz").exists() and (workdir / "run.json").exists()
            if args.retrain and finished:
                (workdir / "quality.npz").unlink()
                finished = False
            if finished:  # trained and painted earlier (e.g. by an interrupted benchmark)
                print(f"--- scoring {key} from {workdir}", flush=True)
            else:
                print(f"--- training {key} in {workdir}", flush=True)
            env = dict(os.environ, KERAS_BACKEND=args.backend)
            log = workdir.parent / f"{workdir.name}.log"
            workdir.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as stream:
                proc = (
                    None
                    if finished
                    else subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            name,
                            str(seed),
                            "--steps",
                            str(args.steps),
                            "--image-size",
                            str(args.image_size),
                            "--data",
                            str(args.data),
                            "--out",
                            str(args.out),
                            "--curve-every",
                            str(args.curve_every),
                        ],
                        env=env,
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                        check=False,
                    )
                )
            if proc is not None and proc.returncode != 0:
                print(f"    FAILED (exit {proc.returncode}); see {log}", flush=True)
                continue
            with np.load(workdir / "quality.npz") as saved:
                scores = style_fd.style_scores(saved["features"], refs["monet"])
                if "live_features" in saved.files:
                    scores["style_fd_live"] = style_fd.style_scores(
                        saved["live_features"], refs["monet"]
                    )["style_fd"]
                if "detail" in saved.files:
                    scores["detail"] = {
                        str(o): round(float(v), 3)
                        for o, v in zip(saved["detail_octaves"], saved["detail"], strict=True)
                    }
                if "lattice" in saved.files:
                    scores["lattice"] = {
                        str(int(p)): round(float(v), 3)
                        for p, v in zip(saved["lattice_periods"], saved["lattice"], strict=True)
                    }
            run = json.loads((workdir / "run.json").read_text())
            # Reloaded before adding this run: another benchmark process may have added its own.
            results = load_results(args.results)
            results["runs"][key] = {
                "recipe": name,
                "seed": seed,
                "steps": args.steps,
                "image_size": args.image_size,
                "backend": args.backend,
                "overrides": RECIPES[name]["overrides"],
                "decay": RECIPES[name]["decay"],
                "commit": commit(),
                "train_seconds": round(run["train_seconds"], 1),
                "final_losses": run["final_losses"],
                **scores,
            }
            curve = read_curve(workdir)
            if curve:
                results["runs"][key]["curve"] = curve
            save_results(results, args.results)
            live = (
                f" (live generator {scores['style_fd_live']:.3f})"
                if "style_fd_live" in scores
                else ""
            )
            print(
                f"    style FD {scores['style_fd']:.3f}{live} in {run['train_seconds']:.0f}s",
                flush=True,
            )
            if curve:
                print(
                    "    curve (steps: style FD): "
                    + ", ".join(f"{p['steps']}: {p['style_fd']:.3f}" for p in curve),
                    flush=True,
                )

    print_table(load_results(args.results), names, seeds, args)
    columns = []
    for name in names:
        workdir = workdir_of(args, name, seeds[0])
        if (workdir / "quality.npz").exists():
            with np.load(workdir / "quality.npz") as saved:
                columns.append((f"{name} s{seeds[0]}", saved["samples"]))
    png = args.png or args.out / f"side_by_side-{args.image_size}px.png"
    side_by_side(png, refs["photo_samples"], columns)
    print(f"side by side: {png}")
    return 0


def workdir_of(args, name: str, seed: int) -> Path:
    return args.out / f"{name}-seed{seed}-steps{args.steps}-{args.image_size}px-{args.backend}"


def print_table(results: dict, names: list[str], seeds: list[int], args) -> None:
    floor = results["floors"][f"{args.image_size}px"]
    print(
        f"\nstyle FD at {args.image_size} px against the 300 Monets (lower is better); "
        f"floors: photos {floor['photos']:.3f}, Monet half vs half {floor['monet_halves']:.3f}"
    )
    if "photo_lattice" in floor:
        print(
            "lattice: the paintings' spectrum at the 2/4/8-px grid periods over its neighbours "
            "(~1 = none, above = grid lines, below = blocks); "
            f"the photos: {lattice_text(floor['photo_lattice'])}"
        )
    if "photo_detail" in floor:
        print(
            "detail: the paintings' luminance power in the octaves of 2-4/4-8/8-16 px periods "
            f"over the Monets' (1 = Monet's); the photos: {detail_text(floor['photo_detail'])}"
        )
    print(
        f"{'recipe':24s} {'seed':>4s} {'steps':>6s} {'train s':>8s} {'style FD':>9s} "
        f"{'memoriz.':>9s} {'lattice 2/4/8 px':>17s} {'detail 2-4/4-8/8-16':>20s}"
    )
    for name in names:
        values = []
        for seed in seeds:
            run = results["runs"].get(
                run_key(name, seed, args.steps, args.image_size, args.backend)
            )
            if run is None:
                print(f"{name:24s} {seed:4d} {'(not measured)':>30s}")
                continue
            values.append(run["style_fd"])
            live = (
                f"  (without the EMA: {run['style_fd_live']:.3f})" if "style_fd_live" in run else ""
            )
            lattice = "/".join(f"{v:.2f}" for v in run.get("lattice", {}).values()) or "-"
            detail = "/".join(f"{v:.2f}" for v in run.get("detail", {}).values()) or "-"
            print(
                f"{name:24s} {seed:4d} {run['steps']:6d} {run['train_seconds']:8.0f} "
                f"{run['style_fd']:9.3f} {run['memorization']:9.4f} {lattice:>17s} "
                f"{detail:>20s}{live}"
            )
        if len(values) > 1:
            print(
                f"{'':24s} mean {np.mean(values):.3f}, spread {min(values):.3f}-{max(values):.3f}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
