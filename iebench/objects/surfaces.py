"""Surfaces of the built-in objects: a colour per material slot, often with a texture.

ShapeNet models mix flat-coloured parts with textured ones (wood, fabric,
painted stripes, speckled plastic). Here each slot gets a random colour and,
with probability ``1 - PLAIN``, one of a few tileable procedural patterns in
that colour and a second one, written as a PNG that the MTL references with
``map_Kd`` (as ShapeNet's do). Every category draws its surfaces the same way,
so neither colour nor pattern tells the class: shape has to.
"""

from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

PLAIN = 0.4  # share of slots with a flat colour and no texture
CONTRAST, CONTRAST_TRIES = 0.45, 8  # summed RGB difference between two slots' colours
TEXTURE_SIZE = 64  # pixels of a square, tileable texture

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Surface:
    """One material slot: its diffuse colour and, unless plain, a pattern to paint it with."""

    colour: Colour
    pattern: str | None = None
    second: Colour | None = None
    frequency: int = 4  # pattern repeats per texture tile
    angle: int = 0  # quarter turns of the pattern
    seed: int = 0

    def texture_png(self) -> bytes:
        """The texture as PNG bytes (deterministic from the surface's fields)."""
        if self.pattern is None or self.second is None:
            raise ValueError("a plain surface has no texture")
        mix = _PAINTERS[self.pattern](self.frequency, np.random.default_rng(self.seed))
        mix = np.rot90(mix, self.angle)
        first, second = np.asarray(self.colour), np.asarray(self.second)
        pixels = first * (1 - mix[..., None]) + second * mix[..., None]
        image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


def random_colour(rng: np.random.Generator) -> Colour:
    hue, saturation, value = rng.uniform(0, 1), rng.uniform(0.15, 0.9), rng.uniform(0.3, 0.95)
    return colorsys.hsv_to_rgb(hue, saturation, value)


def random_surfaces(rng: np.random.Generator, count: int) -> list[Surface]:
    """``count`` surfaces, drawn the same way for every category; each slot's colour is kept
    apart from the earlier slots' (redrawn a few times if too close) so that parts read."""
    surfaces: list[Surface] = []
    for _ in range(count):
        colour = random_colour(rng)
        for _ in range(CONTRAST_TRIES):
            if all(np.abs(np.subtract(colour, s.colour)).sum() >= CONTRAST for s in surfaces):
                break
            colour = random_colour(rng)
        if rng.random() < PLAIN:
            surfaces.append(Surface(colour))
            continue
        pattern = str(rng.choice(PATTERNS))
        if rng.random() < 0.5:  # a darker or lighter shade of the same colour (wood, fabric)
            h, s, v = colorsys.rgb_to_hsv(*colour)
            second = colorsys.hsv_to_rgb(h, s, float(np.clip(v * rng.uniform(0.4, 1.6), 0.05, 1)))
        else:  # a second colour (painted stripes, checks)
            second = random_colour(rng)
        surfaces.append(
            Surface(
                colour,
                pattern,
                second,
                frequency=int(rng.integers(2, 7)),
                angle=int(rng.integers(0, 4)),
                seed=int(rng.integers(0, 2**31)),
            )
        )
    return surfaces


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Texture coordinates in [0, 1), x along columns, y along rows."""
    t = np.arange(TEXTURE_SIZE) / TEXTURE_SIZE
    return np.meshgrid(t, t)


def _noise(rng: np.random.Generator, smooth: float) -> np.ndarray:
    """Tileable noise in [0, 1]: white noise low-passed in the Fourier domain (periodic)."""
    white = rng.standard_normal((TEXTURE_SIZE, TEXTURE_SIZE))
    k = np.fft.fftfreq(TEXTURE_SIZE) * TEXTURE_SIZE
    kx, ky = np.meshgrid(k, k)
    filtered = np.fft.ifft2(np.fft.fft2(white) * np.exp(-(kx**2 + ky**2) / (2 * smooth**2))).real
    low, high = filtered.min(), filtered.max()
    return (filtered - low) / (high - low + 1e-12)


def _wood(frequency: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = _grid()
    grain = np.sin(2 * np.pi * (frequency * x + 0.6 * _noise(rng, 2.0))) * 0.5 + 0.5
    return 0.75 * grain**3 + 0.25 * _noise(rng, 12.0)


def _stripes(frequency: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = _grid()
    width = rng.uniform(0.25, 0.6)
    return ((frequency * x) % 1.0 < width).astype(float)


def _checker(frequency: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    return ((np.floor(frequency * x) + np.floor(frequency * y)) % 2).astype(float)


def _speckle(frequency: int, rng: np.random.Generator) -> np.ndarray:
    fine = _noise(rng, 3.0 * frequency)
    return (fine > rng.uniform(0.55, 0.7)).astype(float) * 0.8 + 0.2 * _noise(rng, 4.0)


def _weave(frequency: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    threads = 4 * frequency
    warp = np.sin(2 * np.pi * threads * x) * 0.5 + 0.5
    weft = np.sin(2 * np.pi * threads * y) * 0.5 + 0.5
    over = (np.floor(threads * x) + np.floor(threads * y)) % 2
    return np.where(over == 0, warp, weft) * 0.7 + 0.3 * _noise(rng, 6.0)


_PAINTERS = {
    "wood": _wood,
    "stripes": _stripes,
    "checker": _checker,
    "speckle": _speckle,
    "weave": _weave,
}
PATTERNS: tuple[str, ...] = tuple(_PAINTERS)
