"""The report's tables in the terminal (rich), as `mer.evaluate.tables` describes them: every
configuration (emotion, then action units), then per source dataset, sensitivity and methods (with
the paper's Table 4 apart) where the sweep has rows for them."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from mer.evaluate.report_data import ReportData
from mer.evaluate.sweep_runs import SYNTHETIC_NOTE, is_synthetic
from mer.evaluate.tables import (
    AU_CONFIGURATIONS,
    AU_SOURCES,
    CONFIGURATIONS,
    METHODS,
    PAPER_TABLE4,
    SENSITIVITY,
    SOURCES,
    paper_table4,
    rich_table,
)


def _print(table: Table) -> None:
    """Print a table at the terminal's width, or 200 columns into pipes and logs (no squeeze)."""
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def print_report(data: ReportData) -> None:
    """Every configuration's pooled scores (mean ± std over seeds where swept; CIs), with the
    synthetic and partial-sweep notes, then the per-source, sensitivity and methods tables the
    sweep has rows for."""
    report = data.report
    if len(data.emotion_report):
        _print(rich_table(CONFIGURATIONS, data.emotion_report, confidence=data.confidence))
    if len(data.au_report):
        _print(rich_table(AU_CONFIGURATIONS, data.au_report, confidence=data.confidence))
    if report["dataset"].map(is_synthetic).any():
        print(SYNTHETIC_NOTE)
    for _, row in report[report["tuning"] != ""].iterrows():
        print(f"{row['configuration']}: {row['tuning']} over {row['search_space']} (each fold's choice: report.md)")
    if (report["complete"] == False).any():  # noqa: E712 (None: not known)
        print(
            "partial sweep: some configurations cover fewer subjects than the dataset has; "
            "the paper's numbers are not comparable with them (see report.md)"
        )
    sources = data.sources
    if "accuracy" in sources and sources["accuracy"].notna().any():
        _print(rich_table(SOURCES, sources[sources["accuracy"].notna()]))
    if "au_f1" in sources and sources["au_f1"].notna().any():
        _print(rich_table(AU_SOURCES, sources[sources["au_f1"].notna()]))
    if not data.sensitivity.empty:
        _print(rich_table(SENSITIVITY, data.sensitivity))
    if not data.methods.empty:
        _print(rich_table(METHODS, data.methods, confidence=data.confidence))
        _print(rich_table(PAPER_TABLE4, paper_table4()))
