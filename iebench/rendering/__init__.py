"""Rendering 3DIEBench: configuration, presets and the render pipeline (no Blender import;
the Blender side is `iebench.render`, run in worker processes)."""

from iebench.rendering.config import RenderConfig, parse_shard
from iebench.rendering.run import Failure, RenderReport, render_objects
from iebench.scene.presets import PRESETS, RenderSettings, preset_settings

__all__ = [
    "PRESETS",
    "Failure",
    "RenderConfig",
    "RenderReport",
    "RenderSettings",
    "parse_shard",
    "preset_settings",
    "render_objects",
]
