"""The report's tables in the terminal (rich), as `mer.evaluate.tables` describes them: every
configuration, then per source dataset, sensitivity and methods (with the paper's Table 4 apart)
where the sweep has rows for them."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from mer.evaluate.report_data import ReportData
from mer.evaluate.sweep_runs import SYNTHETIC_NOTE, is_synthetic
from mer.evaluate.tables import CONFIGURATIONS, METHODS, PAPER_TABLE4, SENSITIVITY, SOURCES, paper_table4, rich_table


def _print(table: Table) -> None:
    """Print a table at the terminal's width, or 200 columns into pipes and logs (no squeeze)."""
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def print_report(data: ReportData) -> None:
    """Every configuration's pooled scores (mean ± std over seeds where swept; CIs), with the
    synthetic and partial-sweep notes, then the per-source, sensitivity and methods tables the
    sweep has rows for."""
    report = data.report
    _print(rich_table(CONFIGURATIONS, report, confidence=data.confidence))
    if report["dataset"].map(is_synthetic).any():
        print(SYNTHETIC_NOTE)
    if (report["complete"] == False).any():  # noqa: E712 (None: not known)
        print(
            "partial sweep: some configurations cover fewer subjects than the dataset has; "
            "the paper's numbers are not comparable with them (see report.md)"
        )
    if not data.sources.empty:
        _print(rich_table(SOURCES, data.sources))
    if not data.sensitivity.empty:
        _print(rich_table(SENSITIVITY, data.sensitivity))
    if not data.methods.empty:
        _print(rich_table(METHODS, data.methods, confidence=data.confidence))
        _print(rich_table(PAPER_TABLE4, paper_table4()))
