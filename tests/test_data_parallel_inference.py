"""Data-parallel painting on JAX over 8 host devices: each device paints its share of a batch
(batch/8 per device in the compiled program), and images.zip, the time estimate and stylize give
exactly what one device gives.

Keras' `predict_on_batch` under DataParallel runs the whole batch on every device; the writer
jits the model with the batch sharded instead (`inference.ShardedCall`). The test process already
initialised JAX with conftest's 2 host devices, so the 8-device run is a subprocess (~15 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from helpers import xla_flags

SCRIPT = textwrap.dedent(
    """
    import json, re, tempfile
    from pathlib import Path

    import jax, keras, numpy as np

    from painter.submission import estimate, inference, stylize, writer

    assert len(jax.devices()) == 8, jax.devices()
    SIZE, BATCH, COUNT = 16, 16, 20  # 20 photos: one full batch, one padded from 4 to 16

    def generator():
        inputs = keras.Input((None, None, 3))
        hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(hidden))

    rng = np.random.default_rng(0)
    photos = [([f"photo{i:03d}" for i in range(start, min(COUNT, start + 5))],
               rng.integers(0, 256, (min(5, COUNT - start), SIZE, SIZE, 3), dtype=np.uint8))
              for start in range(0, COUNT, 5)]
    out = Path(tempfile.mkdtemp())
    options = dict(image_size=SIZE, batch_size=BATCH, min_count=COUNT, progress=False)
    photo = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)

    single = generator()
    writer.write_submission(single, photos, out / "single.zip", **options)
    one_device = [stylize.paint(single, photo, multiple=1),
                  stylize.paint(single, photo, multiple=1, tile=24, overlap=6)]  # 9 tiles

    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    replicated = generator()
    replicated.set_weights(single.get_weights())
    seconds = estimate.estimate_submission_seconds(replicated, COUNT, batch_size=BATCH,
                                                   image_size=SIZE)
    report = writer.write_submission(replicated, photos, out / "multi.zip", **options)
    eight_devices = [stylize.paint(replicated, photo, multiple=1),
                     stylize.paint(replicated, photo, multiple=1, tile=24, overlap=6)]

    painter_model = inference._UINT8_MODELS[replicated]  # what the estimate and the writer ran
    call = inference._SHARDED_CALLS.get(painter_model)
    batch = np.zeros((BATCH, SIZE, SIZE, 3), np.uint8)
    program = call.lower(batch).compile().as_text() if call is not None else ""
    # "f32[2,16,16,4]{3,2,1,0} convolution(" -> 2: the batch each device convolves
    pattern = r"\\[(\\d+),[\\d,]*\\][^ ]* convolution\\("
    conv_batches = [int(m) for m in re.findall(pattern, program)]
    print("RESULT", json.dumps({
        "identical_zip": (out / "single.zip").read_bytes() == (out / "multi.zip").read_bytes(),
        "count": report.count, "batch_size": report.batch_size,
        "replicas": inference.replica_count(replicated),
        "sharded_devices": len(call.devices) if call is not None else 0,
        "conv_batches": conv_batches,
        "estimate": seconds,
        "stylize_equal": [bool(np.array_equal(a, b)) for a, b in zip(one_device, eight_devices)],
        "stylize_sharded": replicated in inference._SHARDED_CALLS,
    }))
    """
)


def test_eight_devices_each_paint_their_share_and_the_zip_is_byte_identical(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PAINTER_BACKEND", "XLA_FLAGS")}
    env.update(
        {
            "KERAS_BACKEND": "jax",
            "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": xla_flags(8),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    script = tmp_path / "eight_devices.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    print(line)
    result = json.loads(line.split(" ", 1)[1])

    assert result["replicas"] == 8 and result["batch_size"] == 16 and result["count"] == 20
    # The writer (and the estimate before it) ran the sharded program over all 8 devices ...
    assert result["sharded_devices"] == 8
    # ... in which every convolution sees 16 / 8 = 2 images: each device paints its share only.
    assert result["conv_batches"] and set(result["conv_batches"]) == {2}, result["conv_batches"]
    assert result["identical_zip"]  # byte for byte what one device writes
    assert result["estimate"] > 0
    assert result["stylize_sharded"] and result["stylize_equal"] == [True, True]
