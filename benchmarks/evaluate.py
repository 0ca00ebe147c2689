"""iebench's evaluation protocol against the straightforward one, on the same tree and encoder.

    python benchmarks/evaluate.py                # renders (once) a small tree, then measures
    python benchmarks/evaluate.py --data TREE    # any 3DIEBench tree (published or rendered)

Straightforward (what the reference scripts do): every probe epoch loads its images
and runs the frozen backbone on them again - one view per object for classification,
two for rotation and two for colour - then takes the probe's Adam steps.
iebench: runs the backbone once over every view (the feature cache), then trains
the same probes (same settings, same epochs) on cached features. Both use
iebench's image loader and one torch thread, so the ratio isolates the protocol.
Besides the measured ratio, the script projects the ratio of the reference protocol
(300 epochs) on the published dataset's proportions (50 views per object) from the
per-image and per-epoch costs it measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from iebench.data.dataset import PairsDataset, ViewsDataset
from iebench.data.preprocess import Normalize
from iebench.data.torch_seeding import torch_generator
from iebench.data.tree import TreeIndex
from iebench.evaluation import PROTOCOLS, EvalConfig, ProbeSettings, evaluate
from iebench.evaluation.probes import HIDDEN, make_probe
from iebench.evaluation.submission import EncoderMetadata, Submission
from iebench.models.resnet import resnet18
from iebench.protocol.layout import split_files
from iebench.protocol.taxonomy import NUM_CLASSES

REFERENCE_EPOCHS = 300
PUBLISHED_VIEWS = 50
IMAGES_PER_OBJECT_EPOCH = 1 + 2 + 2  # classification, rotation, colour


def benchmark_tree() -> Path:
    """A small tree of the built-in objects, rendered once and reused."""
    from iebench.objects.objectset import cache_dir
    from iebench.rendering import RenderConfig, render_objects

    out = cache_dir().parent / "bench-evaluate-64px"
    if split_files(out, "train").images.is_file():
        return out
    print(f"rendering a benchmark tree of built-in objects into {out} (once) ...")
    config = RenderConfig(
        out=out, views=10, preset="preview", resolution=64, per_class=2, progress=True
    )
    report = render_objects(config)
    if not report.ok:
        raise SystemExit(report.summary())
    return out


def straightforward(
    encoder: torch.nn.Module, index: TreeIndex, resolution: int, probe: ProbeSettings
) -> float:
    """Seconds to train the three probes, running the backbone on every epoch's images."""
    normalise = Normalize()
    datasets = {
        "classification": ViewsDataset(
            index, mode="random", resolution=resolution, transform=normalise
        ),
        "rotation": PairsDataset(index, resolution=resolution, transform=normalise),
        "colour": PairsDataset(
            index, resolution=resolution, transform=normalise, conditioning="colour"
        ),
    }
    dim = encoder.out_dim
    start = time.perf_counter()
    for task, out_dim in (("classification", NUM_CLASSES), ("rotation", 4), ("colour", 2)):
        hidden = () if task == "classification" else HIDDEN
        in_dim = dim if task == "classification" else 2 * dim
        model = make_probe(in_dim, out_dim, hidden, torch_generator(0, task, "init"))
        optimizer = torch.optim.Adam(model.parameters(), lr=probe.lr)
        dataset = datasets[task]
        for epoch in range(probe.epochs):
            dataset.set_epoch(epoch)
            for batch in DataLoader(dataset, batch_size=probe.batch_size, shuffle=True):
                with torch.no_grad():
                    if task == "classification":
                        inputs, targets = encoder(batch.image), batch.label
                    else:
                        inputs = torch.cat([encoder(batch.x_i), encoder(batch.x_j)], 1)
                        targets = batch.rotation if task == "rotation" else batch.conditioning
                loss_fn = F.cross_entropy if task == "classification" else F.mse_loss
                loss = loss_fn(model(inputs), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return time.perf_counter() - start


def probe_step_seconds(dim: int, batch_size: int, steps: int = 20) -> float:
    """Seconds for one Adam step of each of the three probes together, at a full batch."""
    total = 0.0
    for in_dim, out_dim, hidden in (
        (dim, NUM_CLASSES, ()),
        (2 * dim, 4, HIDDEN),
        (2 * dim, 2, HIDDEN),
    ):
        model = make_probe(in_dim, out_dim, hidden, torch_generator(0, "timing"))
        optimizer = torch.optim.Adam(model.parameters())
        inputs, targets = torch.randn(batch_size, in_dim), torch.randn(batch_size, out_dim)
        start = time.perf_counter()
        for _ in range(steps):
            loss = F.mse_loss(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += (time.perf_counter() - start) / steps
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="tree to evaluate on (default: render one)")
    parser.add_argument("--protocol", choices=list(PROTOCOLS), default="quick")
    parser.add_argument("--resolution", type=int, default=64, help="encoder input size")
    args = parser.parse_args()
    torch.set_num_threads(1)

    root = args.data or benchmark_tree()
    train, val = TreeIndex.load(root, "train"), TreeIndex.load(root, "val")
    encoder = resnet18().eval()
    probe = PROTOCOLS[args.protocol]
    print(
        f"tree {root}: {train.num_objects} train / {val.num_objects} val objects x "
        f"{train.views} views; ResNet-18 at {args.resolution} px; protocol {args.protocol} "
        f"({probe.epochs} probe epochs) for both; part 'full'; 1 torch thread"
    )

    baseline = straightforward(encoder, train, args.resolution, probe)
    with tempfile.TemporaryDirectory() as cache:
        config = EvalConfig(
            data=root,
            protocol=args.protocol,
            tasks=("classification", "rotation", "colour"),
            cache_dir=Path(cache),
            device="cpu",
            workers=0,
            progress=False,
        )
        metadata = EncoderMetadata(name="resnet18", embedding_dim=512, resolution=args.resolution)
        timings = evaluate(Submission.from_module(encoder, metadata), config).timings
    images = (train.num_objects + val.num_objects) * train.views
    backbone_images = probe.epochs * train.num_objects * IMAGES_PER_OBJECT_EPOCH
    print(f"straightforward: {baseline:8.2f} s ({backbone_images} backbone images, train only)")
    print(
        f"iebench:         {timings['total_s']:8.2f} s (extraction {timings['extraction_s']:.2f} s "
        f"of {images} images, train and val; probes {timings['probes_s']:.2f} s, val scored)"
    )
    print(f"measured ratio:  {baseline / timings['total_s']:8.1f}x")

    # Per training object of the published dataset (50 views), reference protocol: the
    # backbone cost measured above, probe steps at a full batch (tiny trees never fill one).
    per_image = timings["extraction_s"] / images
    per_object_epoch = probe_step_seconds(encoder.out_dim, probe.batch_size) / probe.batch_size
    straight = REFERENCE_EPOCHS * (IMAGES_PER_OBJECT_EPOCH * per_image + per_object_epoch)
    cached = PUBLISHED_VIEWS * per_image + REFERENCE_EPOCHS * per_object_epoch
    print(
        f"projected ratio, {REFERENCE_EPOCHS} epochs and {PUBLISHED_VIEWS} views per object: "
        f"{straight / cached:.1f}x (backbone {per_image * 1e3:.1f} ms/image, the 3 probes "
        f"{per_object_epoch * 1e6:.0f} us per object and epoch)"
    )


if __name__ == "__main__":
    main()
