"""`make bench-sweep`: the paper's Table 2 + Table 3 ablation as one sweep, timed.

On a synthetic release of CASME II's size (26 subjects, ~250 clips) it builds the flow cache, then
runs through `mer-train -m hydra/launcher=gpus` the cells of `experiment=paper_ablation` (Table 2:
apex, u, v, u+v with the hinge head; the rest of Table 3: u+v with softmax) over the folds, as one
sweep, and prints the wall time of the whole sweep, the time to its first job, the median time
per job (from each job's launcher record) and the framework overhead of one job against a bare
PyTorch loop (`bench_train.py`). With fewer folds than subjects it also prints the whole
ablation's time projected: the first wave of jobs as it ran, then the remaining jobs at the median
time of the jobs that started after the first one ended (they pay no first-wave start-up, as most
of a full ablation's jobs would not), each on the first slot to free up. `--start warm forked exec`
runs the sweep once per way the launcher can start jobs (`hydra.launcher.start`) and prints them
side by side.

Full size on a GPU:  python benchmarks/bench_sweep.py --gpu --size 224 --epochs 200 --folds 0
Small scale on a CPU (the default here): 2 folds, 48², 2 epochs.
A cache built elsewhere (`--cache DIR`) lets a GPU machine without dlib run the sweep.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_train import GPU_OVERRIDES  # the sibling script: both sides run a GPU job alike
from omegaconf import OmegaConf

from hydra_plugins.mer_launcher._progress import last_end
from mer.config import CONFIG_DIR
from mer.preprocess.cache import load_cache
from mer.run_dir import LAUNCHER_RECORD, METRICS

ROOT = Path(__file__).resolve().parents[1]
# The cells of Tables 2 + 3 (input and head together), as experiment=paper_ablation sweeps them.
CELLS = OmegaConf.load(Path(CONFIG_DIR) / "experiment" / "paper_ablation.yaml").hydra.sweeper.params.ablation.split(",")


def prepare(overrides: list[str]) -> Path:
    """`mer-prepare` with these overrides (the cache built on a miss); the cache dir it prints."""
    out = subprocess.run(
        [sys.executable, "-m", "mer.preprocess.prepare", *overrides], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def build_cache(args: argparse.Namespace) -> Path:
    """`mer-prepare` on the synthetic CASME II-sized release; returns the cache dir it prints."""
    return prepare(
        [
            f"data.root={args.out / 'synthetic-casme2-26x10'}",
            "data.reader.n_subjects=26",
            "data.reader.clips_per_subject=10",
            f"paths.output_dir={args.out}",
            f"preprocess.size={args.size}",
        ]
    )


def job_records(sweep_dir: Path) -> list[dict]:
    """Each job's launcher record (`launcher.json`: slot, start, end, exit code, overrides) with
    its `dir` and its `metrics` (`metrics.json`, None where the job did not finish)."""
    records = []
    for path in sorted(sweep_dir.rglob(LAUNCHER_RECORD)):
        metrics = path.with_name(METRICS)
        records.append(
            {
                **json.loads(path.read_text()),
                "dir": path.parent,
                "metrics": json.loads(metrics.read_text()) if metrics.is_file() else None,
            }
        )
    return records


def sweep(
    args: argparse.Namespace, common: list[str], how: str, n_folds: int, n_subjects: int
) -> tuple[dict[str, str], bool]:
    """Run the ablation with jobs started `how` (warm | forked | exec); the table rows of its
    timings, and whether Ctrl-C (or `timeout -s INT`) cut it short: then the rows are of the jobs
    that finished."""
    sweep_dir = args.out / f"sweep-{args.size}px-{args.epochs}ep-{how}-{time.strftime('%Y%m%d-%H%M%S')}"
    launch = [f"hydra.sweep.dir={sweep_dir}", f"hydra.launcher.start={how}"]
    mer_train = str(Path(sys.executable).with_name("mer-train"))
    started, launched = time.perf_counter(), time.time()  # (jobs' records hold wall-clock times)
    job = subprocess.Popen([mer_train, "-m", *common, *launch, f"ablation={','.join(CELLS)}"])
    try:
        code = job.wait()
    except KeyboardInterrupt:  # the sweep got the same signal: it stops its jobs and exits 130
        code = job.wait()
    interrupted = code in (130, -signal.SIGINT)  # -SIGINT: stopped before its launcher ran
    if code and not interrupted:
        raise SystemExit(f"the {how} sweep failed (exit code {code}); see its output above")
    total = time.perf_counter() - started
    records = job_records(sweep_dir)
    timings = [r["metrics"]["timing"] for r in records if r["metrics"]]
    failed = sum(r["returncode"] != 0 for r in records)
    rows = {
        "jobs (failed)": f"{len(records)} ({failed})",
        "whole sweep (wall)": f"{total:.1f} s" + (" (interrupted)" if interrupted else ""),
    }
    if records:
        rows["sweep start to first job"] = f"{min(r['start'] for r in records) - launched:.1f} s"
        rows["per job (median, start to exit)"] = f"{statistics.median(r['end'] - r['start'] for r in records):.1f} s"
    for key, name, unit in (
        ("fit_s", "training (fit)", "s"),
        ("ms_per_step", "per step", "ms"),
        ("predict_s", "prediction", "s"),
    ):  # each job's own split (metrics.json)
        if timings:
            rows[f"{name} (median)"] = f"{statistics.median(t[key] for t in timings):.2f} {unit}"
    slots = len({r["slot"] for r in records})
    rows["slots"] = str(slots)
    full = len(CELLS) * n_subjects
    if timings and (interrupted or n_folds < n_subjects):  # jobs running at an interrupt count as lost
        # The jobs that started once the first had ended run as the rest of the ablation would
        # (no first-wave start-up): the first wave as it ran, then the rest at their median time,
        # each on the first slot to free up (whole waves: a last, part-filled one still takes a
        # job's time); else all at this sweep's jobs/s.
        first_end = min(r["end"] for r in records)
        first_wave = [r["end"] - launched for r in records if r["start"] < first_end]
        later = [r["end"] - r["start"] for r in records if r["start"] >= first_end and not r["returncode"]]
        if later:
            rows["later jobs (started after the first ended; median, start to exit)"] = (
                f"{statistics.median(later):.1f} s ({len(later)} jobs)"
            )
            idle = [0.0] * (slots - len(first_wave))  # slots the first wave left free, if any
            projected = last_end(first_wave + idle, full - len(first_wave), statistics.median(later))
            rows[
                f"projected full ablation ({full} jobs: the first wave as it ran, then the rest "
                "at the later jobs' median, each on the first slot to free up)"
            ] = f"{projected / 60:.1f} min"
        else:
            rows[f"projected full ablation ({full} jobs, at this sweep's finished jobs/s)"] = (
                f"{total * full / len(timings) / 60:.1f} min"
            )
    return rows, interrupted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--folds", type=int, default=2, help="first N folds; 0 = all subjects")
    parser.add_argument("--jobs-per-gpu", type=int, default=1)
    parser.add_argument(
        "--mps", action="store_true", help="hydra.launcher.mps=true: packed jobs' kernels overlap on the GPU"
    )
    parser.add_argument(
        "--gpu", action="store_true", help="trainer=gpu (bf16) with channels_last, as a GPU sweep would run"
    )
    parser.add_argument("--cache", type=Path, help="a built cache to sweep (skips mer-prepare)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for every job, e.g. model.cuda_graph=true",
    )
    parser.add_argument(
        "--overhead-epochs",
        type=int,
        default=10,
        help="epochs of the one-job overhead comparison (fewer epochs show the "
        "fixed costs more, so the ratio errs high); 0 skips it",
    )
    parser.add_argument(
        "--start",
        nargs="+",
        choices=("warm", "forked", "exec"),
        default=["forked"],
        help="how the launcher starts jobs (hydra.launcher.start): in a warm "
        "worker per slot, forked from a preloaded server, or a new "
        "interpreter each; several sweep one after the other, side by side",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()

    # Build the cache first so the sweep's time is training, as in a real ablation.
    cache = load_cache(args.cache.resolve() if args.cache else build_cache(args))
    n_subjects = cache.samples["subject"].nunique()
    n_folds = n_subjects if args.folds == 0 else min(args.folds, n_subjects)
    gpu = GPU_OVERRIDES if args.gpu else []
    common = [
        f"cache={cache.path}",
        f"preprocess.size={cache.size}",
        f"paths.output_dir={args.out}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        *gpu,
        "hydra/launcher=gpus",
        f"hydra.launcher.jobs_per_gpu={args.jobs_per_gpu}",
        f"hydra.launcher.mps={str(args.mps).lower()}",
        f"data.fold={','.join(map(str, range(n_folds)))}",
        *args.set,
    ]
    rows: dict[str, list[str]] = {}
    swept: list[str] = []
    for how in args.start:
        measured, interrupted = sweep(args, common, how, n_folds, n_subjects)
        swept.append(how)
        for name in [*rows, *(k for k in measured if k not in rows)]:  # in first-seen order
            rows.setdefault(name, ["—"] * (len(swept) - 1)).append(measured.get(name, "—"))
        if interrupted:
            break
    # The table after every sweep, so the jobs' own output does not split it.
    print(
        f"\nTable 2 + Table 3 ablation: {len(CELLS)} configurations × "
        f"{n_folds} of {n_subjects} folds, {cache.size}², {args.epochs} epochs, "
        f"{f'{args.jobs_per_gpu} job(s) per GPU' if args.gpu else 'CPU slots'}"
        f"{' under MPS' if args.mps else ''}"
        f"{''.join(', ' + o for o in args.set)}"
    )
    print("| measure | " + " | ".join(f"jobs {how}" for how in swept) + " |")
    print("|---|" + "---|" * len(swept))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(values) + " |")
    if args.overhead_epochs and len(swept) == len(args.start):  # not after an interrupt
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "bench_train.py"),
                f"--size={cache.size}",
                f"--epochs={args.overhead_epochs}",
                f"--out={args.out}",
                f"--cache={cache.path}",
                *(["--gpu"] if args.gpu else []),
                *(f"--set={o}" for o in args.set),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
