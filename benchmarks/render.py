"""Render speed and quality: images/s and PSNR/SSIM of the stored JPEGs against a high-sample
render of the same views, for the presets, the default's sample-count curve, a few alternative
settings, and a naive pipeline that rebuilds the Blender scene for every view.

    python benchmarks/render.py --views 6 --resolution 256 --truth-samples 2048
    python benchmarks/render.py --objects ~/.cache/iebench/real-objects --no-naive --and-builtin

Views are fixed: view 0 of the first object of each of the first N built-in categories, or
the first views of every object of a ShapeNet-layout tree (--objects; benchmarks/
real_objects.py rebuilds the real-object set). All settings render every view in turn
(interleaved), so that a changing machine load weighs on each alike. Ground-truth renders
are cached under --out, keyed by the truth settings, object and view. The last lines give
the pixel mean and std per channel of the default's images beside the published
normalisation constants (docs/protocol.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from iebench.core.errors import IebenchError
from iebench.data.preprocess import MEAN, STD
from iebench.objects import builtin_objects
from iebench.objects.shapenet import ShapeNetObject, discover
from iebench.protocol.factors import FactorSpec, sample_view
from iebench.render.scene import BlenderScene
from iebench.rendering.views import render_seed
from iebench.scene.description import STAGE, describe_view
from iebench.scene.presets import PRESETS, RenderSettings

SEED = 0
# The naive pipelines: default settings, but a fresh scene and model load for every view,
# in the same process or (adding the measured `import bpy`) in a fresh process per view.
NAIVE = "naive (scene per view)"
NAIVE_PROCESS = "naive (process per view)"


def candidates(resolution: int) -> dict[str, RenderSettings]:
    """The presets at the benchmark's resolution, the default's sample-count curve, and the
    alternatives tried for it: Cycles 5.0's CPU options (the last rows)."""
    presets = {name: replace(settings, resolution=resolution) for name, settings in PRESETS.items()}
    default = presets["default"]
    curve = {f"default-{n}spp": replace(default, samples=n) for n in (4, 8, 16, 24, 32)}
    # The default until the real-object measurements: 12 plain samples.
    previous = replace(default, samples=12, adaptive_threshold=None, adaptive_min_samples=0)
    accurate = replace(previous, denoiser_prefilter="ACCURATE")
    balanced = replace(previous, denoiser_quality="BALANCED")

    def adaptive(
        most: int, least: int, threshold: float, base: RenderSettings = accurate
    ) -> RenderSettings:
        return replace(base, samples=most, adaptive_min_samples=least, adaptive_threshold=threshold)

    return (
        presets
        | curve
        | {
            "previous-default-12spp": previous,
            "16spp-oidn-fast-noprefilter": replace(
                previous, samples=16, denoiser_quality="FAST", denoiser_prefilter="NONE"
            ),
            "default-bluenoise": replace(default, sampling_pattern="BLUE_NOISE"),
            "default-lighttree": replace(default, light_tree=True),
            "default-bounces2": replace(default, diffuse_bounces=2, max_bounces=2),
            "accurate-12spp": accurate,
            "accurate-16spp": replace(accurate, samples=16),
            "accurate-20spp": replace(accurate, samples=20),
            "accurate-24spp": replace(accurate, samples=24),
            "adaptive-8..32-t0.05": adaptive(32, 8, 0.05),
            "adaptive-8..48-t0.05": adaptive(48, 8, 0.05),
            "adaptive-12..64-t0.1": adaptive(64, 12, 0.1),
            "fast-adaptive-4..24-t0.1": adaptive(24, 4, 0.1, previous),
            "fast-adaptive-8..24-t0.05": adaptive(24, 8, 0.05, previous),
            "fast-adaptive-6..32-t0.06": adaptive(32, 6, 0.06, previous),
            "fast-adaptive-8..40-t0.04": adaptive(40, 8, 0.04, previous),
            "fast-adaptive-8..48-t0.03": adaptive(48, 8, 0.03, previous),
            "fast-adaptive-8..64-t0.02": adaptive(64, 8, 0.02, previous),
            "fast-adaptive-12..64-t0.03": adaptive(64, 12, 0.03, previous),
            "noprefilter-adaptive-8..32-t0.05": replace(default, denoiser_prefilter="NONE"),
            "balanced-adaptive-8..64-t0.02": adaptive(64, 8, 0.02, balanced),
            "balanced-adaptive-12..96-t0.02": adaptive(96, 12, 0.02, balanced),
            "default-guiding": replace(default, path_guiding=True),
            "default-albedo-only": replace(default, denoiser_passes="RGB_ALBEDO"),
            "default-tex512": replace(default, texture_limit="512"),
            "accurate-16spp-clamp1": replace(accurate, samples=16, clamp_indirect=1.0),
            "accurate-16spp-lighttree": replace(accurate, samples=16, light_tree=True),
        }
    )


def jpeg_pixels(png: Path, quality: int) -> np.ndarray:
    """The pixels as stored: the render encoded as the worker does, then decoded."""
    buffer = io.BytesIO()
    with Image.open(png) as image:
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over channels, Gaussian window (sigma 1.5), as in Wang et al. 2004."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for channel in range(a.shape[-1]):
        x, y = a[..., channel], b[..., channel]
        mx, my = gaussian_filter(x, 1.5), gaussian_filter(y, 1.5)
        vx = gaussian_filter(x * x, 1.5) - mx * mx
        vy = gaussian_filter(y * y, 1.5) - my * my
        cxy = gaussian_filter(x * y, 1.5) - mx * my
        num = (2 * mx * my + c1) * (2 * cxy + c2)
        scores.append(np.mean(num / ((mx * mx + my * my + c1) * (vx + vy + c2))))
    return float(np.mean(scores))


def bpy_import_seconds() -> float:
    """What a fresh process per view would add on top of the naive pipeline: importing bpy."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import bpy"], check=True, capture_output=True)
    return time.perf_counter() - started


def benchmark_views(args: argparse.Namespace) -> list[tuple[ShapeNetObject, int]]:
    """(object, view index) pairs: view 0 of the first object of each of the first N built-in
    categories, or the first --views-per-object views of every object under --objects."""
    if args.objects is None:
        return [(item, 0) for item in discover(builtin_objects(per_class=1)).objects[: args.views]]
    found = discover(args.objects)
    if not found.objects:
        raise IebenchError(f"{args.objects}: no ShapeNet objects ({found.summary()})")
    return [(item, view) for item in found.objects for view in range(args.views_per_object)]


def print_table(
    names: list[str],
    seconds: dict[str, list[float]],
    quality: dict[str, list[tuple[float, float]]],
) -> None:
    """Mean and worst view of PSNR (and its loss against the reference, view by view) and
    SSIM, seconds per image and throughput against the reference."""
    reference = np.mean(seconds["reference"])
    reference_psnr = np.array([q[0] for q in quality["reference"]])
    header = f"{'setting':<34}{'s/image':>9}{'x ref':>7}{'PSNR':>7}{'dPSNR':>7}"
    print(header + f"{'worst':>7}{'SSIM':>8}{'worst':>8}")
    for name in names:
        time_per_image = np.mean(seconds[name])
        view_psnr = np.array([q[0] for q in quality[name]])
        view_ssim = np.array([q[1] for q in quality[name]])
        loss = view_psnr - reference_psnr
        print(
            f"{name:<34}{time_per_image:>9.3f}{reference / time_per_image:>7.2f}"
            f"{view_psnr.mean():>7.2f}{loss.mean():>7.2f}{loss.min():>7.2f}"
            f"{view_ssim.mean():>8.4f}{view_ssim.min():>8.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=6, help="built-in set: views (objects)")
    parser.add_argument("--objects", type=Path, help="a ShapeNet-layout tree to measure on")
    parser.add_argument("--views-per-object", type=int, default=1, help="with --objects")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--truth-samples", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--only", nargs="*", help="settings to measure (default: all)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive pipelines")
    parser.add_argument(
        "--and-builtin", action="store_true", help="with --objects: the built-in set's table too"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "iebench-render-bench"
    )
    args = parser.parse_args()
    try:
        run(args)
        if args.objects is not None and args.and_builtin:
            run(argparse.Namespace(**{**vars(args), "objects": None}))
    except IebenchError as error:
        raise SystemExit(f"error: {error}") from None


def run(args: argparse.Namespace) -> None:
    settings = candidates(args.resolution)
    if args.only:
        unknown = [name for name in args.only if name not in settings]
        if unknown:
            raise IebenchError(f"unknown settings {', '.join(unknown)}; see candidates()")
        keep = ["reference", "default", *args.only]
        settings = {name: settings[name] for name in dict.fromkeys(keep)}
    truth = RenderSettings(
        resolution=args.resolution, samples=args.truth_samples, adaptive_threshold=None
    )
    args.out.mkdir(parents=True, exist_ok=True)
    views = benchmark_views(args)
    spec = FactorSpec.published()
    names = [*settings, *([] if args.no_naive else [NAIVE])]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    quality: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    # Pixel sums of the default's stored images, for the mean and std per channel.
    default_sums = np.zeros((3, 3))
    scratch = args.out / "scratch.png"

    def measure(name: str, scene: BlenderScene, setting: RenderSettings, extra: float) -> None:
        scene.configure(setting, threads=args.threads)
        started = time.perf_counter()
        scene.render_view(description, seed, scratch)
        pixels = jpeg_pixels(scratch, setting.jpeg_quality)
        seconds[name].append(time.perf_counter() - started + extra)
        quality[name].append((psnr(pixels, target), ssim(pixels, target)))
        if name == "default":
            flat = pixels.reshape(-1, 3) / 255
            default_sums[:] += [[len(flat)] * 3, flat.sum(axis=0), (flat**2).sum(axis=0)]

    scene, loaded = None, None
    for item, view in views:
        latent = sample_view(spec, SEED, item.synset, item.object_id, view)
        description = describe_view(latent, spec)
        seed = render_seed(SEED, item.synset, item.object_id, view)
        # The naive pipeline builds its own scene; the other settings then reuse it.
        started = time.perf_counter()
        if not args.no_naive or scene is None:
            scene = BlenderScene(settings["default"], STAGE, threads=args.threads)
            loaded = None
        if loaded != item:
            scene.load_model(item.mesh)
            loaded = item
        setup = time.perf_counter() - started
        # Ground truth is cached by the truth settings, the object (its mesh bytes) and view.
        key = json.dumps([truth.to_dict(), item.key, view, SEED]).encode()
        key += hashlib.sha256(item.mesh.read_bytes()).digest()
        truth_png = args.out / f"truth-{hashlib.sha256(key).hexdigest()[:16]}.png"
        if not truth_png.is_file():
            scene.configure(truth, threads=args.threads)
            started = time.perf_counter()
            scene.render_view(description, seed, scratch)
            scratch.replace(truth_png)
            print(
                f"truth {item.key} view {view}: {time.perf_counter() - started:.1f} s", flush=True
            )
        with Image.open(truth_png) as image:
            target = np.asarray(image.convert("RGB"), dtype=np.float64)
        if not args.no_naive:
            measure(NAIVE, scene, settings["default"], setup)
        for name, setting in settings.items():
            # Each view pays a share of its object's mesh loading, as in a 50-view run.
            measure(name, scene, setting, setup / 50)
        print(f"{item.key} view {view}: done", flush=True)
    scratch.unlink(missing_ok=True)
    if not args.no_naive:
        startup = bpy_import_seconds()
        names.append(NAIVE_PROCESS)
        seconds[NAIVE_PROCESS] = [s + startup for s in seconds[NAIVE]]
        quality[NAIVE_PROCESS] = quality[NAIVE]

    source = "built-in objects" if args.objects is None else str(args.objects)
    objects = len({item.key for item, _ in views})
    print(
        f"\n{len(views)} views of {objects} objects ({source}), {args.resolution} px, "
        f"truth = {args.truth_samples} samples + OIDN; stored JPEG quality 95; "
        "dPSNR = PSNR minus the reference's, view by view (mean, worst)\n"
    )
    print_table(names, seconds, quality)
    if not args.no_naive:
        default = np.mean(seconds["default"])
        for naive in (NAIVE, NAIVE_PROCESS):
            ratio = np.mean(seconds[naive]) / default
            print(f"default vs {naive} (same settings): {ratio:.2f}x the throughput")
        print(f"importing bpy (a fresh process) takes {startup:.2f} s")
    count, total, squares = default_sums
    mean = total / count
    std = np.sqrt(squares / count - mean**2)
    print("\npixels of the default's stored images, per channel (R, G, B):")
    print(f"  mean {fmt(mean)}   published normalisation MEAN {fmt(MEAN)}")
    print(f"  std  {fmt(std)}   published normalisation STD  {fmt(STD)}")


def fmt(values: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


if __name__ == "__main__":
    main()
