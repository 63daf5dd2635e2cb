"""The report's row tables, each described once, and the two renderers of a description.

A `Table` is a title and its `Column`s; a column is a header and a cell, a function of one row of
the frame the table shows. report.md and the terminal show the same headers and the same cells:
`markdown_lines` renders a description as report.md's GitHub table, `rich_table` as the
terminal's. What report.md does differently is said in the column: `code=True` shows its cells as
`code` there (names to copy, not prose) and, in the terminal, with a space after each "," of a
name (`head=hinge, input=uv`), where a narrow column may wrap it; `only=MARKDOWN` or
`only=TERMINAL` keeps a column to one of the two (the terminal is narrower; report.md has room for
the folds and failed jobs), and `terminal_header` shortens a header whose words would widen a
narrow column. The terminal's table wraps its cells between words only, fitting its columns to the
terminal's width (`FittedTable`).

A new report (action units, spotting) adds its table here, one more `Table` over the frame its
scores come in, and shows it with `markdown_lines(TABLE, frame)` in `mer.evaluate.markdown` and
`rich_table(TABLE, frame)` in `mer.evaluate.terminal`; no other module spells out its columns.
The report.md-only grids that are not one row per frame row (Tables 2 and 3 as inputs × heads,
confusion percentages, seeds, data checks) stay in `mer.evaluate.markdown`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

import pandas as pd
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from mer import paper
from mer.evaluate.cells import (
    difference,
    number,
    parameters,
    per_fold,
    pooled,
    pooled_with_interval,
    recipe,
    score,
    seconds,
    sizes,
    subjects_covered,
    subjects_phrase,
)
from mer.evaluate.scores import SENSITIVITY_REFERENCE
from mer.evaluate.tuning import settings_text

Renderer = Literal["markdown", "terminal"]
MARKDOWN: Renderer = "markdown"
TERMINAL: Renderer = "terminal"
#: A cell: one row of the frame a table shows → its text.
Cell = Callable[[pd.Series], str]
#: A score's cell style: (row, metric, scale, digits) → its text, e.g. `cells.score`.
ScoreStyle = Callable[..., str]
#: Each score's header, scale and digits: accuracy in % to 2 decimals, UF1 and UAR to 4.
SCORES = {"accuracy": ("accuracy %", 100, 2), "uf1": ("UF1", 1, 4), "uar": ("UAR", 1, 4), "au_f1": ("AU F1", 1, 4)}
#: The emotion task's scores (report.csv's accuracy, UF1 and UAR columns).
EMOTION_SCORES = ("accuracy", "uf1", "uar")


@dataclass(frozen=True)
class Column:
    """One column of a report table: its header, its cell, whether report.md shows the cell as
    `code`, the one renderer that shows it where the other has no room for it (None: both), and a
    shorter header for the terminal where the header is much wider than the cells (None: the same)."""

    header: str
    cell: Cell
    code: bool = False
    only: Renderer | None = None
    terminal_header: str | None = None

    def markdown_cell(self, row: pd.Series) -> str:
        """The cell as report.md shows it: in backticks where the column holds names."""
        text = self.cell(row)
        return f"`{text}`" if self.code else text

    def terminal_cell(self, row: pd.Series) -> str:
        """The cell as the terminal shows it: a name with a space after each "," (where it may wrap)."""
        text = self.cell(row)
        return text.replace(",", ", ") if self.code else text


@dataclass(frozen=True)
class Table:
    """A report table: its title in the terminal (`{fields}` filled in by `rich_table`; report.md
    heads it with its own section) and its columns; one row per row of the frame it shows."""

    title: str
    columns: tuple[Column, ...]

    def shown_in(self, renderer: Renderer) -> tuple[Column, ...]:
        """The columns `renderer` shows, in order."""
        return tuple(column for column in self.columns if column.only in (None, renderer))


def markdown_grid(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub markdown table of ready cells (header, rule, one line per row)."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def markdown_lines(table: Table, rows: pd.DataFrame) -> list[str]:
    """A described table as report.md shows it: its markdown lines, one per row of `rows`."""
    columns = table.shown_in(MARKDOWN)
    return markdown_grid(
        [column.header for column in columns],
        [[column.markdown_cell(row) for column in columns] for _, row in rows.iterrows()],
    )


def fitted_widths(minimum: Sequence[int], maximum: Sequence[int], room: int) -> list[int]:
    """Column widths that fill at most `room`: each column as wide as the others, up to its widest
    line (`maximum`) and never below its longest word (`minimum`); where even the longest words do
    not fit, only the longest are cut to a common width."""
    cut = max(minimum, default=0)
    while cut > 1 and sum(min(low, cut) for low in minimum) > room:
        cut -= 1
    floor = [min(low, cut) for low in minimum]
    widths = floor
    for level in range(1, max(maximum, default=0) + 1):
        wider = [max(low, min(high, level)) for low, high in zip(floor, maximum)]
        if sum(wider) > room:
            break
        widths = wider
    return widths


class FittedTable(RichTable):
    """A rich table that, printed narrower than its widest lines, wraps its cells and headers
    between words only (`fitted_widths`); rich's own narrowing evens out the widest columns and
    breaks words in the middle. A word longer than its column is folded."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The table with its columns' widths fitted to `options.max_width`."""
        unbounded = options.update_width(sys.maxsize)
        spans = [
            [Measurement.get(console, unbounded, text) for text in (column.header, *column.cells)]
            for column in self.columns
        ]
        minimum = [max(span.minimum for span in column) for column in spans]
        maximum = [max(span.maximum for span in column) for column in spans]
        frame = Measurement.get(console, unbounded, self).maximum - sum(maximum)  # borders and padding
        fitted = copy(self)
        fitted.columns = [
            replace(column, width=width)
            for column, width in zip(self.columns, fitted_widths(minimum, maximum, options.max_width - frame))
        ]
        yield from RichTable.__rich_console__(fitted, console, options)


def rich_table(table: Table, rows: pd.DataFrame, **title_fields: str) -> FittedTable:
    """A described table as the terminal shows it, its title's `{fields}` filled in; every text is
    taken literally (a "[...]" in a title or cell is shown, not read as rich markup)."""
    columns = table.shown_in(TERMINAL)
    shown = FittedTable(title=escape(table.title.format(**title_fields)))
    for column in columns:
        shown.add_column(Text(column.terminal_header or column.header), overflow="fold")
    for _, row in rows.iterrows():
        shown.add_row(*(Text(column.terminal_cell(row)) for column in columns))
    return shown


def field(name: str, empty: str = "") -> Cell:
    """A cell that is a row's value as it is, `empty` where that is the empty string."""
    return lambda row: str(row[name]) or empty


def score_columns(
    style: ScoreStyle, metrics: Sequence[str] = EMOTION_SCORES, prefix: str = "", suffix: str = ""
) -> tuple[Column, ...]:
    """One column per score, headed e.g. "Δ accuracy % [CI]", its cell `score_cell(style, metric)`."""
    return tuple(Column(f"{prefix}{SCORES[metric][0]}{suffix}", score_cell(style, metric)) for metric in metrics)


def score_cell(style: ScoreStyle, metric: str) -> Cell:
    """A cell that is `style(row, metric, scale, digits)` at the score's own scale and digits."""
    _, scale, digits = SCORES[metric]
    return partial(style, metric=metric, scale=scale, digits=digits)


def against_reference(row: pd.Series, metric: str, scale: float, digits: int) -> str:
    """A sensitivity setting's difference from the paper recipe, "reference" on the recipe's own row."""
    return "reference" if row["setting"] == SENSITIVITY_REFERENCE else difference(row, metric, scale, digits)


def paper_table4() -> pd.DataFrame:
    """The rows of the paper's Table 4 (`paper.TABLE4`): method, accuracy %, F1."""
    return pd.DataFrame(
        [{"method": name, "accuracy": result.accuracy, "f1": result.f1} for name, result in paper.TABLE4.items()]
    )


#: Every configuration of the sweep (report.csv): pooled scores, per-fold mean, missing folds. The
#: terminal leaves out what a 100-column terminal has no room for: samples, folds, per-fold means.
CONFIGURATIONS = Table(
    "mer-report: pooled over folds, [{confidence} % subject-bootstrap interval]",
    (
        Column("dataset", field("dataset")),
        Column("configuration", field("configuration"), code=True),
        Column("samples", field("n_samples"), only=MARKDOWN),
        Column("subjects", subjects_covered, only=TERMINAL),  # report.md: in its partial-sweep banner
        Column("folds", field("n_folds"), only=MARKDOWN),
        Column("seeds", field("n_seeds")),
        *score_columns(score, suffix=" [CI]"),
        Column("per-fold mean accuracy % ± std", score_cell(per_fold, "accuracy"), only=MARKDOWN),
        Column("per-fold mean UF1 ± std", score_cell(per_fold, "uf1"), only=MARKDOWN),
        Column("missing folds", field("missing_folds", empty="none")),
        Column("failed jobs", field("failed_jobs", empty="none"), only=MARKDOWN),
        Column("tuning", field("tuning", empty="—"), only=MARKDOWN),
    ),
)

#: Each outer fold of a tuned configuration (report_tuning.csv's rows of it): what its study chose on
#: its training subjects alone, and the chosen trial's mean inner score.
TUNED_FOLDS = Table(
    "nested tuning: the settings each outer fold chose",
    (
        Column("fold", field("fold")),
        Column("seed", field("seed")),
        Column("chosen settings", lambda row: settings_text(row["params"]), code=True),
        Column("mean inner score", lambda row: f"{row['metric']} {number(row['inner_score'], 1, 4)}"),
    ),
)

#: Each source dataset of a multi-source (composite) configuration, scored alone (MEGC2019 style).
SOURCES = Table(
    "per source dataset (pooled over that source's folds)",
    (
        Column("dataset", field("dataset")),
        Column("configuration", field("configuration"), code=True),
        Column("source", field("source")),
        Column("samples", field("n_samples")),
        *score_columns(pooled),
    ),
)

#: Every action-unit configuration (`task=au`): the mean over AUs of each AU's pooled F1 (MEB's metric).
AU_CONFIGURATIONS = Table(
    "mer-report, action units: mean of per-AU F1 pooled over folds, [{confidence} % subject-bootstrap interval]",
    (
        Column("dataset", field("dataset")),
        Column("configuration", field("configuration"), code=True),
        Column("samples", field("n_samples"), only=MARKDOWN),
        Column("subjects", subjects_covered, only=TERMINAL),
        Column("folds", field("n_folds"), only=MARKDOWN),
        Column("seeds", field("n_seeds")),
        *score_columns(score, ("au_f1",), suffix=" [CI]"),
        Column("AUs", lambda row: ", ".join(c[len("f1_") :] for c in row.index if _is_au_f1(c, row))),
        Column("missing folds", field("missing_folds", empty="none")),
        Column("failed jobs", field("failed_jobs", empty="none"), only=MARKDOWN),
    ),
)

#: Each AU of one action-unit configuration (report_aus.csv's rows of it): its pooled F1 and interval.
AUS = Table(
    "per action unit (pooled over folds)",
    (
        Column("AU", field("au")),
        Column("F1 [CI]", lambda row: pooled_with_interval(row, "f1", 1, 4)),
        Column("clips with it", field("n_true")),
        Column("predicted on", lambda row: number(row["n_pred"], 1, 1)),
        Column("clips", field("n_samples")),
    ),
)

#: Each source dataset of a multi-source action-unit configuration (CD6ME: each held-out dataset).
AU_SOURCES = Table(
    "action units per source dataset (pooled over that source's clips)",
    (
        Column("dataset", field("dataset")),
        Column("configuration", field("configuration"), code=True),
        Column("source", field("source")),
        Column("samples", field("n_samples")),
        *score_columns(pooled, ("au_f1",)),
    ),
)


def _is_au_f1(column: str, row: pd.Series) -> bool:
    """Whether a report.csv column is one AU's F1 (`f1_AU4`) that this row scores."""
    return column.startswith("f1_AU") and not column.endswith(("_ci_low", "_ci_high")) and pd.notna(row[column])


#: Each sensitivity setting against the paper recipe, on the same subjects (the terminal leaves out
#: what the settings share: their input, head and other overrides).
SENSITIVITY = Table(
    "sensitivity: one open choice changed at a time "
    f"(Δ = setting − sensitivity={SENSITIVITY_REFERENCE}, on the same subjects)",
    (
        Column("dataset", field("dataset")),
        Column("input", field("input"), only=MARKDOWN),
        Column("head", field("head"), only=MARKDOWN),
        Column("other overrides", field("other", empty="—"), only=MARKDOWN),
        Column("setting", field("setting"), code=True),
        Column("seeds", field("n_seeds")),
        Column("samples", field("n_samples"), only=MARKDOWN),
        *score_columns(pooled_with_interval, ("accuracy", "uf1"), suffix=" [CI]"),
        *score_columns(against_reference, ("accuracy", "uf1"), prefix="Δ ", suffix=" [CI]"),
    ),
)

#: One row per model × head (the paper's Table 4 style), every model under the same protocol (the
#: terminal leaves out each model's preset input and sizes, for which a 100-column terminal has no room).
METHODS = Table(
    "methods: every model × head under the same protocol (pooled, [{confidence} % subject-bootstrap interval])",
    (
        Column("dataset", field("dataset")),
        Column("model", field("model"), code=True),
        Column("recipe", recipe, code=True),
        Column("head", field("head"), code=True),
        Column("input", field("input"), only=MARKDOWN),
        Column("flow → network size", sizes, only=MARKDOWN),
        *score_columns(score, suffix=" [CI]"),
        Column("parameters", lambda row: parameters(row["n_parameters"]), terminal_header="params"),
        Column("training time per job", lambda row: seconds(row["fit_s_median"])),
        Column("subjects", subjects_phrase, only=MARKDOWN),
    ),
)

#: The paper's Table 4 as printed (`paper_table4()`): its numbers, under its authors' protocols.
PAPER_TABLE4 = Table(
    "the paper's Table 4: the paper's numbers, each under its authors' protocol, not ours",
    (
        Column("method (the paper's Table 4)", field("method")),
        Column("accuracy %", lambda row: f"{row['accuracy']:.2f}"),
        Column("F1", lambda row: f"{row['f1']:.4f}"),
    ),
)

#: Paired McNemar tests between heads on the same samples, beside the paired difference's interval.
HEAD_PAIRS = Table(
    "paired McNemar tests between heads",
    (
        Column("dataset", field("dataset")),
        Column("input", field("input")),
        Column("other overrides", field("other", empty="—")),
        Column("seed", field("seed")),
        Column("head A", field("a")),
        Column("head B", field("b_head")),
        Column("paired samples", field("n")),
        Column("accuracy A %", lambda row: number(row["accuracy_a"], 100, 2)),
        Column("accuracy B %", lambda row: number(row["accuracy_b"], 100, 2)),
        Column("b", field("b")),
        Column("c", field("c")),
        Column("p", lambda row: f"{row['p']:.4f}"),
        *score_columns(difference, ("accuracy", "uf1"), prefix="Δ ", suffix=" [CI]"),
    ),
)
