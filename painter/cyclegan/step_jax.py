"""The JAX training step, stateless (state in, state out) so Keras' JAX trainer can jit it and
shard it with keras.distribution: `compute_loss_and_updates(generator weights, discriminator
weights, discriminator weights for the generator, layer state)` under `jax.value_and_grad`, as in
keras-io's JAX GAN guide (steps 3-5 of the plan in `step.py`).

Keras passes the model's variables as flat value lists; `layout()` says which slice of them is
each sub-layer's (checked once against the model's own lists), so there is no index bookkeeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import ops

from painter.cyclegan.losses import r1_score
from painter.cyclegan.step import (
    CUT_VIEWS,
    POOLS,
    STATE_LAYERS,
    forward,
    network_names,
    step_losses,
)

if TYPE_CHECKING:
    from painter.cyclegan.model import CycleGAN


def layout(model: CycleGAN) -> dict[str, dict[str, slice]]:
    """Where each sub-layer's variables sit in the flat value lists Keras' JAX trainer passes
    to `train_step` (the model's `trainable_variables` / `non_trainable_variables`): for
    "trainable" and "non_trainable", layer name -> slice. Checked against the model's own lists,
    so a change in Keras' ordering fails loudly instead of mixing weights up."""
    cached: dict[str, dict[str, slice]] | None = getattr(model, "_layout_cache", None)
    if cached is not None:
        return cached
    names = [*network_names(model), *POOLS, *STATE_LAYERS]
    if model.monet_generator_average is not None:
        names.append("monet_generator_average")
    slices_by_kind = {}
    for kind in ("trainable", "non_trainable"):
        model_variables = getattr(model, f"{kind}_variables")
        slices, flat, start = {}, [], 0
        for name in names:
            variables = getattr(getattr(model, name), f"{kind}_variables")
            slices[name] = slice(start, start + len(variables))
            flat += variables
            start += len(variables)
        if len(flat) != len(model_variables) or any(
            a is not b for a, b in zip(flat, model_variables, strict=False)
        ):
            raise RuntimeError(
                f"CycleGAN's {kind} variables are not its sub-layers' in the order "
                f"{names}; the JAX step cannot split them."
            )
        slices_by_kind[kind] = slices
    object.__setattr__(model, "_layout_cache", slices_by_kind)  # not state Keras should track
    return slices_by_kind


def train_step_jax(model: CycleGAN, state, data):
    """The stateless step Keras' JAX trainer jits: (state, batch) -> (logs, new state)."""
    import jax

    trainable_values, non_trainable_values, optimizer_values, metrics_values = state
    real_photo, real_monet = data
    # Under keras.distribution the arrays are global: the plain mean is the global mean.
    global_batch = ops.shape(real_photo)[0]
    where = layout(model)

    def by_layer(values, kind):
        return {name: list(values[part]) for name, part in where[kind].items()}

    def flat(values_by_layer, kind):
        return [value for name in where[kind] for value in values_by_layer[name]]

    cut = model.objective == "cut"
    # In each optimizer's order (`generator_variables`, `discriminator_variables`).
    generators = ("monet_generator", "patch_heads" if cut else "photo_generator")
    discriminators = (
        ("monet_discriminator",) if cut else ("monet_discriminator", "photo_discriminator")
    )
    weights = by_layer(trainable_values, "trainable")
    split = model.optimizer.generator_variable_count
    # This step's number, as the TF step reads it: the discriminator optimizer's iterations.
    discriminator_state = model.discriminator_optimizer.variables
    iterations = next(
        i
        for i, v in enumerate(discriminator_state)
        if v is model.discriminator_optimizer.iterations
    )
    step = optimizer_values[split + iterations]

    def compute_loss_and_updates(
        generator_weights, discriminator_weights, discriminator_weights_for_generator, state
    ):
        """The generators' and discriminators' totals from one forward pass, and the updated
        non-trainable state (pools, counters, averages). The generators' loss sees D through
        its own, undifferentiated copy of D's weights, and the pooled fakes are
        stop_gradient'ed, so the gradient of the sum with respect to G's weights is that of
        generator_total, and with respect to D's that of discriminator_total."""
        state = dict(state)
        layer_weights = {**weights, **generator_weights, **discriminator_weights}

        def stateless(name, these_weights=layer_weights):
            layer = getattr(model, name)

            def run(*args, **kwargs):
                outputs, state[name] = layer.stateless_call(
                    these_weights[name], state[name], *args, training=True, **kwargs
                )
                return outputs

            return run

        nets = {name: stateless(name) for name in (*network_names(model), *POOLS, *STATE_LAYERS)}
        for name in discriminators:
            nets[f"{name}_for_generator"] = stateless(
                name, {**layer_weights, **discriminator_weights_for_generator}
            )
        if cut:
            for view in CUT_VIEWS:
                nets[view] = _view_call(model, view, layer_weights["monet_generator"])

        def value_and_input_gradient(name, images, count, active=None):
            """D's logits and d r1_score / d images by jax.grad, nested in the step's own
            value_and_grad (which so differentiates the penalty for D's weights). D's state
            (spectral norm's vectors) leaves the inner trace as an output. `active` (a boolean
            scalar; None = always): where false, `lax.cond` runs D alone, gradient zeros."""
            layer = getattr(model, name)

            def with_gradient(images, layer_state):
                def score(images):
                    logits, new_state = layer.stateless_call(
                        layer_weights[name], layer_state, images, training=True
                    )
                    return r1_score(logits, count), (logits, new_state)

                gradient, (logits, new_state) = jax.grad(score, has_aux=True)(images)
                return logits, gradient, new_state

            def without_gradient(images, layer_state):
                logits, new_state = layer.stateless_call(
                    layer_weights[name], layer_state, images, training=True
                )
                return logits, ops.zeros_like(images), new_state

            if active is None:
                logits, gradient, state[name] = with_gradient(images, state[name])
            else:
                logits, gradient, state[name] = jax.lax.cond(
                    active, with_gradient, without_gradient, images, state[name]
                )
            return logits, gradient

        nets["value_and_input_gradient"] = value_and_input_gradient
        outputs = forward(model, real_photo, real_monet, nets, step=step)
        losses = step_losses(outputs, model.loss_settings, global_batch)
        total = losses["generator_total"] + losses["discriminator_total"]
        return total, (losses, state)

    generator_weights = {name: weights[name] for name in generators}
    discriminator_weights = {name: weights[name] for name in discriminators}
    grad_fn = jax.value_and_grad(compute_loss_and_updates, argnums=(0, 1), has_aux=True)
    (_, (losses, layer_state)), (generator_grads, discriminator_grads) = grad_fn(
        generator_weights,
        discriminator_weights,
        discriminator_weights,
        by_layer(non_trainable_values, "non_trainable"),
    )

    # Each optimizer updates its networks' weights, in the order it was built with.
    new_generator_weights, generator_optimizer_values = model.generator_optimizer.stateless_apply(
        optimizer_values[:split],
        [g for name in generators for g in generator_grads[name]],
        [w for name in generators for w in generator_weights[name]],
    )
    new_discriminator_weights, discriminator_optimizer_values = (
        model.discriminator_optimizer.stateless_apply(
            optimizer_values[split:],
            [g for name in discriminators for g in discriminator_grads[name]],
            [w for name in discriminators for w in discriminator_weights[name]],
        )
    )
    for names, new_values in (
        (generators, new_generator_weights),
        (discriminators, new_discriminator_weights),
    ):
        new_values = list(new_values)
        for name in names:
            count = len(weights[name])
            weights[name], new_values = new_values[:count], new_values[count:]
    optimizer_values = list(generator_optimizer_values) + list(discriminator_optimizer_values)
    if model.monet_generator_average is not None:
        _, layer_state["monet_generator_average"] = model.monet_generator_average.stateless_call(
            [],
            layer_state["monet_generator_average"],
            weights["monet_generator"],
            training=True,
        )

    mapping = list(zip(model.metrics_variables, metrics_values, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        for tracker in model.loss_trackers:
            tracker.update_state(losses[tracker.name])
        logs = {tracker.name: tracker.result() for tracker in model.loss_trackers}
    metrics_values = [
        value if scope.get_current_value(v) is None else scope.get_current_value(v)
        for v, value in zip(model.metrics_variables, metrics_values, strict=True)
    ]
    new_state = (
        flat(weights, "trainable"),
        flat(layer_state, "non_trainable"),
        optimizer_values,
        metrics_values,
    )
    return logs, new_state


def _view_call(model: CycleGAN, view: str, generator_weights: list):
    """Run one of CUT's views of the Monet generator (`model.generator_views[view]`: a model on
    G's own layers) statelessly with G's weight values, reordered to the view's own list."""
    generator = model.monet_generator
    layer = model.generator_views[view]
    if layer.non_trainable_variables:
        raise RuntimeError(f"{view} has non-trainable state; CUT's JAX step cannot carry it.")
    index = {id(v): i for i, v in enumerate(generator.trainable_variables)}
    order = [index[id(v)] for v in layer.trainable_variables]

    def run(images):
        values = [generator_weights[i] for i in order]
        outputs, _ = layer.stateless_call(values, [], images, training=True)
        return outputs

    return run
