"""`hold_or_refuse`: the one "take the lock or refuse" of render, training and the demo."""

from __future__ import annotations

import os
import re

import pytest

from iebench.core.errors import IebenchError
from iebench.core.locks import hold, hold_or_refuse


def test_a_held_lock_is_refused_in_one_line_naming_the_folder_and_its_holder(tmp_path):
    lock = tmp_path / "run.lock"
    with hold_or_refuse(lock, "another run is writing here") as stale:
        assert stale is None
        with (
            pytest.raises(IebenchError) as refused,
            hold_or_refuse(lock, "another run is writing here"),
        ):
            pytest.fail("a held lock was taken twice")
    message = str(refused.value)
    assert "\n" not in message
    assert re.fullmatch(
        re.escape(f"{tmp_path}: another run is writing here (pid {os.getpid()} on ")
        + r".+, since .+\); wait for it to end or choose another --out",
        message,
    )
    with hold_or_refuse(lock, "another run is writing here"):  # released
        pass


def test_shared_holders_are_named_by_their_own_locks(tmp_path):
    tree = tmp_path / "tree.lock"
    with (
        hold(tree, shared=True),
        hold(tmp_path / "part-1.lock"),
        hold(tmp_path / "part-0.lock"),
        pytest.raises(IebenchError) as refused,
        hold_or_refuse(tree, "busy", "go elsewhere", sharers="part-*.lock"),
    ):
        pass
    assert re.fullmatch(
        re.escape(f"{tmp_path}: busy (part-0.lock by pid {os.getpid()} on ")
        + r".+; part-1\.lock by pid \d+ on .+\); wait for it to end or go elsewhere",
        str(refused.value),
    )
    with (
        hold(tree, shared=True),
        pytest.raises(IebenchError, match=r"\(another process\)"),
        hold_or_refuse(tree, "busy"),  # a shared holder that names no lock of its own
    ):
        pass


def test_a_dead_holder_is_reported_and_the_body_errors_are_its_own(tmp_path):
    lock = tmp_path / "run.lock"
    lock.write_text('{"pid": 1, "host": "gone", "since": "2000-01-01"}\n')
    with pytest.raises(ValueError, match="from the body"), hold_or_refuse(lock, "busy") as stale:
        assert stale == "pid 1 on gone, since 2000-01-01"
        raise ValueError("from the body")
    assert lock.read_text() == ""  # released and emptied
