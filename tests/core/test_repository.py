"""Files a results file records, looked up in the repository holding a board."""

from __future__ import annotations

from iebench.core.repository import committed_file


def test_a_recorded_path_is_found_only_inside_its_base(tmp_path):
    base = tmp_path / "repo"
    (base / "runs").mkdir(parents=True)
    (base / "runs" / "final.pth").write_bytes(b"w")
    (tmp_path / "secret").write_bytes(b"s")
    (base / "link").symlink_to(tmp_path / "secret")
    assert committed_file(base, "runs/final.pth") == (base / "runs" / "final.pth").resolve()
    assert committed_file(base, "runs/missing.pth") is None
    assert committed_file(base, "runs") is None  # a folder is no checkpoint
    assert committed_file(base, "../secret") is None
    assert committed_file(base, str(tmp_path / "secret")) is None
    assert committed_file(base, "link") is None  # a link leading out of the base
    assert committed_file(base, None) is None and committed_file(base, "") is None
