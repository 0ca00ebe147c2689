"""A pool of long-lived Blender worker processes (`iebench.render.worker`), one object per
job. A worker that crashes fails only its object; one that goes silent for longer than
the timeout is killed and replaced; each is recycled after a number of objects so that
a slow leak in Blender cannot grow without bound."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.rendering.views import ViewPlan

WORKER_MODULE = "iebench.render.worker"
# Importing bpy and building the scene; not counted against an object's timeout.
STARTUP_TIMEOUT = 300.0


@dataclass(frozen=True, eq=False)
class ObjectJob:
    synset: str
    object_id: str
    mesh: Path
    views: tuple[ViewPlan, ...]  # the views to render (those not complete on disk)
    scratch: Path  # where Blender writes each view before it becomes a JPEG: one per run

    @property
    def key(self) -> str:
        return f"{self.synset}/{self.object_id}"

    def plan(self, view: int) -> ViewPlan:
        return next(plan for plan in self.views if plan.view == view)


OnView = Callable[[ObjectJob, dict], None]  # (job, the worker's "view" message)


@dataclass
class ObjectResult:
    job: ObjectJob
    ok: bool
    stage: str | None = None  # where it failed: model, render, crash, timeout
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    rendered: int = 0  # views written


def record(result: ObjectResult, message: dict, on_view: OnView) -> bool:
    """Apply a worker's "view" or "done" message to its object's result; whether it is done."""
    if message["event"] == "view":
        result.rendered += 1
        on_view(result.job, message)
        return False
    if message["event"] != "done":
        return False
    result.ok = message["ok"]
    result.stage = message["stage"]
    result.reason = message["reason"]
    result.warnings = message["warnings"]
    return True


class _Worker:
    def __init__(self, init: dict) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.buffer = b""
        self.ready = False
        self.objects = 0
        self.result: ObjectResult | None = None
        self.last_activity = time.monotonic()
        self.send(dict(init, op="init", parent_pid=os.getpid()))

    def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def assign(self, job: ObjectJob) -> None:
        self.result = ObjectResult(job, ok=False)
        self.last_activity = time.monotonic()
        # If it just died, the run loop reads its end of output and fails this job.
        with contextlib.suppress(OSError):
            self.send({"op": "object", **job_message(job)})

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def read_messages(self) -> list[dict] | None:
        """The complete messages now available; None once the worker has exited."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        self.last_activity = time.monotonic()
        return [json.loads(line) for line in lines if line.strip()]

    def deadline(self, timeout: float) -> float:
        return self.last_activity + (timeout if self.ready else STARTUP_TIMEOUT + timeout)

    def log_tail(self, lines: int = 3) -> str:
        self.log.seek(0, 2)
        size = self.log.tell()
        self.log.seek(max(0, size - 4096))
        text = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])

    def stop(self) -> None:
        """Ask to exit at end of input; kill if it does not."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.log.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def job_message(job: ObjectJob) -> dict:
    """The worker's "object" message: the mesh, the scratch file and each view's plan."""
    return {
        "mesh": str(job.mesh),
        "scratch": str(job.scratch),
        "views": [plan.message() for plan in job.views],
    }


class WorkerPool:
    """Runs object jobs on ``workers`` Blender processes, yielding results as they finish.

    ``init`` is the worker's init message (settings, stage, device, threads, max_faces);
    ``on_view(job, message)`` is called for every view written.
    """

    def __init__(
        self,
        init: dict,
        workers: int,
        timeout: float,
        recycle_after: int,
        on_view: OnView = lambda job, message: None,
    ) -> None:
        self.init = init
        self.size = workers
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.on_view = on_view
        self.blender: dict | None = None

    def run(self, jobs: list[ObjectJob]) -> Iterator[ObjectResult]:
        pending = deque(jobs)
        idle: list[_Worker] = []
        busy: list[_Worker] = []
        try:
            while pending or busy:
                while pending and len(busy) < self.size:
                    worker = idle.pop() if idle else _Worker(self.init)
                    if worker.process.poll() is not None:  # died while idle
                        worker.stop()
                        worker = _Worker(self.init)
                    worker.assign(pending.popleft())
                    busy.append(worker)
                now = time.monotonic()
                wait = max(0.0, min(w.deadline(self.timeout) for w in busy) - now)
                readable, _, _ = select.select(busy, [], [], wait)
                for worker in readable:
                    result = self._handle(worker)
                    if result is None:
                        continue
                    busy.remove(worker)
                    yield result
                    if worker.process.poll() is None and worker.objects < self.recycle_after:
                        idle.append(worker)
                    else:
                        worker.stop()
                now = time.monotonic()
                for worker in [w for w in busy if w.deadline(self.timeout) <= now]:
                    busy.remove(worker)
                    worker.kill()
                    worker.log.close()
                    yield self._failed(
                        worker, "timeout", f"no progress for {self.timeout:g} s; worker killed"
                    )
        finally:
            for worker in idle:
                worker.stop()
            for worker in busy:
                worker.kill()
                worker.log.close()

    def _handle(self, worker: _Worker) -> ObjectResult | None:
        """Process what a worker said; its finished result, if the object is done."""
        messages = worker.read_messages()
        if messages is None:
            code = worker.process.wait()
            tail = worker.log_tail()
            worker.process.stdout.close()
            return self._failed(
                worker, "crash", f"worker exited with code {code}" + (f": {tail}" if tail else "")
            )
        for message in messages:
            event = message["event"]
            if event == "fatal":
                raise IebenchError(f"render worker: {message['reason']}")
            result = worker.result
            if event == "ready":
                worker.ready = True
                self.blender = {k: message[k] for k in ("blender", "build", "device")}
            elif record(result, message, self.on_view):
                worker.result = None
                worker.objects += 1
                return result
        return None

    @staticmethod
    def _failed(worker: _Worker, stage: str, reason: str) -> ObjectResult:
        result = worker.result
        result.ok, result.stage, result.reason = False, stage, reason
        return result
