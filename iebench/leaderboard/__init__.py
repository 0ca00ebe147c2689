"""The leaderboard: results files checked into tracks, and the pages built from them."""

from iebench.leaderboard.board import BoardState, Entry, load_board, name_dataset
from iebench.leaderboard.build import Built, build, show
from iebench.leaderboard.submit import Accepted, SubmissionRejected, submit
from iebench.leaderboard.track import Track

__all__ = [
    "Accepted",
    "BoardState",
    "Built",
    "Entry",
    "SubmissionRejected",
    "Track",
    "build",
    "load_board",
    "name_dataset",
    "show",
    "submit",
]
