"""The scene as plain data, below both rendering/ (the orchestration) and render/ (Blender):
the per-view scene description and fixed stage (description.py), the render presets
(presets.py) and the checks of a model before Blender reads it (meshcheck.py). No Blender,
no torch."""
