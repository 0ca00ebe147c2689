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
without recomputing. Torch-free, like the rest of ``iebench.protocol``.
"""

from __future__ import annotations

import numpy as np

from iebench.protocol.results import hits_k, shown_metrics


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
