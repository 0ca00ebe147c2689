"""3DIEBench-mini, the CPU-sized track, in one place (docs/mini-track.md).

Read by ``benchmarks/sie_vs_vicreg.py --track mini`` (the whole track, 5 seeds) and by
``iebench demo`` (a smaller pilot of it). What a pair's two views differ by is only the
rotation about the vertical axis (the ``pose-only`` factors), so rotation R^2 measures
pose and nothing else; the 4 categories have no symmetry that hides their pose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

# Built-in categories whose pose has no symmetry to hide it (bottles, tables and lamps do).
POSED_CATEGORIES = ("airplane", "car", "chair", "watercraft")


@dataclass(frozen=True)
class TrackSettings:
    """What a named track renders (objects, factors, views, resolution) and how its
    reference methods train (backbone, projector, epochs, batch, loss weights)."""

    name: str
    per_class: int
    categories: tuple[str, ...] = POSED_CATEGORIES
    views: int = 12
    resolution: int = 64
    factors: str = "pose-only"
    width: int = 16
    layers: tuple[int, ...] = (2, 2, 2, 2)
    projector: tuple[int, ...] = (64, 64, 64)
    epochs: int = 300
    batch_size: int = 32
    # Loss weights beyond a method's defaults. At this budget the paper's SIE weights never
    # give SIE's backbone pose (its predictor then ignores the rotation); a 10x heavier
    # equivariance term does.
    weights: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {"sie": {"equi": 45.0}}
    )
    # Training seeds per method: a paired interval over fewer convinces no reviewer.
    seeds: int = 5
    # Dataset seeds (the built-in objects' and the render's). Every setting above was chosen
    # on the tuning tree; the verdict and the board's rows come from the verdict tree, on
    # which nothing was chosen.
    tuning_seed: int = 0
    verdict_seed: int = 1

    @property
    def display_name(self) -> str:
        """The dataset's name on boards: its objects are procedural (iebench.objects), not
        ShapeNet's, so the name must not read as a subset of 3DIEBench."""
        return f"{self.name} (procedural objects, {self.factors} factors, {self.resolution} px)"


# 400 objects x 12 views at 64 px: a run takes about 8 min on one core (two at a time on 2
# cores); SIE, VICReg, SimCLR and the bound over 5 seeds took 87 min (docs/mini-track.md).
MINI = TrackSettings(name="3DIEBench-mini", per_class=100)
# The demo's pilot of it: 160 objects, one seed, half the residual blocks (iebench.demo).
MINI_PILOT = replace(MINI, name="3DIEBench-mini pilot", per_class=40, layers=(1, 1, 1, 1), seeds=1)
