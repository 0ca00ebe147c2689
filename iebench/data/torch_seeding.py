"""Torch generators from the seeds of `iebench.core.seeding` (the one derivation, which stays
torch-free): here, the lowest room that uses torch, below every user (data, evaluation,
methods, training, studies)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from iebench.core.seeding import KeyPart, check_seed, stream_int, torch_seed


def torch_generator(seed: int, *key: KeyPart) -> torch.Generator:
    """A CPU torch generator for ``key`` under ``seed`` (`torch_seed`)."""
    return torch.Generator().manual_seed(torch_seed(seed, *key))


def torch_stream_generator(seed: int, *stream: int) -> torch.Generator:
    """A CPU torch generator for an integer stream, e.g. (rank, step)."""
    return torch.Generator().manual_seed(stream_int(seed, *stream))


@contextlib.contextmanager
def seeded_global_state(seed: int) -> Iterator[None]:
    """Run a block with the global generators of torch, numpy and ``random`` seeded with
    ``seed``, restoring them afterwards (CUDA's are seeded, not restored: saving them would
    open a context on every GPU): for code outside iebench that draws from global state,
    e.g. a submission's ``build_encoder`` initialising layers."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_seed(seed))
        random.seed(seed)
        np.random.seed(seed)  # noqa: NPY002 - the global state is what such code reads
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
