"""The submission: images.zip written fast and validated, and stylizing photos of any size.

- `submit(generator, photos, out_path, ...)` (submitter.py): take or load the generator, paint at
  its training size, write and validate images.zip; what the CLI, the demo and the notebook call.
  `submission_reserve(config)`: the time budget's images.zip reserve, for `training.train`.
- `writer.write_submission(generator, photos, out_path, ...)`: the writer itself, over
  `photos` (re-batching, test-time fill), `inference` (every replica paints its share),
  `pipeline` (encoding threads, the zip writer thread, the progress line) and `entries` (names);
  `estimate.estimate_submission_seconds`: its measured duration.
- `validate.validate_submission(path)`: the competition's rules (no Keras, no TensorFlow).
- `stylize.stylize(generator, image_paths, out_dir)`: any size, aspect, orientation and mode.
- `commands`: the `submit`, `validate` and `stylize` verbs.

`submit` and `submission_reserve` load on first use (importing this package imports nothing).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "submit": "painter.submission.submitter",
    "submission_reserve": "painter.submission.submitter",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'painter.submission' has no attribute {name!r}")


__all__ = ["submit", "submission_reserve"]
