"""Training pairs per second: the straightforward loader against iebench's, on the same tree.

    python benchmarks/loader.py                 # renders (once) a small 256 px tree, then measures
    python benchmarks/loader.py --data TREE     # any 3DIEBench tree (published or rendered)

The baseline is what the reference scripts do per view: PIL open + convert("RGB"),
resize (bilinear), to tensor, normalise, plus the scipy relative quaternion. Every
loader runs single-process (num_workers=0, one torch thread) so the figures are
per core; loaders are measured in alternation, best of --rounds, to damp noise
from other processes. The ratio is against the baseline measured in this run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from iebench.data.dataset import PairsDataset
from iebench.data.pack import pack_split
from iebench.data.preprocess import MEAN, STD, to_uint8_tensor
from iebench.data.tree import TreeIndex
from iebench.protocol.factors import relative_quaternion
from iebench.protocol.layout import split_files


class StraightforwardPairs(Dataset):
    """The reference scripts' way: PIL per file, torchvision-style transforms, NumPy RNG."""

    def __init__(self, index: TreeIndex, resolution: int) -> None:
        self.index = index
        self.resolution = resolution
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return self.index.num_objects

    def load(self, path: Path) -> torch.Tensor:
        with open(path, "rb") as handle:
            image = Image.open(handle).convert("RGB")
        image = image.resize((self.resolution, self.resolution), Image.BILINEAR)
        tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()
        return tensor.float().div(255).sub(self.mean).div(self.std)

    def __getitem__(self, k: int):
        i, j = self.rng.choice(self.index.views, 2, replace=False)
        latents = self.index.latents[k]
        rotation = relative_quaternion(latents[i, :3], latents[j, :3]).astype(np.float32)
        x_i = self.load(self.index.image_path(k, i))
        x_j = self.load(self.index.image_path(k, j))
        return x_i, x_j, torch.from_numpy(rotation), int(self.index.labels[k])


def pairs_per_second(dataset: Dataset, seconds: float, batch_size: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    pairs, start = 0, time.perf_counter()
    epoch = 0
    while time.perf_counter() - start < seconds:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        for batch in loader:
            pairs += len(batch[0])
        epoch += 1
    return pairs / (time.perf_counter() - start)


def benchmark_tree(resolution: int) -> Path:
    """A small tree of the built-in objects at ``resolution``, rendered once and reused."""
    from iebench.objects.objectset import cache_dir
    from iebench.rendering import RenderConfig, render_objects

    out = cache_dir().parent / f"bench-loader-{resolution}px"
    if split_files(out, "train").images.is_file():
        return out
    print(f"rendering a benchmark tree of built-in objects into {out} (once) ...")
    config = RenderConfig(
        out=out, views=10, preset="preview", resolution=resolution, per_class=2, progress=True
    )
    report = render_objects(config)
    if not report.ok:
        raise SystemExit(report.summary())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="tree to read (default: render a small one)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--resolution", type=int, default=256, help="loader output size")
    parser.add_argument("--seconds", type=float, default=4.0, help="per loader and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)

    root = args.data or benchmark_tree(256)
    index = TreeIndex.load(root, args.split)
    first = np.asarray(Image.open(index.image_path(0, 0)))
    print(
        f"tree {root} ({args.split}): {index.num_objects} objects x {index.views} views, "
        f"images {first.shape[1]}x{first.shape[0]}, output {args.resolution} px"
    )
    with tempfile.TemporaryDirectory() as pack_dir:
        start = time.perf_counter()
        pack_split(index, args.resolution, Path(pack_dir))
        pack_seconds = time.perf_counter() - start
        r = args.resolution
        loaders = {
            "straightforward (PIL open+convert+resize, torch normalise)": StraightforwardPairs(
                index, r
            ),
            "iebench, JPEG (simplejpeg + fused normalise)": PairsDataset(
                index, resolution=r, pack=False
            ),
            "iebench, packed cache (memory map)": PairsDataset(index, resolution=r, pack=pack_dir),
            "iebench, packed cache, uint8 out (normalise on GPU)": PairsDataset(
                index, resolution=r, pack=pack_dir, transform=to_uint8_tensor
            ),
        }
        if r < min(first.shape[:2]):
            loaders["iebench, JPEG with DCT scaling (opt-in)"] = PairsDataset(
                index, resolution=r, pack=False, dct_scaling=True
            )
        best = dict.fromkeys(loaders, 0.0)
        for _ in range(args.rounds):
            for name, dataset in loaders.items():
                rate = pairs_per_second(dataset, args.seconds, args.batch_size)
                best[name] = max(best[name], rate)
    baseline = best[next(iter(loaders))]
    print(f"packing {index.num_objects * index.views} views took {pack_seconds:.2f} s")
    print(f"{'loader':<58} {'pairs/s':>9} {'x baseline':>11}")
    for name, rate in best.items():
        print(f"{name:<58} {rate:>9.0f} {rate / baseline:>10.2f}x")


if __name__ == "__main__":
    main()
