"""The report's tables in the terminal (rich): the main table, per source dataset, sensitivity,
methods (with the paper's Table 4 apart)."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

from mer import paper
from mer.evaluate.cells import interval, number, parameters, recipe, score, seconds, signed, sizes, subjects_covered
from mer.evaluate.scores import SENSITIVITY_REFERENCE
from mer.evaluate.statistics import Bootstrap
from mer.evaluate.sweep_runs import SYNTHETIC_NOTE, is_synthetic


def _print(table: Table) -> None:
    """Print a table at the terminal's width, or 200 columns into pipes and logs (no squeeze)."""
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def print_table(report: pd.DataFrame, boot: Bootstrap = Bootstrap()) -> None:
    """The main table in the terminal (pooled scores; mean ± std over seeds where swept; CIs)."""
    table = Table(
        title=f"mer-report: pooled over folds, [{100 * boot.confidence:g} % subject-bootstrap "
        "interval] (per-fold mean for reference)"
    )
    for name in (
        "dataset",
        "configuration",
        "samples",
        "subjects",
        "seeds",
        "accuracy %",
        "UF1",
        "UAR",
        "per-fold acc %",
        "missing folds",
    ):
        table.add_column(name, overflow="fold")
    for _, r in report.iterrows():
        table.add_row(
            r["dataset"],
            r["configuration"],
            str(r["n_samples"]),
            subjects_covered(r),
            str(r["n_seeds"]),
            score(r, "accuracy", 100, 2),
            score(r, "uf1", 1, 4),
            score(r, "uar", 1, 4),
            f"{number(r['per_fold_mean_accuracy'], 100, 1)} ± {number(r['per_fold_std_accuracy'], 100, 1)}",
            r["missing_folds"] or "none",
        )
    _print(table)
    if report["dataset"].map(is_synthetic).any():
        print(SYNTHETIC_NOTE)
    if (report["complete"] == False).any():  # noqa: E712 (None: not known)
        print(
            "partial sweep: some configurations cover fewer subjects than the dataset has; "
            "the paper's numbers are not comparable with them (see report.md)"
        )


def print_sources(sources: pd.DataFrame) -> None:
    """The per-source scores of composite configurations in the terminal (MEGC2019 style)."""
    table = Table(title="per source dataset (pooled over that source's folds)")
    for name in ("dataset", "configuration", "source", "samples", "accuracy %", "UF1", "UAR"):
        table.add_column(name, overflow="fold")
    for _, r in sources.iterrows():
        table.add_row(
            r["dataset"],
            r["configuration"],
            r["source"],
            str(r["n_samples"]),
            number(r["accuracy"], 100, 2),
            number(r["uf1"], 1, 4),
            number(r["uar"], 1, 4),
        )
    _print(table)


def print_sensitivity(sensitivity: pd.DataFrame) -> None:
    """The sensitivity table in the terminal: each setting against the paper recipe."""
    table = Table(
        title=f"sensitivity: one open choice changed at a time (Δ = setting − "
        f"sensitivity={SENSITIVITY_REFERENCE}, on the same subjects)"
    )
    for name in ("dataset", "other overrides", "setting", "seeds", "accuracy %", "UF1", "Δ accuracy %", "Δ UF1"):
        table.add_column(name, overflow="fold")
    for _, r in sensitivity.iterrows():
        reference = r["setting"] == SENSITIVITY_REFERENCE
        table.add_row(
            r["dataset"],
            r["other"] or "—",
            r["setting"],
            str(r["n_seeds"]),
            number(r["accuracy"], 100, 2) + interval(r, "accuracy", 100, 2),
            number(r["uf1"], 1, 4) + interval(r, "uf1", 1, 4),
            "reference" if reference else signed(r, "accuracy_diff", 100, 2),
            "reference" if reference else signed(r, "uf1_diff", 1, 4),
        )
    _print(table)


def print_methods(methods: pd.DataFrame) -> None:
    """The methods table in the terminal, then the paper's Table 4 as a separate, labelled table."""
    table = Table(title="methods: every model × head under the same protocol (pooled, [subject-bootstrap interval])")
    for name in (
        "dataset",
        "model",
        "recipe",
        "head",
        "input",
        "size",
        "accuracy %",
        "UF1",
        "UAR",
        "parameters",
        "train time/job",
    ):
        table.add_column(name, overflow="fold")
    for _, r in methods.iterrows():
        table.add_row(
            r["dataset"],
            r["model"],
            recipe(r),
            r["head"],
            r["input"],
            sizes(r),
            score(r, "accuracy", 100, 2),
            score(r, "uf1", 1, 4),
            score(r, "uar", 1, 4),
            parameters(r["n_parameters"]),
            seconds(r["fit_s_median"]),
        )
    _print(table)
    published = Table(title="the paper's Table 4: the paper's numbers, each under its authors' protocol, not ours")
    for name in ("method", "accuracy %", "F1"):
        published.add_column(name)
    for name, result in paper.TABLE4.items():
        published.add_row(name, f"{result.accuracy:.2f}", f"{result.f1:.4f}")
    _print(published)
