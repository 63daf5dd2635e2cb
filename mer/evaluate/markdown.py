"""report.md: the scored tables as paper-style markdown (Tables 2, 3 and 5 beside the paper's
numbers; the methods table, Table 4 style, before the paper's Table 4), with confusion matrices,
McNemar tests, the sensitivity table, seeds, samples, failures and the data checks; the fixed
paragraphs come from `report_prose.md`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files

import numpy as np
import pandas as pd

from mer import paper
from mer.evaluate.cells import number, score, subjects_phrase
from mer.evaluate.report_data import ReportData
from mer.evaluate.report_files import SAMPLES_CSV
from mer.evaluate.scores import HEAD_ORDER, INPUT_ORDER, SENSITIVITY_REFERENCE, rank
from mer.evaluate.sweep_runs import KEY, SYNTHETIC_NOTE, is_synthetic
from mer.evaluate.tables import (
    AU_CONFIGURATIONS,
    AU_SOURCES,
    AUS,
    CONFIGURATIONS,
    HEAD_PAIRS,
    METHODS,
    PAPER_TABLE4,
    SENSITIVITY,
    SOURCES,
    TUNED_FOLDS,
    markdown_grid,
    markdown_lines,
    paper_table4,
)


def _prose_blocks(text: str) -> dict[str, str]:
    """report_prose.md's blocks by name (`<!-- name -->` starts one), each joined into one line."""
    parts = re.split(r"^<!-- (\w+) -->$", text, flags=re.M)
    return {name: " ".join(block.strip().splitlines()) for name, block in zip(parts[1::2], parts[2::2])}


PROSE = _prose_blocks(files("mer.evaluate").joinpath("report_prose.md").read_text(encoding="utf-8"))


def cell(row: pd.Series | None) -> str:
    """ "acc % [CI] / UF1 [CI]" pooled, with ± std over seeds when several seeds were run."""
    if row is None or not row["n_samples"]:
        return "—"
    return f"{score(row, 'accuracy', 100, 2)} / {score(row, 'uf1', 1, 4)}"


def _paper_cell(result: paper.Result | None, rows: list[pd.Series | None]) -> str:
    """A published "acc % / F1" cell, "—" where the paper has none, and "not comparable: k of n
    subjects" where one of our `rows` beside it covers only part of the dataset."""
    partial = [r for r in rows if r is not None and r["complete"] == False]  # noqa: E712 (None: not known)
    if result is None:
        return "—"
    if partial:
        return f"not comparable: {subjects_phrase(partial[0])}"
    return f"{result.accuracy:.2f} / {result.f1:.4f}"


def _family_tables(family: pd.DataFrame, confidence: str) -> list[str]:
    """Table 2 style (inputs × heads) and Table 3 style (heads on u+v) for one dataset+overrides;
    the paper's numbers beside them only where the model is the paper's (MobileNetV2)."""
    model = family["model"].iloc[0]
    table2, table3 = (paper.TABLE2, paper.TABLE3) if model == paper.MODEL else ({}, {})
    head_label = paper.HEAD_LABELS.get if model == paper.MODEL else (lambda h, _: f"{model} + {h}")
    find = {(r["input"], r["head"]): r for _, r in family.iterrows()}
    inputs = sorted(set(family["input"]), key=lambda v: rank(v, INPUT_ORDER))
    heads = sorted(set(family["head"]), key=lambda v: rank(v, HEAD_ORDER))
    head_names = [
        f"`{h}`" + {"hinge": " (paper's SVM)", "svm": " (post-hoc sklearn, extension)"}.get(h, "") for h in heads
    ]
    lines = [
        "#### Table 2 style: input ablation",
        "",
        "Cells: accuracy % / UF1, pooled over the folds that ran"
        + (" (mean ± std over seeds)" if family["n_seeds"].max() > 1 else "")
        + f", each with its {confidence} % subject-bootstrap interval in brackets.",
        "",
    ]
    lines += markdown_grid(
        ["input", *head_names, "paper (SVM head)"],
        [
            [
                paper.INPUT_LABELS.get(i, i),
                *[cell(find.get((i, h))) for h in heads],
                _paper_cell(table2.get(i), [find.get((i, h)) for h in heads]),
            ]
            for i in inputs
        ],
    )
    lines += ["", f"#### Table 3 style: head ablation on {paper.INPUT_LABELS['uv']}", ""]
    if paper.TABLE3_INPUT not in inputs:
        return lines + [f"No `{paper.TABLE3_INPUT}` runs in this group (the paper's Table 3 is on u + v).", ""]
    lines += markdown_grid(
        ["head", "ours", "paper"],
        [
            [
                f"`{h}`: " + head_label(h, h),
                cell(find.get((paper.TABLE3_INPUT, h))),
                _paper_cell(table3.get(h), [find.get((paper.TABLE3_INPUT, h))]),
            ]
            for h in heads
        ],
    )
    return lines + [""]


def _percent_table(matrix: np.ndarray, classes: Sequence[str], with_paper: bool) -> list[str]:
    """Table 5 style: % of the true class (rows true), with the paper's diagonal where it applies."""
    support = matrix.sum(axis=1)
    rows = []
    for i, name in enumerate(classes):
        share = [number(matrix[i, j] / support[i], 100, 2) if support[i] else "—" for j in range(len(classes))]
        extra = [f"{paper.TABLE5_DIAGONAL[name]:.2f}" if name in paper.TABLE5_DIAGONAL else "—"] if with_paper else []
        rows.append([name, *share, support[i], *extra])
    return markdown_grid(["true \\ predicted (%)", *classes, "n", *(["paper % correct"] if with_paper else [])], rows)


def _settings_line(runs: pd.DataFrame) -> str:
    """Input sizes and epoch counts of the sweep, beside the paper's 224² input."""
    sizes = ", ".join(f"{s}×{s}" for s in sorted(runs["size"].dropna().unique()))
    epochs = ", ".join(str(e) for e in sorted(runs["epochs"].dropna().unique()))
    note = "" if set(runs["size"].dropna()) <= {224} else " — smaller than the paper's 224×224"
    return f"**Settings.** Input size {sizes}{note}; {epochs} epochs per fold."


def render_markdown(data: ReportData) -> str:
    """report.md: paper-style tables with CIs, the methods and all configurations, confusion
    matrices, McNemar tests, the sensitivity table, seeds, the sample list and the failures."""
    out = _preamble(data) + ["## 1. Results", ""]
    emotion = data.emotion_report
    for (dataset, rest), family in emotion.groupby(["dataset", "other_overrides"], sort=False):
        out += [f"### {dataset}" + (f" · `{rest}`" if rest else ""), ""]
        if is_synthetic(dataset):
            out += [f"> {SYNTHETIC_NOTE}", ""]
        out += _family_tables(family, data.confidence)
    out += _methods_section(data.methods, data.confidence)
    if len(emotion):
        out += ["### All configurations", "", *markdown_lines(CONFIGURATIONS, emotion), ""]
    out += _sources_section(data.sources)
    out += _action_units_section(data)
    out += _tuning_section(data)
    out += _confusion_section(data.report, data.figures)
    out += _pairs_section(data.pairs)
    out += _sensitivity_section(data.sensitivity, data.confidence)
    out += _seeds_section(emotion, data.seeds)
    out += _samples_section(data.samples, data.preds)
    out += _failures_section(data.runs)
    return "\n".join(out) + "\n"


def _preamble(data: ReportData) -> list[str]:
    """report.md's head: the sweep, its settings, the synthetic and partial-sweep warnings, how to
    read the numbers, and the caches' data checks."""
    runs, report, boot = data.runs, data.report, data.boot
    n_ok = int((runs["status"] == "ok").sum())
    out = [
        f"# mer report: {data.sweep_dir.name}",
        "",
        f"Sweep `{data.sweep_dir}`: {n_ok} finished jobs, {len(runs) - n_ok} failed or unfinished, "
        f"{len(report)} configurations.",
        "",
        _settings_line(runs),
        "",
    ]
    if report["dataset"].map(is_synthetic).any():
        out += [PROSE["synthetic_warning"].format(synthetic_note=SYNTHETIC_NOTE), ""]
    partial = report[report["complete"] == False]  # noqa: E712 (None: not known, not partial)
    if len(partial):
        covered = "; ".join(f"`{r['configuration']}` covers {subjects_phrase(r)}" for _, r in partial.iterrows())
        out += [PROSE["partial"].format(covered=covered, paper_subjects=paper.N_SUBJECTS), ""]
    return out + [
        PROSE["protocol"],
        "",
        PROSE["intervals"].format(confidence=data.confidence, n_resamples=boot.n_resamples, seed=boot.seed),
        "",
        PROSE["recipes"],
        "",
        PROSE["paper_numbers"].format(source=paper.SOURCE),
        "",
        *data_check_lines(data.manifests),
    ]


def _confusion_section(report: pd.DataFrame, figures: dict[tuple, tuple[str, np.ndarray, list[str]]]) -> list[str]:
    """Section 2: each configuration's confusion PNG and its Table 5 style percentages."""
    out = ["## 2. Confusion matrices", ""]
    if not figures:
        return out + ["No emotion configuration: action units are scored per AU (above).", ""]
    out += [PROSE["confusion"], ""]
    for _, r in report.iterrows():
        key = tuple(r[KEY])
        if key not in figures:
            continue
        png, matrix, classes = figures[key]
        with_paper = (r["model"], r["input"], r["head"]) == (paper.MODEL, paper.TABLE5_INPUT, paper.TABLE5_HEAD)
        out += [f"### {r['dataset']} · `{r['configuration']}`", "", f"![confusion matrix]({png})", ""]
        out += _percent_table(matrix, classes, with_paper) + [""]
    return out


def data_check_lines(manifests: dict[str, dict | None]) -> list[str]:
    """The data checks of each dataset's cache (`mer.preprocess.data_check`), for report.md: its
    counts beside the paper's, and its degenerate clips; said where that cache is gone (None)."""
    out = []
    for dataset, manifest in manifests.items():
        if manifest is None:
            out += [
                f"**Data check ({dataset}).** Not shown: the cache these runs trained on is not "
                "readable here (moved, or runs from before mer recorded it).",
                "",
            ]
            continue
        check = manifest.get("paper_counts")
        if check and check["differ"]:
            out += [
                f"**Data check ({dataset}): the counts differ from the paper's** "
                f"(`{check['sheet']}` read). Compare the numbers above with that in mind.",
                "",
            ]
            out += markdown_grid(
                ["", "paper", "ours", "Δ"],
                [[r["what"], r["paper"], r["ours"], f"{r['ours'] - r['paper']:+d}"] for r in check["rows"]],
            )
            out += [""]
        elif check:
            out += [
                f"**Data check ({dataset}).** The counts match the paper's: {paper.N_SAMPLES} clips of "
                f"{paper.N_SUBJECTS} subjects (`{check['sheet']}` read).",
                "",
            ]
        degenerate = manifest.get("degenerate") or []
        if degenerate:
            out += [
                f"**Degenerate clips ({dataset}):** {len(degenerate)}, a blank input after per-sample "
                "min–max normalisation: " + "; ".join(f"`{d['sample_id']}` ({d['why']})" for d in degenerate) + ".",
                "",
            ]
    return out


def _sources_section(sources: pd.DataFrame) -> list[str]:
    """Per source dataset scores of multi-source (composite) emotion configurations, as MEGC2019 reports."""
    if sources.empty or "accuracy" not in sources:
        return []
    emotion = sources[sources["accuracy"].notna()]
    if emotion.empty:
        return []
    return ["### Per source dataset", "", PROSE["sources"], "", *markdown_lines(SOURCES, emotion), ""]


def _tuning_section(data: ReportData) -> list[str]:
    """Each tuned configuration (`tune=nested`): how it was tuned, over which space, what each outer
    fold chose on its training subjects, and how often each value was chosen."""
    tuned = data.report[data.report["tuning"] != ""]
    if tuned.empty:
        return []
    out = ["### Nested tuning", "", PROSE["nested"], ""]
    by_key = dict(list(data.tuning.groupby(KEY, sort=False))) if len(data.tuning) else {}
    for _, r in tuned.iterrows():
        key = tuple(r[KEY])
        out += [f"#### {r['dataset']} · `{r['configuration']}`", ""]
        out += [f"{r['tuning']}; search space: `{r['search_space']}`.", ""]
        if key in data.tuning_figures:
            out += [f"![settings chosen per outer fold]({data.tuning_figures[key]})", ""]
        if key in by_key:
            out += [*markdown_lines(TUNED_FOLDS, by_key[key]), ""]
    return out


def _action_units_section(data: ReportData) -> list[str]:
    """The action-unit configurations (`task=au`): mean AU F1 of each, then per configuration its
    per-AU F1 chart and table, and per source dataset where one spans several (CD6ME)."""
    report = data.au_report
    if report.empty:
        return []
    out = ["### Action units", ""]
    if report["dataset"].map(is_synthetic).any():
        out += [f"> {SYNTHETIC_NOTE}", ""]
    out += [PROSE["action_units"].format(confidence=data.confidence), ""]
    out += [*markdown_lines(AU_CONFIGURATIONS, report), ""]
    by_key = dict(list(data.aus.groupby(KEY, sort=False))) if len(data.aus) else {}
    for _, r in report.iterrows():
        key = tuple(r[KEY])
        if key not in by_key:
            continue
        out += [f"#### {r['dataset']} · `{r['configuration']}`", ""]
        if key in data.au_figures:
            out += [f"![per-AU F1]({data.au_figures[key]})", ""]
        out += [*markdown_lines(AUS, by_key[key]), ""]
    sources = data.sources[data.sources["au_f1"].notna()] if "au_f1" in data.sources else data.sources.iloc[:0]
    if len(sources):
        out += ["#### Per source dataset", "", PROSE["au_sources"], "", *markdown_lines(AU_SOURCES, sources), ""]
    return out


def _methods_section(methods: pd.DataFrame, confidence: str) -> list[str]:
    """The methods table (one row per model × head), then the paper's Table 4 apart, labelled."""
    if methods.empty:
        return []
    return [
        "### Methods: the paper's MobileNetV2 beside the field's baselines",
        "",
        PROSE["methods"].format(confidence=confidence),
        "",
        *markdown_lines(METHODS, methods),
        "",
        PROSE["table4"],
        "",
        *markdown_lines(PAPER_TABLE4, paper_table4()),
        "",
    ]


def _pairs_section(pairs: pd.DataFrame) -> list[str]:
    """Section 3: paired McNemar tests between heads."""
    out = ["## 3. Paired McNemar tests between heads", "", PROSE["mcnemar"], ""]
    if pairs.empty:
        return out + ["No two heads ran on the same samples.", ""]
    return out + markdown_lines(HEAD_PAIRS, pairs) + [""]


def _sensitivity_section(sensitivity: pd.DataFrame, confidence: str) -> list[str]:
    """Which open choice of the paper moves the result: each setting against the paper recipe."""
    if sensitivity.empty:
        return []
    return [
        "## Sensitivity: the choices the paper leaves open",
        "",
        PROSE["sensitivity"].format(reference=SENSITIVITY_REFERENCE, confidence=confidence),
        "",
        *markdown_lines(SENSITIVITY, sensitivity),
        "",
    ]


def _seeds_section(report: pd.DataFrame, seeds: pd.DataFrame) -> list[str]:
    """Section 4: per-seed pooled scores and their mean ± std when seeds were swept."""
    out = ["## 4. Seeds", ""]
    if report["n_seeds"].max() <= 1:
        return out + [PROSE["one_seed"], ""]
    out += [PROSE["seeds"], ""]
    rows = []
    by_key = dict(list(seeds.groupby(KEY, sort=False)))
    for _, r in report.iterrows():
        mine = by_key.get(tuple(r[KEY]), seeds.iloc[:0]).sort_values("seed")
        per_seed = ", ".join(
            f"{s['seed']}: {number(s['accuracy'], 100, 2)} / {number(s['uf1'], 1, 4)}" for _, s in mine.iterrows()
        )
        rows.append(
            [
                r["dataset"],
                f"`{r['configuration']}`",
                r["n_seeds"],
                per_seed,
                f"{number(r['accuracy'], 100, 2)} ± {number(r['accuracy_seed_std'], 100, 2)}",
                f"{number(r['uf1'], 1, 4)} ± {number(r['uf1_seed_std'], 1, 4)}",
                f"{number(r['uar'], 1, 4)} ± {number(r['uar_seed_std'], 1, 4)}",
            ]
        )
    return (
        out
        + markdown_grid(
            [
                "dataset",
                "configuration",
                "n_seeds",
                "seed: accuracy % / UF1",
                "accuracy % (mean ± std)",
                "UF1 (mean ± std)",
                "UAR (mean ± std)",
            ],
            rows,
        )
        + [""]
    )


def _samples_section(samples: pd.DataFrame, preds: pd.DataFrame) -> list[str]:
    """Section 5: how many samples, per label, and whether configurations scored different sets."""
    labels = samples.loc[samples["label"] != "", "label"].value_counts()  # "": action-unit clips
    out = [
        "## 5. Samples",
        "",
        f"`{SAMPLES_CSV}` lists the exact {samples['sample_id'].nunique()} samples scored "
        f"({samples['subject'].nunique()} subjects; union over configurations). Labels: "
        + (", ".join(f"{k} {v}" for k, v in labels.items()) or "none (action units)")
        + ".",
        "",
    ]
    for dataset, p in preds.groupby("dataset"):
        union = set(p["sample_id"])
        sets = {c: set(g["sample_id"]) for c, g in p.groupby("configuration")}
        if all(s == union for s in sets.values()):
            out += [
                f"- {dataset}: all {len(sets)} configurations with predictions use the same "
                f"{len(union)} samples (union over their folds and seeds)."
            ]
        else:
            out += [
                f"- {dataset}: configurations differ in their sample sets (union {len(union)}): "
                + "; ".join(f"`{c}` {len(s)} (lacks {len(union - s)})" for c, s in sets.items())
                + ". Missing folds or failed jobs explain most differences."
            ]
    if samples["sample_id"].duplicated().any():
        out += ["- Some sample_ids carry different labels in different configurations (label sets differ)."]
    return out + [""]


def _failures_section(runs: pd.DataFrame) -> list[str]:
    """Failed or unfinished jobs (a `.hydra/` dir but no metrics.json, or a broken metrics.json or
    predictions.csv), with failed.txt's first line or what is wrong with the file."""
    failed = runs[runs["status"] != "ok"]
    if failed.empty:
        return []
    return (
        ["## Failed or unfinished jobs", ""]
        + [
            f"- `{r['job']}` (fold {r['fold']}, seed {r['seed']})" + (f": {r['error']}" if r["error"] else "")
            for _, r in failed.iterrows()
        ]
        + [""]
    )
