"""The one registry of evaluation tasks and their metrics (no torch).

The harness reads it to decide what to run, the results schema to check what was
scored, and the leaderboard to check ranges and to sort columns. A task's
``version`` changes whenever its numbers would change for the same features
(new tie rule, new sampling), so results of different versions are never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from iebench.protocol.factors import COLOUR_FACTORS, ROTATION, TRANSLATION

# The probe protocols a results file may name: the reference one and a quick one (fewer
# epochs); their settings are the harness's (iebench.evaluation.config.PROTOCOLS).
PROTOCOL_NAMES = ("reference", "quick")
PARTS = ("full", "invariant", "equivariant")  # representation parts a probe may read
PREDICTOR_PART = "predictor"  # scores of the model's own predictor (no probe): val-val
# The predictor's other modes, as the official scripts report them: train-train, and PRE of
# the val predictions against train + val targets.
PREDICTOR_TRAIN_PART = "predictor-train-train"
PREDICTOR_VAL_ALL_PART = "predictor-val-all"


@dataclass(frozen=True)
class Metric:
    name: str
    low: float  # inclusive bounds of a mean
    high: float
    higher_is_better: bool = True
    digits: int = 3  # decimals shown
    # Added after results files were published: a file may lack it (older runs).
    optional: bool = False


@dataclass(frozen=True)
class Task:
    name: str
    metrics: tuple[Metric, ...]
    parts: tuple[str, ...]
    # (part, metric names) for parts scored on only some of the metrics; others score all.
    partial_parts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    needs_predictor: bool = False  # scored with the submission's build_predictor
    required_on_board: bool = False  # every board track ranks on it, if the dataset varies it
    # The latent columns the task's targets come from: a dataset whose factor spec fixes
    # them all (colour on a pose-only tree) gives the task nothing to predict.
    factors: tuple[int, ...] = ()
    version: int = 1

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def trains_probe(self) -> bool:
        return not self.needs_predictor

    def metrics_of(self, part: str) -> tuple[str, ...]:
        """The metric names a part of this task is scored on."""
        return dict(self.partial_parts).get(part, self.metric_names)

    def required_metrics_of(self, part: str) -> tuple[str, ...]:
        """The metrics of ``part`` that every results file scores (the optional ones aside)."""
        return tuple(m for m in self.metrics_of(part) if not self.metric(m).optional)

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    @property
    def main_metric(self) -> Metric:
        """The metric that sums the task up: its first."""
        return self.metrics[0]


_PERCENT = {"low": 0.0, "high": 100.0, "digits": 2}
_FRACTION = {"low": 0.0, "high": 1.0}
# R^2 has no natural lower bound (a bad probe goes below 0); a probe trained on these
# targets never predicts ten times their spread, and a board needs finite axes.
_R2 = Metric("r2", -10.0, 1.0)
# The same targets under sklearn's definition (the mean of per-output R^2, seq-JEPA's): the
# constant predictor scores ~0 rather than ~0.23. Never ranked or plotted with ``r2``. An
# output of small spread can go far below 0 on its own, hence the wider floor.
_R2_PER_OUTPUT = Metric("r2_per_output", -100.0, 1.0, optional=True)
_R2S = (_R2, _R2_PER_OUTPUT)
_ROTATION_FACTORS = tuple(range(ROTATION.start, ROTATION.stop))
_TRANSLATION_FACTORS = tuple(range(TRANSLATION.start, TRANSLATION.stop))

TASK_REGISTRY: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "classification",
            (Metric("top1", **_PERCENT), Metric("top5", **_PERCENT)),
            PARTS,
            required_on_board=True,
            version=2,  # 2: top-k expected over ties (1: ties favoured the true label)
        ),
        Task("rotation", _R2S, PARTS, required_on_board=True, factors=_ROTATION_FACTORS),
        Task("colour", _R2S, PARTS, required_on_board=True, factors=COLOUR_FACTORS),
        # 3DIEBench-T's (EquiCaps): the relative translation in the object frame (t_j - t_i)
        # and in the base frame (R_j t_j - R_i t_i); run only on trees whose latents have it.
        Task("translation", _R2S, PARTS, factors=_TRANSLATION_FACTORS),
        Task("translation-base", _R2S, PARTS, factors=_ROTATION_FACTORS + _TRANSLATION_FACTORS),
        Task(
            "equivariance",
            (
                *(Metric(name, **_FRACTION) for name in ("mrr", "h@1", "h@2", "h@5", "h@10")),
                Metric("pre", **_FRACTION, higher_is_better=False),
            ),
            (PREDICTOR_PART, PREDICTOR_TRAIN_PART, PREDICTOR_VAL_ALL_PART),
            partial_parts=((PREDICTOR_VAL_ALL_PART, ("pre",)),),
            needs_predictor=True,
            factors=_ROTATION_FACTORS,
            version=2,  # 2: expected over ties, train-train and val-all (1: val-val, ties won)
        ),
    )
}
TASKS = tuple(TASK_REGISTRY)
TASK_METRICS: dict[str, tuple[str, ...]] = {t.name: t.metric_names for t in TASK_REGISTRY.values()}
PROBE_TASKS = tuple(t.name for t in TASK_REGISTRY.values() if t.trains_probe)
REQUIRED_TASKS = tuple(t.name for t in TASK_REGISTRY.values() if t.required_on_board)
# (lower, higher): the first can never exceed the second (H@k grows with k; MRR >= H@1).
METRIC_ORDER = (("top1", "top5"), ("h@1", "h@2"), ("h@2", "h@5"), ("h@5", "h@10"), ("h@1", "mrr"))


# The board ranks a track by these tasks' main scores on the whole representation, in this
# order (then by name); the demo prints the same two.
RANKING_PART = "full"
RANKING = tuple(
    (task, RANKING_PART, TASK_REGISTRY[task].main_metric.name)
    for task in ("classification", "rotation")
)


def metric_range(task: str, metric: str) -> tuple[float, float]:
    found = TASK_REGISTRY[task].metric(metric)
    return found.low, found.high
