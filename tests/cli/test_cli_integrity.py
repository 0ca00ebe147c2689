"""Every command checks its output path before any work."""

from __future__ import annotations

import pytest
from helpers.integrity import TINY_TRAIN, encoder_file, only_error, run


# Point 3: wrong-kind output paths are refused before any work, by every command.
@pytest.mark.parametrize(
    "command, kind",
    [
        ("evaluate", "directory"),
        ("train", "file"),
        ("pack", "file"),
        ("preview", "directory"),
        ("demo", "file"),
        ("render", "file"),
        ("study", "file"),
    ],
)
def test_outputs_of_the_wrong_kind_are_refused_before_any_work(
    rendered_tree, tmp_path, command, kind
):
    out = tmp_path / "taken"
    out.mkdir() if kind == "directory" else out.write_text("keep me\n")
    arguments = {
        "evaluate": ["evaluate", encoder_file(tmp_path), "--data", rendered_tree,
                     "--cache", tmp_path / "cache", "--workers", "0"],
        "train": ["train", "sie", "--data", rendered_tree, *TINY_TRAIN],
        "pack": ["pack", rendered_tree],
        "preview": ["preview", rendered_tree],
        "demo": ["demo"],
        "render": ["render", "--views", "2", "--per-class", "1", "--synsets", "car"],
        "study": ["study", "transformations", "--data", rendered_tree],
    }[command]  # fmt: skip
    line = only_error(run(*arguments, "--out", out))
    assert line == f"Error: {out}: --out is an existing {kind}; " + (
        "name a file to write" if kind == "directory" else "name a directory"
    )
    assert not (tmp_path / "cache").exists()  # evaluate extracted nothing
    assert kind == "directory" or out.read_text() == "keep me\n"
    if kind == "file":  # an output under a file cannot be written either
        line = only_error(run(*arguments, "--out", out / "inner" / "x"))
        assert line.endswith(f"--out lies under {out}, which is a file")
