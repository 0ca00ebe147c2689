"""The benchmark harness: `evaluate(encoder, config) -> Results` (docs/protocol.md sections 5-6)."""

from iebench.evaluation.config import PROTOCOLS, EvalConfig, ProbeSettings
from iebench.evaluation.run import evaluate

__all__ = ["PROTOCOLS", "EvalConfig", "ProbeSettings", "evaluate"]
