"""Render speed and quality: images/s and PSNR/SSIM of the stored JPEGs against a high-sample
render of the same views, for the presets, the default's sample-count curve, a few alternative
settings, and a naive pipeline that rebuilds the Blender scene for every view.

    python benchmarks/render.py --views 6 --resolution 256 --truth-samples 2048

Views are fixed: view 0 of the first object of each of the first N built-in categories.
All settings render every view in turn (interleaved), so that a changing machine load weighs
on each alike. Ground-truth renders are cached under --out.
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
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from iebench.objects import builtin_objects
from iebench.objects.shapenet import discover
from iebench.render.scene import BlenderScene
from iebench.rendering.presets import PRESETS, RenderSettings
from iebench.rendering.scene import STAGE, describe_view
from iebench.rendering.views import render_seed
from iebench.spec.factors import FactorSpec, sample_view

SEED = 0
# The naive pipelines: default settings, but a fresh scene and model load for every view,
# in the same process or (adding the measured `import bpy`) in a fresh process per view.
NAIVE = "naive (scene per view)"
NAIVE_PROCESS = "naive (process per view)"


def candidates(resolution: int) -> dict[str, RenderSettings]:
    """The presets at the benchmark's resolution, the default's sample-count curve, and the
    alternatives tried for it (the last rows)."""
    presets = {name: replace(settings, resolution=resolution) for name, settings in PRESETS.items()}
    default = presets["default"]
    curve = {f"default-{n}spp": replace(default, samples=n) for n in (4, 8, 16, 24, 32)}
    fast = replace(default, samples=16, denoiser_quality="FAST", denoiser_prefilter="NONE")
    return (
        presets
        | curve
        | {
            "16spp-oidn-fast-noprefilter": fast,
            "default-bluenoise": replace(default, sampling_pattern="BLUE_NOISE"),
            "default-lighttree": replace(default, light_tree=True),
            "default-bounces2": replace(default, diffuse_bounces=2, max_bounces=2),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=6)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--truth-samples", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--only", nargs="*", help="settings to measure (default: all)")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "iebench-render-bench"
    )
    args = parser.parse_args()

    settings = candidates(args.resolution)
    if args.only:
        keep = ["reference", "default", *args.only]
        settings = {name: settings[name] for name in keep if name in settings}
    truth = RenderSettings(
        resolution=args.resolution, samples=args.truth_samples, adaptive_threshold=None
    )
    truth_key = hashlib.sha256(json.dumps(truth.to_dict()).encode()).hexdigest()[:12]
    args.out.mkdir(parents=True, exist_ok=True)
    found = discover(builtin_objects(per_class=1)).objects[: args.views]
    spec = FactorSpec.published()
    names = [*settings, NAIVE]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    quality: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    scratch = args.out / "scratch.png"

    def measure(name: str, scene: BlenderScene, setting: RenderSettings, extra: float) -> None:
        scene.configure(setting, threads=args.threads)
        started = time.perf_counter()
        scene.render_view(description, seed, scratch)
        pixels = jpeg_pixels(scratch, setting.jpeg_quality)
        seconds[name].append(time.perf_counter() - started + extra)
        quality[name].append((psnr(pixels, target), ssim(pixels, target)))

    for item in found:
        latent = sample_view(spec, SEED, item.synset, item.object_id, 0)
        description = describe_view(latent, spec)
        seed = render_seed(SEED, item.synset, item.object_id, 0)
        # The naive pipeline builds its own scene; the other settings then reuse it.
        started = time.perf_counter()
        scene = BlenderScene(settings["default"], STAGE, threads=args.threads)
        scene.load_model(item.mesh)
        setup = time.perf_counter() - started
        truth_png = args.out / f"truth-{truth_key}-{item.synset}-{item.object_id}.png"
        if not truth_png.is_file():
            scene.configure(truth, threads=args.threads)
            started = time.perf_counter()
            scene.render_view(description, seed, truth_png)
            print(f"truth {item.key}: {time.perf_counter() - started:.1f} s", flush=True)
        with Image.open(truth_png) as image:
            target = np.asarray(image.convert("RGB"), dtype=np.float64)
        measure(NAIVE, scene, settings["default"], setup)
        for name, setting in settings.items():
            # Each view pays a share of its object's mesh loading, as in a 50-view run.
            measure(name, scene, setting, setup / 50)
        print(f"{item.key}: done", flush=True)
    scratch.unlink(missing_ok=True)
    startup = bpy_import_seconds()
    names.append(NAIVE_PROCESS)
    seconds[NAIVE_PROCESS] = [s + startup for s in seconds[NAIVE]]
    quality[NAIVE_PROCESS] = quality[NAIVE]

    reference = np.mean(seconds["reference"])
    reference_psnr = np.mean([q[0] for q in quality["reference"]])
    print(
        f"\n{len(found)} views of built-in objects, {args.resolution} px, "
        f"truth = {args.truth_samples} samples + OIDN; JPEG quality 95\n"
    )
    header = f"{'setting':<28}{'s/image':>9}{'images/s':>10}{'x ref':>8}{'PSNR dB':>9}"
    print(header + f"{'d PSNR':>8}{'SSIM':>8}")
    for name in names:
        time_per_image = np.mean(seconds[name])
        mean_psnr = np.mean([q[0] for q in quality[name]])
        mean_ssim = np.mean([q[1] for q in quality[name]])
        print(
            f"{name:<28}{time_per_image:>9.3f}{1 / time_per_image:>10.2f}"
            f"{reference / time_per_image:>8.2f}{mean_psnr:>9.2f}"
            f"{mean_psnr - reference_psnr:>8.2f}{mean_ssim:>8.4f}"
        )
    default = np.mean(seconds["default"])
    for naive in (NAIVE, NAIVE_PROCESS):
        ratio = np.mean(seconds[naive]) / default
        print(f"default vs {naive} (same settings): {ratio:.2f}x the throughput")
    print(f"importing bpy (a fresh process) takes {startup:.2f} s")


if __name__ == "__main__":
    main()
