"""`ReportData`: what `build_report` read and scored of one sweep, which report.md (`mer.evaluate.markdown`)
and the terminal (`mer.evaluate.terminal`) both render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mer.evaluate.report_files import AUS_CSV, METHODS_CSV, SENSITIVITY_CSV, SOURCES_CSV, TUNING_CSV
from mer.evaluate.statistics import Bootstrap


@dataclass(frozen=True, eq=False)  # eq=False: frames have no truth value to compare by
class ReportData:
    """Everything report.md and the terminal show of one sweep, read and scored once: the jobs, their
    pooled predictions, the scored frames (one per report table), the confusion figures, the caches'
    manifests and the bootstrap the intervals came from."""

    sweep_dir: Path
    runs: pd.DataFrame  # one row per job: status, and why a failed one failed
    preds: pd.DataFrame  # every finished emotion job's predictions, tagged with its configuration
    au_preds: pd.DataFrame  # every finished action-unit job's predictions, tagged alike (empty: none)
    report: pd.DataFrame  # report.csv: one row per configuration
    seeds: pd.DataFrame  # report_seeds.csv: one row per configuration × seed
    samples: pd.DataFrame  # samples.csv: the samples scored
    sources: pd.DataFrame  # report_sources.csv: per source dataset of composite configurations
    aus: pd.DataFrame  # report_aus.csv: one row per action-unit configuration × AU
    tuning: pd.DataFrame  # report_tuning.csv: per tuned job, the settings nested tuning chose
    sensitivity: pd.DataFrame  # report_sensitivity.csv: each sensitivity setting against the paper recipe
    methods: pd.DataFrame  # report_methods.csv: one row per model × head
    pairs: pd.DataFrame  # McNemar and the paired interval between heads
    figures: dict[tuple, tuple[str, np.ndarray, list[str]]]  # configuration → (PNG, matrix, classes)
    au_figures: dict[tuple, str]  # action-unit configuration → its per-AU bar chart PNG
    tuning_figures: dict[tuple, str]  # tuned configuration → the PNG of how often each value was chosen
    manifests: dict[str, dict | None]  # dataset → its cache's manifest (None: not readable here)
    boot: Bootstrap

    @property
    def emotion_report(self) -> pd.DataFrame:
        """report.csv's emotion configurations (accuracy, UF1, UAR)."""
        return self.report[self.report["task"] != "au"]

    @property
    def au_report(self) -> pd.DataFrame:
        """report.csv's action-unit configurations (mean AU F1, each AU's F1)."""
        return self.report[self.report["task"] == "au"]

    @property
    def confidence(self) -> str:
        """The intervals' coverage as the report says it, "95" (for "95 %")."""
        return f"{100 * self.boot.confidence:g}"

    def optional_csvs(self) -> dict[str, pd.DataFrame]:
        """The tables written only where the sweep has rows for them (per source, sensitivity,
        methods, per AU, nested tuning's choices), by file name."""
        tables = {
            SOURCES_CSV: self.sources,
            SENSITIVITY_CSV: self.sensitivity,
            METHODS_CSV: self.methods,
            AUS_CSV: self.aus,
            TUNING_CSV: self.tuning,
        }
        return {name: frame for name, frame in tables.items() if not frame.empty}
