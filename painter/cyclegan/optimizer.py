"""Two Adam optimizers (generators, discriminators) presented to Keras' trainers as one.

Keras' JAX trainer threads only `model.optimizer.variables` through the stateless train step, and
TF's and JAX's trainers build/save through `model.optimizer`. `CycleGANOptimizers` is that single
object: its `variables` are the generator optimizer's followed by the discriminator optimizer's,
so the JAX train step slices them and calls each optimizer's `stateless_apply`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras


class CycleGANOptimizers:
    """The generator and discriminator optimizers of a CycleGAN behind one `model.optimizer`.

    Args:
        generator: optimizer of both generators' weights.
        discriminator: optimizer of both discriminators' weights.
        generator_variables / discriminator_variables: callables returning the weights each one
            updates (the model's, read when the optimizers are built).
    """

    def __init__(
        self,
        generator: keras.optimizers.Optimizer,
        discriminator: keras.optimizers.Optimizer,
        generator_variables: Callable[[], list],
        discriminator_variables: Callable[[], list],
    ):
        if generator is discriminator:
            raise ValueError(
                "The generator and discriminator optimizers must be two objects: "
                "each keeps its own moments and step count."
            )
        self.generator = generator
        self.discriminator = discriminator
        self._generator_variables = generator_variables
        self._discriminator_variables = discriminator_variables
        self.name = "cyclegan_optimizers"

    @property
    def optimizers(self) -> list:
        return [self.generator, self.discriminator]

    @property
    def built(self) -> bool:
        return self.generator.built and self.discriminator.built

    def build(self, var_list=None) -> None:
        """Create both optimizers' variables (the model's `var_list` is split by network)."""
        del var_list
        if not self.generator.built:
            self.generator.build(self._generator_variables())
        if not self.discriminator.built:
            self.discriminator.build(self._discriminator_variables())

    @property
    def variables(self) -> list:
        return list(self.generator.variables) + list(self.discriminator.variables)

    @property
    def generator_variable_count(self) -> int:
        return len(self.generator.variables)

    @property
    def iterations(self):
        return self.generator.iterations

    @property
    def learning_rate(self):
        return self.generator.learning_rate

    def scale_loss(self, loss):
        return loss  # no loss scaling: bfloat16 needs none

    def __repr__(self) -> str:
        return (
            f"CycleGANOptimizers(generator={self.generator.name}, "
            f"discriminator={self.discriminator.name})"
        )
