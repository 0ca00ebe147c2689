"""`iebench preview`: the contact sheet's size, content and error cases."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from PIL import Image

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.imageio import read_image
from iebench.data.preview import LABEL_WIDTH, PAD, SheetLayout, contact_sheet, factor_lines


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tree"), views=4, size=32)


def test_preview_command_writes_a_png_of_the_expected_size(tree, tmp_path):
    out = tmp_path / "sheet.png"
    args = ["preview", str(tree), "--out", str(out), "--count", "3", "--views", "2"]
    result = CliRunner().invoke(cli, [*args, "--cell", "64"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == SheetLayout(objects=3, views=2, cell=64).size


def test_sheet_shows_each_view_with_its_factors(tree):
    sheet = np.asarray(contact_sheet(tree, objects=5, views=3, cell=32).image)
    # Round-robin over synsets: airplane, chair, table, then the second of each.
    first_row_view_2 = sheet[PAD : PAD + 32, LABEL_WIDTH + 2 * SheetLayout(1, 1, 32).column_width :]
    expected = read_image(tree / "02691156" / "plane_a" / "image_2.jpg")
    np.testing.assert_array_equal(first_row_view_2[:, :32], expected)
    assert sheet.shape[:2] == SheetLayout(5, 3, 32).size[::-1]
    lines = factor_lines(np.load(tree / "03001627" / "chair_a" / "latent_0.npy"))
    assert lines[0].startswith("rot ") and "floor" in lines[1] and "spot" in lines[2]
    assert len(factor_lines(np.zeros(10))) == 4  # 3DIEBench-T adds the translation


def test_a_missing_view_is_drawn_grey(tmp_path):
    root = build_tree(tmp_path / "tree", views=2, size=32)
    (root / "02691156" / "plane_a" / "image_1.jpg").unlink()
    (root / "02691156" / "plane_a" / "latent_1.npy").unlink()
    drawn = contact_sheet(root, objects=1, views=2, cell=32)
    sheet = np.asarray(drawn.image)
    left = LABEL_WIDTH + SheetLayout(1, 1, 32).column_width
    assert (sheet[PAD + 20 : PAD + 30, left + 20 : left + 30] == 200).all()
    assert drawn.corrupt == ()  # missing is not corrupt


def test_a_corrupt_view_is_marked_corrupt_and_fails_the_command(tmp_path):
    root = build_tree(tmp_path / "tree", views=2, size=32)
    image = root / "02691156" / "plane_a" / "image_1.jpg"
    image.write_bytes(image.read_bytes()[:40])  # a truncated JPEG
    (root / "02691156" / "plane_a" / "latent_0.npy").write_bytes(b"not an array")
    drawn = contact_sheet(root, objects=1, views=2, cell=32)
    left = LABEL_WIDTH + SheetLayout(1, 1, 32).column_width
    corner = np.asarray(drawn.image)[PAD : PAD + 3, left : left + 32]  # above the text
    assert (corner == (230, 150, 150)).all()
    assert [p.split(":")[0] for p in drawn.corrupt] == [
        str(root / "02691156" / "plane_a" / "latent_0.npy"),
        str(image),
    ]
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["preview", str(root), "--out", str(out), "--count", "1"])
    assert result.exit_code == 1
    assert f"corrupt: {image}:" in result.stderr
    assert "Error: 2 corrupt file(s) in" in result.stderr
    assert out.is_file()  # the sheet is still written, to look at


def test_an_empty_root_is_an_error(tmp_path):
    with pytest.raises(IebenchError, match="no rendered objects"):
        contact_sheet(tmp_path)
    result = CliRunner().invoke(cli, ["preview", str(tmp_path / "no"), "--out", "x.png"])
    assert result.exit_code == 1 and "not a directory" in result.output


def test_preview_of_a_rendered_tree(rendered_tree, tmp_path):
    out = tmp_path / "rendered.png"
    result = CliRunner().invoke(cli, ["preview", str(rendered_tree), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as sheet:  # 6 objects (4 categories, round-robin), all 4 views
        assert sheet.size == SheetLayout(objects=6, views=4, cell=128).size
