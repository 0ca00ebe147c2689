"""The one place where a seed and a stable key become random numbers.

Every generator in iebench comes from here, derived from the run's seed and a
key naming what the numbers are for (a view, an object, a probe, an epoch), so
that a stream never depends on what else was drawn, on the process or on the
machine. Keys are hashed with SHA-256, never Python's salted ``hash``. A seed
of 0 is a seed.

Two families, kept apart because their outputs are pinned by tests:
- text keys (``key_digest``, ``numpy_generator``, ``torch_seed``, ``cycles_seed``):
  "/"-joined parts, hashed;
- integer streams (``stream_generator``, ``stream_int``): numpy's SeedSequence over
  ``[seed, *stream]``.
Torch-free: torch generators seeded with ``torch_seed`` and ``stream_int`` are made in
`iebench.data.torch_seeding`.
"""

from __future__ import annotations

import hashlib

import numpy as np

from iebench.core.errors import IebenchError

KeyPart = str | int


def check_seed(seed: int) -> int:
    """``seed`` as an int, refusing negative seeds (SeedSequence cannot take them)."""
    if int(seed) < 0:
        raise IebenchError(f"seed must be >= 0, got {seed}")
    return int(seed)


def key_digest(*key: KeyPart) -> bytes:
    """SHA-256 of the key's parts joined by "/": the same bytes in every process."""
    return hashlib.sha256("/".join(str(part) for part in key).encode()).digest()


def numpy_generator(seed: int, *key: KeyPart) -> np.random.Generator:
    """A numpy generator for ``key`` under ``seed`` (PCG64, 128 bits of the key's hash)."""
    words = np.frombuffer(key_digest(*key)[:16], dtype="<u4").tolist()
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([check_seed(seed), *words])))


def cycles_seed(*key: KeyPart) -> int:
    """A non-negative 31-bit integer for ``key``: what Cycles' ``seed`` setting accepts."""
    return int.from_bytes(key_digest(*key)[:4], "little") & 0x7FFFFFFF


def torch_seed(seed: int, *key: KeyPart) -> int:
    """The seed of the torch generator for ``key`` under ``seed``: 63 bits of the hash of
    seed/key (non-negative, as ``torch.Generator.manual_seed`` takes)."""
    return int.from_bytes(key_digest(check_seed(seed), *key)[:8], "little") >> 1


def stream_sequence(seed: int, *stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([check_seed(seed), *(int(s) for s in stream)])


def stream_generator(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for an integer stream, e.g. (stream id, epoch, object index)."""
    return np.random.Generator(np.random.PCG64(stream_sequence(seed, *stream)))


def stream_int(seed: int, *stream: int) -> int:
    """One 64-bit integer for an integer stream (to seed torch's global generator)."""
    return int(stream_sequence(seed, *stream).generate_state(1, np.uint64)[0])
