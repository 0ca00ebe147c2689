"""The package's boundaries (docs/architecture.md), held by reading every import.

core/ and protocol/ are the bottom: they import nothing above them, and no torch (but for
core/processes.py, the distributed helpers). scene/ is the plain-data scene both sides of
rendering share, so the dependency is one-way: rendering/ -> render/ -> scene/.
Every import counts, at any depth (imports inside functions too), relative ones resolved.
Only render/ (iebench.render) imports bpy. The harness (evaluation/) never
imports training/ or rendering/; the leaderboard never imports torch; and
`iebench evaluate` runs where Blender is not installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "iebench"
BLENDER_SIDE = ROOT / "render"

# room -> the rooms of iebench it may import (directly).
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "protocol": {"core", "protocol"},
    "objects": {"core", "protocol", "objects"},
    "scene": {"core", "protocol", "scene"},
    # the orchestration writes split files (data.splits) and hosts the Blender side in Ray actors
    "rendering": {"core", "protocol", "objects", "data", "scene", "rendering", "render"},
    # the Blender side (top-level render/, installed as iebench.render)
    "render": {"core", "protocol", "scene", "render"},
    "data": {"core", "protocol", "data"},
    "evaluation": {"core", "protocol", "data", "evaluation"},
    "models": {"core", "protocol", "models"},
    "methods": {"core", "protocol", "data", "models", "methods"},
    "leaderboard": {"core", "protocol", "leaderboard"},
    "training": {"core", "protocol", "data", "models", "methods", "evaluation", "training"},
    "studies": {"core", "protocol", "data", "models", "methods", "evaluation", "studies"},
}


def _module_of(path: Path) -> str:
    """The dotted name a file imports as (render/ installs as iebench.render)."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == BLENDER_SIDE.name:
        parts.insert(0, PACKAGE.name)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Absolute module names imported by a file, at any depth (lazy imports count too);
    relative imports are resolved against the file's package."""
    names = []
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1]
            names.append(".".join([*base, node.module] if node.module else base))
    return names


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "iebench" and len(parts) > 1 else None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_room_imports_only_the_rooms_below_it():
    problems = []
    for path in _files(PACKAGE) + _files(BLENDER_SIDE):
        room = _room(_module_of(path))
        if room not in ALLOWED:  # cli/, demo.py and the package root compose the rooms
            continue
        for module in _imports(path):
            target = _room(module)
            if target is not None and target not in ALLOWED[room]:
                problems.append(f"{path.relative_to(ROOT)}: imports {module}")
    assert not problems, "\n".join(problems)


def test_lazy_and_relative_imports_are_read():
    """The reader above sees an import inside a function, and resolves a relative one."""
    assert "iebench.render.worker" in _imports(PACKAGE / "rendering" / "ray_pool.py")
    assert _module_of(BLENDER_SIDE / "worker.py") == "iebench.render.worker"
    assert _module_of(PACKAGE / "scene" / "__init__.py") == "iebench.scene"


def test_the_rooms_are_the_ones_this_test_knows():
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms | {"render"} == {*ALLOWED, "cli"}, "a new room needs its place in ALLOWED and docs"


def test_only_the_blender_side_imports_bpy():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _files(PACKAGE) + _files(ROOT / "tests") + _files(ROOT / "benchmarks")
        if any(m == "bpy" or m.startswith("bpy.") for m in _imports(path))
    ]
    assert offenders == []
    assert any("bpy" in _imports(path) for path in _files(BLENDER_SIDE))


def test_protocol_core_and_scene_import_no_torch():
    """Torch-free contracts, lazy imports included; core's only torch module is the process
    helpers. The Blender side and the scene it reads never load torch either."""
    core = [p for p in _files(PACKAGE / "core") if p.name != "processes.py"]
    rooms = _files(PACKAGE / "protocol") + _files(PACKAGE / "scene") + _files(BLENDER_SIDE)
    offenders = [
        f"{path.relative_to(ROOT)}: imports {module}"
        for path in rooms + core
        for module in _imports(path)
        if module.split(".")[0] == "torch"
    ]
    assert offenders == []


TINY_ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="pooled", embedding_dim=3, resolution=32)


def build_encoder(checkpoint):
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
"""


def _loaded_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter that runs ``code``."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(output.split())


@pytest.mark.parametrize(
    ("code", "forbidden"),
    [
        ("import iebench.evaluation.run, iebench.cli.evaluate", ("iebench.training", "bpy")),
        ("import iebench.evaluation.run", ("iebench.rendering", "iebench.methods")),
        ("import iebench.leaderboard, iebench.cli.leaderboard", ("torch",)),
        (
            "import iebench.protocol.results, iebench.protocol.tasks, iebench.protocol.factors",
            ("torch",),
        ),
        ("import iebench.cli; iebench.cli.cli.list_commands(None)", ("torch", "bpy")),
        # the Blender side's worker: the scene room below it, no orchestration, no torch
        ("import iebench.render.worker", ("iebench.rendering", "torch", "bpy")),
    ],
)
def test_importing_a_stage_loads_nothing_it_must_not(code, forbidden):
    loaded = _loaded_after(code)
    hits = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden))
    assert hits == []


def test_evaluate_runs_without_blender(rendered_tree, tmp_path):
    """`iebench evaluate` end to end in an interpreter where `import bpy` fails."""
    encoder = tmp_path / "encoder.py"
    encoder.write_text(TINY_ENCODER)
    out = tmp_path / "results.json"
    script = (
        "import sys; sys.modules['bpy'] = None\n"  # `import bpy` now raises ImportError
        "from iebench.cli import main\n"
        f"sys.argv = ['iebench', 'evaluate', {str(encoder)!r}, '--data', {str(rendered_tree)!r},"
        f" '--protocol', 'quick', '--workers', '0', '--tasks', 'classification',"
        f" '--cache', {str(tmp_path / 'cache')!r}, '--out', {str(out)!r}]\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.is_file()
