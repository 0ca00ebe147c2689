"""`iebench leaderboard`: submit's checks (every reason listed), tracks, deterministic builds."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.leaderboard_helpers import (
    OLD_RESULTS,
    OTHER_FINGERPRINT,
    REPO_BOARD,
    edit,
    make_results,
    new_board,
    write,
)

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.evaluation.config import EvalConfig
from iebench.evaluation.run import evaluate
from iebench.leaderboard import SubmissionRejected, build, load_board, show, submit
from iebench.leaderboard.board import SUMS_NAME
from iebench.leaderboard.build import pages
from iebench.protocol.layout import BOARD_LOCK_NAME as LOCK_NAME
from iebench.protocol.results import write_results


def board_files(board: Path) -> dict[str, bytes]:
    """The board's files but its lock (a submit that takes it, even to refuse, leaves it)."""
    return {
        p.relative_to(board).as_posix(): p.read_bytes()
        for p in board.rglob("*")
        if p.is_file() and p.name != LOCK_NAME
    }


def rejected(path: Path, board: Path) -> list[str]:
    """Submit ``path``, expecting a rejection that writes nothing; its reasons."""
    before = board_files(board)
    with pytest.raises(SubmissionRejected) as caught:
        submit(path, board)
    assert board_files(board) == before
    assert str(path) in str(caught.value).splitlines()[0]
    return caught.value.reasons


def test_submit_accepts_a_valid_file_byte_for_byte(tmp_path):
    board = new_board(tmp_path)
    path = write(make_results("SIE", 61.0, 0.42, seeds=3, predictor=True), tmp_path / "sie.json")
    accepted = submit(path, board)
    copy = board / "results" / accepted.entry.path
    assert accepted.entry.path == "quick-64px-abababababab/sie.json"
    assert copy.read_bytes() == path.read_bytes()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sums = (board / "results" / SUMS_NAME).read_text()
    assert sums == f"{digest}  quick-64px-abababababab/sie.json\n"  # `sha256sum -c` format
    assert accepted.notes == [
        "encoder file /nowhere/SIE.py not found here: its sha256 was not checked"
    ]
    assert [e.name for e in load_board(board).entries] == ["SIE"]


def test_submit_rejects_malformed_files_with_every_reason(tmp_path):
    board = new_board(tmp_path)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert len(rejected(garbage, board)) == 1

    broken = write(make_results("A", 50.0, 0.3), tmp_path / "broken.json")

    def damage(data):
        del data["environment"]
        data["encoder"]["resolution"] = "64"
        data["scores"]["rotation"]["full"]["r2"] = {"mean": 0.3}
        data["protocol"]["name"] = "fast"

    reasons = rejected(edit(broken, damage), board)
    assert "environment: missing or not an object" in reasons
    assert any(r.startswith("encoder.resolution: expected int") for r in reasons)
    assert any(r.startswith("scores.rotation.full.r2") for r in reasons)
    assert any(r.startswith("protocol.name") for r in reasons)

    old = edit(
        write(make_results("B", 50.0, 0.3), tmp_path / "old.json"),
        lambda d: d.update(schema_version=0),
    )
    assert rejected(old, board) == ["schema_version: expected 1, got 0"]


def test_submit_rejects_incomplete_results(tmp_path):
    board = new_board(tmp_path)
    path = write(make_results("A", 50.0, 0.3), tmp_path / "a.json")

    def drop(data):
        del data["scores"]["rotation"], data["scores"]["colour"]
        data["protocol"]["tasks"] = ["classification"]
        data["protocol"]["task_versions"] = {"classification": 2}
        data["scores"]["classification"]["invariant"] = data["scores"]["classification"].pop("full")

    reasons = rejected(edit(path, drop), board)
    assert reasons == [
        "scores.classification.full: missing (the whole representation)",
        "scores.rotation: missing; every track requires classification, rotation, colour",
        "scores.colour: missing; every track requires classification, rotation, colour",
        "scores.classification.invariant: the encoder declares no invariant_dims",
    ]


def test_submit_rejects_values_out_of_range(tmp_path):
    board = new_board(tmp_path)
    path = write(make_results("SIE", 60.0, 0.4, predictor=True), tmp_path / "sie.json")

    def corrupt(data):
        scores = data["scores"]
        scores["classification"]["full"]["top1"]["mean"] = 120.0
        scores["rotation"]["full"]["r2"]["mean"] = 1.5
        scores["colour"]["full"]["r2"]["std"] = -0.1
        scores["equivariance"]["predictor"]["h@1"]["mean"] = 0.9
        data["encoder"]["equivariant_dims"] = [256, 600]
        data["encoder"]["file_sha256"] = "z" * 64
        data["timings"]["total_s"] = -1.0

    reasons = rejected(edit(path, corrupt), board)
    assert reasons == [
        f"encoder.file_sha256: not a sha256 hex digest: '{'z' * 64}'",
        "encoder.equivariant_dims: [256, 600] reaches past embedding_dim 512",
        "timings.total_s: negative (-1.0)",
        "scores.classification.full.top1.mean: 120.0 outside [0.0, 100.0]",
        "scores.classification.full: top1 above top5",
        "scores.rotation.full.r2.mean: 1.5 outside [-10.0, 1.0]",
        "scores.colour.full.r2.std: negative (-0.1)",
        "scores.equivariance.predictor: h@1 above h@2",
        "scores.equivariance.predictor: h@1 above mrr",
    ]


def test_submit_rejects_an_encoder_file_that_does_not_match_its_hash(tmp_path):
    board = new_board(tmp_path)
    encoder = tmp_path / "my_encoder.py"
    encoder.write_text("# the encoder that was evaluated\n")
    results = make_results("Mine", 50.0, 0.3)
    results.encoder.update(
        file=str(encoder), file_sha256=hashlib.sha256(encoder.read_bytes()).hexdigest()
    )
    path = write(results, tmp_path / "mine.json")
    encoder.write_text("# edited after the evaluation\n")
    [reason] = rejected(path, board)
    assert reason == (
        f"encoder.file_sha256: {encoder} does not match the recorded "
        f"{results.encoder['file_sha256']} (changed since the evaluation?)"
    )
    assert hashlib.sha256(encoder.read_bytes()).hexdigest() not in reason  # never shown


def test_tampered_board_files_are_refused_by_submit_and_build(tmp_path):
    board = new_board(tmp_path)
    submit(write(make_results("A", 50.0, 0.3), tmp_path / "a.json"), board)
    copy = board / "results" / "quick-64px-abababababab" / "a.json"
    edit(copy, lambda d: d["scores"]["classification"]["full"]["top1"].update(mean=99.0))
    stray = write(
        make_results("Stray", 70.0, 0.3),
        board / "results" / "quick-64px-abababababab" / "stray.json",
    )

    reasons = rejected(write(make_results("B", 40.0, 0.2), tmp_path / "b.json"), board)
    assert len(reasons) == 2
    assert (
        reasons[0].startswith(f"board: {copy}: sha256 ")
        and "changed after it was accepted" in reasons[0]
    )
    sums = board / "results" / SUMS_NAME
    assert reasons[1] == f"board: {stray}: not recorded in {sums} (add results with submit)"
    with pytest.raises(IebenchError, match="changed after it was accepted"):
        build(board)


def test_submit_rejects_duplicates_name_clashes_and_other_probes(tmp_path):
    board = new_board(tmp_path)
    first = write(make_results("VICReg", 50.0, 0.1), tmp_path / "vicreg.json")
    submit(first, board)
    assert rejected(first, board) == [
        "duplicate of results/quick-64px-abababababab/vicreg.json: "
        "same encoder file and checkpoint on this track"
    ]

    other = make_results("vicreg", 52.0, 0.1)
    other.encoder["file_sha256"] = "1" * 64
    other.protocol["probe"]["epochs"] = 20
    reasons = rejected(write(other, tmp_path / "other.json"), board)
    assert reasons == [
        "encoder.name 'vicreg': already on this track as 'VICReg' "
        "(results/quick-64px-abababababab/vicreg.json); give this encoder a distinct name",
        "protocol.probe {'optimizer': 'adam', 'lr': 0.001, 'weight_decay': 0.0, 'batch_size': 256, "
        "'epochs': 20} differs from this track's {'optimizer': 'adam', 'lr': 0.001, "
        "'weight_decay': 0.0, 'batch_size': 256, 'epochs': 10} "
        "(results/quick-64px-abababababab/vicreg.json)",
    ]
    # The same encoder on another track (another dataset) is a separate entry.
    elsewhere = write(
        make_results("VICReg", 30.0, 0.1, fingerprint=OTHER_FINGERPRINT), tmp_path / "e.json"
    )
    assert submit(elsewhere, board).entry.path == "quick-64px-cdcdcdcdcdcd/vicreg.json"


def test_cli_lists_every_reason_one_line_each(tmp_path):
    board = new_board(tmp_path)
    path = write(make_results("A", 50.0, 0.3), tmp_path / "a.json")
    edit(path, lambda d: d["scores"]["rotation"]["full"]["r2"].update(mean=2.0, std=-1.0))
    result = CliRunner().invoke(cli, ["leaderboard", "submit", str(path), "--board", str(board)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        f"Error: {path}: rejected (2 problems)",
        "  - scores.rotation.full.r2.mean: 2.0 outside [-10.0, 1.0]",
        "  - scores.rotation.full.r2.std: negative (-1.0)",
    ]
    assert not (board / "results").exists()


def fill_board(board: Path, tmp_path: Path, order: list[int]) -> None:
    runs = [
        make_results("SIE", 48.5, 0.61, seeds=3, predictor=True),
        make_results("VICReg", 52.25, 0.18),
        make_results("SimCLR", 50.0, 0.30),
        make_results("VICReg", 70.0, 0.25, fingerprint=OTHER_FINGERPRINT, protocol="reference"),
    ]
    for i in order:
        submit(write(runs[i], tmp_path / f"run{i}.json"), board)


def test_build_is_deterministic_and_independent_of_submission_order(tmp_path):
    one, two = new_board(tmp_path / "one"), new_board(tmp_path / "two")
    fill_board(one, tmp_path / "one", [0, 1, 2, 3])
    fill_board(two, tmp_path / "two", [3, 2, 1, 0])
    build(one)
    first = board_files(one)
    build(one)
    assert board_files(one) == first  # byte-identical rebuild
    build(two)
    assert board_files(two) == first
    assert {"README.md", "index.html", "tradeoff.png"} <= set(first)


def test_board_views_rank_within_tracks_and_keep_reported_apart(tmp_path):
    board = new_board(tmp_path)
    fill_board(board, tmp_path, [0, 1, 2, 3])
    (board / "datasets.csv").write_text(f"fingerprint,name\n{'ab' * 32},Demo objects\n")
    build(board)
    readme = (board / "README.md").read_text()
    other = readme.index("## dataset cdcdcdcdcdcd, reference protocol, 64 px")
    quick = readme.index("## Demo objects, quick protocol, 64 px")
    reported = readme.index("## Reported in papers")
    assert other < quick < reported  # reference-protocol tracks first
    rows = [line for line in readme[quick:reported].splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[1] for row in rows[:3]] == ["VICReg", "SimCLR", "SIE"]  # by top-1
    assert "48.50 ± 0.50" in rows[2] and "0.400" in rows[2]  # mean ± std; the MRR column
    # Last, unranked: the track's floors, under their columns (H@5 < 10 views is kept; top-5,
    # whose chance level is 100 with these 4 classes, is left out).
    assert rows[3].startswith("|  | *reference level* | *25.00* | *0.237* | *-0.001* |")
    assert "top-5" not in readme[quick:reported]
    assert "| *0.293* | *0.100* | *0.500* |" in rows[3]
    assert "| EquiCaps | 83.24 | 0.78 | ICCV 2025 | 256 |  | ResNet-18 |" in readme[reported:]
    assert "EquiCaps" not in readme[:reported]

    text = show(board)
    assert text.splitlines()[0] == "dataset cdcdcdcdcdcd, reference protocol, 64 px"
    assert "EquiCaps" not in text and "EquiCaps" in show(board, with_reported=True)
    page = (board / "index.html").read_text()
    for needle in ("http://", "https://", "src="):  # self-contained: nothing to fetch
        assert needle not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_cli_submit_build_show(tmp_path):
    board = new_board(tmp_path)
    path = write(make_results("SimCLR", 50.0, 0.3), tmp_path / "simclr.json")
    runner = CliRunner()
    args = ["--board", str(board)]
    result = runner.invoke(
        cli, ["leaderboard", "submit", str(path), *args, "--dataset-name", "Tiny"]
    )
    assert result.exit_code == 0, result.output
    assert "accepted: " in result.output
    result = runner.invoke(cli, ["leaderboard", "build", *args])
    assert result.exit_code == 0, result.output
    assert "1 entries in 1 tracks" in result.output
    result = runner.invoke(cli, ["leaderboard", "show", *args])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Tiny, quick protocol, 64 px"
    assert "SimCLR" in result.output


def test_an_empty_board_builds(tmp_path):
    board = new_board(tmp_path)
    build(board)
    assert "No results yet" in (board / "README.md").read_text()
    assert "No results yet" in show(board)


def test_build_refuses_where_there_is_no_board(tmp_path):
    runner = CliRunner()
    for board in (tmp_path / "missing", tmp_path):  # absent; an unrelated directory
        result = runner.invoke(cli, ["leaderboard", "build", "--board", str(board)])
        assert result.exit_code == 1
        assert f"Error: {board}: no board here" in result.output
        assert "iebench leaderboard submit RESULTS.json" in result.output
    assert not (tmp_path / "missing").exists() and list(tmp_path.iterdir()) == []


def test_reported_numbers_are_the_published_ones():
    """Pinned as printed in the papers (each row's source column says where)."""
    with open(REPO_BOARD / "reported.csv", newline="") as handle:
        rows = {(r["track"], r["method"]): r for r in csv.DictReader(handle)}
    sie_protocol = "3DIEBench, SIE protocol (256 px, ResNet-18, MLP probe on frozen features)"
    seq_jepa_track = (
        "3DIEBench, seq-JEPA paper (128 px, 1000 epochs, batch 512, ResNet-18, "
        "rotation-conditioned)"
    )
    contextssl = (
        "3DIEBench, ContextSSL paper (ResNet-18; 128 px per its code default; its own probes)"
    )
    base_frame = (
        "3DIEBench-T (rotation + translation), 256 px, ResNet-18; "
        "translation R^2 = base (final) frame"
    )
    assert rows[(sie_protocol, "EquiCaps")]["top1"] == "83.24"
    assert rows[(sie_protocol, "CapsIE")]["rotation_r2"] == "0.74"
    seq_jepa = rows[(seq_jepa_track, "SIE")]
    assert (seq_jepa["top1"], seq_jepa["rotation_r2"], seq_jepa["mrr"]) == (
        "77.49",
        "0.58",
        "0.319",
    )
    assert seq_jepa["r2_definition"] == "per-output-average"
    best = rows[(seq_jepa_track, "seq-JEPA (M_tr=3, M_val=5)")]
    assert (best["top1"], best["rotation_r2"]) == ("87.41", "0.71")
    context = rows[(contextssl, "ContextSSL, rotation context")]
    assert (context["top1"], context["rotation_r2"], context["colour_r2"]) == (
        "80.4",
        "0.744",
        "0.023",
    )
    assert (context["mrr"], context["h@1"], context["h@5"]) == ("0.402", "0.292", "0.568")
    assert context["r2_definition"] == "global-mean"
    colour = rows[(contextssl, "ContextSSL, colour context")]
    assert (colour["rotation_r2"], colour["colour_r2"]) == ("0.344", "0.986")
    base = rows[(base_frame, "EquiCaps (optimised for rotation and base-frame translation)")]
    assert (base["top1"], base["rotation_r2"], base["translation_r2"]) == ("77.88", "0.71", "0.91")
    with open(REPO_BOARD / "reported.csv", newline="") as handle:
        every = list(csv.DictReader(handle))
    assert len(every) == 44
    assert all(r["source"] and r["r2_definition"] and r["venue"] for r in every)


TINY_ENCODER = """\
import torch
from torch import nn
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="tiny-conv", embedding_dim=8, resolution=32)


def build_encoder(checkpoint):
    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(3, 8, 5, stride=2)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.2)
        conv.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
"""


def test_results_of_a_real_evaluation_are_accepted(rendered_tree, tmp_path, monkeypatch):
    encoder = tmp_path / "tiny_conv.py"
    encoder.write_text(textwrap.dedent(TINY_ENCODER))
    config = EvalConfig(
        data=rendered_tree,
        protocol="quick",
        cache_dir=tmp_path / "cache",
        device="cpu",
        workers=0,
        progress=False,
    )
    path = tmp_path / "results.json"
    write_results(evaluate(encoder, config), path)
    board = new_board(tmp_path)
    monkeypatch.chdir(tmp_path)  # the encoder file is found and its hash checked
    accepted = submit(path, board)
    assert accepted.notes == []
    assert accepted.entry.track.protocol == "quick" and accepted.entry.track.resolution == 32
    build(board)
    assert "tiny-conv" in (board / "README.md").read_text()
    assert (
        json.loads((board / "results" / accepted.entry.path).read_text())["encoder"]["name"]
        == "tiny-conv"
    )
    shutil.rmtree(board / "results" / accepted.entry.track.slug)
    with pytest.raises(IebenchError, match="recorded in SHA256SUMS but missing"):
        build(board)


def test_the_committed_board_passes_every_check_and_rebuilds_byte_for_byte():
    """Its files pass every check (task versions recorded), and the pages built from them in
    place (its checkpoints found in this repository) are the committed ones."""
    state = load_board(REPO_BOARD)
    assert state.problems == [] and len(state.entries) == 30
    assert all("task_versions" in e.data["protocol"] for e in state.entries)
    generated, _ = pages(REPO_BOARD)
    for name, content in generated.items():
        assert content == (REPO_BOARD / name).read_bytes(), name


def test_a_results_file_from_before_task_versions_is_accepted_and_built(tmp_path):
    """The committed board held such files until its rows were regenerated: they count as
    UNRECORDED_TASK_VERSIONS and pass every check; their files are not found here."""
    board = new_board(tmp_path)
    accepted = submit(OLD_RESULTS, board, base=tmp_path)
    assert "task_versions" not in accepted.entry.data["protocol"]
    assert any("not found here" in note for note in accepted.notes)
    build(board)
    assert "| sie equi=45 | 83.44 | 0.664 |" in (board / "README.md").read_text()
