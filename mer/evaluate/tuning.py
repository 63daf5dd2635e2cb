"""What nested tuning chose (`tune=nested`): per outer fold of each tuned configuration, the settings
its study picked on its training subjects (the job's `chosen.json`), and a picture of how often each
value was chosen across the folds."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from mer.evaluate.figures import per_configuration
from mer.evaluate.report_files import TUNING_DIR
from mer.evaluate.sweep_runs import KEY, fold_key

#: The file a tuned job writes beside its metrics (`mer.train.nested`).
CHOSEN_JSON = "chosen.json"


def chosen_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished tuned job: its configuration, fold and seed, and the settings its study
    chose (`params`: JSON), their mean inner score and the score's name; empty where none was tuned."""
    rows = []
    for _, run in runs[(runs["status"] == "ok") & (runs["tuning"] != "")].iterrows():
        path = Path(run["job_dir"]) / CHOSEN_JSON
        try:
            chosen = json.loads(path.read_text())
        except (OSError, ValueError):
            chosen = {}
        rows.append(
            {
                **run[[*KEY, "fold", "seed"]].to_dict(),
                "params": json.dumps(chosen.get("params", {}), sort_keys=True),
                "inner_score": chosen.get("score", np.nan),
                "metric": chosen.get("metric", ""),
            }
        )
    frame = pd.DataFrame(rows, columns=[*KEY, "fold", "seed", "params", "inner_score", "metric"])
    return frame.sort_values([*KEY, "seed", "fold"], key=lambda v: v.map(fold_key) if v.name == "fold" else v)


def settings_text(params: str) -> str:
    """A chosen.json's settings as a table cell: "model.optimizer.lr=0.00123, trainer.max_epochs=100"."""
    return ", ".join(f"{key}={_value(value)}" for key, value in json.loads(params).items()) or "—"


def _value(value: object) -> str:
    """A chosen value, floats to 3 significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def plot_choices(chosen: pd.DataFrame, title: str, path: Path) -> Path:
    """One panel per tuned key: how many outer folds chose each value (a bar per value for a choice
    or a whole number, the values themselves on a log axis where they span decades)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    params = pd.DataFrame([json.loads(p) for p in chosen["params"]])
    keys = list(params.columns)
    fig = Figure(figsize=(3.2 * max(1, len(keys)), 2.9))
    FigureCanvasAgg(fig)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, max(1, len(keys)), i + 1)
        values = params[key].dropna()
        if values.map(lambda v: isinstance(v, float) and not float(v).is_integer()).all():  # an interval's
            positive = (values > 0).all() and values.max() / values.min() > 10
            ax.plot(values, np.zeros(len(values)), "|", markersize=30, color="#4c72b0")
            ax.set_yticks([])
            if positive:
                ax.set_xscale("log")
            ax.set_xlabel("chosen value (one mark per outer fold)", fontsize=8)
        else:
            counts = values.map(str).value_counts().sort_index(key=lambda v: v.map(_number_first))
            ax.bar(range(len(counts)), counts.to_numpy(), color="#4c72b0")
            ax.set_xticks(range(len(counts)), counts.index, fontsize=8)
            ax.set_ylabel("outer folds", fontsize=8)
            ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(key, fontsize=9)
    fig.suptitle(textwrap.fill(title, 40 * max(1, len(keys))), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _number_first(text: str) -> tuple:
    """Sort key: numbers by value, then other values by name."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def tuning_figures(chosen: pd.DataFrame, out_dir: Path) -> dict[tuple, str]:
    """Plot each tuned configuration's choices under `out_dir/tuning/`; per configuration key, the
    PNG's path relative to `out_dir`."""
    return per_configuration(
        chosen, TUNING_DIR, out_dir, plot_choices, lambda key: f"settings chosen per outer fold: {key[0]} · {key[3]}"
    )
