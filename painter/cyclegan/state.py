"""A CycleGAN's checkpoint state: every network weight, optimizer variable (iterations
included), the image pools, DiffAugment's draw counter, the LeCam averages and the EMA, as numpy
arrays keyed by stable names (`CycleGAN.get_state` / `set_state` call these), on either backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from painter.cyclegan.optimizer import CycleGANOptimizers
from painter.cyclegan.step import POOLS, STATE_LAYERS, network_names

if TYPE_CHECKING:
    from painter.cyclegan.model import CycleGAN


# State added after checkpoints existed: a checkpoint without it resumes with the initial value.
ADDED_LATER = frozenset({"diffaugment/probability", "r1_strength/strength"})


def state_variables(model: CycleGAN) -> dict[str, Any]:
    """Stable name -> variable for everything a resumed run needs."""
    named = {}
    networks = network_names(model)
    for name in networks:
        for variable in getattr(model, name).weights:
            named[f"{name}/{variable.path}"] = variable
    for label, optimizer in (
        ("generator_optimizer", model.generator_optimizer),
        ("discriminator_optimizer", model.discriminator_optimizer),
    ):
        # Index first: both generators have the same layer names, so optimizer slot names
        # repeat.
        for index, variable in enumerate(optimizer.variables):
            named[f"{label}/{index:04d}_{variable.name}"] = variable
    state_layers = [*POOLS, *STATE_LAYERS]
    if model.monet_generator_average is not None:
        state_layers.append("monet_generator_average")
    for name in state_layers:
        for variable in getattr(model, name).weights:
            named[f"{name}/{variable.name}"] = variable
    if len(named) != (
        sum(len(getattr(model, n).weights) for n in (*networks, *state_layers))
        + len(model.optimizer.variables)
    ):
        raise RuntimeError("CycleGAN state names collide; give every layer a unique name.")
    return named


def get_state(model: CycleGAN) -> dict[str, np.ndarray]:
    """Every network weight, optimizer variable (iterations included) and image pool, as numpy
    arrays keyed by stable names. Use for checkpoints on either backend."""
    if not hasattr(model, "optimizer") or not isinstance(model.optimizer, CycleGANOptimizers):
        raise RuntimeError(
            "Call `compile()` before `get_state()`: the optimizer state is part of it."
        )
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()  # inside fit() on JAX the live values sit outside the variables
    return {key: np.array(v.numpy()) for key, v in state_variables(model).items()}


def set_state(model: CycleGAN, state: dict[str, np.ndarray]) -> None:
    """Restore what `get_state()` returned; missing/unexpected keys or shapes are a
    ValueError, except state in `ADDED_LATER`, which an older checkpoint lacks and which then
    keeps the model's (freshly built: initial) value."""
    named = state_variables(model)
    missing = sorted(set(named) - set(state) - ADDED_LATER)
    unexpected = sorted(set(state) - set(named))
    if missing or unexpected:
        raise ValueError(
            f"CycleGAN state does not match this model: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
            "Was it saved with another architecture or pool_size?"
        )
    named = {key: variable for key, variable in named.items() if key in state}
    for key, variable in named.items():
        value = np.asarray(state[key])
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"CycleGAN state {key!r} has shape {value.shape}; the model's "
                f"variable has {tuple(variable.shape)}."
            )
    for key, variable in named.items():
        variable.assign(np.asarray(state[key]).astype(variable.dtype))
