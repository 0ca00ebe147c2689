"""`train --resume` takes the stored config; only explicit, different options are refused."""

from __future__ import annotations

import json

from helpers.integrity import TINY_TRAIN, only_error, run


# Point 8: `train --resume` takes the stored config; only explicit, different options refused.
def test_resume_alone_takes_the_stored_config(rendered_tree, tmp_path):
    out = tmp_path / "run"
    common = ["train", "sie", "--data", rendered_tree, "--out", out]
    first = run(*common, "--epochs", "1", "--batch-size", "8", "--lr", "0.002",
                "--workers", "0", *TINY_TRAIN)  # fmt: skip
    assert first.exit_code == 0, first.output
    resumed = run(*common, "--resume", "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    stored = json.loads((out / "config.json").read_text())
    assert (stored["epochs"], stored["batch_size"], stored["lr"]) == (2, 8, 0.002)
    assert stored["workers"] == 0 and stored["progress"] is False
    line = only_error(
        run(
            *common,
            "--resume",
            "--epochs",
            "3",
            "--lr",
            "0.002",
            "--width",
            "16",
            "--batch-size",
            "4",
            "--resolution",
            "32",
        )  # fmt: skip
    )
    assert line.endswith(
        "the run was started with another config; cannot resume with "
        "batch_size: 8 -> 4; width: 8 -> 16"
    )
