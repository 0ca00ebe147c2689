"""The board against hostile results files: each case here was once accepted or crashed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.leaderboard_helpers import edit, edit_on_board, make_results, new_board, write

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.leaderboard import SubmissionRejected, build, load_board, show, submit
from iebench.leaderboard.board import SUMS_NAME, Entry
from iebench.leaderboard.table import track_tables
from iebench.leaderboard.text import markdown, terminal
from iebench.leaderboard.track import Track
from iebench.protocol.layout import BOARD_LOCK_NAME as LOCK_NAME
from iebench.protocol.results import MAX_RESULTS_BYTES, read_results
from iebench.protocol.tasks import RANKING, TASK_REGISTRY

ENTRY = "quick-64px-abababababab/a.json"


def board_files(board: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in board.rglob("*") if p.is_file() and p.name != LOCK_NAME}


def refusal(path: Path, board: Path) -> list[str]:
    """Submit ``path``: refused, the board untouched; the reasons, each one safe line."""
    before = board_files(board)
    with pytest.raises(SubmissionRejected) as caught:
        submit(path, board)
    assert board_files(board) == before
    for reason in caught.value.reasons:
        assert "\n" not in reason and "\x1b" not in reason and len(reason) < 400
    return caught.value.reasons


def results_file(tmp_path: Path, change=None, name: str = "A") -> Path:
    path = write(make_results(name, 50.0, 0.3), tmp_path / f"{name.lower()}.json")
    return edit(path, change) if change else path


def test_a_fingerprint_cannot_lead_out_of_the_board(tmp_path):
    board = new_board(tmp_path / "site" / "board")
    beside = tmp_path / "site" / "settings.json"
    beside.write_text("{}\n")
    escape = "/../../..///" + "a" * 52  # 64 characters, as the schema once checked

    def forge(data):
        data["dataset"]["fingerprint"] = escape
        data["encoder"]["name"] = "settings"

    [reason] = refusal(results_file(tmp_path, forge), board)
    assert reason.startswith("dataset.fingerprint: expected a sha256 hex digest, got '/../")
    assert beside.read_text() == "{}\n"
    assert not any(p.name == "settings.json" for p in tmp_path.rglob("*") if p != beside)

    newline = "ab" * 16 + "\n" + "c" * 31  # would have written a forged SHA256SUMS line
    [reason] = refusal(
        results_file(tmp_path, lambda d: d["dataset"].update(fingerprint=newline)), board
    )
    assert reason.startswith("results.dataset.fingerprint: control or invisible characters")


def test_a_forged_sha256sums_line_is_refused_in_one_line(tmp_path):
    board = new_board(tmp_path)
    submit(results_file(tmp_path), board)
    sums = board / "results" / SUMS_NAME
    sums.write_text(sums.read_text() + "0" * 64 + "  ../../settings.json\n")
    with pytest.raises(IebenchError) as caught:
        build(board)
    assert str(caught.value) == (
        f"{sums}:2: expected '<sha256>  <track>/<encoder>.json', "
        f"got '{'0' * 64}  ../../settings.json'"
    )


def test_a_results_file_linked_from_outside_the_board_is_refused(tmp_path):
    board = new_board(tmp_path)
    submit(results_file(tmp_path), board)
    outside = results_file(tmp_path / "elsewhere", name="B")
    link = board / "results" / "quick-64px-abababababab" / "b.json"
    link.symlink_to(outside)
    sums = board / "results" / SUMS_NAME
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    sums.write_text(sums.read_text() + f"{digest}  quick-64px-abababababab/b.json\n")
    with pytest.raises(IebenchError, match="'quick-64px-abababababab/b.json' is not a results"):
        build(board)


def test_a_stray_file_name_with_terminal_escapes_is_quoted(tmp_path):
    board = new_board(tmp_path)
    submit(results_file(tmp_path), board)
    (board / "results" / "quick-64px-abababababab" / "\x1b]0;owned\x07.json").write_text("{}")
    with pytest.raises(IebenchError) as caught:
        build(board)
    assert "\x1b" not in str(caught.value) and "'quick-64px-abababababab/\\x1b]0;owned" in str(
        caught.value
    )


def test_board_files_that_are_not_text_are_refused_in_one_line(tmp_path):
    board = new_board(tmp_path)
    submit(results_file(tmp_path), board)
    sums = board / "results" / SUMS_NAME
    recorded = sums.read_bytes()
    sums.write_bytes(b"\xff\xfe" + recorded)
    with pytest.raises(IebenchError, match=r"SHA256SUMS: not a text file \(invalid start byte\)"):
        build(board)
    sums.write_bytes(recorded + b"\n")  # a blank line is no problem
    (board / "datasets.csv").write_bytes(b"fingerprint,name\n\xff,\xfe\n")
    with pytest.raises(IebenchError, match=r"datasets.csv: not a CSV file"):
        build(board)


def test_r2_far_below_zero_is_refused_before_the_plot_sees_it(tmp_path):
    board = new_board(tmp_path)
    for value in (-1e300, -1e6, -10.5):
        path = results_file(
            tmp_path, lambda d, v=value: d["scores"]["rotation"]["full"]["r2"].update(mean=v)
        )
        assert refusal(path, board) == [
            f"scores.rotation.full.r2.mean: {value} outside [-10.0, 1.0]"
        ]
    accepted = results_file(
        tmp_path, lambda d: d["scores"]["rotation"]["full"]["r2"].update(mean=-10.0)
    )
    submit(accepted, board)
    build(board)  # the lowest R^2 there is: a finite plot


def test_build_runs_the_range_checks_on_files_edited_with_their_hash(tmp_path):
    board = new_board(tmp_path)
    submit(results_file(tmp_path), board)
    build(board)
    readme = (board / "README.md").read_bytes()
    edit_on_board(board, ENTRY, lambda d: d["scores"]["rotation"]["full"]["r2"].update(mean=-1e300))
    with pytest.raises(IebenchError) as caught:
        build(board)
    assert f"{board / 'results' / ENTRY}: scores.rotation.full.r2.mean: -1e+300 outside" in str(
        caught.value
    )
    assert (board / "README.md").read_bytes() == readme  # nothing rebuilt from it


def test_reference_levels_are_those_of_the_figures(tmp_path):
    board = new_board(tmp_path)

    def chance(top1, top5):
        return lambda d: d["reference"]["classification"].update(top1=top1, top5=top5)

    assert refusal(results_file(tmp_path, chance(99.0, 100.0)), board) == [
        "reference.classification {'top1': 99.0, 'top5': 100.0}: not the chance levels of "
        "1-55 classes on 8 validation objects"
    ]
    assert refusal(results_file(tmp_path, chance(99.0, 120.0)), board)[0] == (
        "reference.classification.top5: 120.0 outside [0.0, 100.0]"
    )
    # 55 classes, all guessable: the published dataset's chance levels are accepted.
    submit(results_file(tmp_path, chance(100 / 55, 500 / 55)), new_board(tmp_path / "other"))
    submit(results_file(tmp_path), board)

    sie = write(make_results("SIE", 60.0, 0.4, predictor=True), tmp_path / "sie.json")
    edit(sie, lambda d: d["reference"]["equivariance"].update(mrr=0.9))
    assert refusal(sie, board)[0] == (
        "reference.equivariance.mrr: 0.9, not the chance level 0.2928968253968254 of 10 views"
    )
    edit(sie, lambda d: d["reference"]["equivariance"].update(mrr=0.2928968253968254, pre=0.5))
    assert refusal(sie, board)[0] == "reference.equivariance.pre: no chance level for 10 views"
    # A second entry of the track records the floors the first one did.
    other = results_file(tmp_path, lambda d: d["reference"]["rotation"].update(r2=0.5), "B")
    assert refusal(other, board) == [
        "reference.rotation {'r2': 0.5} differs from this track's {'r2': 0.2373} "
        "(results/quick-64px-abababababab/a.json)"
    ]


def test_a_huge_view_count_is_refused_before_chance_levels_are_computed(tmp_path):
    board = new_board(tmp_path)
    sie = write(make_results("SIE", 60.0, 0.4, predictor=True), tmp_path / "sie.json")
    edit(sie, lambda d: d["dataset"].update(views_per_object=2**62))  # np.arange(2**62)
    assert refusal(sie, board) == [f"dataset.views_per_object: must be 2-10000, got {2**62}"]


def test_a_board_that_cannot_be_locked_is_refused_in_one_line(tmp_path):
    board = new_board(tmp_path)
    (board / LOCK_NAME).mkdir()  # not a file: no lock can be taken there
    with pytest.raises(IebenchError, match=r"board\.lock: Is a directory"):
        build(board)


def test_n_is_the_number_of_seeds_and_std_is_bounded(tmp_path):
    board = new_board(tmp_path)
    forged = results_file(
        tmp_path, lambda d: d["scores"]["rotation"]["full"]["r2"].update(n=10**6, std=1e12)
    )
    assert refusal(forged, board) == [
        "scores.rotation.full.r2.n: expected 1 (protocol.seeds), got 1000000"
    ]
    wide = results_file(tmp_path, lambda d: d["scores"]["colour"]["full"]["r2"].update(std=12.0))
    assert refusal(wide, board) == ["scores.colour.full.r2.std: 12.0 wider than [-10.0, 1.0]"]
    sie = write(make_results("SIE", 60.0, 0.4, seeds=3, predictor=True), tmp_path / "sie.json")
    edit(sie, lambda d: d["scores"]["equivariance"]["predictor"]["mrr"].update(n=3))
    assert refusal(sie, board) == [
        "scores.equivariance.predictor.mrr.n: expected 1 (a predictor's single run), got 3"
    ]


HOSTILE_NAMES = (
    "A\n## Hacked\n[click](javascript:alert(1))",
    "<script>alert(1)</script>",
    "A\x1b]0;owned\x07",
    "a" * 101,
    "../settings",
)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_encoder_names_are_refused(tmp_path, name):
    board = new_board(tmp_path)
    [reason] = refusal(results_file(tmp_path, lambda d: d["encoder"].update(name=name)), board)
    assert reason.startswith(("encoder.name: expected 1-100 of letters", "results.encoder.name"))


def test_every_view_escapes_what_a_board_file_says(tmp_path):
    """Names are refused when submitted; the views escape them anyway (a file edited by hand
    with its SHA256SUMS line is refused by build, but the renderers never rely on that)."""
    data = make_results("x", 50.0, 0.3).to_dict()
    data["encoder"]["name"] = "A\n## Hacked\n[click](javascript:alert(1)) <script>\x1b]0;owned\x07"
    entry = Entry(path=ENTRY, track=Track.of(data), data=data, sha256="0" * 64)
    tables = track_tables([entry], {})
    readme = markdown(tables, [])
    assert not any(line.startswith("## Hacked") for line in readme.splitlines())
    assert "[click](javascript" not in readme and "<script>" not in readme
    assert "\\[click\\](javascript:alert(1)) \\<script\\>" in readme
    text = terminal(tables, [])
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;owned\\x07" in text


def test_a_hostile_dataset_name_is_refused(tmp_path):
    board = new_board(tmp_path)
    path = results_file(tmp_path)
    with pytest.raises(SubmissionRejected, match="dataset name: expected 1-100 of letters"):
        submit(path, board, dataset_name="Tiny\n# Hacked")
    assert not (board / "datasets.csv").exists()
    submit(path, board, dataset_name="Tiny")
    (board / "datasets.csv").write_text(f"fingerprint,name\n{'ab' * 32},<b>\x1b[2J</b>\n")
    with pytest.raises(IebenchError, match=r"datasets.csv:2: dataset name: expected"):
        build(board)


def test_malformed_values_give_one_line_never_a_traceback(tmp_path):
    board = new_board(tmp_path)
    timings = results_file(tmp_path, lambda d: d["timings"].update(gpu_s="fast"))
    assert refusal(timings, board) == ["timings.gpu_s: expected a finite number, got 'fast'"]

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert refusal(deep, board) == ["nested deeper than 20 levels: not a results file"]

    large = results_file(tmp_path, name="Large")
    data = json.loads(large.read_text())
    data["config"] = {f"k{i}": "x" * 4000 for i in range(13_000)}  # about 50 MB
    large.write_text(json.dumps(data))
    assert refusal(large, board) == [f"larger than {MAX_RESULTS_BYTES} bytes: not a results file"]

    result = CliRunner().invoke(cli, ["leaderboard", "submit", str(deep), "--board", str(board)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.splitlines()[0] == f"Error: {deep}: rejected (1 problem)"
    with pytest.raises(IebenchError, match="nested deeper than 20 levels"):
        read_results(deep)


def test_the_refusal_of_a_mismatched_encoder_file_never_shows_its_hash(tmp_path):
    board = new_board(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("a readable file that is not the encoder\n")
    [reason] = refusal(
        results_file(tmp_path, lambda d: d["encoder"].update(file=str(secret))), board
    )
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in reason
    assert reason.startswith(f"encoder.file_sha256: {secret} does not match the recorded ")


ROUNDS = 3
SUBMITTER = """
import sys, time
from pathlib import Path
from iebench.leaderboard import submit
work, index = Path(sys.argv[1]), sys.argv[2]
for round in range(int(sys.argv[3])):
    (work / f"ready-{round}-{index}").touch()
    while not (work / f"go-{round}").exists():
        time.sleep(0.005)
    submit(work / f"{round}-{index}.json", work / f"board-{round}")
"""


def test_submits_at_once_are_all_recorded(tmp_path):
    """8 processes submit at the same moment to a fresh board, 3 boards over: every file
    lands, SHA256SUMS lists each, and the board builds (without the lock, 2-3 of 4 were
    recorded and the board then refused everything)."""
    names = [f"Encoder {i}" for i in range(8)]
    for round in range(ROUNDS):
        new_board(tmp_path / "new").rename(tmp_path / f"board-{round}")
        for i, name in enumerate(names):
            write(make_results(name, 40.0 + i, 0.3), tmp_path / f"{round}-{i}.json")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMITTER, str(tmp_path), str(i), str(ROUNDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(len(names))
    ]
    for round in range(ROUNDS):
        deadline = time.monotonic() + 120
        ready = [tmp_path / f"ready-{round}-{i}" for i in range(len(names))]
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.005)
        (tmp_path / f"go-{round}").touch()
    for process in processes:
        assert process.wait(timeout=180) == 0, process.stderr.read()
    for round in range(ROUNDS):
        board = tmp_path / f"board-{round}"
        state = load_board(board)
        assert state.problems == [] and state.missing == []
        assert sorted(e.name for e in state.entries) == names
        assert len((board / "results" / SUMS_NAME).read_text().splitlines()) == len(names)
        build(board)


def test_results_of_another_task_version_never_share_a_ranking(tmp_path):
    board = new_board(tmp_path)
    old = results_file(tmp_path, lambda d: d["protocol"]["task_versions"].update(classification=1))
    assert refusal(old, board) == [
        "protocol.task_versions {'classification': 1, 'rotation': 1, 'colour': 1} differ from "
        "this iebench's {'classification': 2, 'rotation': 1, 'colour': 1}: the numbers are not "
        "comparable; evaluate the encoder again"
    ]
    # Written before results recorded versions: the versions of that time, today's.
    unrecorded = results_file(tmp_path, lambda d: d["protocol"].pop("task_versions"), "B")
    submit(unrecorded, board)
    wrong = results_file(tmp_path, lambda d: d["protocol"]["task_versions"].pop("colour"), "C")
    assert refusal(wrong, board)[0].startswith(
        "protocol.task_versions: expected a version for each of protocol.tasks"
    )
    edit_on_board(
        board,
        "quick-64px-abababababab/b.json",
        lambda d: d["protocol"].update(
            task_versions={"classification": 1, "rotation": 1, "colour": 1}
        ),
    )
    with pytest.raises(IebenchError, match="the numbers are not comparable"):
        show(board)


def test_the_ranking_key_comes_from_the_task_registry():
    assert RANKING == (("classification", "full", "top1"), ("rotation", "full", "r2"))
    assert {t: TASK_REGISTRY[t].main_metric.name for t in TASK_REGISTRY} == {
        "classification": "top1",
        "rotation": "r2",
        "colour": "r2",
        "translation": "r2",
        "translation-base": "r2",
        "equivariance": "mrr",
    }
    entries = []
    for name, top1, r2 in (("low", 40.0, 0.9), ("tie-b", 50.0, 0.2), ("tie-a", 50.0, 0.6)):
        data = make_results(name, top1, r2).to_dict()
        entries.append(
            Entry(f"quick-64px-abababababab/{name}.json", Track.of(data), data, "0" * 64)
        )
    [table] = track_tables(entries, {})
    assert [row[1].text for row in table.rows] == ["tie-a", "tie-b", "low"]
