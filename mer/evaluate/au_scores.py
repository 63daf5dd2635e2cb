"""Scores of pooled action-unit predictions (`task=au`): per configuration the mean AU F1 and each
AU's F1 (mean over seeds, subject-bootstrap CIs), per configuration × AU the table and bar chart of
report.md, and per source dataset of a composite (CD6ME) the mean AU F1 of each.

As for the emotion metrics (`mer.evaluate.scores`), every number is scored on the predictions of
all folds concatenated; the bootstrap resamples subjects, summing each drawn subject's per-AU
TP/FP/FN counts (`mer.evaluate.au_metrics`) as `mer.evaluate.statistics` sums confusion matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mer.evaluate.au_metrics import F1_PREFIX, PRED_SUFFIX, au_counts, f1_from_counts
from mer.evaluate.figures import per_configuration
from mer.evaluate.report_files import AU_CHART_DIR
from mer.evaluate.statistics import Bootstrap
from mer.evaluate.sweep_runs import KEY
from mer.run_dir import AU_F1


def au_names(preds: pd.DataFrame) -> list[str]:
    """The AUs a configuration's predictions score (`AU<n>` columns with values), in AU order."""
    names = [c for c in preds.columns if c.startswith("AU") and not c.endswith(("_pred", "_score"))]
    present = [c for c in names if preds[c].notna().any()]
    return sorted(present, key=lambda name: int(name[2:]))


def subject_counts(preds: pd.DataFrame, names: Sequence[str], subjects: Sequence[str]) -> np.ndarray:
    """[n_seeds, n_subjects, n_aus, 3] TP/FP/FN of each seed's predictions for each subject."""
    seeds = sorted(preds["seed"].unique())
    out = np.zeros((len(seeds), len(subjects), len(names), 3))
    index = {s: i for i, s in enumerate(subjects)}
    pred_columns = [f"{n}{PRED_SUFFIX}" for n in names]
    for (seed, subject), p in preds.groupby(["seed", "subject"]):
        out[seeds.index(seed), index[subject]] = au_counts(p[list(names)].to_numpy(), p[pred_columns].to_numpy())
    return out


def _seed_mean_f1(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[n_resamples, n_aus]: per resample (a row of `weights`), each seed's pooled per-AU F1
    averaged over seeds."""
    pooled = np.einsum("bs,ksac->bkac", weights, counts)
    return f1_from_counts(pooled).mean(axis=1)


def au_summary(preds: pd.DataFrame, boot: Bootstrap = Bootstrap()) -> dict[str, float]:
    """report.csv's AU columns of one configuration: `au_f1` and each `f1_AU<n>`, each the mean over
    seeds of the pooled score, with `_ci_low`/`_ci_high` (subject bootstrap) and `au_f1_seed_std`."""
    names = au_names(preds)
    subjects = sorted(preds["subject"].unique())
    counts = subject_counts(preds, names, subjects)
    per_seed = f1_from_counts(counts.sum(axis=1))  # [n_seeds, n_aus]
    draws = _seed_mean_f1(counts, boot.weights(len(subjects)))
    row = {
        AU_F1: float(per_seed.mean(axis=1).mean()),
        f"{AU_F1}_seed_std": float(per_seed.mean(axis=1).std(ddof=1)) if len(per_seed) > 1 else np.nan,
    }
    row[f"{AU_F1}_ci_low"], row[f"{AU_F1}_ci_high"] = boot.interval(draws.mean(axis=1))
    for j, name in enumerate(names):
        column = f"{F1_PREFIX}{name}"
        row[column] = float(per_seed[:, j].mean())
        row[f"{column}_ci_low"], row[f"{column}_ci_high"] = boot.interval(draws[:, j])
    return row


def au_seed_scores(preds: pd.DataFrame) -> pd.DataFrame:
    """Per seed of one configuration: the pooled mean AU F1 and each AU's F1, and the clip count."""
    names = au_names(preds)
    rows = []
    for seed, p in preds.groupby("seed"):
        f1 = f1_from_counts(au_counts(p[names].to_numpy(), p[[f"{n}{PRED_SUFFIX}" for n in names]].to_numpy()))
        rows.append(
            {
                "seed": seed,
                AU_F1: float(f1.mean()),
                **{f"{F1_PREFIX}{n}": float(v) for n, v in zip(names, f1)},
                "n_samples": len(p),
            }
        )
    return pd.DataFrame(rows)


def au_table(report: pd.DataFrame, au_preds: pd.DataFrame) -> pd.DataFrame:
    """report_aus.csv: one row per AU configuration × AU, with its F1 and interval (from report.csv),
    how many of the clips have it (`n_true`) and how many it was predicted on (`n_pred`, mean over seeds)."""
    rows = []
    by_key = dict(list(au_preds.groupby(KEY, sort=False))) if len(au_preds) else {}
    for _, r in report.iterrows():
        p = by_key.get(tuple(r[KEY]))
        if p is None:
            continue
        first_seed = p[p["seed"] == p["seed"].min()]
        for name in au_names(p):
            column = f"{F1_PREFIX}{name}"
            rows.append(
                {
                    **r[KEY].to_dict(),
                    "au": name,
                    "f1": r[column],
                    "f1_ci_low": r[f"{column}_ci_low"],
                    "f1_ci_high": r[f"{column}_ci_high"],
                    "n_true": int(first_seed[name].sum()),
                    "n_pred": float(p.groupby("seed")[f"{name}{PRED_SUFFIX}"].sum().mean()),
                    "n_samples": len(first_seed),
                }
            )
    return pd.DataFrame(rows)


def au_source_scores(au_preds: pd.DataFrame) -> pd.DataFrame:
    """The mean AU F1 of each source dataset (sample_id's first part) within every AU configuration
    that spans several (CD6ME: each held-out dataset); per seed, then the mean over seeds."""
    if au_preds.empty:
        return pd.DataFrame()
    au_preds = au_preds.assign(source=au_preds["sample_id"].str.split("/", n=1).str[0])
    rows = []
    for key, p in au_preds.groupby(KEY, sort=False):
        if p["source"].nunique() < 2:
            continue
        for source, q in p.groupby("source"):
            rows.append(
                {
                    **dict(zip(KEY, key)),
                    "source": source,
                    "n_samples": q["sample_id"].nunique(),
                    AU_F1: au_seed_scores(q)[AU_F1].mean(),
                }
            )
    return pd.DataFrame(rows)


def plot_au_f1(rows: pd.DataFrame, title: str, path: Path) -> Path:
    """A bar per AU: its pooled F1 with the subject-bootstrap interval, and the mean as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 0.55 * len(rows), 3.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    f1 = rows["f1"].to_numpy(dtype=float)
    errors = np.vstack([f1 - rows["f1_ci_low"].to_numpy(dtype=float), rows["f1_ci_high"].to_numpy(dtype=float) - f1])
    ax.bar(x, f1, color="#4c72b0", yerr=np.clip(errors, 0, None), capsize=3)
    ax.axhline(f1.mean(), color="#dd8452", linestyle="--", label=f"mean (AU F1) {f1.mean():.3f}")
    ax.set_xticks(x, [f"{a}\n(n={n})" for a, n in zip(rows["au"], rows["n_true"])], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 (pooled over folds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def au_figures(aus: pd.DataFrame, out_dir: Path) -> dict[tuple, str]:
    """Plot every AU configuration's per-AU F1 under `out_dir/aus/`; per configuration key, the PNG's
    path relative to `out_dir`."""
    return per_configuration(
        aus, AU_CHART_DIR, out_dir, plot_au_f1, lambda key: f"{key[0]} · {key[3]}\nper-AU F1, pooled over folds"
    )
