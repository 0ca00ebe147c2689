"""Objects as Ray tasks (extra `distributed`): each actor holds one Blender scene (the render
worker of `iebench.render.worker`) and renders object after object, exactly as a local pool
worker does, so files, resume and failure accounting are the local pool's. A task lost with
its actor or node is retried on a restarted actor; an object that keeps killing its actor, or
runs past its time, fails alone."""

from __future__ import annotations

import io
import json
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from iebench.core.errors import IebenchError
from iebench.rendering.pool import ObjectJob, ObjectResult, OnView, job_message, record

try:
    import ray
    from ray.exceptions import RayError
except ImportError:
    raise IebenchError("--ray: Ray is not installed; pip install 'iebench[distributed]'") from None

LOCAL = "local"  # --ray without an address: start a Ray instance on this machine
# Attempts after the first for a task whose actor died (a lost node, a crashing object).
TASK_RETRIES = 2
# Ray runs its workers at nice 15: renders would yield to anything else on the node.
ACTOR_ENV = {"env_vars": {"RAY_worker_niceness": "0"}}


class _RenderActor:
    """One render worker (scene built once); `render` returns the worker's messages."""

    def __init__(self, init: dict) -> None:
        from iebench.render.worker import Worker

        self.channel = io.StringIO()
        self.worker = Worker(init, self.channel)

    def blender(self) -> dict:
        return self.worker.blender()

    def render(self, job: dict) -> list[dict]:
        self.channel.seek(0)
        self.channel.truncate()
        self.worker.render_object(job)
        return [json.loads(line) for line in self.channel.getvalue().splitlines()]


_RemoteActor = ray.remote(max_restarts=-1, max_task_retries=TASK_RETRIES)(_RenderActor)


@dataclass
class _Actor:
    handle: ray.actor.ActorHandle
    objects: int = 0


def connect(address: str, cpus: int) -> bool:
    """Join the Ray cluster at ``address`` (or start a local instance with ``cpus`` CPUs for
    ``LOCAL``) unless this process already has one; whether it was started here."""
    if ray.is_initialized():
        return False
    options = {"log_to_driver": False, "include_dashboard": False}
    try:
        if address == LOCAL:
            ray.init(address="local", num_cpus=cpus, **options)
        else:
            _check_reachable(address)
            ray.init(address=address, **options)
    except (OSError, ValueError, RuntimeError) as error:
        raise IebenchError(f"--ray {address}: cannot connect to Ray ({error})") from None
    return True


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself keeps retrying for minutes)."""
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        socket.create_connection((host, int(port)), timeout=timeout).close()


class RayPool:
    """Runs object jobs on ``workers`` Ray actors, yielding results as they finish (the
    interface of `WorkerPool`). Each actor reserves ``cpus_per_worker`` CPUs of the cluster."""

    def __init__(
        self,
        init: dict,
        workers: int,
        timeout: float,
        recycle_after: int,
        on_view: OnView = lambda job, message: None,
        address: str = LOCAL,
        cpus_per_worker: int = 1,
    ) -> None:
        self.init = init
        self.size = workers
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.on_view = on_view
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.blender: dict | None = None

    def run(self, jobs: list[ObjectJob]) -> Iterator[ObjectResult]:
        if not jobs:
            return
        started_here = connect(self.address, self.size * self.cpus_per_worker)
        idle = [self._start_actor() for _ in range(min(self.size, len(jobs)))]
        pending = deque(jobs)
        running: dict[ray.ObjectRef, tuple[_Actor, ObjectJob, float]] = {}
        try:
            while pending or running:
                while pending and idle:
                    actor, job = idle.pop(), pending.popleft()
                    ref = actor.handle.render.remote(job_message(job))
                    running[ref] = (actor, job, time.monotonic() + self._allowed(job))
                ready, _ = ray.wait(list(running), num_returns=1, timeout=self._wait(running))
                for ref in ready:
                    actor, job, _ = running.pop(ref)
                    result, actor = self._collect(ref, actor, job)
                    idle.append(actor)
                    yield result
                now = time.monotonic()
                for ref in [r for r, (_, _, deadline) in running.items() if deadline <= now]:
                    actor, job, _ = running.pop(ref)
                    ray.kill(actor.handle, no_restart=True)
                    idle.append(self._start_actor())
                    reason = f"not done in {self._allowed(job):g} s; actor killed"
                    yield ObjectResult(job, ok=False, stage="timeout", reason=reason)
        finally:
            for actor, _, _ in running.values():
                ray.kill(actor.handle, no_restart=True)
            for actor in idle:
                ray.kill(actor.handle, no_restart=True)
            if started_here:
                ray.shutdown()

    def _allowed(self, job: ObjectJob) -> float:
        """The local pool allows ``timeout`` without progress; a task reports only at its end."""
        return self.timeout * (len(job.views) + 1)

    @staticmethod
    def _wait(running: dict) -> float:
        return max(0.0, min(deadline for _, _, deadline in running.values()) - time.monotonic())

    def _start_actor(self) -> _Actor:
        options = {"num_cpus": self.cpus_per_worker, "runtime_env": ACTOR_ENV}
        handle = _RemoteActor.options(**options).remote(self.init)
        try:
            # The scene is built here: a failure is fatal for the run, as in the local pool.
            blender = ray.get(handle.blender.remote())
        except RayError as error:
            ray.kill(handle, no_restart=True)
            # The message ends with the exception the scene raised.
            raise IebenchError(f"render worker (Ray actor): {_line(error, -1)}") from None
        self.blender = self.blender or blender
        return _Actor(handle)

    def _collect(
        self, ref: ray.ObjectRef, actor: _Actor, job: ObjectJob
    ) -> tuple[ObjectResult, _Actor]:
        """The object's result, and the actor to use next (a fresh one after a crash or when
        this one has rendered ``recycle_after`` objects)."""
        result = ObjectResult(job, ok=False)
        try:
            messages = ray.get(ref)
        except RayError as error:
            result.stage = "crash"
            result.reason = f"Ray actor died {TASK_RETRIES + 1} times: {_line(error, 0)}"
            ray.kill(actor.handle, no_restart=True)
            return result, self._start_actor()
        for message in messages:
            record(result, message, self.on_view)
        actor.objects += 1
        if actor.objects >= self.recycle_after:
            ray.kill(actor.handle, no_restart=True)
            actor = self._start_actor()
        return result, actor


def _line(error: Exception, which: int) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[which] if lines else type(error).__name__
