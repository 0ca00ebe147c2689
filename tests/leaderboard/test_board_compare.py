"""A board whose numbers compare: one row per method, no mixed R² definitions or floors,
labels that never overlap, a check for CI that writes nothing, verified rows."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.leaderboard_helpers import REPO_BOARD, edit, make_results, new_board, write

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.leaderboard import SubmissionRejected, build, submit
from iebench.leaderboard.build import board_tables
from iebench.leaderboard.checks import entry_problems
from iebench.leaderboard.plot import MARKER, Series, layout, to_svg
from iebench.leaderboard.reported import read_reported
from iebench.leaderboard.table import reported_tables
from iebench.leaderboard.track import method_and_seed
from iebench.protocol.tracks import MINI
from iebench.training.run_files import load_torch

MINI_FINGERPRINT = "11f488d62261623a183964d346d93cc8b4d7b5eab71841004300243ee146bf8a"
VERIFIED_HEADER = "entry,results_sha256,verified_at,iebench_commit,tolerance,max_difference\n"


def files(board: Path) -> dict[str, bytes]:
    return {
        p.relative_to(board).as_posix(): p.read_bytes() for p in board.rglob("*") if p.is_file()
    }


def test_the_committed_board_ranks_one_row_per_method():
    measured, _ = board_tables(REPO_BOARD)
    [table] = measured
    assert table.title.startswith(MINI.display_name)
    assert MINI.display_name == "3DIEBench-mini (procedural objects, pose-only factors, 64 px)"
    headers = [c.header for c in table.columns]
    # 4 classes: chance top-5 is 100, no information; colour is constant on pose-only renders.
    assert "top-5 %" not in headers and "colour R²" not in headers
    assert "training seeds" in headers and "probe seeds" in headers and "seeds" not in headers
    keys = [c.key for c in table.columns]
    rows = {
        row[1].text: dict(zip(keys, (cell.text for cell in row), strict=True)) for row in table.rows
    }
    assert list(rows) == [
        "simclr",
        "vicreg",
        "sie equi=45",
        "sie equi=90",
        "predict-rotation3d",
        "random-init",
    ]
    # mean ± sample std (ddof=1) of the 5 seeds' 89.375, 88.5417, 88.5417, 91.5625, 89.0625.
    assert rows["simclr"]["top1"] == "89.42 ± 1.25"
    assert rows["simclr"]["rotation"] == "0.649 ± 0.036"
    assert rows["sie equi=45"]["rotation"] == "0.833 ± 0.099"
    assert rows["sie equi=45"]["mrr"] == "0.392 ± 0.073"
    # The heavier equivariance term (docs/mini-track.md): 0.400, 0.465, 0.463, 0.461, 0.384.
    assert rows["sie equi=90"]["mrr"] == "0.435 ± 0.039"
    assert rows["simclr"]["training_seeds"] == "5" and rows["simclr"]["probe_seeds"] == "1"
    assert len(table.per_seed.rows) == 30
    assert [row[1].text for row in table.per_seed.rows[:5]] == ["0", "1", "2", "3", "4"]
    # Every row's weights are committed where its results file says.
    checkpoint = [c.key for c in table.per_seed.columns].index("checkpoint")
    assert {row[checkpoint].text for row in table.per_seed.rows} == {"committed"}


def test_the_committed_heads_name_no_machines_folders():
    """Each committed SIE run's heads keep its settings for the predictor; the folders in them
    are the run's place in the repository and the tree's name, never a machine's path."""
    heads = sorted((REPO_BOARD / "mini-track" / "runs").glob("*/sie-*/heads.pth"))
    assert len(heads) == 10
    for path in heads:
        config = load_torch(path)["config"]
        assert config["out"] == path.parent.relative_to(REPO_BOARD.parent).as_posix()
        assert config["data"] == path.parent.parent.name


def test_method_and_training_seed_come_from_the_encoder_or_its_name():
    assert method_and_seed({"name": "simclr seed 2"}) == ("simclr", 2)
    assert method_and_seed({"name": "sie equi=45 seed 10"}) == ("sie equi=45", 10)
    assert method_and_seed({"name": "SIE"}) == ("SIE", None)
    assert method_and_seed({"name": "run 7", "method": "sie", "training_seed": 1}) == ("sie", 1)
    # A recorded field wins: the name is not read then.
    assert method_and_seed({"name": "x seed 3", "method": "y"}) == ("y", None)


def test_seeds_of_a_method_are_one_row_and_a_seed_twice_is_refused(tmp_path):
    board = new_board(tmp_path)
    for seed, top1 in enumerate((50.0, 54.0)):
        submit(
            write(make_results(f"SimCLR seed {seed}", top1, 0.3), tmp_path / f"s{seed}.json"), board
        )
    submit(write(make_results("VICReg", 53.0, 0.2), tmp_path / "v.json"), board)
    twin = write(make_results("other name", 60.0, 0.3), tmp_path / "twin.json")
    edit(twin, lambda d: d["encoder"].update(method="SimCLR", training_seed=1))
    with pytest.raises(SubmissionRejected, match="method 'SimCLR' training seed 1: already on"):
        submit(twin, board)
    [table] = board_tables(board)[0]
    # Ranked on the means: VICReg's 53.00 above SimCLR's 52.00 (its best seed scores 54).
    assert [row[1].text for row in table.rows] == ["VICReg", "SimCLR"]
    assert table.rows[1][2].text == "52.00 ± 2.83"  # stdev(50, 54), ddof=1


def translation(results_path: Path, tasks=("translation", "translation-base")) -> Path:
    def change(data):
        for task in tasks:
            data["scores"][task] = {"full": {"r2": {"mean": 0.6, "std": 0.0, "n": 1}}}
            data["protocol"]["tasks"].append(task)
            data["protocol"]["task_versions"][task] = 1

    return edit(results_path, change)


def test_translation_is_shown_and_required_on_a_track_that_scores_it(tmp_path):
    board = new_board(tmp_path)
    half = translation(write(make_results("A", 50.0, 0.3), tmp_path / "a.json"), ("translation",))
    assert any("scores.translation-base.full: missing" in p for p in entry_problems(_load(half)))
    submit(translation(write(make_results("B", 50.0, 0.3), tmp_path / "b.json")), board)
    without = write(make_results("C", 55.0, 0.3), tmp_path / "c.json")
    with pytest.raises(
        SubmissionRejected, match=r"translation tasks \[\] differ from this track's"
    ):
        submit(without, board)
    [table] = board_tables(board)[0]
    headers = [c.header for c in table.columns]
    assert "translation R²" in headers and "translation R² base frame" in headers


def _load(path: Path):
    import json

    return json.loads(path.read_text())


def test_reported_tables_never_mix_r2_definitions():
    rows = read_reported(REPO_BOARD)
    tables = reported_tables(rows)
    by_title = {t.title: t for t in tables}
    # seq-JEPA's Table 1 holds one row under the global mean (ContextSSL, evaluated with its
    # own protocol): its track splits in two.
    assert len(tables) == 8
    for table in tables:
        methods = [row[0].text for row in table.rows]
        definitions = {
            r.r2_definition for r in rows if r.method in methods and table.title.startswith(r.track)
        }
        assert definitions == {table.r2_definition}
    seq_jepa = by_title[
        "3DIEBench, seq-JEPA paper (128 px, 1000 epochs, batch 512, ResNet-18, "
        "rotation-conditioned); R² averaged over outputs (sklearn's default; not iebench's)"
    ]
    assert seq_jepa.r2_definition == "per-output-average" and len(seq_jepa.rows) == 13


def test_a_bad_reported_row_is_refused_in_one_line(tmp_path):
    board = new_board(tmp_path)
    text = (board / "reported.csv").read_text().replace("per-output-average", "sklearn", 1)
    (board / "reported.csv").write_text(text)
    with pytest.raises(IebenchError) as error:
        build(board)
    assert str(error.value) == (
        f"{board / 'reported.csv'}:5: r2_definition: expected one of global-mean, "
        "per-output-average, unknown, got 'sklearn'"
    )


def test_fifteen_crowded_labels_never_overlap():
    """15 methods within 0.01 R² and 1 point of top-1 (the layout's own label boxes)."""
    points = tuple(
        (0.5 + 0.0007 * i, 50.0 + 0.07 * ((i * 7) % 15), f"method number {i} seed mean")
        for i in range(15)
    )
    series = [
        Series("crowded", "#1f77b4", False, points),
        Series("one", "#555555", True, points[:2]),
    ]
    plot = layout(series)
    markers = [m for panel in plot.panels for m in panel.markers]
    assert len(markers) == 17
    for panel in plot.panels:
        boxes = [m.label_box for m in panel.markers]
        for a, b in itertools.combinations(boxes, 2):
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
        for box, m in itertools.product(boxes, panel.markers):
            ring = (m.x - MARKER, m.y - MARKER, m.x + MARKER, m.y + MARKER)
            assert not (
                box[0] < ring[2] and ring[0] < box[2] and box[1] < ring[3] and ring[1] < box[3]
            )
    assert any(m.leader for m in markers)  # crowded: some labels sit apart, joined by a line
    assert to_svg(plot).count('class="leader"') == sum(m.leader for m in markers)


def test_check_passes_a_good_board_writing_nothing_and_names_a_bad_file(tmp_path):
    board = tmp_path / "board"
    shutil.copytree(REPO_BOARD, board, ignore=shutil.ignore_patterns("mini-track"))
    good = make_results("newcomer seed 0", 60.0, 0.7, fingerprint=MINI_FINGERPRINT)
    submit(write(good, tmp_path / "good.json"), board)
    build(board)
    before = files(board)
    runner = CliRunner()
    result = runner.invoke(cli, ["leaderboard", "check", str(board)])
    assert result.exit_code == 0, result.output
    assert files(board) == before  # nothing written, not even a lock file

    bad = board / "results" / "reference-64px-11f488d62261" / "intruder.json"
    write(make_results("intruder", 99.0, 0.9, fingerprint=MINI_FINGERPRINT), bad)
    result = runner.invoke(cli, ["leaderboard", "check", str(board)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {board}: the board fails its checks: {bad}: not recorded in "
        f"{board / 'results' / 'SHA256SUMS'} (add results with submit)\n"
    )
    bad.unlink()
    (board / "index.html").write_text("stale")
    result = runner.invoke(cli, ["leaderboard", "check", str(board)])
    assert result.exit_code == 1 and "index.html not up to date" in result.output
    assert len(result.output.splitlines()) == 1


def test_verified_rows_are_marked_and_verified_csv_is_checked(tmp_path):
    board = tmp_path / "board"
    shutil.copytree(REPO_BOARD, board, ignore=shutil.ignore_patterns("mini-track"))
    sums = dict(
        reversed(line.split("  "))
        for line in (board / "results" / "SHA256SUMS").read_text().splitlines()
    )
    lines = [
        f"{entry},{sums[entry]},2026-12-03T10:00:00+00:00,{'a' * 40},0.001,0.0002\n"
        for entry in sums
        if "/vicreg-seed-" in entry
    ]
    (board / "verified.csv").write_text(VERIFIED_HEADER + "".join(lines))
    [table] = board_tables(board)[0]
    verified = {row[1].text: row[-1].text for row in table.rows}
    assert verified == {m: "verified" if m == "vicreg" else "" for m in verified}
    # Two of five seeds verified: not the row.
    (board / "verified.csv").write_text(VERIFIED_HEADER + "".join(lines[:2]))
    assert {row[1].text: row[-1].text for row in board_tables(board)[0][0].rows}["vicreg"] == ""

    entry = next(iter(sums))
    for line, message in (
        (f"{entry},XYZ,2026-12-03,{'a' * 40},0.001,0", "results_sha256: expected a sha256"),
        (f"x/../../etc.json,{'a' * 64},2026-12-03,{'a' * 40},0.001,0", "no such results file"),
        (f"{entry},{'a' * 64},yesterday,{'a' * 40},0.001,0", "verified_at: expected an ISO-8601"),
        (f"{entry},{'a' * 64},2026-12-03,{'a' * 40},nan,0", "tolerance: expected a number >= 0"),
    ):
        (board / "verified.csv").write_text(VERIFIED_HEADER + line + "\n")
        with pytest.raises(IebenchError, match=f"verified.csv:2: .*{message}"):
            board_tables(board)


def test_the_per_seed_table_says_whether_each_checkpoint_is_committed(tmp_path):
    """A row anyone can re-run has its weights in the board's repository at the recorded
    path with the recorded sha256; a recorded path that leads out of it never counts."""
    import hashlib
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    board = new_board(tmp_path)
    weights = tmp_path / "runs" / "a" / "final.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    cases = {
        "kept": ("runs/a/final.pth", digest),
        "changed": ("runs/a/final.pth", "0" * 64),
        "elsewhere": ("runs/b/final.pth", digest),
        "none": (None, None),
    }
    for index, (name, (checkpoint, sha)) in enumerate(cases.items()):
        path = write(make_results(name, 50.0 + index, 0.3), tmp_path / f"{name}.json")
        edit(
            path,
            lambda d, c=checkpoint, s=sha: d["encoder"].update(checkpoint=c, checkpoint_sha256=s),
        )
        submit(path, board, base=tmp_path / "nowhere")
    [table] = board_tables(board)[0]
    keys = [c.key for c in table.per_seed.columns]
    where = {row[0].text: row[keys.index("checkpoint")].text for row in table.per_seed.rows}
    assert where == {
        "kept": "committed",
        "changed": "not committed",
        "elsewhere": "not committed",
        "none": "none",
    }
