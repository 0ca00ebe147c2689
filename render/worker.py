"""A long-lived render worker: `python -m iebench.render.worker`, driven by
`iebench.rendering.pool` over JSON lines.

stdin (one JSON object a line):
    {"op": "init", "settings": {...}, "stage": {...}, "spec": {...}, "seed": 0,
     "out": "...", "device": "cpu", "threads": 0, "max_faces": N}
    {"op": "object", "synset": "...", "object_id": "...", "mesh": "...", "views": [0, 3, 4]}
stdout (the original fd 1; Blender's own output goes to stderr):
    {"event": "ready", "blender": "5.0.1", "build": "...", "device": "CPU"}
    {"event": "fatal", "reason": "..."}                    the scene could not be built
    {"event": "view", "view": 3}                             one view written
    {"event": "done", "ok": true, "stage": null, "reason": null, "warnings": [...]}
The worker exits at the end of its input.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TextIO

from PIL import Image

from iebench.core.io import TEMP_PREFIX, atomic_path
from iebench.rendering.meshcheck import MeshError, check_obj
from iebench.rendering.pool import PARENT_PID_ENV
from iebench.rendering.presets import RenderSettings
from iebench.rendering.scene import Stage, describe_view
from iebench.rendering.views import render_seed, write_latent
from iebench.spec.factors import FactorSpec, sample_view
from iebench.spec.layout import image_path, latent_path, object_dir


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies, so a killed run leaves no orphan rendering."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    parent = os.environ.get(PARENT_PID_ENV)
    if parent and os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(1)


class Worker:
    def __init__(self, init: dict, channel: TextIO) -> None:
        from iebench.render.scene import BlenderScene

        self.channel = channel
        self.settings = RenderSettings.from_dict(init["settings"])
        self.stage = Stage(**{k: _tuples(v) for k, v in init["stage"].items()})
        self.spec = FactorSpec.from_dict(init["spec"])
        self.seed = int(init["seed"])
        self.out = Path(init["out"])
        self.max_faces = int(init["max_faces"])
        self.scene = BlenderScene(self.settings, self.stage, init["device"], int(init["threads"]))

    def send(self, **message) -> None:
        self.channel.write(json.dumps(message) + "\n")
        self.channel.flush()

    def blender(self) -> dict:
        """The Blender version, build and render device, as recorded in the manifest."""
        import bpy

        return {
            "blender": bpy.app.version_string,
            "build": bpy.app.build_hash.decode(),
            "device": self.scene.device,
        }

    def render_object(self, job: dict) -> None:
        """Render the listed views of one object (the parent skips views already complete)."""
        synset, object_id = job["synset"], job["object_id"]
        stage = "model"
        # Named like a temporary file, so a killed run's leftover is cleaned up on resume.
        scratch = object_dir(self.out, synset, object_id) / f"{TEMP_PREFIX}render.png"
        scratch.parent.mkdir(parents=True, exist_ok=True)
        try:
            check_obj(Path(job["mesh"]), self.max_faces)
            warnings = self.scene.load_model(Path(job["mesh"]))
            stage = "render"
            for view in job["views"]:
                latent = sample_view(self.spec, self.seed, synset, object_id, view)
                description = describe_view(latent, self.spec, self.stage)
                seed = render_seed(self.seed, synset, object_id, view)
                self.scene.render_view(description, seed, scratch)
                image = image_path(self.out, synset, object_id, view)
                with Image.open(scratch) as picture, atomic_path(image) as temporary:
                    picture.convert("RGB").save(
                        temporary, "JPEG", quality=self.settings.jpeg_quality
                    )
                # The latent goes last: a view without one is redone on resume.
                write_latent(latent_path(self.out, synset, object_id, view), latent)
                self.send(event="view", view=view)
        except Exception as error:  # any failure fails this object only
            reason = str(error) if isinstance(error, MeshError) else _describe(error)
            self.send(event="done", ok=False, stage=stage, reason=reason, warnings=[])
        else:
            self.send(event="done", ok=True, stage=None, reason=None, warnings=warnings)
        finally:
            self.scene.remove_model()
            scratch.unlink(missing_ok=True)


def _tuples(value):
    return tuple(value) if isinstance(value, list) else value


def _describe(error: Exception) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1]
    message = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    return f"{type(error).__name__}: {message} ({Path(frame.filename).name}:{frame.lineno})"


def main() -> None:
    _die_with_parent()
    # Keep the protocol on the real stdout; everything Blender prints goes to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lines = iter(sys.stdin.readline, "")
    init = json.loads(next(lines))
    try:
        worker = Worker(init, channel)
    except Exception as error:
        channel.write(json.dumps({"event": "fatal", "reason": str(error)}) + "\n")
        channel.flush()
        sys.exit(1)
    worker.send(event="ready", **worker.blender())
    for line in lines:
        message = json.loads(line)
        if message["op"] == "object":
            worker.render_object(message)


if __name__ == "__main__":
    main()
