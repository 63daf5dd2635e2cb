"""`mer-report SWEEP_DIR`: a sweep's runs → pooled tables with subject-bootstrap CIs, confusion PNGs,
McNemar tests, the sensitivity table, samples.

Reads the run-directory contract of `mer.runs` and never re-trains. Every number is scored on the
predictions of all folds concatenated (docs/paper.md, "Protocol": pool, then score); per-fold means
are labelled.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import yaml

from mer.errors import MerError, user_facing
from mer import paper
from mer.evaluate.metrics import SCORE_NAMES, confusion, pooled_metrics
from mer.evaluate.statistics import Bootstrap, paired_bootstrap, subject_bootstrap
from mer.runs import FAILED, METRICS, PREDICTIONS, SCORE_PREFIX, configuration_overrides, override_key
from mer.tracking import wandb_credentials

REPORT_CSV, REPORT_MD, SEEDS_CSV, SAMPLES_CSV = "report.csv", "report.md", "report_seeds.csv", "samples.csv"
SOURCES_CSV, SENSITIVITY_CSV = "report_sources.csv", "report_sensitivity.csv"
CONFUSION_DIR = "confusion"
REQUIRED_COLUMNS = ("sample_id", "subject", "label", "pred")
KEY = ["dataset", "input", "head", "configuration"]
INPUT_ORDER = ("apex", "u", "v", "uv", "uvm", "uvs")
HEAD_ORDER = ("softmax", "hinge", "svm")
# Overrides already named by the dataset/input/head columns (an `ablation` cell sets input and head).
OWN_KEYS = ("data", "input", "head", "ablation")
#: The sensitivity sweep's reference setting (conf/sensitivity/paper.yaml: the paper recipe unchanged).
SENSITIVITY_KEY, SENSITIVITY_REFERENCE = "sensitivity", "paper"


# ─── collecting runs ────────────────────────────────────────────────────────────────────────────

def _read_yaml(path: Path) -> Any:
    """A YAML file's content; a broken file is a one-line error naming it."""
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise MerError(f"{path}: cannot read it as YAML ({str(err).splitlines()[0]})") from err


def _config_value(cfg: dict, dotted: str, path: Path) -> Any:
    """`cfg["a"]["b"]` for "a.b"; a missing key names the file (it is not a mer-train run dir)."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MerError(f"{path}: no `{dotted}` in this config; is this a mer-train run dir?")
        node = node[part]
    return node


def _job_row(job_dir: Path, sweep_dir: Path) -> dict:
    """One job's identity (dataset, input, head, other overrides, fold, seed) and status."""
    config_path = job_dir / ".hydra" / "config.yaml"
    cfg = _read_yaml(config_path) or {}
    overrides_path = job_dir / ".hydra" / "overrides.yaml"
    overrides = [str(o) for o in (_read_yaml(overrides_path) or [])] if overrides_path.is_file() else []
    dataset = str(_config_value(cfg, "data.name", config_path))
    input_name = str(_config_value(cfg, "input.name", config_path))
    head = str(_config_value(cfg, "head.name", config_path))
    test_subject = (cfg.get("data") or {}).get("test_subject")
    fold = test_subject if test_subject not in (None, "") else _config_value(cfg, "data.fold", config_path)
    rest = [o for o in configuration_overrides(overrides) if override_key(o) not in OWN_KEYS]
    recipe = _recipe(job_dir)
    if recipe and not any(override_key(o) == "recipe" for o in rest):  # chosen by an experiment
        rest = sorted(rest + [f"recipe={recipe}"])
    failed = job_dir / FAILED
    error = next((ln.strip() for ln in failed.read_text(errors="replace").splitlines() if ln.strip()), "") \
        if failed.is_file() else ""
    broken = _metrics_problem(job_dir / METRICS)
    return {
        "job": str(job_dir.relative_to(sweep_dir)), "job_dir": str(job_dir),
        "dataset": dataset, "input": input_name, "head": head,
        "configuration": ",".join(sorted(rest + [f"head={head}", f"input={input_name}"])),
        "rest": ",".join(rest), "fold": str(fold), "seed": int(cfg.get("seed") or 0),
        "status": "ok" if (job_dir / METRICS).is_file() and not broken else "failed",
        "error": (broken or error)[:300],
        "size": (cfg.get("preprocess") or {}).get("size"),
        "epochs": (cfg.get("trainer") or {}).get("max_epochs"),
    }


def _recipe(job_dir: Path) -> str | None:
    """The job's `recipe` choice (paper, mer) from Hydra's record, None where none was chosen: an
    experiment picks it in its defaults, so it is not among the job's overrides."""
    hydra_path = job_dir / ".hydra" / "hydra.yaml"
    if not hydra_path.is_file():
        return None
    choices = ((_read_yaml(hydra_path) or {}).get("hydra") or {}).get("runtime", {}).get("choices") or {}
    recipe = choices.get("recipe")
    return None if recipe in (None, "null") else str(recipe)


def _metrics_problem(path: Path) -> str:
    """Why a job's metrics.json cannot be trusted ("" when it is absent or a JSON object)."""
    if not path.is_file():
        return ""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"{path}: not readable JSON ({err})"
    return "" if isinstance(metrics, dict) else f"{path}: not a JSON object of metrics"


def _drop_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """Keep one job per configuration+fold+seed (a finished one first) and warn naming both dirs."""
    runs = runs.assign(_failed=runs["status"] != "ok").sort_values(["_failed", "job"], kind="stable")
    for (_, configuration, fold, seed), group in runs.groupby(["dataset", "configuration", "fold", "seed"]):
        for other in group["job"].iloc[1:]:
            warnings.warn(f"{configuration} fold {fold} seed {seed} appears twice: kept "
                          f"{group['job'].iloc[0]}, ignored {other}", stacklevel=2)
    runs = runs.drop_duplicates(["dataset", "configuration", "fold", "seed"], keep="first")
    return runs.drop(columns="_failed").sort_values(["dataset", "configuration", "seed", "fold"],
                                                   key=_natural_key).reset_index(drop=True)


def _fold_key(value: Any) -> tuple:
    """Sort key that puts fold "10" after "9" (numbers first, then names)."""
    text = str(value)
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _natural_key(values: pd.Series) -> pd.Series:
    """`_fold_key` over a column, for `sort_values(key=...)`."""
    return values.map(_fold_key)


def collect_runs(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per job dir under `sweep_dir` (searched recursively): finished (`status` "ok") or
    failed/unfinished (`.hydra/` but no metrics.json); a repeated configuration+fold+seed is kept once."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise MerError(f"sweep dir {sweep_dir} does not exist: pass the dir `mer-train -m` wrote "
                       "(e.g. outputs/train-multirun/<date>)")
    jobs = sorted(d.parent for d in sweep_dir.rglob(".hydra") if (d / "config.yaml").is_file())
    runs = pd.DataFrame([_job_row(job, sweep_dir) for job in jobs],
                        columns=["job", "job_dir", *KEY, "rest", "fold", "seed", "status", "error",
                                 "size", "epochs"])
    if not (runs["status"] == "ok").any():
        failed = f"; found {len(runs)} failed or unfinished job dirs, e.g. {runs['job'].iloc[0]}" if len(runs) else ""
        raise MerError(f"no runs under {sweep_dir}: expected job dirs with {METRICS} "
                       f"(from mer-train -m ...){failed}")
    return _drop_duplicates(runs)


def read_predictions(job_dir: str | Path) -> pd.DataFrame:
    """A job's predictions.csv, checked for the contract's columns (the error names the file)."""
    path = Path(job_dir) / PREDICTIONS
    if not path.is_file():
        raise MerError(f"{path} is missing but {METRICS} is there: rerun that job or delete its dir")
    try:
        table = pd.read_csv(path, dtype={c: str for c in REQUIRED_COLUMNS})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise MerError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from err
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if not any(c.startswith(SCORE_PREFIX) for c in table.columns):
        missing.append(f"{SCORE_PREFIX}<class>")
    if missing:
        raise MerError(f"{path}: missing required columns {', '.join(missing)} (mer-train writes "
                       f"{', '.join(REQUIRED_COLUMNS)}, then {SCORE_PREFIX}<class> per class)")
    return table


def load_predictions(runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]], pd.DataFrame]:
    """All finished jobs' predictions in one frame tagged with the job's keys, each dataset's class
    order (score columns of predictions.csv, then any other label seen), and `runs` with every job
    whose predictions.csv is unreadable marked failed, the reason in `error`; the rest is reported."""
    frames, classes, runs = [], {}, runs.copy()
    for i, run in runs[runs["status"] == "ok"].iterrows():
        try:
            table = read_predictions(run["job_dir"])
        except MerError as err:
            runs.loc[i, ["status", "error"]] = ["failed", str(err)[:300]]
            continue
        order = classes.setdefault(run["dataset"], [])
        order += [c[len(SCORE_PREFIX):] for c in table.columns
                  if c.startswith(SCORE_PREFIX) and c[len(SCORE_PREFIX):] not in order]
        tags = run[["job", *KEY, "rest", "fold", "seed"]].to_dict()
        frames.append(table[list(REQUIRED_COLUMNS)].assign(**tags))
    if not frames:
        example = runs.loc[runs["status"] != "ok"].iloc[0]
        raise MerError(f"nothing to report: no job has readable predictions, e.g. {example['job']}: "
                       f"{example['error']}")
    preds = pd.concat(frames, ignore_index=True)
    for dataset, order in classes.items():
        seen = preds.loc[preds["dataset"] == dataset, ["label", "pred"]].to_numpy().ravel()
        order += sorted(set(seen) - set(order))
    return preds, classes, runs


# ─── scoring ────────────────────────────────────────────────────────────────────────────────────

def _std(values: pd.Series) -> float:
    """Sample standard deviation (ddof=1); NaN for fewer than two values."""
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def seed_scores(preds: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Per seed of one configuration: pooled accuracy/UF1/UAR, and the per-fold mean ± std."""
    rows = []
    for seed, p in preds.groupby("seed"):
        folds = pd.DataFrame([pooled_metrics(f["label"], f["pred"], classes) for _, f in p.groupby("fold")])
        rows.append({"seed": seed, **pooled_metrics(p["label"], p["pred"], classes), "n_folds": len(folds),
                     "per_fold_mean_accuracy": folds["accuracy"].mean(),
                     "per_fold_std_accuracy": _std(folds["accuracy"]),
                     "per_fold_mean_uf1": folds["uf1"].mean(), "per_fold_std_uf1": _std(folds["uf1"])})
    return pd.DataFrame(rows).rename(columns={"n": "n_samples"})


def source_scores(preds: pd.DataFrame, classes: dict[str, list[str]]) -> pd.DataFrame:
    """Pooled accuracy/UF1/UAR of each source dataset (sample_id's first part) within every
    configuration that spans several; per seed, then the mean over seeds."""
    preds = preds.assign(source=preds["sample_id"].str.split("/", n=1).str[0])
    rows = []
    for key, p in preds.groupby(KEY, sort=False):
        if p["source"].nunique() < 2:
            continue
        for source, q in p.groupby("source"):
            per_seed = seed_scores(q, classes[key[0]])
            rows.append({**dict(zip(KEY, key)), "source": source,
                         "n_samples": q["sample_id"].nunique(),
                         **{m: per_seed[m].mean() for m in ("accuracy", "uf1", "uar")}})
    return pd.DataFrame(rows)


def is_synthetic(dataset: str) -> bool:
    """Whether a dataset name is one of the generated releases (`synthetic`, `synthetic_composite`)."""
    return str(dataset).startswith("synthetic")


def _missing_folds(jobs: pd.DataFrame, expected: Iterable[str]) -> str:
    """Expected folds without finished predictions, "3, 5", or "3 (seed 1)" when only some seeds lack it."""
    seeds = sorted(jobs["seed"].unique())
    done = jobs[jobs["status"] == "ok"]
    parts = []
    for fold in sorted(expected, key=_fold_key):
        lacking = [s for s in seeds if not ((done["fold"] == fold) & (done["seed"] == s)).any()]
        if lacking:
            parts.append(fold if len(lacking) == len(seeds) else f"{fold} (seed {', '.join(map(str, lacking))})")
    return ", ".join(parts)


def summarise(runs: pd.DataFrame, preds: pd.DataFrame, classes: dict[str, list[str]],
              boot: Bootstrap = Bootstrap()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report.csv frame (one row per configuration; mean ± std over seeds; subject-bootstrap CIs)
    and the per-seed frame."""
    rows, seed_frames = [], []
    by_key = dict(list(preds.groupby(KEY, sort=False)))
    for key, jobs in runs.groupby(KEY, sort=False):
        expected = runs.loc[runs["dataset"] == key[0], "fold"].unique()
        base = dict(zip(KEY, key))
        p = by_key.get(key, preds.iloc[:0])
        per_seed = seed_scores(p, classes[key[0]]) if len(p) else pd.DataFrame(columns=["seed"])
        seed_frames.append(per_seed.assign(**base))
        row = {**base, "n_seeds": len(per_seed), "seeds": " ".join(map(str, per_seed["seed"])),
               "n_samples": p["sample_id"].nunique(), "n_folds": p["fold"].nunique()}
        for metric in ("accuracy", "uf1", "uar"):
            row[metric] = per_seed[metric].mean() if len(p) else np.nan
        for metric in ("accuracy", "uf1", "uar"):
            row[f"{metric}_seed_std"] = _std(per_seed[metric]) if len(p) else np.nan
        for col in ("per_fold_mean_accuracy", "per_fold_std_accuracy", "per_fold_mean_uf1", "per_fold_std_uf1"):
            row[col] = per_seed[col].mean() if len(p) else np.nan
        intervals = subject_bootstrap(p, classes[key[0]], boot) if len(p) else {}
        for metric in SCORE_NAMES:
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = intervals.get(metric, (np.nan, np.nan))
        row["missing_folds"] = _missing_folds(jobs, expected)
        failed = jobs[jobs["status"] != "ok"]
        row["failed_jobs"] = "; ".join(failed["job"])
        row["failure_reasons"] = "; ".join(f"{job}: {error or 'unfinished'}"
                                           for job, error in zip(failed["job"], failed["error"]))
        row["other_overrides"] = jobs["rest"].iloc[0]
        rows.append(row)
    report = pd.DataFrame(rows).sort_values(["dataset", "other_overrides", "input", "head"], key=_order_key)
    return report.reset_index(drop=True), pd.concat(seed_frames, ignore_index=True)


def _rank(value: str, order: Sequence[str]) -> tuple[int, str]:
    """Position in the paper's order (apex, u, v, uv…; softmax, hinge, svm), unknown names after."""
    return (order.index(value), "") if value in order else (len(order), value)


def _order_key(values: pd.Series) -> pd.Series:
    """`_rank` over the input and head columns, for `sort_values(key=...)`."""
    order = {"input": INPUT_ORDER, "head": HEAD_ORDER}.get(values.name)
    return values if order is None else values.map(lambda v: _rank(v, order))


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """Exact McNemar test of two classifiers on the same samples: b = only A right, c = only B right,
    p = two-sided binomial test of b among the b + c discordant pairs at 1/2 (1.0 when none)."""
    from scipy.stats import binomtest

    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b_.shape}")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return {"n": int(a.size), "b": b, "c": c, "p": float(p)}


def head_pairs(preds: pd.DataFrame, classes: dict[str, list[str]],
               boot: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """McNemar between every two heads on the same samples, beside the subject-bootstrap CI of their
    accuracy and UF1 difference (A − B): same dataset, input, other overrides (head.* aside) and
    seed; paired on sample_id."""
    preds = preds.assign(pair=preds["rest"].map(
        lambda r: ",".join(o for o in r.split(",") if o and not override_key(o).startswith("head."))))
    rows = []
    for (dataset, input_name, pair), group in preds.groupby(["dataset", "input", "pair"]):
        heads = group.drop_duplicates("configuration").set_index("configuration")["head"]
        configs = sorted(heads.index, key=lambda c: (_rank(heads[c], HEAD_ORDER), c))
        for config_a, config_b in itertools.combinations(configs, 2):
            a, b = group[group["configuration"] == config_a], group[group["configuration"] == config_b]
            for seed in sorted(set(a["seed"]) & set(b["seed"])):
                both = (a[a["seed"] == seed].drop_duplicates("sample_id")
                        .merge(b[b["seed"] == seed].drop_duplicates("sample_id"), on="sample_id"))
                if both.empty:
                    continue
                correct_a, correct_b = both["pred_x"] == both["label_x"], both["pred_y"] == both["label_y"]
                paired = both[["sample_id", "subject_x"]].rename(columns={"subject_x": "subject"}).assign(seed=seed)
                diff = paired_bootstrap(paired.assign(label=both["label_x"], pred=both["pred_x"]),
                                        paired.assign(label=both["label_y"], pred=both["pred_y"]),
                                        classes[dataset], boot)
                rows.append({"dataset": dataset, "input": input_name, "other": pair, "seed": seed,
                             "a": _head_label(a), "b_head": _head_label(b), "accuracy_a": correct_a.mean(),
                             "accuracy_b": correct_b.mean(), **mcnemar(correct_a, correct_b),
                             **_difference_columns(diff)})
    return pd.DataFrame(rows)


def _difference_columns(diff: dict[str, tuple[float, float, float]]) -> dict[str, float]:
    """`paired_bootstrap`'s accuracy and UF1 differences as flat columns (`uf1_diff_ci_low`...)."""
    return {f"{metric}_diff{part}": value for metric in ("accuracy", "uf1")
            for part, value in zip(("", "_ci_low", "_ci_high"), diff[metric])}


def sensitivity_scores(report: pd.DataFrame, preds: pd.DataFrame, classes: dict[str, list[str]],
                       boot: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """The sensitivity table: each `sensitivity=` setting's pooled scores (mean over seeds, with
    CIs), and its difference from the reference setting (the paper recipe) of the same dataset,
    input, head and other overrides, on the same subjects, with a paired subject-bootstrap CI.
    The reference first, then the other settings by name; empty where the sweep has none."""
    settings = report.assign(setting=report["other_overrides"].map(_sensitivity_setting),
                             other=report["other_overrides"].map(_without_sensitivity))
    settings = settings[settings["setting"].notna()]
    rows = []
    for (dataset, _, _, other), peers in settings.groupby(["dataset", "input", "head", "other"], sort=False):
        reference = peers[peers["setting"] == SENSITIVITY_REFERENCE]
        mine_dataset = preds[preds["dataset"] == dataset]
        theirs = mine_dataset[mine_dataset["configuration"].isin(reference["configuration"])]
        peers = peers.sort_values("setting", key=lambda s: s.map(lambda v: (v != SENSITIVITY_REFERENCE, v)))
        for _, r in peers.iterrows():
            row = {**r[["dataset", "input", "head", "other", "setting", "n_seeds", "n_samples"]].to_dict(),
                   **{c: r[c] for m in ("accuracy", "uf1") for c in (m, f"{m}_ci_low", f"{m}_ci_high")}}
            mine = mine_dataset[mine_dataset["configuration"] == r["configuration"]]
            if r["setting"] != SENSITIVITY_REFERENCE and len(theirs) and len(mine):
                row.update(_difference_columns(paired_bootstrap(mine, theirs, classes[dataset], boot)))
            rows.append(row)
    return pd.DataFrame(rows)


def _sensitivity_setting(rest: str) -> str | None:
    """The `sensitivity=` choice among a configuration's overrides, None where it has none."""
    return next((o.split("=", 1)[1] for o in rest.split(",") if override_key(o) == SENSITIVITY_KEY), None)


def _without_sensitivity(rest: str) -> str:
    """A configuration's other overrides without its `sensitivity=` choice (what its peers share)."""
    return ",".join(o for o in rest.split(",") if o and override_key(o) != SENSITIVITY_KEY)


def _head_label(preds: pd.DataFrame) -> str:
    """A head's name with its own overrides, e.g. "svm (head.C=10)"."""
    own = [o for o in preds["rest"].iloc[0].split(",") if o and override_key(o).startswith("head.")]
    return preds["head"].iloc[0] + (f" ({','.join(own)})" if own else "")


# ─── figures and files ──────────────────────────────────────────────────────────────────────────

def slug(text: str) -> str:
    """A file-name-safe version of a configuration's name."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


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
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if percent[i, j] > 60 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right")
    ax.set_yticks(range(len(classes)), [f"{c} ({support[i, 0]})" for i, c in enumerate(classes)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (n)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def sample_list(preds: pd.DataFrame) -> pd.DataFrame:
    """The exact samples scored: sample_id, subject, label (union over configurations)."""
    return (preds[["sample_id", "subject", "label"]].drop_duplicates()
            .sort_values(["sample_id", "label"]).reset_index(drop=True))


# ─── markdown ───────────────────────────────────────────────────────────────────────────────────

def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _num(value: float, scale: float, digits: int) -> str:
    """A number scaled and rounded, "—" for NaN."""
    return "—" if value is None or pd.isna(value) else f"{scale * value:.{digits}f}"


def _ci(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A metric's subject-bootstrap interval, "[low, high]" ("" where none was computed)."""
    low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    return "" if low is None or pd.isna(low) else f" [{_num(low, scale, digits)}, {_num(high, scale, digits)}]"


def _score(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A pooled score, ± its std over seeds where several seeds ran, then its CI."""
    spread = f" ± {_num(row[f'{metric}_seed_std'], scale, digits)}" if row["n_seeds"] > 1 else ""
    return _num(row[metric], scale, digits) + spread + _ci(row, metric, scale, digits)


def cell(row: pd.Series | None) -> str:
    """"acc % [CI] / UF1 [CI]" pooled, with ± std over seeds when several seeds were run."""
    if row is None or not row["n_samples"]:
        return "—"
    return f"{_score(row, 'accuracy', 100, 2)} / {_score(row, 'uf1', 1, 4)}"


def _paper_cell(result: paper.Result | None) -> str:
    """A published "acc % / F1" cell, "—" where the paper has none."""
    return "—" if result is None else f"{result.accuracy:.2f} / {result.f1:.4f}"


def _family_tables(family: pd.DataFrame) -> list[str]:
    """Table 2 style (inputs × heads) and Table 3 style (heads on u+v) for one dataset+overrides."""
    find = {(r["input"], r["head"]): r for _, r in family.iterrows()}
    inputs = sorted(set(family["input"]), key=lambda v: _rank(v, INPUT_ORDER))
    heads = sorted(set(family["head"]), key=lambda v: _rank(v, HEAD_ORDER))
    head_names = [f"`{h}`" + {"hinge": " (paper's SVM)", "svm": " (post-hoc sklearn, extension)"}.get(h, "")
                  for h in heads]
    lines = ["#### Table 2 style: input ablation", "",
             "Cells: accuracy % / UF1, pooled over all folds" + (" (mean ± std over seeds)"
                                                               if family["n_seeds"].max() > 1 else "")
             + ", each with its 95 % subject-bootstrap interval in brackets.", ""]
    lines += _md_table(["input", *head_names, "paper (SVM head)"],
                       [[paper.INPUT_LABELS.get(i, i), *[cell(find.get((i, h))) for h in heads],
                         _paper_cell(paper.TABLE2.get(i))] for i in inputs])
    lines += ["", f"#### Table 3 style: head ablation on {paper.INPUT_LABELS['uv']}", ""]
    if paper.TABLE3_INPUT not in inputs:
        return lines + [f"No `{paper.TABLE3_INPUT}` runs in this group (the paper's Table 3 is on u + v).", ""]
    lines += _md_table(["head", "ours", "paper"],
                       [[f"`{h}`: " + paper.HEAD_LABELS.get(h, h), cell(find.get((paper.TABLE3_INPUT, h))),
                         _paper_cell(paper.TABLE3.get(h))] for h in heads])
    return lines + [""]


def _all_configurations(report: pd.DataFrame) -> list[str]:
    """Every configuration's pooled scores, per-fold mean ± std (labelled), missing folds, failures."""
    rows = [[r["dataset"], f"`{r['configuration']}`", r["n_samples"], r["n_folds"], r["n_seeds"],
             _num(r["accuracy"], 100, 2) + _ci(r, "accuracy", 100, 2), _num(r["uf1"], 1, 4) + _ci(r, "uf1", 1, 4),
             _num(r["uar"], 1, 4) + _ci(r, "uar", 1, 4),
             f"{_num(r['per_fold_mean_accuracy'], 100, 2)} ± {_num(r['per_fold_std_accuracy'], 100, 2)}",
             f"{_num(r['per_fold_mean_uf1'], 1, 4)} ± {_num(r['per_fold_std_uf1'], 1, 4)}",
             r["missing_folds"] or "none", r["failed_jobs"] or "none"] for _, r in report.iterrows()]
    return _md_table(["dataset", "configuration", "samples", "folds", "seeds", "accuracy % [CI]", "UF1 [CI]", "UAR [CI]",
                      "per-fold mean accuracy % ± std", "per-fold mean UF1 ± std", "missing folds",
                      "failed jobs"], rows)


def _percent_table(matrix: np.ndarray, classes: Sequence[str], with_paper: bool) -> list[str]:
    """Table 5 style: % of the true class (rows true), with the paper's diagonal where it applies."""
    support = matrix.sum(axis=1)
    rows = []
    for i, name in enumerate(classes):
        share = [_num(matrix[i, j] / support[i], 100, 2) if support[i] else "—" for j in range(len(classes))]
        extra = [f"{paper.TABLE5_DIAGONAL[name]:.2f}" if name in paper.TABLE5_DIAGONAL else "—"] if with_paper else []
        rows.append([name, *share, support[i], *extra])
    return _md_table(["true \\ predicted (%)", *classes, "n", *(["paper % correct"] if with_paper else [])], rows)


def _settings_line(runs: pd.DataFrame) -> str:
    """Input sizes and epoch counts of the sweep, beside the paper's 224² input."""
    sizes = ", ".join(f"{s}×{s}" for s in sorted(runs["size"].dropna().unique()))
    epochs = ", ".join(str(e) for e in sorted(runs["epochs"].dropna().unique()))
    note = "" if set(runs["size"].dropna()) <= {224} else " — smaller than the paper's 224×224"
    return f"**Settings.** Input size {sizes}{note}; {epochs} epochs per fold."


def render_markdown(sweep_dir: Path, runs: pd.DataFrame, report: pd.DataFrame, seeds: pd.DataFrame,
                    pairs: pd.DataFrame, samples: pd.DataFrame, preds: pd.DataFrame,
                    figures: dict[tuple, tuple[str, np.ndarray, list[str]]],
                    sources: pd.DataFrame, sensitivity: pd.DataFrame, data_check: list[str],
                    boot: Bootstrap) -> str:
    """report.md: paper-style tables with CIs, confusion matrices, McNemar tests, the sensitivity
    table, seeds, the sample list."""
    n_ok = int((runs["status"] == "ok").sum())
    out = [f"# mer report: {sweep_dir.name}", "",
           f"Sweep `{sweep_dir}`: {n_ok} finished jobs, {len(runs) - n_ok} failed or unfinished, "
           f"{len(report)} configurations.", "", _settings_line(runs), ""]
    if report["dataset"].map(is_synthetic).any():
        out += ["> **Warning — synthetic data: proves the pipeline; these are NOT the paper's numbers.** "
                "(`data.name` starts with `synthetic`: generated clips in the releases' layouts, not the "
                "releases.)", ""]
    out += ["**Protocol.** Pooled: the predictions of all LOSO folds are concatenated and scored once "
            "(the paper's protocol; the main number everywhere). UF1 = unweighted mean over classes of "
            "2TP/(2TP+FP+FN) (the paper's F1); UAR = mean over classes of TP/N. *Per-fold mean ± std* "
            "averages each fold's own score (a LOSO fold is one subject, often 1–3 samples): shown for "
            "reference, labelled, never the main number. Std is the sample std (ddof=1).", "",
            f"**Intervals.** [low, high] is a {100 * boot.confidence:g} % subject-level bootstrap interval: "
            f"subjects (= LOSO folds) resampled with replacement {boot.n_resamples} times (seed "
            f"{boot.seed}), their predictions pooled and scored again (the percentile interval; with "
            "several seeds, of the mean over seeds). On a few dozen subjects these are wide: a 2-point "
            "difference inside them is not evidence.", "",
            "**Recipes.** `recipe=paper` is the paper as written (where it is silent, a cited default: "
            "conf/recipe/paper.yaml says which); `recipe=mer` is mer's own recipe; a configuration without "
            "`recipe=` ran mer-train's defaults. Only `recipe=paper` rows are the paper's method.", "",
            f"**Paper numbers** ({paper.SOURCE}) The paper's \"SVM\" head is our `hinge` head; our `svm` "
            "head (scikit-learn SVM fitted post hoc on the penultimate features) is an extension with no "
            "paper number.", "", *data_check, "## 1. Results", ""]
    for (dataset, rest), family in report.groupby(["dataset", "other_overrides"], sort=False):
        out += [f"### {dataset}" + (f" · `{rest}`" if rest else ""), ""]
        if is_synthetic(dataset):
            out += ["> synthetic data: proves the pipeline; these are NOT the paper's numbers.", ""]
        out += _family_tables(family)
    out += ["### All configurations", ""] + _all_configurations(report) + [""]
    out += _sources_section(sources)
    out += ["## 2. Confusion matrices", "",
            "Rows true, columns predicted; counts summed over seeds; percentages are % of the true class "
            "(Table 5 style).", ""]
    for _, r in report.iterrows():
        key = tuple(r[KEY])
        if key not in figures:
            continue
        png, matrix, classes = figures[key]
        with_paper = (r["input"], r["head"]) == (paper.TABLE5_INPUT, paper.TABLE5_HEAD)
        out += [f"### {r['dataset']} · `{r['configuration']}`", "", f"![confusion matrix]({png})", ""]
        out += _percent_table(matrix, classes, with_paper) + [""]
    out += _pairs_section(pairs) + _sensitivity_section(sensitivity) + _seeds_section(report, seeds)
    out += _samples_section(samples, preds)
    out += _failures_section(runs)
    return "\n".join(out) + "\n"


def data_check_lines(runs: pd.DataFrame) -> list[str]:
    """The data checks of each dataset's cache (`mer.preprocess.data_check`), for report.md: its
    counts beside the paper's, and its degenerate clips. Read from the manifest of the cache the
    dataset's first finished job names in metrics.json; said where that cache is gone."""
    out = []
    for dataset, jobs in runs[runs["status"] == "ok"].groupby("dataset"):
        try:
            cache = Path(json.loads((Path(jobs["job_dir"].iloc[0]) / METRICS).read_text())["cache"])
            manifest = json.loads((cache / "manifest.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            out += [f"**Data check ({dataset}).** Not shown: the cache these runs trained on is not "
                    "readable here (moved, or runs from before mer recorded it).", ""]
            continue
        check = manifest.get("paper_counts")
        if check and check["differ"]:
            out += [f"**Data check ({dataset}): the counts differ from the paper's** "
                    f"(`{check['sheet']}` read). Compare the numbers above with that in mind.", ""]
            out += _md_table(["", "paper", "ours", "Δ"], [[r["what"], r["paper"], r["ours"],
                                                           f"{r['ours'] - r['paper']:+d}"] for r in check["rows"]])
            out += [""]
        elif check:
            out += [f"**Data check ({dataset}).** The counts match the paper's: {paper.N_SAMPLES} clips of "
                    f"{paper.N_SUBJECTS} subjects (`{check['sheet']}` read).", ""]
        degenerate = manifest.get("degenerate") or []
        if degenerate:
            out += [f"**Degenerate clips ({dataset}):** {len(degenerate)}, a blank input after per-sample "
                    "min–max normalisation: " + "; ".join(f"`{d['sample_id']}` ({d['why']})" for d in degenerate)
                    + ".", ""]
    return out


def _sources_section(sources: pd.DataFrame) -> list[str]:
    """Per source dataset scores of multi-source (composite) configurations, as MEGC2019 reports."""
    if sources.empty:
        return []
    out = ["### Per source dataset", "",
           "Each source's predictions pooled over its folds and scored alone (MEGC2019 reports UF1 and "
           "UAR per dataset beside the composite).", ""]
    return out + _md_table(
        ["dataset", "configuration", "source", "samples", "accuracy %", "UF1", "UAR"],
        [[r["dataset"], f"`{r['configuration']}`", r["source"], r["n_samples"],
          _num(r["accuracy"], 100, 2), _num(r["uf1"], 1, 4), _num(r["uar"], 1, 4)]
         for _, r in sources.iterrows()]) + [""]


def _pairs_section(pairs: pd.DataFrame) -> list[str]:
    """Section 3: paired McNemar tests between heads."""
    out = ["## 3. Paired McNemar tests between heads", "",
           "Same dataset, input, other overrides and seed; paired on sample_id. b = samples head A got "
           "right and head B wrong, c = the reverse; p = exact two-sided binomial test of b among the "
           "b + c discordant pairs at 1/2 (scipy.stats.binomtest). Δ = A − B, with the subject-bootstrap "
           "interval of the difference (both heads resampled on the same subjects).", ""]
    if pairs.empty:
        return out + ["No two heads ran on the same samples.", ""]
    return out + _md_table(
        ["dataset", "input", "other overrides", "seed", "head A", "head B", "paired samples",
         "accuracy A %", "accuracy B %", "b", "c", "p", "Δ accuracy % [CI]", "Δ UF1 [CI]"],
        [[r["dataset"], r["input"], r["other"] or "—", r["seed"], r["a"], r["b_head"], r["n"],
          _num(r["accuracy_a"], 100, 2), _num(r["accuracy_b"], 100, 2), r["b"], r["c"], f"{r['p']:.4f}",
          _signed(r, "accuracy_diff", 100, 2), _signed(r, "uf1_diff", 1, 4)]
         for _, r in pairs.iterrows()]) + [""]


def _signed(row: pd.Series, column: str, scale: float, digits: int) -> str:
    """A difference with its sign and its CI, "+2.41 [−3.10, +7.90]" ("—" where none)."""
    value = row.get(column)
    if value is None or pd.isna(value):
        return "—"
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    return f"{scale * value:+.{digits}f} [{scale * low:+.{digits}f}, {scale * high:+.{digits}f}]"


def _sensitivity_section(sensitivity: pd.DataFrame) -> list[str]:
    """Which open choice of the paper moves the result: each setting against the paper recipe."""
    if sensitivity.empty:
        return []
    out = ["## Sensitivity: the choices the paper leaves open", "",
           f"Each setting changes one choice of the paper recipe (`sensitivity={SENSITIVITY_REFERENCE}`); "
           "scores are pooled over folds and averaged over seeds, with 95 % subject-bootstrap intervals. "
           "Δ is the setting minus the paper recipe on the same subjects, its interval from resampling "
           "both together: an interval that holds 0 is no evidence the choice matters.", ""]
    return out + _md_table(
        ["dataset", "input", "head", "other overrides", "setting", "seeds", "samples", "accuracy % [CI]",
         "UF1 [CI]", "Δ accuracy % [CI]", "Δ UF1 [CI]"],
        [[r["dataset"], r["input"], r["head"], r["other"] or "—", f"`{r['setting']}`", r["n_seeds"],
          r["n_samples"], _num(r["accuracy"], 100, 2) + _ci(r, "accuracy", 100, 2),
          _num(r["uf1"], 1, 4) + _ci(r, "uf1", 1, 4),
          _signed(r, "accuracy_diff", 100, 2) if r["setting"] != SENSITIVITY_REFERENCE else "reference",
          _signed(r, "uf1_diff", 1, 4) if r["setting"] != SENSITIVITY_REFERENCE else "reference"]
         for _, r in sensitivity.iterrows()]) + [""]


def _seeds_section(report: pd.DataFrame, seeds: pd.DataFrame) -> list[str]:
    """Section 4: per-seed pooled scores and their mean ± std when seeds were swept."""
    out = ["## 4. Seeds", ""]
    if report["n_seeds"].max() <= 1:
        return out + ["One seed per configuration (sweep `seed=0,1,2,3,4` for mean ± std over seeds).", ""]
    out += ["Each seed is pooled over its folds, then the seeds are averaged (mean ± sample std).", ""]
    rows = []
    by_key = dict(list(seeds.groupby(KEY, sort=False)))
    for _, r in report.iterrows():
        mine = by_key.get(tuple(r[KEY]), seeds.iloc[:0]).sort_values("seed")
        per_seed = ", ".join(f"{s['seed']}: {_num(s['accuracy'], 100, 2)} / {_num(s['uf1'], 1, 4)}"
                             for _, s in mine.iterrows())
        rows.append([r["dataset"], f"`{r['configuration']}`", r["n_seeds"], per_seed,
                     f"{_num(r['accuracy'], 100, 2)} ± {_num(r['accuracy_seed_std'], 100, 2)}",
                     f"{_num(r['uf1'], 1, 4)} ± {_num(r['uf1_seed_std'], 1, 4)}",
                     f"{_num(r['uar'], 1, 4)} ± {_num(r['uar_seed_std'], 1, 4)}"])
    return out + _md_table(["dataset", "configuration", "n_seeds", "seed: accuracy % / UF1",
                            "accuracy % (mean ± std)", "UF1 (mean ± std)", "UAR (mean ± std)"], rows) + [""]


def _samples_section(samples: pd.DataFrame, preds: pd.DataFrame) -> list[str]:
    """Section 5: how many samples, per label, and whether configurations scored different sets."""
    out = ["## 5. Samples", "",
           f"`{SAMPLES_CSV}` lists the exact {samples['sample_id'].nunique()} samples scored "
           f"({samples['subject'].nunique()} subjects; union over configurations). Labels: "
           + ", ".join(f"{k} {v}" for k, v in samples["label"].value_counts().items()) + ".", ""]
    for dataset, p in preds.groupby("dataset"):
        union = set(p["sample_id"])
        sets = {c: set(g["sample_id"]) for c, g in p.groupby("configuration")}
        if all(s == union for s in sets.values()):
            out += [f"- {dataset}: all {len(sets)} configurations with predictions use the same "
                    f"{len(union)} samples (union over their folds and seeds)."]
        else:
            out += [f"- {dataset}: configurations differ in their sample sets (union {len(union)}): "
                    + "; ".join(f"`{c}` {len(s)} (lacks {len(union - s)})" for c, s in sets.items())
                    + ". Missing folds or failed jobs explain most differences."]
    if samples["sample_id"].duplicated().any():
        out += ["- Some sample_ids carry different labels in different configurations (label sets differ)."]
    return out + [""]


def _failures_section(runs: pd.DataFrame) -> list[str]:
    """Failed or unfinished jobs (a `.hydra/` dir but no metrics.json, or a broken metrics.json or
    predictions.csv), with failed.txt's first line or what is wrong with the file."""
    failed = runs[runs["status"] != "ok"]
    if failed.empty:
        return []
    return ["## Failed or unfinished jobs", ""] + [
        f"- `{r['job']}` (fold {r['fold']}, seed {r['seed']})" + (f": {r['error']}" if r["error"] else "")
        for _, r in failed.iterrows()] + [""]


# ─── the entry point ────────────────────────────────────────────────────────────────────────────

def build_report(sweep_dir: str | Path, out_dir: str | Path | None = None,
                 boot: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """Read every run under `sweep_dir`; write report.csv, report.md, report_seeds.csv, samples.csv,
    confusion PNGs, for composite datasets report_sources.csv, and for a sensitivity sweep
    report_sensitivity.csv into `out_dir` (default: the sweep dir); return the report.csv frame."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    preds, classes, runs = load_predictions(collect_runs(sweep_dir))
    report, seeds = summarise(runs, preds, classes, boot)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.to_csv(out_dir / REPORT_CSV, index=False)
    seeds.to_csv(out_dir / SEEDS_CSV, index=False)
    samples = sample_list(preds)
    samples.to_csv(out_dir / SAMPLES_CSV, index=False)
    sources = source_scores(preds, classes)
    if not sources.empty:
        sources.to_csv(out_dir / SOURCES_CSV, index=False)
    sensitivity = sensitivity_scores(report, preds, classes, boot)
    if not sensitivity.empty:
        sensitivity.to_csv(out_dir / SENSITIVITY_CSV, index=False)
    figures, rows = {}, report.set_index(KEY)
    for key, p in preds.groupby(KEY, sort=False):
        order = classes[key[0]]
        matrix = confusion(p["label"], p["pred"], order)
        name = f"{CONFUSION_DIR}/{slug(key[0] + '-' + key[3])}.png"
        row = rows.loc[key]
        title = f"{key[0]} · {key[3]}\npooled: accuracy {100 * row['accuracy']:.2f}%, UF1 {row['uf1']:.4f}"
        plot_confusion(matrix, order, title, out_dir / name)
        figures[key] = (name, matrix, order)
    pairs = head_pairs(preds, classes, boot)
    (out_dir / REPORT_MD).write_text(render_markdown(sweep_dir, runs, report, seeds, pairs, samples, preds,
                                                     figures, sources, sensitivity, data_check_lines(runs),
                                                     boot))
    return report


def print_table(report: pd.DataFrame, boot: Bootstrap = Bootstrap()) -> None:
    """The main table in the terminal (pooled scores; mean ± std over seeds where swept; CIs)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mer-report: pooled over folds, [{100 * boot.confidence:g} % subject-bootstrap "
                  "interval] (per-fold mean for reference)")
    for name in ("dataset", "configuration", "samples", "folds", "seeds", "accuracy %", "UF1", "UAR",
                 "per-fold acc %", "missing folds"):
        table.add_column(name, overflow="fold")
    for _, r in report.iterrows():
        table.add_row(r["dataset"], r["configuration"], str(r["n_samples"]), str(r["n_folds"]), str(r["n_seeds"]),
                      _score(r, "accuracy", 100, 2), _score(r, "uf1", 1, 4), _score(r, "uar", 1, 4),
                      f"{_num(r['per_fold_mean_accuracy'], 100, 1)} ± {_num(r['per_fold_std_accuracy'], 100, 1)}",
                      r["missing_folds"] or "none")
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # pipes and logs: no squeeze
    if report["dataset"].map(is_synthetic).any():
        print("synthetic data: proves the pipeline; these are NOT the paper's numbers.")


def print_sources(sources: pd.DataFrame) -> None:
    """The per-source scores of composite configurations in the terminal (MEGC2019 style)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="per source dataset (pooled over that source's folds)")
    for name in ("dataset", "configuration", "source", "samples", "accuracy %", "UF1", "UAR"):
        table.add_column(name, overflow="fold")
    for _, r in sources.iterrows():
        table.add_row(r["dataset"], r["configuration"], r["source"], str(r["n_samples"]),
                      _num(r["accuracy"], 100, 2), _num(r["uf1"], 1, 4), _num(r["uar"], 1, 4))
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def print_sensitivity(sensitivity: pd.DataFrame) -> None:
    """The sensitivity table in the terminal: each setting against the paper recipe."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sensitivity: one open choice changed at a time (Δ = setting − "
                  f"sensitivity={SENSITIVITY_REFERENCE}, on the same subjects)")
    for name in ("dataset", "other overrides", "setting", "seeds", "accuracy %", "UF1", "Δ accuracy %", "Δ UF1"):
        table.add_column(name, overflow="fold")
    for _, r in sensitivity.iterrows():
        reference = r["setting"] == SENSITIVITY_REFERENCE
        table.add_row(r["dataset"], r["other"] or "—", r["setting"], str(r["n_seeds"]),
                      _num(r["accuracy"], 100, 2) + _ci(r, "accuracy", 100, 2), _num(r["uf1"], 1, 4) + _ci(r, "uf1", 1, 4),
                      "reference" if reference else _signed(r, "accuracy_diff", 100, 2),
                      "reference" if reference else _signed(r, "uf1_diff", 1, 4))
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def push_to_wandb(report: pd.DataFrame, sweep_dir: Path, out_dir: Path) -> Path:
    """Log the report as one W&B run (project mer, job_type report, group = sweep dir name): the
    report table and the confusion PNGs; offline under `out_dir/wandb` without credentials."""
    import wandb

    reason = "WANDB_MODE=offline" if os.environ.get("WANDB_MODE") in ("offline", "dryrun") else None
    if reason is None:
        reason = None if wandb_credentials() else "no credentials (WANDB_API_KEY or ~/.netrc)"
    offline = reason is not None
    if offline:
        print(f"W&B: {reason}, logging offline under {out_dir / 'wandb'}; upload later with "
              f"`wandb sync {out_dir / 'wandb'}/offline-run-*`", flush=True)
    run = wandb.init(project="mer", job_type="report", group=sweep_dir.resolve().name,
                     name=f"report-{sweep_dir.resolve().name}", dir=str(out_dir),
                     mode="offline" if offline else "online", config={"sweep_dir": str(sweep_dir.resolve())})
    images = {f"confusion/{png.stem}": wandb.Image(str(png), caption=png.stem)
              for png in sorted((out_dir / CONFUSION_DIR).glob("*.png"))}
    run.log({"report": wandb.Table(dataframe=report.astype(object).where(report.notna(), None)), **images})
    run.finish()
    return Path(run.dir).parent


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-report SWEEP_DIR [--out DIR] [--bootstrap N] [--wandb]`."""
    parser = argparse.ArgumentParser(
        prog="mer-report", description="Pool a mer-train sweep's predictions into tables with "
        "subject-bootstrap confidence intervals, confusion matrices and McNemar tests (report.md, "
        "report.csv, samples.csv, confusion/*.png; report_sources.csv for a composite dataset; "
        "report_sensitivity.csv for experiment=paper_sensitivity).")
    parser.add_argument("sweep_dir", type=Path, help="the dir `mer-train -m` wrote (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="write the report here (default: SWEEP_DIR)")
    parser.add_argument("--bootstrap", type=int, default=Bootstrap.n_resamples, metavar="N",
                        help="subject-bootstrap resamples per interval (default %(default)s)")
    parser.add_argument("--bootstrap-seed", type=int, default=Bootstrap.seed, metavar="SEED",
                        help="seed of the resampling (default %(default)s)")
    parser.add_argument("--confidence", type=float, default=Bootstrap.confidence,
                        help="coverage of the intervals (default %(default)s)")
    parser.add_argument("--wandb", action="store_true", help="also log it as one W&B run (offline without credentials)")
    args = parser.parse_args(argv)
    try:
        boot = Bootstrap(args.bootstrap, args.confidence, args.bootstrap_seed)
    except ValueError as err:
        raise MerError(f"mer-report: {err}") from None
    out_dir = args.out if args.out is not None else args.sweep_dir
    report = build_report(args.sweep_dir, out_dir, boot)
    print_table(report, boot)
    written = [REPORT_CSV, SAMPLES_CSV]
    if (out_dir / SOURCES_CSV).is_file():
        print_sources(pd.read_csv(out_dir / SOURCES_CSV))
        written.append(SOURCES_CSV)
    if (out_dir / SENSITIVITY_CSV).is_file():
        print_sensitivity(pd.read_csv(out_dir / SENSITIVITY_CSV, dtype={"other": str}).fillna({"other": ""}))
        written.append(SENSITIVITY_CSV)
    print(f"wrote {out_dir / REPORT_MD}, {', '.join(written)} and {CONFUSION_DIR}/*.png", flush=True)
    if args.wandb:
        push_to_wandb(report, args.sweep_dir, out_dir)


if __name__ == "__main__":
    main()
