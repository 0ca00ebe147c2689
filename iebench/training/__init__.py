"""Training the SIE paper's methods: `train(TrainConfig(...)) -> TrainResult`."""

from iebench.training.config import TrainConfig
from iebench.training.loop import TrainResult, build_model, train

__all__ = ["TrainConfig", "TrainResult", "build_model", "train"]
