"""Render presets (and candidate settings) against `reference`: seconds per image and image
quality (PSNR, SSIM) of the stored JPEGs against a high-sample render of the same views.

    python benchmarks/render_quality.py --views 6 --resolution 256 --truth-samples 1024

Views are fixed: view 0 of the first object of each of the first N built-in categories.
All settings render every view in turn (interleaved), so that a changing machine load
weighs on each alike. Ground-truth renders are cached under --out.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from iebench.blender.scene import BlenderScene
from iebench.factors import FactorSpec, sample_view
from iebench.objects import builtin_objects
from iebench.rendering.presets import PRESETS, RenderSettings
from iebench.rendering.views import render_seed
from iebench.scene import STAGE, describe_view
from iebench.shapenet import discover

SEED = 0


def candidates(resolution: int) -> dict[str, RenderSettings]:
    """The presets at the benchmark's resolution, the default's sample-count curve, and the
    alternatives tried for it (the last rows)."""
    presets = {name: replace(settings, resolution=resolution) for name, settings in PRESETS.items()}
    default = presets["default"]
    curve = {f"default-{n}spp": replace(default, samples=n) for n in (8, 16, 24, 32)}
    fast = replace(default, samples=16, denoiser_quality="FAST", denoiser_prefilter="NONE")
    return (
        presets
        | curve
        | {
            "16spp-oidn-fast-noprefilter": fast,
            "32spp-oidn-fast-noprefilter": replace(fast, samples=32),
            "default-lighttree": replace(default, light_tree=True),
            "default-bounces2": replace(default, diffuse_bounces=2, max_bounces=2),
            "default-bounces1": replace(default, diffuse_bounces=1, max_bounces=1),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=6)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--truth-samples", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--only", nargs="*", help="settings to measure (default: all)")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "iebench-render-quality"
    )
    args = parser.parse_args()

    settings = candidates(args.resolution)
    if args.only:
        settings = {name: settings[name] for name in ["reference", *args.only] if name in settings}
    truth = RenderSettings(
        resolution=args.resolution, samples=args.truth_samples, adaptive_threshold=None
    )
    truth_key = hashlib.sha256(json.dumps(truth.to_dict()).encode()).hexdigest()[:12]
    args.out.mkdir(parents=True, exist_ok=True)
    found = discover(builtin_objects(per_class=1)).objects[: args.views]
    spec = FactorSpec.published()
    scene = BlenderScene(truth, STAGE, threads=args.threads)
    seconds = {name: [] for name in settings}
    quality = {name: [] for name in settings}
    scratch = args.out / "scratch.png"
    for item in found:
        latent = sample_view(spec, SEED, item.synset, item.object_id, 0)
        description = describe_view(latent, spec)
        seed = render_seed(SEED, item.synset, item.object_id, 0)
        started = time.perf_counter()
        scene.load_model(item.mesh)
        load = time.perf_counter() - started
        truth_png = args.out / f"truth-{truth_key}-{item.synset}-{item.object_id}.png"
        if not truth_png.is_file():
            scene.configure(truth, threads=args.threads)
            started = time.perf_counter()
            scene.render_view(description, seed, truth_png)
            print(f"truth {item.key}: {time.perf_counter() - started:.1f} s", flush=True)
        with Image.open(truth_png) as image:
            target = np.asarray(image.convert("RGB"), dtype=np.float64)
        for name, setting in settings.items():
            scene.configure(setting, threads=args.threads)
            started = time.perf_counter()
            scene.render_view(description, seed, scratch)
            pixels = jpeg_pixels(scratch, setting.jpeg_quality)
            # Each view pays a share of its object's mesh loading, as in a 50-view run.
            seconds[name].append(time.perf_counter() - started + load / 50)
            quality[name].append((psnr(pixels, target), ssim(pixels, target)))
        print(f"{item.key}: done", flush=True)
    scratch.unlink(missing_ok=True)

    reference = np.mean(seconds["reference"])
    reference_psnr = np.mean([q[0] for q in quality["reference"]])
    print(
        f"\n{len(found)} views of built-in objects, {args.resolution} px, "
        f"truth = {args.truth_samples} samples + OIDN; JPEG quality 95\n"
    )
    print(f"{'setting':<28}{'s/image':>9}{'x ref':>8}{'PSNR dB':>9}{'d PSNR':>8}{'SSIM':>8}")
    for name in settings:
        time_per_image = np.mean(seconds[name])
        mean_psnr = np.mean([q[0] for q in quality[name]])
        mean_ssim = np.mean([q[1] for q in quality[name]])
        print(
            f"{name:<28}{time_per_image:>9.3f}{reference / time_per_image:>8.2f}"
            f"{mean_psnr:>9.2f}{mean_psnr - reference_psnr:>8.2f}{mean_ssim:>8.4f}"
        )


if __name__ == "__main__":
    main()
