"""Named render settings: `reference` (the published ones), `default` (faster, measured) and
`preview` (tiny, for tests and demos). `benchmarks/render.py` measures them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from iebench.core.errors import IebenchError

ENGINES = ("cycles",)
DENOISER_QUALITIES = ("HIGH", "BALANCED", "FAST")
DENOISER_PREFILTERS = ("NONE", "FAST", "ACCURATE")
DENOISER_PASSES = ("RGB", "RGB_ALBEDO", "RGB_ALBEDO_NORMAL")
SAMPLING_PATTERNS = ("AUTOMATIC", "TABULATED_SOBOL", "BLUE_NOISE")
VIEW_TRANSFORMS = ("Filmic", "Standard", "AgX")
TEXTURE_LIMITS = ("OFF", "128", "256", "512", "1024", "2048", "4096", "8192")


@dataclass(frozen=True)
class RenderSettings:
    """Every renderer setting that can change a pixel. Defaults are the published ones."""

    engine: str = "cycles"
    resolution: int = 256
    samples: int = 100
    adaptive_threshold: float | None = 0.01  # None turns adaptive sampling off
    adaptive_min_samples: int = 0  # samples before adaptive sampling may stop; 0: Cycles picks
    denoise: bool = True
    denoiser_quality: str = "HIGH"
    denoiser_prefilter: str = "ACCURATE"
    denoiser_passes: str = "RGB_ALBEDO_NORMAL"
    sampling_pattern: str = "AUTOMATIC"
    light_tree: bool = False  # Blender 3.3 had none (and BlenderProc turns it off)
    path_guiding: bool = False  # Cycles' CPU path guiding (surface and volume)
    clamp_direct: float = 0.0  # 0: no clamping (Cycles' defaults, as published)
    clamp_indirect: float = 10.0
    texture_limit: str = "OFF"  # largest texture side Cycles renders with
    diffuse_bounces: int = 3
    glossy_bounces: int = 0
    transmission_bounces: int = 0
    transparent_bounces: int = 8
    volume_bounces: int = 0
    max_bounces: int = 3
    view_transform: str = "Filmic"
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        choices = {
            "engine": ENGINES,
            "denoiser_quality": DENOISER_QUALITIES,
            "denoiser_prefilter": DENOISER_PREFILTERS,
            "denoiser_passes": DENOISER_PASSES,
            "sampling_pattern": SAMPLING_PATTERNS,
            "view_transform": VIEW_TRANSFORMS,
            "texture_limit": TEXTURE_LIMITS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise IebenchError(f"{name} {value!r}: choose from {', '.join(allowed)}")
        if not 8 <= self.resolution <= 8192:
            raise IebenchError(f"resolution {self.resolution}: must be 8..8192 pixels")
        if self.samples < 1:
            raise IebenchError(f"samples {self.samples}: must be >= 1")
        if self.adaptive_threshold is not None and not 0 < self.adaptive_threshold < 1:
            raise IebenchError(f"adaptive threshold {self.adaptive_threshold}: must be in (0, 1)")
        if self.adaptive_min_samples < 0:
            raise IebenchError(f"adaptive min samples {self.adaptive_min_samples}: must be >= 0")
        if self.clamp_direct < 0 or self.clamp_indirect < 0:
            raise IebenchError("clamping must be >= 0 (0 turns it off)")
        if not 1 <= self.jpeg_quality <= 100:
            raise IebenchError(f"JPEG quality {self.jpeg_quality}: must be 1..100")
        for field in fields(self):
            if field.name.endswith("_bounces") and getattr(self, field.name) < 0:
                raise IebenchError(f"{field.name} must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RenderSettings:
        return cls(**data)


PRESETS: dict[str, RenderSettings] = {
    # docs/protocol.md section 2: at most 100 samples, adaptive threshold 0.01, OIDN
    # (albedo + normal passes, accurate prefilter, as the published compositor node),
    # bounces diffuse 3 / glossy 0 / max 3 / transparency 8.
    "reference": RenderSettings(),
    # Adaptive sampling from 8 to 32 samples (threshold 0.05: the smooth floor stops early,
    # the object does not), OIDN at high quality with a fast prefilter of its albedo and
    # normal passes. On 14 real ShapeNet objects 5-6.5x the reference's throughput at
    # -1.2 dB (worst view -2.1), where 12 plain samples were 7.5x at -2.05 dB (worst -3.0);
    # on the built-in ones 5.8-6.4x at -0.4 to -0.5 dB. docs/performance.md
    # (benchmarks/render.py).
    "default": RenderSettings(
        samples=32,
        adaptive_min_samples=8,
        adaptive_threshold=0.05,
        denoiser_prefilter="FAST",
    ),
    # Tiny and fast, for tests and demos only.
    "preview": RenderSettings(
        resolution=64,
        samples=4,
        adaptive_threshold=None,
        denoiser_quality="FAST",
        denoiser_prefilter="NONE",
        denoiser_passes="RGB",
    ),
}

# What each preset is for, in words (the `render --preset` help).
PRESET_USES = {
    "reference": "the published settings (100 samples, adaptive sampling, OIDN denoising)",
    "default": (
        "adaptive 8-32 samples (threshold 0.05) with OIDN, about 5x faster than reference "
        "at -1.4 dB PSNR on real ShapeNet objects (-0.4 dB on the built-in ones); on the "
        "mini track its views score as the reference's, within the probe-seed spread"
    ),
    "preview": (
        "4 samples, 64 px unless --resolution: tests, demos and the mini track (its views "
        "score as the reference's there); not measured on ShapeNet objects"
    ),
}


def preset_settings(
    name: str,
    resolution: int | None = None,
    samples: int | None = None,
    engine: str | None = None,
) -> RenderSettings:
    """A preset's settings with the command-line overrides applied."""
    if name not in PRESETS:
        raise IebenchError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    overrides = {"resolution": resolution, "samples": samples, "engine": engine}
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
