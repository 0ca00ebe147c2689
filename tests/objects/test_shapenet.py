import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.objects.shapenet import discover, read_objects_list

V2_MESH = Path("models/model_normalized.obj")


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")


@pytest.fixture
def v2_tree(tmp_path: Path) -> Path:
    root = tmp_path / "ShapeNetCore.v2"
    for synset, ids in {"02691156": ["b", "a", "c"], "03001627": ["x", "y"]}.items():
        for object_id in ids:
            _touch(root / synset / object_id / V2_MESH)
    (root / "03001627" / "no-mesh" / "models").mkdir(parents=True)  # broken: no OBJ
    _touch(root / "12345678" / "z" / V2_MESH)  # not a ShapeNetCore synset
    (root / "taxonomy.json").write_text("[]")  # files at the root are not categories
    os.mkdir(os.fsencode(root / "03001627") + b"/bad-\xff-name")  # non-UTF-8 object id
    return root


def test_discovers_v2_objects_sorted_and_reports_what_it_skipped(v2_tree):
    found = discover(v2_tree)
    assert [o.key for o in found.objects] == [
        "02691156/a",
        "02691156/b",
        "02691156/c",
        "03001627/x",
        "03001627/y",
    ]
    assert found.objects[0].mesh == v2_tree / "02691156" / "a" / V2_MESH
    assert found.objects[0].label == 0
    reasons = {Path(s.path).name if "/" in s.path else s.path: s.reason for s in found.skipped}
    assert reasons["12345678"] == "unknown synset"
    assert reasons["no-mesh"] == "missing OBJ mesh"
    assert "non-UTF-8 directory name" in reasons.values()
    assert len(found.skipped) == 3
    assert found.summary() == "5 objects in 2 categories, 3 entries skipped"


def test_filters_by_synset_count_and_list(v2_tree):
    assert [o.key for o in discover(v2_tree, synsets=["03001627"]).objects] == [
        "03001627/x",
        "03001627/y",
    ]
    assert len(discover(v2_tree, limit=4).objects) == 4
    per_class = discover(v2_tree, per_class=1).objects
    assert [o.key for o in per_class] == ["02691156/a", "03001627/x"]
    only = discover(v2_tree, only={"02691156/c", "03001627/y"}).objects
    assert [o.key for o in only] == ["02691156/c", "03001627/y"]


def test_discovers_a_v1_tree(tmp_path):
    root = tmp_path / "ShapeNetCore.v1"
    _touch(root / "04379243" / "t1" / "model.obj")
    (root / "04379243" / "t2").mkdir()
    found = discover(root)
    assert [(o.key, o.mesh.name) for o in found.objects] == [("04379243/t1", "model.obj")]
    assert [(Path(s.path).name, s.reason) for s in found.skipped] == [("t2", "missing OBJ mesh")]


def test_missing_root_is_one_clear_error(tmp_path):
    with pytest.raises(IebenchError, match="not a directory"):
        discover(tmp_path / "nowhere")


def test_objects_list(tmp_path):
    listing = tmp_path / "objects.txt"
    listing.write_text("# chosen\n02691156/a\n/03001627/x/\n\n")
    assert read_objects_list(listing) == {"02691156/a", "03001627/x"}
    listing.write_text("02691156\n")
    with pytest.raises(IebenchError, match=r"objects.txt:1: expected 'synset/object_id'"):
        read_objects_list(listing)
    with pytest.raises(IebenchError, match="cannot read objects list"):
        read_objects_list(tmp_path / "missing.txt")


def test_the_folder_above_a_tree_names_the_tree(v2_tree, tmp_path):
    (tmp_path / "downloads").mkdir()  # a sibling without synsets is passed over
    with pytest.raises(IebenchError) as raised:
        discover(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}: no <synset> folders here, but {v2_tree} has them; "
        f"did you mean --objects {v2_tree}?"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", "--objects", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 1
    assert f"did you mean --objects {v2_tree}?" in result.output
    assert not out.exists()  # refused before writing an empty tree
