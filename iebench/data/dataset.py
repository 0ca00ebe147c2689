"""PyTorch datasets over a 3DIEBench tree, published or rendered by iebench.

    index = TreeIndex.load(root, "train")   # objects, labels, latents (objects, views, 7|10)
    views = ViewsDataset(root, "train", mode="all" | "random", resolution=256)
    pairs = PairsDataset(root, "train", rotation="quaternion" | "euler", canonical=False,
                         conditioning=None | "colour" | "all", resolution=256)

Items are NamedTuples, batched field by field by DataLoader's default collate:

    View(image, label, latent, object_index, view)
    Pair(x_i, x_j, label, rotation, conditioning, latent_i, latent_j, object_index, view_i, view_j)

    image, x_i, x_j   transform(HxWx3 uint8 at ``resolution``); by default the reference
                      normalisation -> (3, R, R) float32 (``transforms.to_uint8_tensor``: uint8)
    label             int64 class label (taxonomy order)
    latent*           (7,) or (10,) float32: the view's row of all_latents_<split>.npy
    rotation          R_i^-1 R_j, float32: (4,) quaternion (x, y, z, w), sign as scipy gives it
                      unless ``canonical`` (then w >= 0), or (3,) Euler angles (extrinsic "xyz")
    conditioning      float32 latent_j - latent_i, no wrap-around: indices (3, 6) for "colour"
                      (floor hue, light hue), 3..6 for "all"; shape (0,) when None
    object_index, view, view_i, view_j   int64

A ViewsDataset in mode "all" has objects * views items (object-major); in mode
"random" and for PairsDataset, one item per object. Random draws (the view, the
two distinct views i != j) come from a generator derived from (seed, epoch,
object index) only, so they are the same with any number of DataLoader workers
and in any DDP process. Each epoch, either call ``dataset.set_epoch(epoch)``
before iterating (with the DataLoader default ``persistent_workers=False``, so
workers get the new epoch), or use ``EpochSampler``: its items carry the epoch
into the workers and it shards the objects across DDP ranks.

Images come from the pack written by `iebench pack` when one matches the split
and resolution (``pack=None``: look in ``<root>/packed``; a path: require it
there; False: never), else from the JPEGs (see iebench.data.imageio).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, Sampler

from iebench.core.errors import IebenchError
from iebench.core.seeding import stream_generator
from iebench.data.imageio import read_image
from iebench.data.pack import PackedImages, find_pack
from iebench.data.preprocess import DEFAULT_RESOLUTION, Normalize
from iebench.data.tree import TreeIndex
from iebench.protocol.factors import (
    FLOOR_HUE,
    SPOT_HUE,
    SPOT_PHI,
    SPOT_THETA,
    matrix_to_euler,
    relative_quaternion,
    relative_rotation,
)

__all__ = [
    "EpochSampler",
    "Pair",
    "PairsDataset",
    "TreeIndex",
    "View",
    "ViewsDataset",
]

# Latent indices whose deltas condition a pair (docs/protocol.md section 3).
CONDITIONING_FACTORS: dict[str | None, tuple[int, ...]] = {
    None: (),
    "colour": (FLOOR_HUE, SPOT_HUE),
    "all": (FLOOR_HUE, SPOT_THETA, SPOT_PHI, SPOT_HUE),
}
# Separate random streams, so that no two purposes ever share a generator.
_VIEW_STREAM, _PAIR_STREAM, _SHUFFLE_STREAM = 1, 2, 3

Transform = Callable[[np.ndarray], torch.Tensor]
Item = int | tuple[int, int]  # an index, or (epoch, index) from EpochSampler


class View(NamedTuple):
    image: torch.Tensor
    label: torch.Tensor
    latent: torch.Tensor
    object_index: torch.Tensor
    view: torch.Tensor


class Pair(NamedTuple):
    x_i: torch.Tensor
    x_j: torch.Tensor
    label: torch.Tensor
    rotation: torch.Tensor
    conditioning: torch.Tensor
    latent_i: torch.Tensor
    latent_j: torch.Tensor
    object_index: torch.Tensor
    view_i: torch.Tensor
    view_j: torch.Tensor


def draw_generator(seed: int, stream: int, epoch: int, object_index: int) -> np.random.Generator:
    """The generator of one object's draws in one epoch; a seed of 0 is a seed."""
    return stream_generator(seed, stream, epoch, object_index)


class _TreeDataset(Dataset):
    """What both datasets share: the index, the image source, epochs and the transform."""

    def __init__(
        self,
        root: str | Path | TreeIndex,
        split: str,
        resolution: int,
        transform: Transform | None,
        seed: int,
        pack: Path | str | bool | None,
        dct_scaling: bool,
        check_files: bool,
    ) -> None:
        if seed < 0:
            raise IebenchError(f"seed must be >= 0, got {seed}")
        self.index = root if isinstance(root, TreeIndex) else TreeIndex.load(root, split)
        self.resolution = int(resolution)
        self.transform = transform if transform is not None else Normalize()
        self.seed = int(seed)
        self.epoch = 0
        self.dct_scaling = dct_scaling
        self.pack: PackedImages | None = None
        if pack is not False:
            directory = None if pack in (None, True) else Path(pack)
            self.pack = find_pack(self.index, self.resolution, directory, required=bool(pack))
        if self.pack is None and check_files:
            self.index.check_images()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _epoch_and_index(self, item: Item) -> tuple[int, int]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return int(epoch), int(index)

    def _image(self, k: int, view: int) -> torch.Tensor:
        if self.pack is not None:
            image = np.array(self.pack[k, view])  # a writable copy, as decoding gives
        else:
            image = read_image(self.index.image_path(k, view), self.resolution, self.dct_scaling)
        return self.transform(image)

    def _latent(self, k: int, view: int) -> torch.Tensor:
        return torch.from_numpy(self.index.latents[k, view].astype(np.float32))


class ViewsDataset(_TreeDataset):
    """Single views with label and latent: every view (``mode="all"``) or one random view
    per object per epoch (``mode="random"``). ``split`` is ignored when given an index."""

    def __init__(
        self,
        root: str | Path | TreeIndex,
        split: str = "train",
        *,
        mode: Literal["all", "random"] = "all",
        resolution: int = DEFAULT_RESOLUTION,
        transform: Transform | None = None,
        seed: int = 0,
        pack: Path | str | bool | None = None,
        dct_scaling: bool = False,
        check_files: bool = True,
    ) -> None:
        if mode not in ("all", "random"):
            raise IebenchError(f"unknown views mode {mode!r}; choose 'all' or 'random'")
        self.mode = mode
        super().__init__(root, split, resolution, transform, seed, pack, dct_scaling, check_files)

    def __len__(self) -> int:
        per_object = self.index.views if self.mode == "all" else 1
        return self.index.num_objects * per_object

    def locate(self, item: Item) -> tuple[int, int]:
        """(object index, view) that ``item`` reads."""
        epoch, index = self._epoch_and_index(item)
        if self.mode == "all":
            return divmod(index, self.index.views)
        view = draw_generator(self.seed, _VIEW_STREAM, epoch, index).integers(self.index.views)
        return index, int(view)

    def __getitem__(self, item: Item) -> View:
        k, view = self.locate(item)
        return View(
            image=self._image(k, view),
            label=torch.tensor(self.index.labels[k]),
            latent=self._latent(k, view),
            object_index=torch.tensor(k),
            view=torch.tensor(view),
        )


class PairsDataset(_TreeDataset):
    """Two distinct random views of each object per epoch with their relative rotation
    (docs/protocol.md section 3). ``split`` is ignored when given an index."""

    def __init__(
        self,
        root: str | Path | TreeIndex,
        split: str = "train",
        *,
        rotation: Literal["quaternion", "euler"] = "quaternion",
        canonical: bool = False,
        conditioning: Literal["colour", "all"] | None = None,
        resolution: int = DEFAULT_RESOLUTION,
        transform: Transform | None = None,
        seed: int = 0,
        pack: Path | str | bool | None = None,
        dct_scaling: bool = False,
        check_files: bool = True,
    ) -> None:
        if rotation not in ("quaternion", "euler"):
            raise IebenchError(f"unknown rotation form {rotation!r}; choose quaternion or euler")
        if conditioning not in CONDITIONING_FACTORS:
            raise IebenchError(f"unknown conditioning {conditioning!r}; choose colour or all")
        self.rotation = rotation
        self.canonical = canonical
        self.conditioning_factors = list(CONDITIONING_FACTORS[conditioning])
        super().__init__(root, split, resolution, transform, seed, pack, dct_scaling, check_files)
        if self.index.views < 2 and self.index.num_objects:
            raise IebenchError(f"{self.index.root}: pairs need at least 2 views per object")

    def __len__(self) -> int:
        return self.index.num_objects

    def locate(self, item: Item) -> tuple[int, int, int]:
        """(object index, view i, view j) that ``item`` reads; i != j."""
        epoch, k = self._epoch_and_index(item)
        rng = draw_generator(self.seed, _PAIR_STREAM, epoch, k)
        i = int(rng.integers(self.index.views))
        j = int(rng.integers(self.index.views - 1))
        return k, i, j + (j >= i)

    def relative(self, latent_i: np.ndarray, latent_j: np.ndarray) -> np.ndarray:
        """R_i^-1 R_j in this dataset's form, from two latents (float64)."""
        if self.rotation == "euler":
            return matrix_to_euler(relative_rotation(latent_i[:3], latent_j[:3]))
        return relative_quaternion(latent_i[:3], latent_j[:3], canonical=self.canonical)

    def __getitem__(self, item: Item) -> Pair:
        k, i, j = self.locate(item)
        latent_i, latent_j = self.index.latents[k, i], self.index.latents[k, j]
        delta = latent_j[self.conditioning_factors] - latent_i[self.conditioning_factors]
        return Pair(
            x_i=self._image(k, i),
            x_j=self._image(k, j),
            label=torch.tensor(self.index.labels[k]),
            rotation=torch.from_numpy(self.relative(latent_i, latent_j).astype(np.float32)),
            conditioning=torch.from_numpy(delta.astype(np.float32)),
            latent_i=self._latent(k, i),
            latent_j=self._latent(k, j),
            object_index=torch.tensor(k),
            view_i=torch.tensor(i),
            view_j=torch.tensor(j),
        )


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` items: this rank's share of a dataset, reshuffled per epoch.

    Like DistributedSampler (pads with repeats so every rank gets the same count,
    unless ``drop_last``), but the epoch travels with each index, so datasets draw
    the same pairs whatever the workers (persistent or not) and ranks. Call
    ``set_epoch`` each epoch. ``rank``/``world_size`` default to torch.distributed's.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        self.world_size = world_size or (dist.get_world_size() if distributed else 1)
        self.rank = rank if rank is not None else (dist.get_rank() if distributed else 0)
        if not 0 <= self.rank < self.world_size:
            raise IebenchError(f"rank {self.rank} outside 0..{self.world_size - 1}")
        self.size = len(dataset)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.size // self.world_size
        return math.ceil(self.size / self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.arange(self.size)
        if self.shuffle:
            order = draw_generator(self.seed, _SHUFFLE_STREAM, self.epoch, 0).permutation(order)
        total = len(self) * self.world_size
        if total > self.size:
            order = np.resize(order, total)  # repeats from the start, as DistributedSampler
        for index in order[self.rank : total : self.world_size]:
            yield self.epoch, int(index)
