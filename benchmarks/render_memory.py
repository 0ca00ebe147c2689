"""Memory of a render worker over a long run: the resident set size (RSS) of the Blender worker
process, sampled while one worker renders thousands of views with no recycling.

    python benchmarks/render_memory.py --per-class 4 --views 34     # 60 objects, 2040 views

Prints RSS at each tenth of the run, then the second tenth (the first holds Blender's start-up)
against the last: flat memory means the scene is reused and each object's mesh, materials and
images are freed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from iebench.rendering import RenderConfig, render_objects

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def child_rss_mib(parent: int) -> float:
    """Total RSS of the direct children of ``parent`` (the render workers), MiB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:  # ppid
                total += int((entry / "statm").read_text().split()[1]) * PAGE_KIB
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=4, help="built-in objects per class")
    parser.add_argument("--views", type=int, default=34)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp(prefix="iebench-render-memory-"))
    config = RenderConfig(
        out=out / "tree",
        per_class=args.per_class,
        views=args.views,
        preset="preview",
        resolution=args.resolution,
        workers=1,
        recycle_after=10**6,  # one worker process for the whole run
        progress=False,
    )
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not done.wait(args.interval):
            rss = child_rss_mib(os.getpid())
            if rss > 0:
                samples.append((time.monotonic() - started, rss))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        report = render_objects(config, log=lambda message: None)
    finally:
        done.set()
        sampler.join()
        shutil.rmtree(out, ignore_errors=True)

    print(
        f"{report.objects} objects x {args.views} views = {report.images_rendered} images at "
        f"{args.resolution} px (preview preset), one worker, {report.seconds:.0f} s, "
        f"{len(samples)} RSS samples"
    )
    tenth = max(1, len(samples) // 10)
    print(f"{'time s':>8}{'worker RSS MiB':>16}")
    for when, rss in samples[::tenth]:
        print(f"{when:>8.0f}{rss:>16.1f}")
    first = max(rss for _, rss in samples[tenth : 2 * tenth])
    last = max(rss for _, rss in samples[-tenth:])
    peak = max(rss for _, rss in samples)
    print(
        f"peak RSS, second tenth {first:.1f} MiB, last tenth {last:.1f} MiB "
        f"({last - first:+.1f} MiB, {last / first:.3f}x); peak over the run {peak:.1f} MiB"
    )


if __name__ == "__main__":
    main()
