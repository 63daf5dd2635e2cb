"""`make bench-sweep`: the paper's Table 2 + Table 3 ablation as one sweep, timed.

On a synthetic release of CASME II's size (26 subjects, ~250 clips) it runs, through
`mer-train -m hydra/launcher=gpus`, Table 2 (apex, u, v, u+v with the hinge head) and the rest of
Table 3 (u+v with softmax) over the folds, then prints the wall time of the whole sweep, the
median time per job (from each job's launcher record) and the framework overhead of one job
against a bare PyTorch loop (`bench_train.py`).

Full size on a GPU machine:  python benchmarks/bench_sweep.py --size 224 --epochs 200 --folds 0
Small scale on a CPU (the default here): 2 folds, 48², 2 epochs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mer.runs import LAUNCHER_RECORD

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--folds", type=int, default=2, help="first N folds; 0 = all (folds=all)")
    parser.add_argument("--jobs-per-gpu", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()

    sweep_dir = args.out / f"sweep-{args.size}px-{args.epochs}ep-{time.strftime('%Y%m%d-%H%M%S')}"
    folds = ["folds=all"] if args.folds == 0 else [f"data.fold={','.join(map(str, range(args.folds)))}"]
    common = [
        f"data.root={args.out / 'synthetic-casme2-26x10'}", "data.reader.n_subjects=26",
        "data.reader.clips_per_subject=10", f"paths.output_dir={args.out}",
        f"preprocess.size={args.size}", f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false", "hydra/launcher=gpus",
        f"hydra.launcher.jobs_per_gpu={args.jobs_per_gpu}", f"hydra.sweep.dir={sweep_dir}", *folds,
    ]
    mer_train = str(Path(sys.executable).with_name("mer-train"))
    # Build the cache first so the sweep's time is training, as in a real ablation.
    subprocess.run([sys.executable, "-m", "mer.preprocess.prepare", *common[:5]], check=True,
                   capture_output=True)
    started = time.perf_counter()
    for grid in (["input=apex,u,v,uv", "head=hinge"], ["input=uv", "head=softmax"]):
        subprocess.run([mer_train, "-m", *common, *grid], check=True)
    total = time.perf_counter() - started

    records = [json.loads(p.read_text()) for p in sweep_dir.rglob(LAUNCHER_RECORD)]
    per_job = [r["end"] - r["start"] for r in records]
    failed = sum(r["returncode"] != 0 for r in records)
    print(f"\nTable 2 + Table 3 ablation: {len(records)} jobs ({failed} failed), {args.size}², "
          f"{args.epochs} epochs, {'all' if args.folds == 0 else args.folds} folds")
    print("| measure | value |\n|---|---|")
    print(f"| whole sweep (wall) | {total:.1f} s |")
    print(f"| per job (median, incl. process start-up) | {statistics.median(per_job):.1f} s |")
    print(f"| slots | {len({r['slot'] for r in records})} |")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_train.py"),
                    f"--size={args.size}", f"--epochs={max(args.epochs, 5)}", f"--out={args.out}"],
                   check=True)


if __name__ == "__main__":
    main()
