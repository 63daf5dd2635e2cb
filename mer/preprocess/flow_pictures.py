"""Flow pictures: the Middlebury colour coding of flow, and the paper's Fig. 3 grid (`mer-show`).

Colour coding (Baker et al. 2011, "A Database and Evaluation Methodology for Optical Flow"):
the direction of a flow vector picks a hue on a colour wheel of 55 steps — red→yellow 15,
yellow→green 6, green→cyan 4, cyan→blue 11, blue→magenta 13, magenta→red 6 — going round with
the angle atan2(v, u) in image coordinates (y down): rightward is red, downward orange-yellow,
leftward cyan-blue, upward violet. Hues between steps are blended linearly. Its length picks the
saturation: zero flow is white, flow of the normalising magnitude is the full hue, and longer
flow is the full hue darkened to 75 %.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mer.errors import user_facing
from mer.preprocess.cache import FlowCache, load_cache, release_name
from mer.preprocess.flow import facial_motion

#: The colour wheel's segments: (from, to, steps), in angle order.
WHEEL_SEGMENTS = (
    ("red", "yellow", 15),
    ("yellow", "green", 6),
    ("green", "cyan", 4),
    ("cyan", "blue", 11),
    ("blue", "magenta", 13),
    ("magenta", "red", 6),
)
RGB = {
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "green": (0, 255, 0),
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "magenta": (255, 0, 255),
}
PANEL_INCHES = 1.9  # side of one image in the figure
DPI = 100


def colour_wheel() -> np.ndarray:
    """The 55 hues of the wheel, [55, 3] RGB floats in [0, 255], starting at red."""
    steps = []
    for start, end, count in WHEEL_SEGMENTS:
        a, b = np.array(RGB[start], float), np.array(RGB[end], float)
        steps.extend(a + (b - a) * k / count for k in range(count))
    return np.array(steps)


def flow_to_colour(u: np.ndarray, v: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field [H, W] × 2 as RGB uint8 [H, W, 3] (see the module docstring);
    lengths are relative to `max_magnitude`, by default the field's own longest vector."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    magnitude = np.hypot(u, v)
    scale = float(magnitude.max()) if max_magnitude is None else float(max_magnitude)
    radius = magnitude / max(scale, 1e-12)
    wheel = colour_wheel()
    position = (np.arctan2(v, u) / (2 * np.pi) % 1.0) * len(wheel)
    low = np.floor(position)
    blend = (position - low)[..., None]
    low = low.astype(int) % len(wheel)
    hue = (1 - blend) * wheel[low] + blend * wheel[(low + 1) % len(wheel)]
    r = radius[..., None]
    colour = np.where(r <= 1, 255 - r * (255 - hue), 0.75 * hue)
    return np.round(colour).astype(np.uint8)


def colour_key(side: int = 101) -> np.ndarray:
    """The colour coding of every direction and length up to 1, as a disc on white [side, side, 3]."""
    grid = np.linspace(-1, 1, side)
    u, v = np.meshgrid(grid, grid)
    key = flow_to_colour(u, v, max_magnitude=1.0)
    key[np.hypot(u, v) > 1] = 255
    return key


@dataclass(frozen=True)
class FlowPanel:
    """One clip in a figure: a caption, its aligned onset and apex (grey in [0, 1]) and its flow."""

    caption: str
    onset: np.ndarray
    apex: np.ndarray
    u: np.ndarray
    v: np.ndarray


def flow_figure(rows: Sequence[tuple[str, Sequence[FlowPanel]]], path: Path, title: str) -> Path:
    """A PNG grid, one row per label: onset | apex | colour-coded flow for each of its clips
    (each flow scaled to its own longest vector, given in the panel title), and the colour key."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    per_row = max(1, max(len(panels) for _, panels in rows))
    cols = 3 * per_row + 1
    fig = Figure(figsize=(PANEL_INCHES * cols, PANEL_INCHES * len(rows) + 0.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for r, (label, panels) in enumerate(rows):
        axes[r, 0].set_ylabel(label, fontsize=10, fontweight="bold")
        if not panels:
            axes[r, 1].text(0.5, 0.5, "no sample", ha="center", va="center", color="grey")
        for k, panel in enumerate(panels):
            onset_ax, apex_ax, flow_ax = axes[r, 3 * k : 3 * k + 3]
            onset_ax.imshow(panel.onset, cmap="gray", vmin=0, vmax=1)
            onset_ax.set_title("onset", fontsize=8)
            onset_ax.set_xlabel(panel.caption, fontsize=7)
            apex_ax.imshow(panel.apex, cmap="gray", vmin=0, vmax=1)
            apex_ax.set_title("apex", fontsize=8)
            longest = float(np.hypot(panel.u, panel.v).max())
            flow_ax.imshow(flow_to_colour(panel.u, panel.v))
            flow_ax.set_title(f"flow (max {longest:.2f} px)", fontsize=8)
    axes[0, -1].imshow(colour_key())
    axes[0, -1].set_title("flow colour key", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def class_rows(cache: FlowCache, per_class: int) -> list[tuple[str, list[FlowPanel]]]:
    """Each class's `per_class` clips of most facial motion (mean flow magnitude less the head's
    drift, as apex spotting scores frames), as figure rows."""
    samples = cache.samples
    u, v = cache.array("u"), cache.array("v")
    onset, apex = cache.array("onset"), cache.array("apex")
    rows = []
    for label in cache.classes:
        members = np.flatnonzero(samples["label"].to_numpy() == label)
        motion = [facial_motion(np.stack([u[i], v[i]], axis=-1).astype(np.float32)) for i in members]
        chosen = members[np.argsort(motion, kind="stable")[::-1][:per_class]]
        rows.append(
            (
                label,
                [
                    FlowPanel(
                        f"{samples.at[i, 'subject']}/{samples.at[i, 'clip']}",
                        onset[i].astype(np.float32),
                        apex[i].astype(np.float32),
                        u[i].astype(np.float32),
                        v[i].astype(np.float32),
                    )
                    for i in chosen
                ],
            )
        )
    return rows


def figure_title(manifest: dict[str, Any]) -> str:
    """The figure's title: the release the cache comes from (`synthetic-casme2` for the synthetic
    one), and what it shows."""
    release = release_name(manifest["dataset"], manifest.get("provenance") or {})
    return f"{release}: aligned onset, apex and onset→apex flow per class"


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-show CACHE [--out PNG] [--per-class K]`."""
    parser = argparse.ArgumentParser(
        prog="mer-show",
        description="Draw a flow cache as the paper's Fig. 3: per class, the aligned "
        "onset and apex and the colour-coded onset→apex flow (Middlebury colour wheel).",
    )
    parser.add_argument("cache", type=Path, help="a cache dir (mer-prepare prints its path)")
    parser.add_argument("--out", type=Path, default=None, help="PNG to write (default: flow-<cache dir name>.png here)")
    parser.add_argument(
        "--per-class", type=int, default=1, metavar="K", help="clips per class, those of most facial motion (default 1)"
    )
    args = parser.parse_args(argv)
    if args.per_class < 1:
        parser.error("--per-class must be at least 1")
    cache = load_cache(args.cache)
    out = args.out if args.out is not None else Path(f"flow-{cache.path.name}.png")
    flow_figure(class_rows(cache, args.per_class), out, figure_title(cache.manifest))
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
