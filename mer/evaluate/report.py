"""A sweep dir → every report file (`mer.evaluate.report_files` names them): `build_report` reads the runs,
scores them, plots and writes, in the pipeline's order; it never re-trains. What it read and scored is
one `ReportData`, which report.md (`mer.evaluate.markdown`) and the terminal (`mer.evaluate.terminal`)
both render."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.evaluate.au_scores import au_figures, au_source_scores, au_table
from mer.evaluate.figures import confusion_figures
from mer.evaluate.markdown import render_markdown
from mer.evaluate.report_data import ReportData
from mer.evaluate.report_files import (
    REPORT_CSV,
    REPORT_MD,
    SAMPLES_CSV,
    SEEDS_CSV,
)
from mer.evaluate.scores import head_pairs, methods_table, sensitivity_scores, source_scores, summarise
from mer.evaluate.statistics import Bootstrap
from mer.evaluate.sweep_runs import cache_manifests, collect_runs, dataset_subjects, load_predictions, sample_list
from mer.evaluate.tuning import chosen_settings, tuning_figures


def build_report(sweep_dir: str | Path, out_dir: str | Path | None = None, boot: Bootstrap = Bootstrap()) -> ReportData:
    """Read every run under `sweep_dir`; write report.csv, report.md, report_seeds.csv, samples.csv,
    confusion PNGs, for composite datasets report_sources.csv, for a sensitivity sweep
    report_sensitivity.csv, for a sweep over models report_methods.csv, and for action units
    report_aus.csv and per-AU bar charts, and for nested tuning report_tuning.csv and the chosen
    settings' charts into `out_dir`
    (default: the sweep dir); return what was read and scored."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    preds, classes, runs, au_preds = load_predictions(collect_runs(sweep_dir))
    manifests = cache_manifests(runs)
    report, seeds = summarise(runs, preds, classes, boot, dataset_subjects(manifests), au_preds)
    out_dir.mkdir(parents=True, exist_ok=True)
    aus = au_table(report, au_preds)
    chosen = chosen_settings(runs)
    data = ReportData(
        sweep_dir=sweep_dir,
        runs=runs,
        preds=preds,
        au_preds=au_preds,
        report=report,
        seeds=seeds,
        samples=sample_list(preds, au_preds),
        sources=pd.concat([source_scores(preds, classes), au_source_scores(au_preds)], ignore_index=True),
        aus=aus,
        tuning=chosen,
        sensitivity=sensitivity_scores(report, preds, classes, boot),
        methods=methods_table(report),
        pairs=head_pairs(preds, classes, boot),
        figures=confusion_figures(report, preds, classes, out_dir),
        au_figures=au_figures(aus, out_dir),
        tuning_figures=tuning_figures(chosen, out_dir),
        manifests=manifests,
        boot=boot,
    )
    csvs = {REPORT_CSV: data.report, SEEDS_CSV: data.seeds, SAMPLES_CSV: data.samples, **data.optional_csvs()}
    for name, frame in csvs.items():
        frame.to_csv(out_dir / name, index=False)
    (out_dir / REPORT_MD).write_text(render_markdown(data))
    return data
