"""A long-lived render worker: `python -m iebench.render.worker`, driven by
`iebench.rendering.pool` over JSON lines.

It turns scene descriptions into JPEGs and nothing else: the parent plans every view
(latent, scene, Cycles seed, paths) and writes latents and checksum records itself.

stdin (one JSON object a line):
    {"op": "init", "settings": {...}, "stage": {...}, "device": "cpu", "threads": 0,
     "max_faces": N, "parent_pid": P}
    {"op": "object", "mesh": "...", "scratch": "...",
     "views": [{"view": 3, "scene": {...}, "seed": S, "image": "..."}, ...]}
stdout (the original fd 1; Blender's own output goes to stderr):
    {"event": "ready", "blender": "5.0.1", "build": "...", "device": "CPU"}
    {"event": "fatal", "reason": "..."}                    the scene could not be built
    {"event": "view", "view": 3, "image": {"size": N, "sha256": "..."}}   one JPEG written
    {"event": "done", "ok": true, "stage": null, "reason": null, "warnings": [...]}
The worker exits at the end of its input.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TextIO

from PIL import Image

from iebench.core.io import write_bytes_atomic
from iebench.protocol.checksums import digest_of
from iebench.scene.description import SceneDescription, Stage
from iebench.scene.meshcheck import MeshError, check_obj
from iebench.scene.presets import RenderSettings


def _die_with_parent(parent: int) -> None:
    """Linux: get SIGKILL when the parent dies, so a killed run leaves no orphan rendering."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class Worker:
    def __init__(self, init: dict, channel: TextIO) -> None:
        from iebench.render.scene import BlenderScene

        self.channel = channel
        self.settings = RenderSettings.from_dict(init["settings"])
        self.stage = Stage(**{k: _tuples(v) for k, v in init["stage"].items()})
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
        """Render the listed views of one object: each scene to ``scratch``, then its JPEG."""
        stage = "model"
        scratch = Path(job["scratch"])
        scratch.parent.mkdir(parents=True, exist_ok=True)
        try:
            check_obj(Path(job["mesh"]), self.max_faces)
            warnings = self.scene.load_model(Path(job["mesh"]))
            stage = "render"
            for view in job["views"]:
                scene = {name: _tuples(value) for name, value in view["scene"].items()}
                description = SceneDescription(**scene, stage=self.stage)
                self.scene.render_view(description, int(view["seed"]), scratch)
                with Image.open(scratch) as picture:
                    jpeg = io.BytesIO()
                    picture.convert("RGB").save(jpeg, "JPEG", quality=self.settings.jpeg_quality)
                write_bytes_atomic(Path(view["image"]), jpeg.getvalue())
                self.send(event="view", view=view["view"], image=digest_of(jpeg.getvalue()))
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
    # Keep the protocol on the real stdout; everything Blender prints goes to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lines = iter(sys.stdin.readline, "")
    init = json.loads(next(lines))
    _die_with_parent(int(init["parent_pid"]))
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
