"""Self-supervised methods of the SIE paper, by name: `build_method(name, backbone, spec)`.

Variants share a class and differ in defaults: conditioning (rotation, or
rotation + colour), the share of equivariant backbone dims, and loss weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from torch import nn

from iebench.core.errors import IebenchError
from iebench.methods.augself import SimCLRAugSelf
from iebench.methods.base import Method, MethodSpec, PairBatch
from iebench.methods.care import Care
from iebench.methods.equimod import EquiMod
from iebench.methods.predict_rotation3d import PredictRotation3d
from iebench.methods.predict_transform import PredictTransform
from iebench.methods.sen import SEN
from iebench.methods.sie import SIE, SIEEquivariantOnly
from iebench.methods.simclr import SimCLR
from iebench.methods.vicreg import VICReg

# The action a method is conditioned on, and its size: the relative quaternion,
# optionally followed by the floor-hue and light-hue deltas.
CONDITIONINGS: dict[str, int] = {"rotation": 4, "rotation-colour": 6}


@dataclass(frozen=True)
class MethodInfo:
    name: str
    cls: type[Method]
    description: str
    weight_overrides: Mapping[str, float] = field(default_factory=dict)
    conditioning: str = "rotation"
    equivariant_share: float = 0.0  # default share of backbone dims that are equivariant

    @property
    def weights(self) -> Mapping[str, float]:
        """The default loss weights: the class's, with this variant's overrides."""
        return MappingProxyType({**self.cls.weights, **self.weight_overrides})


METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo("sie", SIE, "SIE: invariant + equivariant halves", equivariant_share=0.5),
        MethodInfo(
            "sie-no-pred-var",
            SIE,
            "SIE without the predictor-variance term",
            weight_overrides={"pred_std": 0.0},
            equivariant_share=0.5,
        ),
        MethodInfo(
            "sie-equi-only",
            SIEEquivariantOnly,
            "SIE with only an equivariant part",
            equivariant_share=1.0,
        ),
        MethodInfo(
            "sie-rot-colour",
            SIE,
            "SIE conditioned on rotation + colour (6-d)",
            conditioning="rotation-colour",
            equivariant_share=0.5,
        ),
        MethodInfo("vicreg", VICReg, "VICReg (invariant)"),
        MethodInfo("simclr", SimCLR, "SimCLR (invariant), InfoNCE over the global batch"),
        MethodInfo("simclr-augself", SimCLRAugSelf, "SimCLR + AugSelf rotation regression"),
        MethodInfo("equimod", EquiMod, "EquiMod: invariant + predicted-equivariant InfoNCE"),
        MethodInfo("sen", SEN, "SEN-like: equivariant branch, linear predictor, InfoNCE"),
        # Equivariance by prediction (docs/protocol.md section 7).
        MethodInfo(
            "predict-transform",
            PredictTransform,
            "E-SSL: predict which of k transformations was applied (+ optional SimCLR)",
        ),
        MethodInfo(
            "predict-rotation3d",
            PredictRotation3d,
            "regress the pair's relative 3D rotation from features (+ optional SimCLR)",
        ),
        MethodInfo("care", Care, "CARE: InfoNCE + Gram-matrix equivariance term"),
    )
}


def method_info(name: str) -> MethodInfo:
    if name not in METHODS:
        raise IebenchError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]


def build_method(name: str, backbone: nn.Module, spec: MethodSpec) -> Method:
    """The method ``name`` around ``backbone``; ``spec.weights`` must name exactly its terms."""
    info = method_info(name)
    if set(spec.weights) != set(info.weights):
        raise IebenchError(
            f"method {name}: loss weights {sorted(spec.weights)} do not match its terms "
            f"{sorted(info.weights)}"
        )
    return info.cls(backbone, spec)


__all__ = [
    "CONDITIONINGS",
    "METHODS",
    "Method",
    "MethodInfo",
    "MethodSpec",
    "PairBatch",
    "build_method",
    "method_info",
]
