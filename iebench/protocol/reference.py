"""Reference levels: what each score is when the representation carries no information.

A score means something only above its floor (docs/protocol.md, section 5):

classification  chance top-1 / top-5 of a guess uniform over the classes the probe is
                trained on, scored on the validation labels (percent);
rotation, colour  R^2 of the constant predictor that outputs the training targets' mean
                (not 0: R^2 pools all outputs around one global mean, so getting each
                output's own mean right already scores, e.g. 0.22-0.24 for rotation on
                built-in trees; computed by ``iebench.evaluation.metrics.constant_r2``,
                with the harness's one R^2);
equivariance    chance MRR and H@k of ranking the true view among the V views of its
                object: mean(1/k for k in 1..V) and k / V.

H@k with k >= V is 1 whatever the model does, so tables leave it out
(``iebench.protocol.results.shown_metrics``). The levels are computed when a run is
evaluated and stored in its results file (``reference``), so the board prints them
without recomputing; the board checks them against these figures
(``reference_problems``), since it cannot recompute them. Torch-free, like the rest of
``iebench.protocol``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from iebench.protocol.results import hits_k, shown_metrics
from iebench.protocol.tasks import metric_range
from iebench.protocol.taxonomy import NUM_CLASSES

_TOLERANCE = 1e-9  # the levels are written as computed: only float rounding differs


def chance_classification(train_labels: np.ndarray, val_labels: np.ndarray) -> dict[str, float]:
    """Chance top-1 / top-5 (percent) of a uniform guess over the training classes."""
    classes = np.unique(np.asarray(train_labels))
    known = float(np.isin(np.asarray(val_labels), classes).mean())  # guessable val labels
    return {f"top{k}": 100.0 * known * min(k, len(classes)) / len(classes) for k in (1, 5)}


def chance_retrieval(views: int) -> dict[str, float]:
    """Chance MRR and H@k (k < views) of ranking one true view among ``views`` candidates."""
    levels = {"mrr": float(np.mean(1.0 / np.arange(1, views + 1)))}
    for metric in shown_metrics("equivariance", views):
        if hits_k(metric) is not None:
            levels[metric] = hits_k(metric) / views
    return levels


def _chance_classification_fits(top1: float, top5: float, val_objects: int) -> bool:
    """Whether some class count C (1..55) and count k of guessable validation objects
    (1..val_objects) give these chance levels: top-1 = 100 k / (val_objects C) and top-5 =
    min(5, C) x top-1."""
    for classes in range(1, NUM_CLASSES + 1):
        guessable = top1 * classes * val_objects / 100.0
        if (
            math.isclose(top5, top1 * min(5, classes), rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
            and 1 <= round(guessable) <= val_objects
            and math.isclose(guessable, round(guessable), abs_tol=1e-6)
        ):
            return True
    return False


def reference_problems(
    reference: dict[str, dict[str, Any]], views: int, val_objects: int
) -> list[str]:
    """How schema-valid reference levels differ from what the figures above give for a
    dataset of ``views`` views per object and ``val_objects`` validation objects, one line
    each (empty when they agree)."""
    problems = []
    for task, levels in reference.items():
        for metric, level in levels.items():
            low, high = metric_range(task, metric)
            if not low <= level <= high:
                problems.append(f"reference.{task}.{metric}: {level} outside [{low}, {high}]")
    classification = reference.get("classification", {})
    if {"top1", "top5"} <= set(classification) and not _chance_classification_fits(
        classification["top1"], classification["top5"], val_objects
    ):
        problems.append(
            f"reference.classification {classification}: not the chance levels of 1-"
            f"{NUM_CLASSES} classes on {val_objects} validation objects"
        )
    if "equivariance" in reference:
        chance = chance_retrieval(views)
        for metric, level in reference["equivariance"].items():
            if metric not in chance:
                problems.append(
                    f"reference.equivariance.{metric}: no chance level for {views} views"
                )
            elif not math.isclose(level, chance[metric], rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
                problems.append(
                    f"reference.equivariance.{metric}: {level}, not the chance level "
                    f"{chance[metric]} of {views} views"
                )
    return problems
