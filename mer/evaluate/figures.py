"""Confusion-matrix PNGs of pooled predictions, one per configuration (rows true, columns
predicted; count and % of the true class in each cell)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mer.evaluate.metrics import confusion
from mer.evaluate.report_files import CONFUSION_DIR
from mer.evaluate.sweep_runs import KEY


def slug(text: str) -> str:
    """A file-name-safe version of a configuration's name."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


def configuration_png(folder: str, key: tuple) -> str:
    """A configuration's picture, relative to the report dir: `<folder>/<dataset>-<configuration>.png`."""
    return f"{folder}/{slug(key[0] + '-' + key[3])}.png"


def per_configuration(
    rows: pd.DataFrame,
    folder: str,
    out_dir: Path,
    plot: Callable[[pd.DataFrame, str, Path], Path],
    title: Callable[[tuple], str],
) -> dict[tuple, str]:
    """`plot(rows of one configuration, title(key), path)` for every configuration in `rows`, under
    `out_dir/folder/`; per configuration key, the PNG's path relative to `out_dir`."""
    figures = {}
    for key, group in rows.groupby(KEY, sort=False) if len(rows) else ():
        figures[key] = configuration_png(folder, key)
        plot(group, title(key), out_dir / figures[key])
    return figures


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], title: str, path: Path) -> Path:
    """Confusion matrix PNG (rows true, columns predicted), each cell annotated with count and row %."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    support = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * matrix, support, out=np.zeros(matrix.shape), where=support > 0)
    size = 1.0 + 0.9 * len(classes)
    fig = Figure(figsize=(size + 1.5, size + 0.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, label="% of true class", fraction=0.046, pad=0.04)
    for (i, j), count in np.ndenumerate(matrix):
        text = f"{count}\n{percent[i, j]:.1f}%" if support[i, 0] else f"{count}\n—"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if percent[i, j] > 60 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right")
    ax.set_yticks(range(len(classes)), [f"{c} ({support[i, 0]})" for i, c in enumerate(classes)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (n)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def confusion_figures(
    report: pd.DataFrame, preds: pd.DataFrame, classes: dict[str, list[str]], out_dir: Path
) -> dict[tuple, tuple[str, np.ndarray, list[str]]]:
    """Plot every configuration's confusion matrix under `out_dir/confusion/`, titled with its pooled
    scores; per configuration key, the PNG's path relative to `out_dir`, the matrix and its classes."""
    figures, rows = {}, report.set_index(KEY)
    for key, p in preds.groupby(KEY, sort=False):
        order = classes[key[0]]
        matrix = confusion(p["label"], p["pred"], order)
        name = configuration_png(CONFUSION_DIR, key)
        row = rows.loc[key]
        title = f"{key[0]} · {key[3]}\npooled: accuracy {100 * row['accuracy']:.2f}%, UF1 {row['uf1']:.4f}"
        plot_confusion(matrix, order, title, out_dir / name)
        figures[key] = (name, matrix, order)
    return figures
