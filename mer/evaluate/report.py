"""A sweep dir → every report file (`mer.evaluate.report_files` names them): `build_report` reads the runs,
scores them, plots and writes, in the pipeline's order; it never re-trains. What it read and scored is
one `ReportData`, which report.md (`mer.evaluate.markdown`) and the terminal (`mer.evaluate.terminal`)
both render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mer.evaluate.figures import confusion_figures
from mer.evaluate.markdown import render_markdown
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


@dataclass(frozen=True, eq=False)  # eq=False: frames have no truth value to compare by
class ReportData:
    """Everything report.md and the terminal show of one sweep, read and scored once: the jobs, their
    pooled predictions, the scored frames (one per report table), the confusion figures, the caches'
    manifests and the bootstrap the intervals came from."""

    sweep_dir: Path
    runs: pd.DataFrame  # one row per job: status, and why a failed one failed
    preds: pd.DataFrame  # every finished job's predictions, tagged with its configuration
    report: pd.DataFrame  # report.csv: one row per configuration
    seeds: pd.DataFrame  # report_seeds.csv: one row per configuration × seed
    samples: pd.DataFrame  # samples.csv: the samples scored
    sources: pd.DataFrame  # report_sources.csv: per source dataset of composite configurations
    sensitivity: pd.DataFrame  # report_sensitivity.csv: each sensitivity setting against the paper recipe
    methods: pd.DataFrame  # report_methods.csv: one row per model × head
    pairs: pd.DataFrame  # McNemar and the paired interval between heads
    figures: dict[tuple, tuple[str, np.ndarray, list[str]]]  # configuration → (PNG, matrix, classes)
    manifests: dict[str, dict | None]  # dataset → its cache's manifest (None: not readable here)
    boot: Bootstrap

    @property
    def confidence(self) -> str:
        """The intervals' coverage as the report says it, "95" (for "95 %")."""
        return f"{100 * self.boot.confidence:g}"

    def optional_csvs(self) -> dict[str, pd.DataFrame]:
        """The tables written only where the sweep has rows for them (per source, sensitivity,
        methods), by file name."""
        tables = {SOURCES_CSV: self.sources, SENSITIVITY_CSV: self.sensitivity, METHODS_CSV: self.methods}
        return {name: frame for name, frame in tables.items() if not frame.empty}


def build_report(sweep_dir: str | Path, out_dir: str | Path | None = None, boot: Bootstrap = Bootstrap()) -> ReportData:
    """Read every run under `sweep_dir`; write report.csv, report.md, report_seeds.csv, samples.csv,
    confusion PNGs, for composite datasets report_sources.csv, for a sensitivity sweep
    report_sensitivity.csv, and for a sweep over models report_methods.csv into `out_dir`
    (default: the sweep dir); return what was read and scored."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    preds, classes, runs = load_predictions(collect_runs(sweep_dir))
    manifests = cache_manifests(runs)
    report, seeds = summarise(runs, preds, classes, boot, dataset_subjects(manifests))
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ReportData(
        sweep_dir=sweep_dir,
        runs=runs,
        preds=preds,
        report=report,
        seeds=seeds,
        samples=sample_list(preds),
        sources=source_scores(preds, classes),
        sensitivity=sensitivity_scores(report, preds, classes, boot),
        methods=methods_table(report),
        pairs=head_pairs(preds, classes, boot),
        figures=confusion_figures(report, preds, classes, out_dir),
        manifests=manifests,
        boot=boot,
    )
    csvs = {REPORT_CSV: data.report, SEEDS_CSV: data.seeds, SAMPLES_CSV: data.samples, **data.optional_csvs()}
    for name, frame in csvs.items():
        frame.to_csv(out_dir / name, index=False)
    (out_dir / REPORT_MD).write_text(render_markdown(data))
    return data
