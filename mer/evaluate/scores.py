"""Scores of pooled predictions: per configuration (mean ± std over seeds, subject-bootstrap CIs,
per-fold mean for reference), per seed, per source dataset, McNemar between heads, the
sensitivity table and the methods table (one row per model × head).

Every number is scored on the predictions of all folds concatenated (docs/paper.md, "Protocol":
pool, then score); the bootstrap itself lives in `mer.evaluate.statistics`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from mer.architectures import ARCHITECTURES
from mer.evaluate.au_scores import au_seed_scores, au_summary
from mer.evaluate.metrics import SCORE_NAMES, pooled_metrics
from mer.evaluate.statistics import Bootstrap, paired_bootstrap, subject_bootstrap
from mer.evaluate.sweep_runs import KEY, fold_key
from mer.run_dir import override_key

INPUT_ORDER = ("apex", "u", "v", "uv", "uvm", "uvs")
HEAD_ORDER = ("softmax", "hinge", "svm")
#: The sensitivity sweep's reference setting (conf/sensitivity/paper.yaml: the paper recipe unchanged).
SENSITIVITY_KEY, SENSITIVITY_REFERENCE = "sensitivity", "paper"


def _std(values: pd.Series) -> float:
    """Sample standard deviation (ddof=1); NaN for fewer than two values."""
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def seed_scores(preds: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Per seed of one configuration: pooled accuracy/UF1/UAR, and the per-fold mean ± std."""
    rows = []
    for seed, p in preds.groupby("seed"):
        folds = pd.DataFrame([pooled_metrics(f["label"], f["pred"], classes) for _, f in p.groupby("fold")])
        rows.append(
            {
                "seed": seed,
                **pooled_metrics(p["label"], p["pred"], classes),
                "n_folds": len(folds),
                "per_fold_mean_accuracy": folds["accuracy"].mean(),
                "per_fold_std_accuracy": _std(folds["accuracy"]),
                "per_fold_mean_uf1": folds["uf1"].mean(),
                "per_fold_std_uf1": _std(folds["uf1"]),
            }
        )
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
            rows.append(
                {
                    **dict(zip(KEY, key)),
                    "source": source,
                    "n_samples": q["sample_id"].nunique(),
                    **{m: per_seed[m].mean() for m in ("accuracy", "uf1", "uar")},
                }
            )
    return pd.DataFrame(rows)


def _missing_folds(jobs: pd.DataFrame, expected: Iterable[str]) -> str:
    """Expected folds without finished predictions, "3, 5", or "3 (seed 1)" when only some seeds lack it."""
    seeds = sorted(jobs["seed"].unique())
    done = jobs[jobs["status"] == "ok"]
    parts = []
    for fold in sorted(expected, key=fold_key):
        lacking = [s for s in seeds if not ((done["fold"] == fold) & (done["seed"] == s)).any()]
        if lacking:
            parts.append(fold if len(lacking) == len(seeds) else f"{fold} (seed {', '.join(map(str, lacking))})")
    return ", ".join(parts)


def _tested_subjects(subjects: list[str] | None, jobs: pd.DataFrame) -> list[str] | None:
    """The subjects a complete run of these jobs tests: every subject of the dataset under LOSO, the
    test sources' (`casme2_sub01`...) in a cross-dataset run; None when the cache is not readable."""
    if subjects is None:
        return None
    test_datasets = set(jobs["test_dataset"].dropna())
    if test_datasets:
        return [s for s in subjects if any(s.startswith(f"{d}_") for d in test_datasets)]
    return subjects


def _expected_folds(dataset_runs: pd.DataFrame, subjects: list[str] | None) -> set[str]:
    """The folds a complete sweep of this dataset runs: those any job ran, and with the cache's
    subject list every LOSO fold (by index, or by subject where jobs name `data.test_subject`)."""
    folds = set(dataset_runs["fold"])
    if subjects is None or dataset_runs["test_dataset"].notna().any():
        return folds
    by_index = all(str(f).lstrip("-").isdigit() for f in folds)
    return folds | (set(map(str, range(len(subjects)))) if by_index else set(subjects))


def _covered(p: pd.DataFrame, tested: list[str] | None) -> tuple[int, bool | None]:
    """How many of the tested subjects have predictions in every seed, and whether that is all of
    them (None when the tested subjects are not known)."""
    if tested is None:
        return p["subject"].nunique(), None
    per_seed = [set(q["subject"]) for _, q in p.groupby("seed")] or [set()]
    covered = len(set(tested).intersection(*per_seed))
    return covered, covered == len(tested)


def summarise(
    runs: pd.DataFrame,
    preds: pd.DataFrame,
    classes: dict[str, list[str]],
    boot: Bootstrap = Bootstrap(),
    subjects: dict[str, list[str]] | None = None,
    au_preds: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report.csv frame (one row per configuration; mean ± std over seeds; subject-bootstrap CIs;
    how many of the dataset's subjects it covers, from `subjects`, the caches' subject lists) and
    the per-seed frame. An action-unit configuration (its predictions in `au_preds`) has the mean
    AU F1 and each AU's F1 instead of accuracy, UF1 and UAR, which stay empty."""
    rows, seed_frames = [], []
    by_key = dict(list(preds.groupby(KEY, sort=False)))
    au_by_key = dict(list(au_preds.groupby(KEY, sort=False))) if au_preds is not None and len(au_preds) else {}
    subjects = subjects or {}
    for key, jobs in runs.groupby(KEY, sort=False):
        expected = _expected_folds(runs[runs["dataset"] == key[0]], subjects.get(key[0]))
        base = dict(zip(KEY, key))
        if key in au_by_key:
            p, au_row = au_by_key[key], au_summary(au_by_key[key], boot)
            per_seed = au_seed_scores(p).assign(**base)
            seed_frames.append(per_seed)
            per_seed = pd.DataFrame(columns=["seed"])
        else:
            p, au_row = by_key.get(key, preds.iloc[:0]), {}
            per_seed = seed_scores(p, classes[key[0]]) if len(p) else pd.DataFrame(columns=["seed"])
            seed_frames.append(per_seed.assign(**base))
        seeds = sorted(p["seed"].unique())
        row = {
            **base,
            "n_seeds": len(seeds),
            "seeds": " ".join(map(str, seeds)),
            "n_samples": p["sample_id"].nunique(),
            "n_folds": p["fold"].nunique(),
        }
        scored = len(per_seed) > 0  # emotion predictions: action units leave these columns empty
        for metric in ("accuracy", "uf1", "uar"):
            row[metric] = per_seed[metric].mean() if scored else np.nan
        for metric in ("accuracy", "uf1", "uar"):
            row[f"{metric}_seed_std"] = _std(per_seed[metric]) if scored else np.nan
        for col in ("per_fold_mean_accuracy", "per_fold_std_accuracy", "per_fold_mean_uf1", "per_fold_std_uf1"):
            row[col] = per_seed[col].mean() if scored else np.nan
        intervals = subject_bootstrap(p, classes[key[0]], boot) if scored else {}
        for metric in SCORE_NAMES:
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = intervals.get(metric, (np.nan, np.nan))
        row["missing_folds"] = _missing_folds(jobs, expected)
        tested = _tested_subjects(subjects.get(key[0]), jobs)
        row["n_subjects_covered"], row["complete"] = _covered(p, tested)
        row["n_subjects_tested"] = len(tested) if tested is not None else np.nan
        failed = jobs[jobs["status"] != "ok"]
        row["failed_jobs"] = "; ".join(failed["job"])
        row["failure_reasons"] = "; ".join(
            f"{job}: {error or 'unfinished'}" for job, error in zip(failed["job"], failed["error"])
        )
        row["other_overrides"] = jobs["rest"].iloc[0]
        row["task"] = jobs["task"].iloc[0]
        row["model"], row["size"] = jobs["model"].iloc[0], jobs["size"].iloc[0]
        row["input_size"], row["recipe"] = jobs["input_size"].iloc[0], jobs["recipe"].iloc[0]
        row["tuning"], row["search_space"] = jobs["tuning"].iloc[0], jobs["search_space"].iloc[0]
        row["n_parameters"] = jobs["n_parameters"].dropna().max()  # one network: the same in every job
        row["fit_s_median"] = jobs["fit_s"].median()
        rows.append({**row, **au_row})
    report = pd.DataFrame(rows).sort_values(["dataset", "other_overrides", "input", "head"], key=_order_key)
    return report.reset_index(drop=True), pd.concat(seed_frames, ignore_index=True)


def methods_table(report: pd.DataFrame) -> pd.DataFrame:
    """The methods table (the paper's Table 4 style): one row per model × head of every dataset and
    input, in `ARCHITECTURES` then head order, with its pooled scores, intervals, parameter count
    and median training time per job; empty unless the sweep compares several models."""
    if report["model"].nunique() < 2:
        return report.iloc[:0]
    order = report.assign(
        _model=report["model"].map(lambda m: rank(m, ARCHITECTURES)),
        _head=report["head"].map(lambda h: rank(h, HEAD_ORDER)),
    )
    return (
        order.sort_values(["dataset", "_model", "_head", "configuration"])
        .drop(columns=["_model", "_head"])
        .reset_index(drop=True)
    )


def rank(value: str, order: Sequence[str]) -> tuple[int, str]:
    """Position in the paper's order (apex, u, v, uv…; softmax, hinge, svm), unknown names after."""
    return (order.index(value), "") if value in order else (len(order), value)


def _order_key(values: pd.Series) -> pd.Series:
    """`rank` over the input and head columns, for `sort_values(key=...)`."""
    order = {"input": INPUT_ORDER, "head": HEAD_ORDER}.get(values.name)
    return values if order is None else values.map(lambda v: rank(v, order))


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


def head_pairs(preds: pd.DataFrame, classes: dict[str, list[str]], boot: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """McNemar between every two heads on the same samples, beside the subject-bootstrap CI of their
    accuracy and UF1 difference (A − B): same dataset, input, other overrides (head.* aside) and
    seed; paired on sample_id."""
    preds = preds.assign(
        pair=preds["rest"].map(
            lambda r: ",".join(o for o in r.split(",") if o and not override_key(o).startswith("head."))
        )
    )
    rows = []
    for (dataset, input_name, pair), group in preds.groupby(["dataset", "input", "pair"]):
        heads = group.drop_duplicates("configuration").set_index("configuration")["head"]
        configs = sorted(heads.index, key=lambda c: (rank(heads[c], HEAD_ORDER), c))
        for config_a, config_b in itertools.combinations(configs, 2):
            a, b = group[group["configuration"] == config_a], group[group["configuration"] == config_b]
            for seed in sorted(set(a["seed"]) & set(b["seed"])):
                both = (
                    a[a["seed"] == seed]
                    .drop_duplicates("sample_id")
                    .merge(b[b["seed"] == seed].drop_duplicates("sample_id"), on="sample_id")
                )
                if both.empty:
                    continue
                correct_a, correct_b = both["pred_x"] == both["label_x"], both["pred_y"] == both["label_y"]
                paired = both[["sample_id", "subject_x"]].rename(columns={"subject_x": "subject"}).assign(seed=seed)
                diff = paired_bootstrap(
                    paired.assign(label=both["label_x"], pred=both["pred_x"]),
                    paired.assign(label=both["label_y"], pred=both["pred_y"]),
                    classes[dataset],
                    boot,
                )
                rows.append(
                    {
                        "dataset": dataset,
                        "input": input_name,
                        "other": pair,
                        "seed": seed,
                        "a": _head_label(a),
                        "b_head": _head_label(b),
                        "accuracy_a": correct_a.mean(),
                        "accuracy_b": correct_b.mean(),
                        **mcnemar(correct_a, correct_b),
                        **_difference_columns(diff),
                    }
                )
    return pd.DataFrame(rows)


def _difference_columns(diff: dict[str, tuple[float, float, float]]) -> dict[str, float]:
    """`paired_bootstrap`'s accuracy and UF1 differences as flat columns (`uf1_diff_ci_low`...)."""
    return {
        f"{metric}_diff{part}": value
        for metric in ("accuracy", "uf1")
        for part, value in zip(("", "_ci_low", "_ci_high"), diff[metric])
    }


def sensitivity_scores(
    report: pd.DataFrame, preds: pd.DataFrame, classes: dict[str, list[str]], boot: Bootstrap = Bootstrap()
) -> pd.DataFrame:
    """The sensitivity table: each `sensitivity=` setting's pooled scores (mean over seeds, with
    CIs), and its difference from the reference setting (the paper recipe) of the same dataset,
    input, head and other overrides, on the same subjects, with a paired subject-bootstrap CI.
    The reference first, then the other settings by name; empty where the sweep has none."""
    settings = report.assign(
        setting=report["other_overrides"].map(_sensitivity_setting),
        other=report["other_overrides"].map(_without_sensitivity),
    )
    settings = settings[settings["setting"].notna()]
    rows = []
    for (dataset, _, _, _), peers in settings.groupby(["dataset", "input", "head", "other"], sort=False):
        reference = peers[peers["setting"] == SENSITIVITY_REFERENCE]
        mine_dataset = preds[preds["dataset"] == dataset]
        theirs = mine_dataset[mine_dataset["configuration"].isin(reference["configuration"])]
        peers = peers.sort_values("setting", key=lambda s: s.map(lambda v: (v != SENSITIVITY_REFERENCE, v)))
        for _, r in peers.iterrows():
            row = {
                **r[["dataset", "input", "head", "other", "setting", "n_seeds", "n_samples"]].to_dict(),
                **{c: r[c] for m in ("accuracy", "uf1") for c in (m, f"{m}_ci_low", f"{m}_ci_high")},
            }
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
