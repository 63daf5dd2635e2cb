"""`mer-report SWEEP_DIR`: the command line (writes the report, prints its tables) and the
optional push of the report to Weights & Biases."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mer.errors import MerError, user_facing
from mer.evaluate.report import build_report
from mer.evaluate.report_files import AU_CHART_DIR, CONFUSION_DIR, REPORT_CSV, REPORT_MD, SAMPLES_CSV, TUNING_DIR
from mer.evaluate.statistics import Bootstrap
from mer.evaluate.terminal import print_report
from mer.tracking import wandb_credentials


def push_to_wandb(report: pd.DataFrame, sweep_dir: Path, out_dir: Path) -> Path:
    """Log the report as one W&B run (project mer, job_type report, group = sweep dir name): the
    report table and the confusion PNGs; offline under `out_dir/wandb` without credentials."""
    import wandb

    reason = "WANDB_MODE=offline" if os.environ.get("WANDB_MODE") in ("offline", "dryrun") else None
    if reason is None:
        reason = None if wandb_credentials() else "no credentials (WANDB_API_KEY or ~/.netrc)"
    offline = reason is not None
    if offline:
        print(
            f"W&B: {reason}, logging offline under {out_dir / 'wandb'}; upload later with "
            f"`wandb sync {out_dir / 'wandb'}/offline-run-*`",
            flush=True,
        )
    run = wandb.init(
        project="mer",
        job_type="report",
        group=sweep_dir.resolve().name,
        name=f"report-{sweep_dir.resolve().name}",
        dir=str(out_dir),
        mode="offline" if offline else "online",
        config={"sweep_dir": str(sweep_dir.resolve())},
    )
    images = {
        f"confusion/{png.stem}": wandb.Image(str(png), caption=png.stem)
        for png in sorted((out_dir / CONFUSION_DIR).glob("*.png"))
    }
    run.log({"report": wandb.Table(dataframe=report.astype(object).where(report.notna(), None)), **images})
    run.finish()
    return Path(run.dir).parent


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-report SWEEP_DIR [--out DIR] [--bootstrap N] [--wandb]`."""
    parser = argparse.ArgumentParser(
        prog="mer-report",
        description="Pool a mer-train sweep's predictions into tables with "
        "subject-bootstrap confidence intervals, confusion matrices and McNemar tests (report.md, "
        "report.csv, samples.csv, confusion/*.png; report_sources.csv for a composite dataset; "
        "report_sensitivity.csv for experiment=paper_sensitivity; report_methods.csv for a sweep "
        "over models, experiment=baselines; report_aus.csv and aus/*.png for task=au; "
        "report_tuning.csv and tuning/*.png for tune=nested).",
    )
    parser.add_argument("sweep_dir", type=Path, help="the dir `mer-train -m` wrote (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="write the report here (default: SWEEP_DIR)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=Bootstrap.n_resamples,
        metavar="N",
        help="subject-bootstrap resamples per interval (default %(default)s)",
    )
    parser.add_argument(
        "--bootstrap-seed",
        type=int,
        default=Bootstrap.seed,
        metavar="SEED",
        help="seed of the resampling (default %(default)s)",
    )
    parser.add_argument(
        "--confidence", type=float, default=Bootstrap.confidence, help="coverage of the intervals (default %(default)s)"
    )
    parser.add_argument("--wandb", action="store_true", help="also log it as one W&B run (offline without credentials)")
    args = parser.parse_args(argv)
    try:
        boot = Bootstrap(args.bootstrap, args.confidence, args.bootstrap_seed)
    except ValueError as err:
        raise MerError(f"mer-report: {err}") from None
    out_dir = args.out if args.out is not None else args.sweep_dir
    data = build_report(args.sweep_dir, out_dir, boot)
    print_report(data)
    written = [REPORT_CSV, SAMPLES_CSV, *data.optional_csvs()]
    charts = ((CONFUSION_DIR, data.figures), (AU_CHART_DIR, data.au_figures), (TUNING_DIR, data.tuning_figures))
    pictures = [f"{folder}/*.png" for folder, made in charts if made]
    print(f"wrote {out_dir / REPORT_MD}, {', '.join(written + pictures)}", flush=True)
    if args.wandb:
        push_to_wandb(data.report, args.sweep_dir, out_dir)


if __name__ == "__main__":
    main()
