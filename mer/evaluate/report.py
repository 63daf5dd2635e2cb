"""A sweep dir → every report file (`mer.evaluate.report_files` names them): `build_report` reads the runs,
scores them, plots and writes, in the pipeline's order; it never re-trains."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.evaluate.figures import confusion_figures
from mer.evaluate.markdown import data_check_lines, render_markdown
from mer.evaluate.report_files import (
    METHODS_CSV,
    REPORT_CSV,
    REPORT_MD,
    SAMPLES_CSV,
    SEEDS_CSV,
    SENSITIVITY_CSV,
    SOURCES_CSV,
)
from mer.evaluate.scores import head_pairs, methods_table, sensitivity_scores, source_scores, summarise
from mer.evaluate.statistics import Bootstrap
from mer.evaluate.sweep_runs import cache_manifests, collect_runs, dataset_subjects, load_predictions, sample_list


def build_report(
    sweep_dir: str | Path, out_dir: str | Path | None = None, boot: Bootstrap = Bootstrap()
) -> pd.DataFrame:
    """Read every run under `sweep_dir`; write report.csv, report.md, report_seeds.csv, samples.csv,
    confusion PNGs, for composite datasets report_sources.csv, for a sensitivity sweep
    report_sensitivity.csv, and for a sweep over models report_methods.csv into `out_dir`
    (default: the sweep dir); return the report.csv frame."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    preds, classes, runs = load_predictions(collect_runs(sweep_dir))
    manifests = cache_manifests(runs)
    report, seeds = summarise(runs, preds, classes, boot, dataset_subjects(manifests))
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
    methods = methods_table(report)
    if not methods.empty:
        methods.to_csv(out_dir / METHODS_CSV, index=False)
    figures = confusion_figures(report, preds, classes, out_dir)
    pairs = head_pairs(preds, classes, boot)
    data_check = data_check_lines(manifests)
    (out_dir / REPORT_MD).write_text(
        render_markdown(
            sweep_dir,
            runs,
            report,
            seeds,
            pairs,
            samples,
            preds,
            figures,
            sources,
            sensitivity,
            methods,
            data_check,
            boot,
        )
    )
    return report
