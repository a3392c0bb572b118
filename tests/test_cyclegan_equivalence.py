"""Proofs that the CycleGAN update is the same everywhere it runs.

- TensorFlow (GradientTape step) and JAX (stateless step): same weights, same batch, one step ->
  same losses and same updated weights and optimizer moments.
- Two replicas equal one: TF MirroredStrategy over 2 logical CPUs, JAX DataParallel over 2 host
  devices, each against its own single-device run on the same global batch.

One pytest process has one Keras backend, so the runs are subprocesses, one per backend and
distribution (tests/helpers/cyclegan_step.py, KERAS_BACKEND in its environment), each run writing
an .npz. Not marked `backend`: it runs once (in the TensorFlow pass) and covers both backends
itself.

Why one step: Adam's first update is lr * g / (|g| + eps); gradient entries near eps make later
steps chaotic (measured: a 1e-6 perturbation of the weights moves the second step's moments ~15%
on a single backend), so a multi-step comparison would measure that, not our code.
Why optimizer moments are compared: Adam's first weight update is almost scale-free (~lr * sign(g)),
so a gradient off by the replica count would barely show in the weights; the first moment is
(1 - beta_1) * g and shows it fully.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers.cyclegan_step import RUNS

SCRIPT = Path(__file__).parent / "helpers" / "cyclegan_step.py"
# The runs (what each one turns on) are listed with their flags in the helper.
GROUPS: dict[tuple[str, str], list[str]] = {}
for _name, (_backend, _distribution, _flags) in RUNS.items():
    GROUPS.setdefault((_backend, _distribution), []).append(_name)

# Measured (TF 2.20 / JAX 0.10.2 on CPU): TF vs JAX losses within 4e-7 relative, weights within
# 8e-6, moments within 3e-5 (of values up to 2.5); replicas vs single: ~3e-7 (TF), ~1e-5 (JAX).
LOSS_RTOL = 1e-5
WEIGHT_ATOL = 5e-5  # a quarter of the learning rate (2e-4): a wrong-sign update would be 4e-4
MOMENT_RTOL, MOMENT_ATOL = 1e-4, 1e-4


def _run(group: tuple[str, str], out_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """One process per backend and distribution runs its group's runs (imports paid once)."""
    backend, _ = group
    names = GROUPS[group]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out_dir), *names],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{names} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    results = {}
    for name in names:
        with np.load(out_dir / f"{name}.npz") as data:
            results[name] = {key: data[key] for key in data.files}
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    out_dir = tmp_path_factory.mktemp("cyclegan_step")
    # Largest groups first, on 2 threads: the machine (and CI) has 2 cores.
    groups = sorted(GROUPS, key=lambda group: -len(GROUPS[group]))
    results: dict[str, dict[str, np.ndarray]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for group_results in pool.map(lambda group: _run(group, out_dir), groups):
            results.update(group_results)
    assert set(results) == set(RUNS)
    return results


# With every recipe on, one weight entry differed by 7.8e-5 on one machine and 1.44e-4 on another
# (AVX2, no AVX-512; `monet_generator/d256_conv/kernel`), the same entry on main and on every
# branch: its gradient is ~1e-5 of the median (first moments 3e-7 vs 1.9e-6, median 0.09), where
# Adam's first step lr * g / (|g| + eps) turns a rounding difference into a visible step. With the
# two-scale discriminators added, one entry of `monet_generator/down2_conv/kernel` differed by
# 2.07e-4 in one clean-clone run (and by less in others): a gradient that small can have opposite
# signs on the two backends, and its first step is up to lr each way. So a few such entries (at
# most 1 in 10,000 of a tensor, and never more than two steps) may exceed the 1e-4 that every
# other entry keeps: a missing update (2e-4) or a wrong sign (4e-4) moves nearly every entry and
# still fails, as does any entry off by more than two steps.
RECIPES_WEIGHT_ATOL = 1e-4
RECIPES_OUTLIER_FRACTION = 1e-4
RECIPES_OUTLIER_ATOL = 4e-4  # twice the learning rate: one Adam step each way at most


def _assert_same_update(
    a: dict, b: dict, label: str, weight_atol: float = WEIGHT_ATOL, outlier_fraction: float = 0.0
) -> None:
    assert set(a) == set(b), label
    logs = [k for k in a if k.startswith("log/")]
    state_scalars = {"log/augment_probability", "log/r1_strength"} & set(a)
    losses = 3 if "log/nce_loss" in a else 6  # CUT: monet_gen, monet_disc, nce
    assert len(logs) == losses + len(state_scalars), logs
    for key in logs:
        assert float(a[key]) == pytest.approx(float(b[key]), rel=LOSS_RTOL), f"{label}: {key}"
    checked = 0
    for key in a:
        if key.startswith(("log/", "meta/")):
            continue
        if "optimizer/" in key and ("momentum" in key or "velocity" in key):
            # velocity = (1 - beta_2) g^2: compare its square root, on the gradient's scale.
            x, y = (np.sqrt(a[key]), np.sqrt(b[key])) if "velocity" in key else (a[key], b[key])
            np.testing.assert_allclose(
                x, y, rtol=MOMENT_RTOL, atol=MOMENT_ATOL, err_msg=f"{label}: {key}"
            )
        elif outlier_fraction:
            difference = np.abs(a[key].astype(np.float64) - b[key].astype(np.float64))
            outliers = int((difference > weight_atol).sum())
            allowed = int(difference.size * outlier_fraction) or (1 if difference.size > 1 else 0)
            assert outliers <= allowed, (
                f"{label}: {key}: {outliers} of {difference.size} entries differ by more than "
                f"{weight_atol} (max {difference.max():.3g}); at most {allowed} may"
            )
            assert difference.max() <= RECIPES_OUTLIER_ATOL, f"{label}: {key}: {difference.max()}"
        else:
            np.testing.assert_allclose(
                a[key], b[key], rtol=0, atol=weight_atol, err_msg=f"{label}: {key}"
            )
        checked += 1
    assert checked > 100


def test_one_step_is_the_same_on_tensorflow_and_jax(runs):
    tf_run, jax_run = runs["tensorflow-single"], runs["jax-single"]
    _assert_same_update(tf_run, jax_run, "tensorflow vs jax")
    # The step really moved things: both optimizers counted one step, the moments are not zero.
    assert int(tf_run["generator_optimizer/0000_iteration"]) == 1
    assert int(jax_run["discriminator_optimizer/0000_iteration"]) == 1
    first_moment = tf_run["generator_optimizer/0001_c7s1_conv_kernel_momentum"]
    assert np.abs(first_moment).max() > 1e-2


def test_one_step_with_every_recipe_is_the_same_on_tensorflow_and_jax(runs):
    tf_run, jax_run = runs["tensorflow-recipes"], runs["jax-recipes"]
    _assert_same_update(
        tf_run,
        jax_run,
        "tensorflow vs jax, recipes on",
        RECIPES_WEIGHT_ATOL,
        outlier_fraction=RECIPES_OUTLIER_FRACTION,
    )
    # Each recipe's state moved, identically: adaptive DiffAugment drew 7 + 3 numbers for every
    # discriminator input (B=4: 4 + 4 generated for the generators, 8 + 8 judged) and moved both
    # probabilities off 0.5 by one step (compared above, as is the logged one), adaptive R1 its
    # strengths likewise, LeCam updated its averages once, the EMA folded in one update; spectral
    # norm's u vectors are compared above.
    for run in (tf_run, jax_run):
        assert int(run["diffaugment/draws"]) == 10 * (4 + 4 + 8 + 8)
        assert np.all(run["diffaugment/probability"] != 0.5)
        assert float(run["log/augment_probability"]) == run["diffaugment/probability"][0]
        # Adaptive R1: each D's strength moved one step (4 / 2,000) from its 0.5.
        np.testing.assert_allclose(np.abs(run["r1_strength/strength"] - 0.5), 0.002, atol=1e-6)
        assert float(run["log/r1_strength"]) == run["r1_strength/strength"][0]
        assert int(run["monet_lecam/count"]) == 1 and float(run["monet_lecam/real"]) != 0.0
        assert int(run["monet_generator_average/updates"]) == 1
    assert any("vector_u" in key for key in tf_run)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_replicas_give_the_update_of_one_device(runs, backend):
    replicas, single = runs[f"{backend}-replicas"], runs[f"{backend}-single"]
    assert int(replicas["meta/replicas"]) == 2 and int(single["meta/replicas"]) == 1
    _assert_same_update(single, replicas, f"{backend}: 2 replicas vs 1 device")


def test_one_cut_rpgan_step_with_the_recipes_is_the_same_on_tensorflow_and_jax(runs):
    tf_run, jax_run = runs["tensorflow-cut"], runs["jax-cut"]
    _assert_same_update(
        tf_run,
        jax_run,
        "tensorflow vs jax, CUT with RpGAN",
        RECIPES_WEIGHT_ATOL,
        outlier_fraction=RECIPES_OUTLIER_FRACTION,
    )
    for run in (tf_run, jax_run):
        # One generator and one D: no photo networks.
        assert not any(key.startswith(("photo_generator/", "photo_discriminator/")) for key in run)
        # PatchNCE's heads were trained by the generator optimizer (their first moments moved),
        # one per U-Net encoder level (nce_pixels=False: none for the input), except the 1 x 1
        # level's (the fourth at 16 px: one position, nothing to contrast, left out of the loss).
        moments = {
            re.search(r"(head\d+)_projection", k).group(1): np.abs(run[k]).max()
            for k in run
            if k.startswith("generator_optimizer/") and "_projection_kernel_momentum" in k
        }
        assert sorted(moments) == ["head0", "head1", "head2", "head3"], moments
        assert all(moments[f"head{i}"] > 0 for i in range(3)) and moments["head3"] == 0
        # PatchNCE of an untrained encoder: near log(positions) at each level (64, 16 and 4).
        assert 0.5 < float(run["log/nce_loss"]) < np.log(32) + 1
        # Fixed DiffAugment: its 7 numbers for the Monet D's inputs only (4 generated, 4 + 4
        # judged), none for the adaptive coin flips; neither adaptive rule logs a state.
        assert int(run["diffaugment/draws"]) == 7 * (4 + 8)
        assert "log/augment_probability" not in run and "log/r1_strength" not in run
        assert str(run["meta/adversarial_loss"]) == "rpgan" and int(run["meta/r1_start"]) == 1
        assert int(run["monet_generator_average/updates"]) == 1


def test_two_replicas_give_cuts_update_of_one_device(runs):
    replicas, single = runs["tensorflow-cut-replicas"], runs["tensorflow-cut-single"]
    assert int(replicas["meta/replicas"]) == 2 and int(single["meta/replicas"]) == 1
    _assert_same_update(single, replicas, "tensorflow: CUT, 2 replicas vs 1 device")
    assert any(key.startswith("patch_heads/") for key in single)
