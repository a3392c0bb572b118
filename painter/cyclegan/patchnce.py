"""PatchNCE (Park et al. 2020, "Contrastive Learning for Unpaired Image-to-Image Translation", CUT):
what keeps the photo in the painting when there is no photo generator to cycle back through.

The Monet generator's own encoder embeds the photo and the painting; at `count` positions drawn
per layer (the same positions in both), each painting patch's embedding must pick out the photo
patch at its own position among the other drawn patches of the same image: a cross-entropy over
cosine similarities / temperature (InfoNCE), the photo's side a constant. The embeddings are the
encoder's features at a few depths (`feature_layers`), each through its own two-layer MLP head
(`PatchHeads`, trained with the generator) and L2-normalised.

Positions come from the image pool's counter-based hash (`pool.hash_uniform`) of (seed, step,
layer): the same draws on TensorFlow and JAX, and nothing to checkpoint (the step number is).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from painter.cyclegan.pool import hash_uniform

HEAD_UNITS = 256  # CUT's netF: two 256-unit dense layers per feature layer
# The positions drawn at one layer and step: hash seed step * LAYER_STRIDE + layer + the model's
# seed * SEED_STRIDE (a prime: two seeds share a draw only at steps ~500 apart, by chance).
LAYER_STRIDE = 16
SEED_STRIDE = 7919
# The ResNet's features: CUT's own layers 0, 4, 8, 12, 16 of its ResNet (the input, the two
# downsampling convolutions, residual blocks 1 and 5).
RESNET_FEATURES = ("size_check", "d128_conv", "d256_conv", "r1_add", "r5_add")
# The U-Net's: the input and the first four encoder levels (full to 1/16 size). The input (CUT's
# layer 0, a 1 x 1 "patch" of RGB) can be left out (`nce_pixels`).
UNET_FEATURES = ("size_check", "down1_lrelu", "down2_lrelu", "down3_lrelu", "down4_lrelu")


def feature_layers(generator: keras.Model, *, pixels: bool = True) -> tuple[str, ...]:
    """The names of `generator`'s layers whose outputs PatchNCE compares: RESNET_FEATURES or
    UNET_FEATURES, those the generator has (a shallow U-Net or a ResNet with fewer than 5
    blocks: its deepest block stands in for block 5). Without `pixels` the first of them, the
    input image itself (CUT's layer 0), is left out."""
    names = {layer.name for layer in generator.layers}
    if "d128_conv" in names:  # painter's ResNet
        blocks = [int(n[1:-4]) for n in names if n.startswith("r") and n.endswith("_add")]
        wanted = list(RESNET_FEATURES[:3])
        if blocks:
            wanted += ["r1_add", f"r{min(5, max(blocks))}_add"]
        present = tuple(dict.fromkeys(wanted))  # one block: r1_add once
    else:
        present = tuple(name for name in UNET_FEATURES if name in names)
        if len(present) < 2:
            raise ValueError(
                f"PatchNCE needs a painter ResNet or U-Net generator; {generator.name!r} has none "
                f"of the layers {list(UNET_FEATURES)} or {list(RESNET_FEATURES)}."
            )
    return present if pixels else present[1:]


def feature_model(generator: keras.Model, *, with_output: bool, pixels: bool = True) -> keras.Model:
    """A functional model on `generator`'s own layers (its weights, not a copy) returning the
    `feature_layers(generator, pixels=pixels)` outputs, after the painting itself when
    `with_output`."""
    layers = feature_layers(generator, pixels=pixels)
    features = [generator.get_layer(name).output for name in layers]
    outputs = [generator.output, *features] if with_output else features
    suffix = "painting_and_features" if with_output else "features"
    return keras.Model(generator.input, outputs, name=f"{generator.name}_{suffix}")


@keras.saving.register_keras_serializable(package="painter")
class PatchHeads(keras.layers.Layer):
    """CUT's netF: for each feature layer, Dense(units, relu) -> Dense(units), then L2 norm.

    `heads([f_0, f_1, ...])` maps each [B, N, C_l] feature set to [B, N, units] unit vectors
    (float32, whatever the compute policy: the InfoNCE logits are divided by a small
    temperature).

    Args:
        channels: the channels C_l of each feature layer, in order.
        units: the width of both dense layers (CUT: 256).
    """

    def __init__(self, channels: Sequence[int], units: int = HEAD_UNITS, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.channels = [int(c) for c in channels]
        self.units = int(units)
        if not self.channels or min(self.channels) <= 0 or self.units <= 0:
            raise ValueError(
                f"`channels` must be positive and non-empty and `units` positive. Received: "
                f"{channels}, {units}"
            )
        self.hidden = [
            keras.layers.Dense(self.units, activation="relu", name=f"head{i}_hidden")
            for i in range(len(self.channels))
        ]
        self.projections = [
            keras.layers.Dense(self.units, name=f"head{i}_projection")
            for i in range(len(self.channels))
        ]
        for channels_l, hidden, projection in zip(
            self.channels, self.hidden, self.projections, strict=True
        ):
            hidden.build((None, None, channels_l))
            projection.build((None, None, self.units))
        self.built = True

    def call(self, features, training=None):
        del training  # the same in every mode
        if len(features) != len(self.channels):
            raise ValueError(
                f"PatchHeads has {len(self.channels)} heads; got {len(features)} feature sets."
            )
        embedded = []
        for values, hidden, projection in zip(features, self.hidden, self.projections, strict=True):
            projected = projection(hidden(ops.cast(values, "float32")))
            norm = ops.sqrt(ops.sum(ops.square(projected), axis=-1, keepdims=True))
            embedded.append(projected / (norm + 1e-7))  # CUT's Normalize: x / (|x| + 1e-7)
        return embedded

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "units": self.units}


def patch_positions(seed: int, step, layer: int, positions: int, count: int):
    """`min(count, positions)` distinct positions out of `positions` (int32), drawn by the hash
    of (seed, step, layer): the largest of one uniform per position."""
    draw_seed = ops.add(
        ops.multiply(ops.cast(step, "int32"), LAYER_STRIDE), layer + seed * SEED_STRIDE
    )
    uniforms = hash_uniform(draw_seed, ops.arange(positions, dtype="int32"))
    _, chosen = ops.top_k(uniforms, min(int(count), int(positions)), sorted=True)
    return chosen


def gather_patches(features, chosen):
    """[B, H, W, C] features -> [B, len(chosen), C] float32 at the flattened positions."""
    height, width, channels = features.shape[1], features.shape[2], features.shape[3]
    flat = ops.reshape(features, (-1, int(height) * int(width), int(channels)))
    return ops.cast(ops.take(flat, chosen, axis=1), "float32")


def patch_nce_loss(queries, keys, temperature: float):
    """Per-example InfoNCE of each query patch against the keys of the same image ([B, N, D]
    unit vectors each): mean over the N patches of -log softmax_j(q_i . k_j / t)[i]. `keys` are
    taken as constants (CUT detaches them). Shape [B]."""
    keys = ops.stop_gradient(keys)
    logits = ops.einsum("bnd,bmd->bnm", queries, keys) / temperature
    positive = ops.sum(queries * keys, axis=-1) / temperature  # the diagonal, [B, N]
    return ops.mean(ops.logsumexp(logits, axis=-1) - positive, axis=-1)


def patch_nce(
    heads: PatchHeads, query_features, key_features, *, seed: int, step, temperature, count
):
    """PatchNCE between two lists of [B, H, W, C] feature maps (the painting's, the photo's), the
    mean over layers of `patch_nce_loss` at positions drawn per layer. A layer of one position
    (a U-Net's 1 x 1 level of a small image) has no other patch to tell its own from: it is left
    out of the mean. Shape [B]."""
    queries, keys, used = [], [], []
    for layer, (query, key) in enumerate(zip(query_features, key_features, strict=True)):
        positions = int(query.shape[1]) * int(query.shape[2])
        used.append(positions > 1)
        chosen = patch_positions(seed, step, layer, positions, count)
        queries.append(gather_patches(query, chosen))
        keys.append(gather_patches(key, chosen))
    if not any(used):
        raise ValueError(
            "PatchNCE needs a feature layer of at least 2 positions; the image is 1 x 1."
        )
    embedded_queries, embedded_keys = heads(queries), heads(keys)
    losses = [
        patch_nce_loss(q, k, temperature)
        for q, k, use in zip(embedded_queries, embedded_keys, used, strict=True)
        if use
    ]
    return ops.sum(ops.stack(losses, axis=0), axis=0) / len(losses)


__all__ = [
    "HEAD_UNITS",
    "PatchHeads",
    "feature_layers",
    "feature_model",
    "gather_patches",
    "patch_nce",
    "patch_nce_loss",
    "patch_positions",
]
