"""`make bench-ablation`: the whole Table 2 + 3 ablation (`experiment=paper_ablation`), timed to its end.

On a synthetic release of CASME II's size (26 subjects × 10 clips, generated here, read by the
CASME II reader as a real release would be) it builds the flow cache, then runs
`mer-train -m experiment=paper_ablation` with the fastest settings found (`hydra/launcher=gpus`,
16 warm workers per GPU under CUDA MPS, bf16, channels_last, CUDA graphs) over every fold: 5 cells
× 26 folds = 130 jobs, one sweep dir. Each command runs under `timeout -s INT` so it ends within
10 minutes; the folds are split into `--parts` disjoint ranges, one command each, resumed in the
same sweep dir. Every command's wall clock goes into the sweep dir's ledger (`bench-ablation.json`),
so the parts may run in separate invocations (`--part K`), as a machine lent 10 minutes a command
needs. It prints every job's record (`launcher.json`, `metrics.json`) and, once every job has
finished, runs `mer-report` and prints the figure: the commands' wall clocks added up, the report
included. Last, `mer-predict` loads one GPU-trained checkpoint with `CUDA_VISIBLE_DEVICES=` (on the
CPU) and must give the scores that job wrote to its `predictions.csv`.

Full size, on a GPU:    python benchmarks/bench_ablation.py            (or one part: --part 1)
Packed folds:           python benchmarks/bench_ablation.py --packed   (hydra/launcher=packed, 5 cells' packs)
Small scale, on a CPU:  python benchmarks/bench_ablation.py --small   (3 subjects, 48², 2 epochs)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from bench_sweep import CELLS, job_records, prepare  # the sibling scripts: the same cells and records
from bench_train import GPU_OVERRIDES

from hydra_plugins.mer_launcher._slots import job_slots
from mer.data.casme2 import read_casme2
from mer.errors import MerError, user_facing
from mer.preprocess.cache import load_cache
from mer.run_dir import CHECKPOINT, METRICS, PREDICTIONS, SCORE_PREFIX
from mer.synthetic import generate_synthetic
from mer.train.pretrained import imagenet_file

ROOT = Path(__file__).resolve().parents[1]
LEDGER = "bench-ablation.json"  # in the sweep dir: the settings, the parts, and every command run
TARGET_S = 15 * 60
#: (subjects, clips per subject, crop size, epochs): CASME II's size and the paper's, or a CPU dry run.
FULL = (26, 10, 224, 200)
SMALL = (3, 5, 48, 2)


def fold_parts(n_folds: int, parts: int) -> list[list[int]]:
    """The folds split into `parts` disjoint ranges of consecutive folds, as even as they go."""
    if not 1 <= parts <= n_folds:
        raise MerError(f"--parts {parts}: choose 1 to {n_folds} (the dataset has {n_folds} folds)")
    size, extra = divmod(n_folds, parts)
    bounds = [k * size + min(k, extra) for k in range(parts + 1)]
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:])]


def fold_range(folds: list[int]) -> str:
    """ "0–12", or "25" for one fold."""
    return f"{folds[0]}–{folds[-1]}" if len(folds) > 1 else str(folds[0])


def read_ledger(sweep_dir: Path, settings: list[str], parts: list[list[int]]) -> dict:
    """The sweep dir's ledger (a new one if none), refused in one line if it was run otherwise."""
    path = sweep_dir / LEDGER
    if not path.is_file():
        return {"settings": settings, "parts": parts, "commands": []}
    try:
        ledger = json.loads(path.read_text())
        same = ledger["settings"] == settings and ledger["parts"] == parts
    except (ValueError, KeyError, TypeError) as err:
        raise MerError(f"{path}: not a bench-ablation ledger ({err}); rerun with --fresh") from err
    if not same:
        raise MerError(
            f"{path}: this sweep dir was run with other settings or parts; give the "
            "same flags as before, or --fresh to start it again"
        )
    return ledger


def write_ledger(sweep_dir: Path, ledger: dict) -> None:
    """Write the ledger atomically (a killed run leaves the last whole one)."""
    tmp = sweep_dir / f".{LEDGER}.tmp"
    tmp.write_text(json.dumps(ledger, indent=2))
    tmp.replace(sweep_dir / LEDGER)


def part_finished(ledger: dict, part: int) -> bool:
    """Whether the last command of this part (numbered from 1) ran to its end."""
    runs = [c for c in ledger["commands"] if c["part"] == part]
    return bool(runs) and runs[-1]["returncode"] == 0


def run_part(part: int, folds: list[int], sweep: list[str], limit_s: int) -> dict:
    """One command of the sweep over these folds under `timeout -s INT`; its ledger entry."""
    mer_train = str(Path(sys.executable).with_name("mer-train"))
    # INT at the limit (the launcher stops its jobs within its grace period), KILL 30 s later.
    command = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "30",
        str(limit_s),
        mer_train,
        "-m",
        *sweep,
        f"data.fold={','.join(map(str, folds))}",
    ]
    print(
        f"\n== part {part}: folds {fold_range(folds)} ({len(folds) * len(CELLS)} jobs), "
        f"stopped after {limit_s} s\n{' '.join(command)}",
        flush=True,
    )
    start = time.time()
    job = subprocess.Popen(command)
    try:
        code = job.wait()
    except KeyboardInterrupt:  # timeout runs in its own process group: pass Ctrl-C on to it
        job.send_signal(signal.SIGINT)
        code = job.wait()
    return {"part": part, "folds": folds, "start": start, "end": time.time(), "returncode": code}


def command_of(record: dict, commands: list[dict]) -> dict | None:
    """The ledger command that ran a job: the last one that started before the job did."""
    before = [c for c in commands if c["start"] <= record["start"]]
    return before[-1] if before else None


def job_name(record: dict) -> str:
    """ "uv_hinge fold 3", from a job's overrides."""
    values = dict(o.split("=", 1) for o in record["overrides"] if "=" in o)
    return f"{values.get('ablation', '?')} fold {values.get('data.fold', '?')}"


def trained_here(record: dict) -> bool:
    """Whether the job trained in the command of its record (not skipped as already finished)."""
    return record["metrics"] is not None and (record["dir"] / METRICS).stat().st_mtime >= record["start"]


def print_records(records: list[dict], commands: list[dict]) -> None:
    """Every job's record, in the order the jobs started: one table row each."""
    print(
        "\n| part | job | slot | started (s after its command) | start to exit (s) | exit | "
        "fit (s) | ms per step | accuracy |\n|---|---|---|---|---|---|---|---|---|"
    )
    for r in sorted(records, key=lambda r: r["start"]):
        command = command_of(r, commands)
        metrics = r["metrics"] or {}
        timing = metrics.get("timing", {})
        skipped = r["metrics"] is not None and not trained_here(r)
        print(
            f"| {command['part'] if command else '?'} | {job_name(r)} | {r['slot']} | "
            f"{r['start'] - command['start'] if command else math.nan:.1f} | "
            f"{r['end'] - r['start']:.1f}{' (finished earlier, skipped)' if skipped else ''} | "
            f"{r['returncode']} | {timing.get('fit_s', '—')} | {timing.get('ms_per_step', '—')} | "
            f"{format(metrics['accuracy'], '.3f') if metrics else '—'} |"
        )


def print_commands(records: list[dict], commands: list[dict]) -> float:
    """One row per command the sweep took: its wall clock and, from its jobs' records, the time
    to its first job and to its last job's end; the wall clocks added up."""
    print(
        "\n| command | part | folds | exit | wall clock (s) | to first job (s) | "
        "to last job's end (s) | jobs trained (median start to exit, s) |\n|---|---|---|---|---|---|---|---|"
    )
    for n, c in enumerate(commands, 1):
        ran = [r for r in records if command_of(r, commands) is c]
        trained = [r["end"] - r["start"] for r in ran if trained_here(r)]
        first = f"{min(r['start'] for r in ran) - c['start']:.1f}" if ran else "—"
        last = f"{max(r['end'] for r in ran) - c['start']:.1f}" if ran else "—"
        median = f"{len(trained)} ({statistics.median(trained):.1f})" if trained else "0"
        print(
            f"| {n} | {c['part']} | {fold_range(c['folds'])} | {c['returncode']} | "
            f"{c['end'] - c['start']:.1f} | {first} | {last} | {median} |"
        )
    return sum(c["end"] - c["start"] for c in commands)


def unfinished_jobs(records: list[dict], folds: list[int]) -> list[str]:
    """The ablation's jobs (cell × fold) over these folds that hold no finished run."""
    done = {job_name(r) for r in records if r["metrics"] is not None}
    return [name for name in (f"{cell} fold {f}" for cell in CELLS for f in folds) if name not in done]


def part_done(ledger: dict, part: int, folds: list[int], records: list[dict]) -> bool:
    """Whether a part needs no more running: its last command ran to its end and every one of
    its jobs finished (a failed job, which the sweep went on past, runs again)."""
    return part_finished(ledger, part) and not unfinished_jobs(records, folds)


def report_and_total(sweep_dir: Path, commands: list[dict], sweep_s: float, what: str, check_target: bool) -> None:
    """Run `mer-report` on the finished sweep (it prints the pooled tables) and print the figure:
    the sweep's commands' wall clocks added up, and the report's."""
    mer_report = str(Path(sys.executable).with_name("mer-report"))
    print(f"\n== {mer_report} {sweep_dir}", flush=True)
    started = time.perf_counter()
    subprocess.run([mer_report, str(sweep_dir)], check=True)
    report_s = time.perf_counter() - started
    total = sweep_s + report_s
    split = " + ".join(f"{c['end'] - c['start']:.1f} s (part {c['part']})" for c in commands)
    verdict = f"; target {TARGET_S // 60} min: {'met' if total <= TARGET_S else 'NOT met'}" if check_target else ""
    print(
        f"\nWhole ablation, {what}: {total:.1f} s = {total / 60:.2f} min from the commands' "
        f"starts to the report: {split}, then mer-report {report_s:.1f} s{verdict}"
    )


def check_prediction(records: list[dict], release: Path, cache_dir: Path, atol: float) -> None:
    """`mer-predict` on the CPU (`CUDA_VISIBLE_DEVICES=`) with a checkpoint of the sweep, on the
    first clip of its held-out subject: its scores must be those the job wrote, within `atol`."""
    with_ckpt = sorted(
        (r for r in records if r["metrics"] and (r["dir"] / CHECKPOINT).is_file()),
        key=lambda r: (not job_name(r).startswith("uv_hinge "), job_name(r)),
    )
    if not with_ckpt:
        raise MerError("no finished job of the sweep holds a model.ckpt to check mer-predict with")
    job = with_ckpt[0]
    written = pd.read_csv(job["dir"] / PREDICTIONS).iloc[0]
    sample = load_cache(cache_dir).samples.set_index("sample_id").loc[written["sample_id"]]
    frames = [release / sample["onset_path"], release / sample["apex_path"]]
    if not all(f.is_file() for f in frames):
        raise MerError(
            f"{frames[0]} or {frames[1]}: no such frames of {written['sample_id']} in "
            f"{release}; was the cache built from another release?"
        )
    command = [
        str(Path(sys.executable).with_name("mer-predict")),
        str(job["dir"] / CHECKPOINT),
        *map(str, frames),
        "--json",
    ]
    print(
        f"\n== mer-predict on the CPU, {job_name(job)}'s checkpoint, clip {written['sample_id']}\n"
        f"CUDA_VISIBLE_DEVICES= {' '.join(command)}",
        flush=True,
    )
    out = subprocess.run(command, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:  # its own error line is above, on stderr
        raise SystemExit(f"mer-predict failed (exit code {out.returncode}) on the CPU")
    predicted = json.loads(out.stdout)
    gap = max(
        abs(predicted["scores"][c[len(SCORE_PREFIX) :]] - written[c])
        for c in written.index
        if c.startswith(SCORE_PREFIX)
    )
    verdict = "ok" if predicted["label"] == written["pred"] and gap <= atol else "MISMATCH"
    print(
        f"mer-predict: {predicted['label']}, predictions.csv: {written['pred']}; "
        f"largest score difference {gap:.2e} (allowed {atol:g}): {verdict}"
    )
    if verdict != "ok":
        raise SystemExit("mer-predict on the CPU disagrees with the job's predictions.csv (above)")


@user_facing
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="the CPU dry run: 3 subjects × 5 clips, 48², 2 epochs, CPU slots"
    )
    parser.add_argument(
        "--parts", type=int, default=2, help="commands the folds are split over (disjoint ranges, one sweep dir)"
    )
    parser.add_argument(
        "--part",
        type=int,
        action="append",
        metavar="K",
        help="run only part K (from 1; repeatable): the others keep their ledger",
    )
    parser.add_argument(
        "--limit", type=int, default=540, help="seconds before a command gets SIGINT (it then ends within a minute)"
    )
    parser.add_argument("--jobs-per-gpu", type=int, default=16)
    parser.add_argument(
        "--packed", action="store_true", help="hydra/launcher=packed: each cell's folds trained as one batched network"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more override for every job, e.g. trainer.benchmark=true",
    )
    parser.add_argument(
        "--predict-atol",
        type=float,
        default=None,
        help="largest score difference allowed between mer-predict on the CPU and "
        "the job's predictions.csv (default 1e-3 on the CPU, 0.1 after bf16)",
    )
    parser.add_argument(
        "--cache", type=Path, help="a cache of this synthetic release built elsewhere (skips mer-prepare)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--sweep-dir", type=Path, help="default: OUT/ablation-<size>px-<epochs>ep")
    parser.add_argument("--fresh", action="store_true", help="delete the sweep dir first")
    args = parser.parse_args()

    subjects, clips, size, epochs = SMALL if args.small else FULL
    on_gpu = bool(job_slots(None, 1, None)[0]["CUDA_VISIBLE_DEVICES"])
    if not args.small and not on_gpu:
        raise MerError(
            "no GPU is visible (nvidia-smi): the full-size ablation runs on a GPU; add --small for the CPU dry run"
        )
    if args.packed:  # each cell's folds as one vmapped network (packs sized by the memory model)
        fast = ["hydra/launcher=packed", *([] if args.small else GPU_OVERRIDES)]
    elif args.small:
        fast = ["hydra/launcher=gpus", "hydra.launcher.gpus=[]", "hydra.launcher.start=warm"]  # CPU slots, warm
    else:
        fast = [
            "hydra/launcher=gpus",
            *GPU_OVERRIDES,
            "model.cuda_graph=true",
            f"hydra.launcher.jobs_per_gpu={args.jobs_per_gpu}",
            "hydra.launcher.mps=true",
            "hydra.launcher.start=warm",
        ]
    out = args.out.resolve()
    packed = "-packed" if args.packed else ""
    sweep_dir = (args.sweep_dir or out / f"ablation-{size}px-{epochs}ep{packed}").resolve()
    if args.fresh:
        shutil.rmtree(sweep_dir, ignore_errors=True)

    started = time.perf_counter()
    release = generate_synthetic(
        out / f"synthetic-casme2-{subjects}x{clips}", n_subjects=subjects, clips_per_subject=clips, progress=False
    )
    if args.cache:  # built elsewhere: the sweep then needs no dlib (mer-predict still does)
        cache = load_cache(args.cache.resolve())
        if cache.size != size:
            raise MerError(
                f"--cache {cache.path} was built at {cache.size}², this run trains at "
                f"{size}²: give a cache of that size, or drop --cache to build it"
            )
        if set(cache.samples["sample_id"]) != set(read_casme2(release).rows["sample_id"]):
            raise MerError(
                f"--cache {cache.path} holds other clips than the release {release}: "
                "give a cache built from it, or drop --cache to build it"
            )
    else:
        cache = load_cache(
            prepare(["data=casme2", f"data.root={release}", f"paths.output_dir={out}", f"preprocess.size={size}"])
        )
    n_folds = cache.samples["subject"].nunique()
    print(
        f"synthetic release {release}, cache {cache.path}: {len(cache.samples)} clips, "
        f"{n_folds} subjects, {size}² ({time.perf_counter() - started:.1f} s, not in the figure)"
    )

    # The paper recipe starts from torchvision's ImageNet weights. A machine without them (no network,
    # nothing installed) times the same network from scratch: the weights set where training starts,
    # not how long a step takes.
    scratch = [] if imagenet_file().is_file() else ["model.pretrained=none"]
    if scratch:
        print(
            f"no ImageNet weights at {imagenet_file()} (`mer-weights --install FILE` puts them there): "
            "model.pretrained=none, the same time per step"
        )
    settings = [
        "experiment=paper_ablation",
        f"data.root={release}",
        f"cache={cache.path}",
        f"preprocess.size={size}",
        f"trainer.max_epochs={epochs}",
        "save_checkpoint=true",
        "trainer.enable_progress_bar=false",
        *scratch,
        *fast,
        *args.set,
    ]
    parts = fold_parts(n_folds, args.parts)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    ledger = read_ledger(sweep_dir, settings, parts)
    wanted = args.part or range(1, len(parts) + 1)
    if any(not 1 <= part <= len(parts) for part in wanted):
        raise MerError(f"--part {args.part}: choose parts 1 to {len(parts)} (--parts {len(parts)})")
    for part in wanted:
        if part_done(ledger, part, parts[part - 1], job_records(sweep_dir)):
            print(f"part {part}: every job already finished in {sweep_dir}, not run again")
            continue
        ledger["commands"].append(
            run_part(part, parts[part - 1], [*settings, f"hydra.sweep.dir={sweep_dir}"], args.limit)
        )
        write_ledger(sweep_dir, ledger)
        if ledger["commands"][-1]["returncode"] != 0:
            break  # cut off (or failed): the rest would run past the time it was given

    records = job_records(sweep_dir)
    print(f"\nJobs of {sweep_dir} ({len(records)} records):")
    print_records(records, ledger["commands"])
    sweep_s = print_commands(records, ledger["commands"])
    missing = unfinished_jobs(records, list(range(n_folds)))
    left = [k for k in range(1, len(parts) + 1) if not part_done(ledger, k, parts[k - 1], records)]
    if left:
        print(
            f"\nNot finished: {len(missing)} of {len(CELLS) * n_folds} jobs "
            f"({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}), in part(s) "
            f"{', '.join(map(str, left))}. No figure yet: rerun with the same flags (and "
            f"--part K) to go on in {sweep_dir}."
        )
        raise SystemExit(1 if set(left) & set(wanted) else 0)  # 0: the parts asked for are done
    if args.packed:
        where = "packed folds"
    else:
        where = "CPU slots" if args.small else f"{args.jobs_per_gpu} jobs per GPU under MPS, warm, graphed"
    report_and_total(
        sweep_dir,
        ledger["commands"],
        sweep_s,
        f"{len(CELLS)} cells × {n_folds} folds = {len(CELLS) * n_folds} jobs, {size}², {epochs} epochs, {where}",
        check_target=not args.small,
    )
    atol = args.predict_atol if args.predict_atol is not None else (1e-3 if args.small else 0.1)
    check_prediction(records, release, cache.path, atol)


if __name__ == "__main__":
    main()
