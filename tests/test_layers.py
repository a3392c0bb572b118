"""Imports point down (docs/architecture.md, "Layers"): every module under painter/ imports
painter modules only from its own layer or lower ones.

Every `import painter...` and `from painter... import ...` is read with `ast`, at module level and
inside functions alike (the imports that wait for the runtime count too). Names loaded by string
through importlib are deliberate and not checked: the package root's lazy public names, the CLI's
verb modules and the layer registration in painter/__init__.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "painter"

# Layers from the bottom up; a module belongs to the layer of its longest prefix listed here.
# Modules named `commands` (each area's CLI verbs) are drivers whatever their area.
LAYERS: list[tuple[str, dict[str, str]]] = [
    (
        "base",
        {
            "painter": "the package root: the version; its public names load lazily by string",
            "painter.errors": "PainterError and its kinds, raised everywhere",
            "painter.fileio": "the one write-then-rename, for every file painter writes",
            "painter.config": "the Config every area reads; imports only errors and fileio",
            "painter.data.images": "pixel conversions (numpy, Pillow), shared by every area",
            "painter.plots": "draws arrays for every area; imports only data.images",
        },
    ),
    (
        "data",
        {"painter.data": "sources, readers, TFRecords, augmentation, the training dataset"},
    ),
    (
        "runtime",
        {"painter.runtime": "backend and distribution, chosen before Keras loads"},
    ),
    (
        "models / cyclegan",
        {
            "painter.models": "the networks and their layers (cyclegan builds from them)",
            "painter.cyclegan": "the CycleGAN model, its losses, pool, schedule and optimizers",
        },
    ),
    (
        "training",
        {
            "painter.training": "train(config, workdir): resumes, budgets, checkpoints",
            "painter.tensorboard_logging": "a Keras callback handed to train(callbacks=...)",
        },
    ),
    (
        "submission",
        {"painter.submission": "images.zip from a trained generator; stylize"},
    ),
    (
        "evaluate",
        {"painter.evaluate": "FID / MiFID of a submission, a run's colour histograms"},
    ),
    (
        "drivers",
        {
            "painter.cli": "`python -m painter`: imports every area's commands module",
            "painter.__main__": "runs cli",
            "painter.demo": "generated data, training and images.zip end to end",
            "painter.kaggle": "the notebook (package embedded) and its output folder",
            "painter.serve": "the web page and HTTP API over trained generators",
        },
    ),
]
DRIVERS = len(LAYERS) - 1
LAYER_OF = {prefix: rank for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}


def layer(module: str) -> int:
    """The rank of `module`'s layer (0 = base); KeyError when the table does not place it."""
    if module.rsplit(".", 1)[-1] == "commands":
        return DRIVERS
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        rank = LAYER_OF.get(".".join(parts[:end]))
        if rank is not None:
            return rank
    raise KeyError(module)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def painter_imports(source: str, module: str, is_package: bool, known: set[str]):
    """(line, imported module) for every painter import in `source`, wherever it stands.
    `from A import B` counts as importing A.B when that is a module, else A."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield node.lineno, target if target in known else base


def upward_imports(source: str, module: str, *, is_package: bool = False, known=None) -> list[str]:
    """Each painter import in `source` from a layer above `module`'s, as 'module:line imports
    target (layer) from layer'."""
    known = set(modules()) if known is None else known
    own = layer(module)
    found = []
    for line, target in painter_imports(source, module, is_package, known):
        if target.split(".")[0] != "painter":
            continue
        if layer(target) > own:
            found.append(
                f"{module}:{line} imports {target} ({LAYERS[layer(target)][0]}) from the "
                f"{LAYERS[own][0]} layer"
            )
    return found


def test_every_module_has_a_layer():
    unplaced = []
    for module in modules():
        try:
            layer(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"add these to LAYERS in {Path(__file__).name}: {unplaced}"


def test_imports_point_down():
    known = set(modules())
    violations = []
    for module, path in modules().items():
        source = path.read_text(encoding="utf-8")
        violations += upward_imports(
            source, module, is_package=path.name == "__init__.py", known=known
        )
    assert not violations, "imports must point down:\n" + "\n".join(violations)


@pytest.mark.parametrize(
    "module, source, upward",
    [
        # a function-level import counts as much as one at the top
        ("painter.training.train", "def f():\n    from painter.submission import submit\n", True),
        ("painter.data.reader", "import painter.runtime\n", True),
        ("painter.training.commands", "from painter.submission.submitter import submit\n", False),
        ("painter.submission.stylize", "from painter.models import required_multiple\n", False),
        ("painter.models.resnet", "from .layers import SizeCheck\n", False),
        ("painter.models.resnet", "from ..training import checkpoint\n", True),
        ("painter.plots", "from painter.data.images import to_uint8\n", False),
        ("painter.plots", "from painter.data import reader\n", True),
        ("painter.serve.app", "from painter.kaggle import build\n", False),
    ],
)
def test_the_check_sees_upward_imports(module, source, upward):
    assert bool(upward_imports(source, module)) is upward
