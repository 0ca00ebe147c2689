"""The dataset manifest iebench.json (`iebench.protocol.manifest`): read and written exactly,
its format checked, and one identity for resume and the feature cache."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from iebench.core.errors import IebenchError
from iebench.data.validate import validate_tree
from iebench.evaluation.features import dataset_fingerprint
from iebench.protocol.manifest import Manifest, read_tree_manifest
from iebench.rendering import RenderConfig, render_objects


def test_a_manifest_reads_and_writes_back_byte_for_byte(rendered_tree, tmp_path):
    path = rendered_tree / "iebench.json"
    manifest = Manifest.read(path)
    assert manifest.format == "iebench-render/2" and manifest.status == "finished"
    assert manifest.seed == 0 and manifest.resolution == 32 and manifest.spec.name == "published"
    manifest.write(tmp_path / "iebench.json")
    assert (tmp_path / "iebench.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "iebench-render/9"}, "manifest format 'iebench-render/9' is not one this"),
        ({"format": None}, "manifest format None is not one this iebench reads"),
        ({"counts": "12"}, "manifest field 'counts' missing or of the wrong type"),
        ({"status": "paused"}, "manifest status 'paused' is not running or finished"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_the_file(rendered_tree, tmp_path, change, message):
    path = tmp_path / "iebench.json"
    path.write_text(json.dumps(json.loads((rendered_tree / "iebench.json").read_text()) | change))
    with pytest.raises(IebenchError, match=message) as error:
        read_tree_manifest(tmp_path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def copy_manifest(rendered_tree, out, **changes) -> None:
    out.mkdir()
    manifest = json.loads((rendered_tree / "iebench.json").read_text())
    for name, value in changes.items():
        manifest[name] = manifest[name] | value
    (out / "iebench.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"scene": {"sun_strength": 2.0}}, "another scene"),
        ({"blender": {"blender": "4.2.0"}}, "another Blender version (4.2.0 (asked: 5.0.1))"),
        ({"config": {"seed": 3}}, "another seed (3 (asked: 0))"),
    ],
)
def test_resume_and_the_feature_cache_share_one_identity(rendered_tree, tmp_path, changes, words):
    """What refuses a resume is what changes the feature-cache fingerprint, and back."""
    out = tmp_path / "out"
    copy_manifest(rendered_tree, out, **changes)
    config = RenderConfig(
        out=out,
        objects=rendered_tree.parent / "objects",
        views=4,
        preset="preview",
        resolution=32,
        progress=False,
    )
    with pytest.raises(IebenchError, match=re.escape(f"json: this tree was rendered with {words}")):
        render_objects(config, log=lambda message: None)
    for path in rendered_tree.glob("*.npy"):
        shutil.copy(path, out)
    assert dataset_fingerprint(out) != dataset_fingerprint(rendered_tree)


def test_validate_reports_an_unreadable_manifest(rendered_tree, tmp_path):
    tree = shutil.copytree(rendered_tree, tmp_path / "tree")
    (tree / "iebench.json").write_text('{"format": "iebench-render/0"}')
    report = validate_tree(tree)
    assert report.problems[0].startswith(f"{tree / 'iebench.json'}: manifest format")
