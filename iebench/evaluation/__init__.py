"""The benchmark harness: `evaluate(encoder, config) -> Results` (REFERENCE.md section 5)."""

from iebench.evaluation.config import PROTOCOLS, EvalConfig, ProbeSettings
from iebench.evaluation.run import evaluate

__all__ = ["PROTOCOLS", "EvalConfig", "ProbeSettings", "evaluate"]
