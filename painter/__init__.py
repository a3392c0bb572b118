"""painter: unpaired image-to-image translation (CycleGAN) with Keras 3 on TPU, GPU or CPU.

Built for Kaggle's "I'm Something of a Painter Myself": photos in, Monet paintings out, images.zip
written inside one TPU session. Works for any two image folders.

Importing `painter` loads neither Keras nor TensorFlow: choose the runtime first
(`painter.select_runtime()`), then use the rest. Public names load lazily on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access, after the runtime is chosen)
_LAZY = {
    "Config": "painter.config",
    "preset": "painter.config",
    "PainterError": "painter.errors",
    "select_runtime": "painter.runtime",
    "train": "painter.training.train",
    "CycleGAN": "painter.cyclegan.model",
    "submit": "painter.submission.submitter",
    "write_submission": "painter.submission.writer",
    "validate_submission": "painter.submission.validate",
    "stylize": "painter.submission.stylize",
    "mifid_from_features": "painter.evaluate.mifid",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'painter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
