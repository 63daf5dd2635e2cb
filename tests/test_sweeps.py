"""Sweeps that scale and survive: the gpus launcher on CPU, submitit, resume, fault isolation."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import as_from_a_terminal

from mer.errors import MerError
from mer.run_dir import FAILED, LAUNCHER_RECORD, METRICS, PREDICTIONS
from mer.threads import available_cores

# The gpus launcher on CPU slots (asked for explicitly, so the tests pass on a GPU machine too).
CPU_SLOTS = ("hydra/launcher=gpus", "hydra.launcher.gpus=[]")


def on_release(workspace: Path) -> list[str]:
    """The overrides of every job here: the small release at 32², one epoch."""
    return [
        "data=casme2",
        f"data.root={workspace / 'release'}",
        f"paths.output_dir={workspace / 'out'}",
        "preprocess.size=32",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
    ]


def sweep_command(workspace: Path, sweep_dir: Path, *args: str) -> list[str]:
    """`mer-train -m` on the small release at 32², one epoch, into `sweep_dir`."""
    exe = Path(sys.executable).with_name("mer-train")
    return [str(exe), "-m", *on_release(workspace), f"hydra.sweep.dir={sweep_dir}", *args]


def sweep(workspace: Path, sweep_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `sweep_command` to its end."""
    return subprocess.run(
        sweep_command(workspace, sweep_dir, *args), capture_output=True, text=True, cwd=workspace, timeout=600
    )


def mer_report(sweep_dir: Path) -> subprocess.CompletedProcess:
    """Run the real `mer-report` console script on a sweep dir."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("mer-report")), str(sweep_dir)], capture_output=True, text=True, timeout=300
    )


def ctrl_c_sweep(
    workspace: Path, sweep_dir: Path, args: list[str], ready: Callable[[], bool], timeout: float
) -> tuple[int, str, float]:
    """Start `sweep_command` as from a terminal, wait (up to 120 s) until `ready()`, then Ctrl-C
    its process group, which reaches the launcher and its jobs alike; its exit code, its stderr,
    and the seconds from the signal to its end (at most `timeout`)."""
    job = subprocess.Popen(
        sweep_command(workspace, sweep_dir, *args),
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    deadline = time.monotonic() + 120
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGINT)
    stopped = time.monotonic()
    _, stderr = job.communicate(timeout=timeout)
    return job.returncode, stderr, time.monotonic() - stopped


def sweep_end(count: str, sweep_dir: Path) -> list[str]:
    """A sweep's last three lines: how its jobs ended (`count`), its dir, and the report to run."""
    return [count, f"sweep dir: {sweep_dir.resolve()}", f"next: mer-report {sweep_dir.resolve()}"]


def job_dirs(sweep_dir: Path) -> dict[str, Path]:
    """Job dirs of a sweep by their fold override."""
    return {p.name.split(",")[0]: p for p in sweep_dir.iterdir() if p.is_dir()}


#: The first line of a fold-9 job's failed.txt: the release has 3 subjects.
FOLD_9 = (
    "MerError: data.fold=9 is out of range: this dataset has 3 subjects, so folds 0–2 "
    "(or sweep them all with folds=all)"
)


def assert_exit_names_the_failure(result: subprocess.CompletedProcess, job_dir: Path) -> None:
    """A sweep that ran to its end with a failed fold-9 job exited with Hydra's compact error: the
    failed job's overrides, then its failed.txt and first line, and no traceback."""
    said = [line for line in result.stderr.splitlines() if line]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert said[-3].startswith("Error executing job with overrides: [") and "'data.fold=9'" in said[-3]
    assert said[-2] == f"{job_dir / FAILED}: {FOLD_9}"


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forked", "warm"])  # exec: see the killed-job test
def test_gpus_launcher_runs_cpu_jobs_concurrently_in_distinct_slots(workspace: Path, start) -> None:
    out = workspace / f"gpus-{start}"
    result = sweep(
        workspace, out, *CPU_SLOTS, "hydra.launcher.n_jobs=2", f"hydra.launcher.start={start}", "data.fold=0,1,2"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((d / LAUNCHER_RECORD).read_text()) for d in job_dirs(out).values()]
    assert len(records) == 3 and all(r["returncode"] == 0 for r in records)
    assert {r["slot"] for r in records} == {"cpu0", "cpu1"}
    for d in job_dirs(out).values():
        assert (d / METRICS).is_file() and (d / ".hydra" / "config.yaml").is_file()
    # Jobs on different slots overlap in time; jobs on one slot never do.
    ordered = sorted(records, key=lambda r: r["start"])
    assert ordered[1]["start"] < ordered[0]["end"] and ordered[0]["slot"] != ordered[1]["slot"]
    for slot in ("cpu0", "cpu1"):
        mine = sorted((r for r in records if r["slot"] == slot), key=lambda r: r["start"])
        assert all(a["end"] <= b["start"] for a, b in zip(mine, mine[1:]))
    # The third job took the first slot that freed up.
    assert ordered[2]["start"] >= min(ordered[0]["end"], ordered[1]["end"])
    assert "[3/3]" in result.stdout and result.stdout.splitlines()[-3:] == sweep_end(
        "3 jobs: 3 ran, 0 skipped, 0 failed", out
    )
    # Each job ran with its slot's share of the cores, not every core.
    shares = {json.loads((d / METRICS).read_text())["timing"]["threads"] for d in job_dirs(out).values()}
    assert shares == {max(1, available_cores() // 2)}
    # Each ended job says how many have ended and, from the jobs so far, about how long is left:
    # when the first ends, the third is still queued, so about one job's time.
    ends = re.findall(
        r"done in ([\d.]+) s \((\d) of 3 jobs ended"
        r"(?:, about (\d+) s left|, the rest ending)?\)",
        result.stdout,
    )
    # (How good the estimate is: test_time_left_is_reckoned_..., on a clock the test sets.)
    assert [ended for _, ended, _ in ends] == ["1", "2", "3"] and ends[2][2] == ""
    assert int(ends[0][2]) > 0  # one job still queued when the first ended: some time is left
    # warm: the third job ran in the process of the first job of its slot; else a process each.
    third_slot_pids = [r["pid"] for r in ordered if r["slot"] == ordered[2]["slot"]]
    assert (len(set(third_slot_pids)) == 1) == (start == "warm")


def test_time_left_is_reckoned_from_the_jobs_that_paid_no_first_wave_start_up(capsys) -> None:
    """A warm worker's first job pays its start-up (CUDA, cuDNN, a compile), most jobs do not: once
    a job that started after the first had ended has ended, only such jobs set the pace."""
    from hydra_plugins.mer_launcher._progress import RAN, SweepProgress

    now = [0.0]
    progress = SweepProgress(total=6, n_slots=2, clock=lambda: now[0])
    progress.job_started("cpu0")  # the first wave: 100 s each
    progress.job_started("cpu1")
    now[0] = 100.0
    progress.job_ended("cpu0", 100.0, RAN, "[1/6] cpu0")
    progress.job_started("cpu0")
    now[0] = 101.0
    progress.job_ended("cpu1", 101.0, RAN, "[2/6] cpu1")
    progress.job_started("cpu1")
    now[0] = 120.0  # cpu0's second job took 20 s; cpu1's has run 19 s; 2 jobs are queued
    progress.job_ended("cpu0", 120.0, RAN, "[3/6] cpu0")
    lines = capsys.readouterr().out.splitlines()
    # Before any later job ended: the first wave's 100 s per job (4 to go on 2 slots).
    assert lines[0] == "[1/6] cpu0 (1 of 6 jobs ended, about 3.3 min left)"
    # Then 20 s: cpu1's job ends in 1 s, the two queued ones take 20 s each, one per slot.
    assert lines[2] == "[3/6] cpu0 (3 of 6 jobs ended, about 21 s left)"


def test_a_slots_next_job_may_start_before_its_last_job_is_counted(capsys) -> None:
    """A freed slot goes to the next job at once, before the thread of the job that left it counts it
    as ended: jobs are counted by job, so neither is lost and each keeps its own start (the
    baselines sweep once died here with KeyError: 'cpu1' when jobs were counted by slot)."""
    from hydra_plugins.mer_launcher._progress import RAN, SweepProgress

    now = [0.0]
    progress = SweepProgress(total=2, n_slots=1, clock=lambda: now[0])
    progress.job_started(0)  # job 0 on the one slot
    now[0] = 10.0
    progress.job_started(1)  # its slot freed at 10 s: job 1 starts there before job 0 is counted
    progress.job_ended(0, 10.0, RAN, "[1/2] cpu0")
    now[0] = 25.0
    progress.job_ended(1, 25.0, RAN, "[2/2] cpu0")
    assert progress.trained == [(0.0, 10.0), (10.0, 15.0)] and progress.ended == 2
    assert capsys.readouterr().out.splitlines()[-1] == "[2/2] cpu0 (2 of 2 jobs ended)"


def test_queued_jobs_end_in_whole_waves() -> None:
    """The ablation's 130 jobs on 16 slots: after a first wave, 114 jobs take 8 waves, not 7.125."""
    from hydra_plugins.mer_launcher._progress import last_end

    assert last_end([138.0] * 16, 114, 90.0) == 138.0 + 8 * 90.0
    assert last_end([10.0, 0.0], 3, 5.0) == 15.0  # the idle slot takes two of them
    assert last_end([7.0, 3.0], 0, 5.0) == 7.0  # none queued: the running jobs end


def test_gpu_slots_pack_jobs_per_gpu_and_share_the_cores(monkeypatch) -> None:
    from hydra_plugins.mer_launcher._slots import job_slots

    monkeypatch.setattr("hydra_plugins.mer_launcher._slots.available_cores", lambda: 16)
    slots = job_slots([0, 2], 4, None)
    assert [s["MER_SLOT"] for s in slots] == [f"gpu{g}.{k}" for k in range(4) for g in (0, 2)]
    assert [s["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "2"] * 4
    assert {(s["OMP_NUM_THREADS"], s["MKL_NUM_THREADS"], s["TORCHINDUCTOR_COMPILE_THREADS"]) for s in slots} == {
        ("2", "2", "2")
    }
    assert {s["OMP_NUM_THREADS"] for s in job_slots([0], 32, None)} == {"1"}  # never 0 threads


def _threads_in_slot(env: dict[str, str], answer) -> None:
    """In a forked process that imported torch first, as a warm worker has: enter the slot, and
    say the thread counts torch and torch.compile then use."""
    import torch
    import torch._inductor.config as inductor

    from hydra_plugins.mer_launcher._slots import enter_slot

    inherited = inductor.compile_threads
    enter_slot(env)
    answer.send((inherited, torch.get_num_threads(), inductor.compile_threads))


def test_a_job_takes_its_slots_threads_though_torch_was_imported_before() -> None:
    """torch.compile reads its compile-worker count when first imported (in the preloaded server,
    before any slot): the slot's share still applies, or each packed job forks one per core."""
    import multiprocessing

    import torch._inductor.config as inductor

    fork = multiprocessing.get_context("fork")
    ours, theirs = fork.Pipe()
    job = fork.Process(
        target=_threads_in_slot, args=({"OMP_NUM_THREADS": "1", "TORCHINDUCTOR_COMPILE_THREADS": "1"}, theirs)
    )
    job.start()
    inherited, threads, compile_threads = ours.recv()
    job.join()
    assert inherited == inductor.compile_threads > 1  # the count for all of this machine's cores
    assert (threads, compile_threads) == (1, 1)


@pytest.mark.parametrize(
    "option, message",
    [
        (
            "hydra.launcher.mps=true",
            "hydra.launcher.mps=true shares GPUs between jobs, but no GPU is "
            "visible: drop hydra.launcher.mps (CPU jobs need no MPS)",
        ),
        ("hydra.launcher.start=spawn", "hydra.launcher.start='spawn': choose one of forked, warm, exec"),
    ],
)
@pytest.mark.slow
def test_a_launcher_option_mistake_is_one_line(workspace: Path, option, message) -> None:
    result = sweep(workspace, workspace / "mistake", *CPU_SLOTS, option, "data.fold=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: " + message


@pytest.mark.skipif(shutil.which("nvidia-cuda-mps-control") is not None, reason="MPS is installed")
def test_mps_without_its_control_binary_says_what_to_install() -> None:
    from hydra_plugins.mer_launcher._mps import cuda_mps

    with cuda_mps(False) as env:
        assert env == {}
    with pytest.raises(
        MerError,
        match=r"hydra.launcher.mps=true needs nvidia-cuda-mps-control "
        r"\(part of NVIDIA's driver utilities\) on PATH",
    ):
        with cuda_mps(True):
            pass


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forked", "warm", "exec"])
def test_a_job_killed_outright_is_recorded_and_the_sweep_goes_on(workspace: Path, start) -> None:
    out = workspace / f"killed-{start}"
    # A config that makes each job SIGKILL itself while building its trainer: no Python cleanup.
    result = sweep(
        workspace,
        out,
        *CPU_SLOTS,
        "hydra.launcher.n_jobs=1",
        f"hydra.launcher.start={start}",
        "data.fold=0,1",
        "+trainer.callbacks=[{_target_:signal.raise_signal,_args_:[9]}]",
    )
    assert result.returncode == 1, result.stderr[-3000:]
    jobs = [d for d in out.iterdir() if d.is_dir()]
    assert sorted(re.search(r"data\.fold=(\d)", d.name)[1] for d in jobs) == ["0", "1"]
    for d in jobs:
        assert json.loads((d / LAUNCHER_RECORD).read_text())["returncode"] == -9
        assert (d / FAILED).read_text().startswith("exit code -9")
        assert not (d / METRICS).exists()
    assert result.stdout.count("FAILED in") == 2
    assert len({json.loads((d / LAUNCHER_RECORD).read_text())["pid"] for d in jobs}) == 2


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_a_rerun_goes_on(workspace: Path) -> None:
    out = workspace / "interrupted"
    args = [
        *CPU_SLOTS,
        "hydra.launcher.n_jobs=1",
        "hydra.launcher.stop_grace_s=120",
        "hydra.launcher.start=warm",
        "data.fold=0,1,2",
    ]
    code, stderr, _ = ctrl_c_sweep(workspace, out, args, lambda: any(out.glob("*/launcher.log")), timeout=300)
    assert code == 130 and "Traceback" not in stderr
    assert "killing" not in stderr  # the running job ended at Ctrl-C: the 120 s grace period never ran out
    # One line says how many ran (found, not taken as the last: a dying worker's warnings may follow).
    said = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(said) == 1 and re.fullmatch(
        r"interrupted: [12] of 3 jobs ran \(an interrupted job is recorded as failed\); rerun the "
        r"same command to go on, finished jobs are skipped",
        said[0],
    ), stderr[-3000:]
    ran = len(list(out.glob("*/" + LAUNCHER_RECORD)))
    finished = len(list(out.glob("*/" + METRICS)))
    assert ran in (1, 2)
    again = sweep(workspace, out, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipped: finished earlier") == finished
    assert len(list(out.glob("*/" + METRICS))) == 3


@pytest.mark.slow
@pytest.mark.parametrize("start", ["warm", "exec"])  # forked jobs are killed as warm workers are
def test_a_job_that_ignores_ctrl_c_is_killed_after_the_grace_period(workspace: Path, start) -> None:
    out, reached = workspace / f"stuck-{start}", workspace / f"stuck-{start}-reached"
    # Each job ignores Ctrl-C, then hangs while building its trainer, as a job stuck in a GPU
    # call would; the marker dir (relative: a job's dir name holds its overrides) says it got there.
    args = [
        *CPU_SLOTS,
        "hydra.launcher.n_jobs=1",
        f"hydra.launcher.start={start}",
        "hydra.launcher.stop_grace_s=2",
        "data.fold=0,1",
        "+trainer.callbacks=[{_target_:signal.signal,_args_:[2,1]},"
        f"{{_target_:os.mkdir,_args_:[{reached.name}]}},{{_target_:time.sleep,_args_:[600]}}]",
    ]
    code, stderr, _ = ctrl_c_sweep(workspace, out, args, reached.exists, timeout=120)
    assert code == 130 and "Traceback" not in stderr, stderr[-3000:]
    lines = stderr.splitlines()  # (a killed job's semaphores may draw a warning after them)
    said = lines.index("killing 1 job(s) still running after Ctrl-C")
    assert lines[said + 1] == (
        "interrupted: 1 of 2 jobs ran (an interrupted job is recorded as "
        "failed); rerun the same command to go on, finished jobs are skipped"
    )
    [ran] = [d for d in out.iterdir() if d.is_dir() and (d / LAUNCHER_RECORD).exists()]
    assert "data.fold=0" in ran.name
    assert json.loads((ran / LAUNCHER_RECORD).read_text())["returncode"] == -signal.SIGKILL
    assert (ran / FAILED).read_text().startswith("exit code -9")


@pytest.mark.slow
def test_a_warm_worker_runs_its_slots_jobs_until_one_fails(workspace: Path) -> None:
    out = workspace / "warm"
    result = sweep(
        workspace, out, *CPU_SLOTS, "hydra.launcher.n_jobs=1", "hydra.launcher.start=warm", "data.fold=0,9,1,2"
    )
    assert result.returncode == 1, result.stderr[-3000:]  # fold 9 failed; the others ran
    jobs = job_dirs(out)
    records = sorted(
        (json.loads((d / LAUNCHER_RECORD).read_text()) | {"dir": d} for d in jobs.values()), key=lambda r: r["start"]
    )
    assert [r["returncode"] for r in records].count(0) == 3
    assert (jobs["data.fold=9"] / FAILED).read_text().startswith("MerError: data.fold=9 is out of range")
    for fold in (0, 1, 2):
        held_out = json.loads((jobs[f"data.fold={fold}"] / METRICS).read_text())["test_subject"]
        assert held_out == f"sub0{fold + 1}"
    # One process runs job after job; the job after a failure gets a new one.
    for before, after in zip(records, records[1:]):
        assert (before["pid"] == after["pid"]) == (before["returncode"] == 0)


@pytest.mark.slow
def test_a_job_in_a_warm_worker_predicts_as_it_would_in_a_fresh_process(workspace: Path) -> None:
    """Nothing of a warm worker's first job (seeds, flags, Hydra state) reaches its second."""
    launcher = [*CPU_SLOTS, "hydra.launcher.n_jobs=1", "trainer=deterministic", "trainer.max_epochs=2"]
    warm = sweep(workspace, workspace / "warm_pair", *launcher, "hydra.launcher.start=warm", "data.fold=0,1")
    fresh = sweep(workspace, workspace / "fresh_one", *launcher, "hydra.launcher.start=forked", "data.fold=1")
    assert warm.returncode == 0 and fresh.returncode == 0, (warm.stderr + fresh.stderr)[-3000:]
    pair = job_dirs(workspace / "warm_pair")
    first, second = (json.loads((pair[f"data.fold={f}"] / LAUNCHER_RECORD).read_text()) for f in (0, 1))
    assert first["pid"] == second["pid"] and first["end"] <= second["start"]
    pd.testing.assert_frame_equal(
        pd.read_csv(pair["data.fold=1"] / PREDICTIONS),
        pd.read_csv(job_dirs(workspace / "fresh_one")["data.fold=1"] / PREDICTIONS),
    )


@pytest.mark.slow
def test_jobs_ending_while_other_slots_start_jobs_keep_their_exit_codes(tmp_path: Path) -> None:
    """Slots' threads start and join forked jobs at once, as the launcher does: each job's exit code
    is its own. Unguarded, a thread starting a job read the status of a job another thread was
    joining, which then came back as 255 (about 3 in 100 jobs here, so 160 jobs miss it 1 time in 100;
    CI failed a sweep on it)."""
    from concurrent.futures import ThreadPoolExecutor

    from hydra_plugins.mer_launcher._starts import ForkedStart, preloaded_forkserver

    script = tmp_path / "job.py"
    script.write_text("import sys, time\ntime.sleep(0.01)\nsys.exit(int(sys.argv[1]))\n")
    start = ForkedStart(preloaded_forkserver("mer.train.job"))  # the task module, as mer-train preloads

    def run(i: int) -> tuple[int, int]:
        code = i % 3  # 0, 1 or 2: a stolen status would read 255
        return code, start.run(f"slot{i % 4}", [str(script), str(code)], dict(os.environ), str(tmp_path / f"{i}.log"))[
            1
        ]

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(run, range(160)))
    assert [got for _, got in codes] == [want for want, _ in codes]


def test_the_torch_flags_a_warm_worker_saves_are_put_back_exactly() -> None:
    """What `warm_worker` does between jobs (`_set_torch_flags` of what `_torch_flags` saved), on every
    flag a run may change; a real warm worker's second job predicting as a fresh process does is
    test_a_job_in_a_warm_worker_predicts_as_it_would_in_a_fresh_process."""
    import torch

    from hydra_plugins.mer_launcher._job_process import _set_torch_flags, _torch_flags

    saved = _torch_flags()
    try:
        torch.use_deterministic_algorithms(not saved["deterministic_algorithms"])
        torch.backends.cudnn.benchmark = not saved["cudnn_benchmark"]
        torch.backends.cudnn.deterministic = not saved["cudnn_deterministic"]
        torch.set_float32_matmul_precision("medium" if saved["matmul_precision"] != "medium" else "high")
        assert _torch_flags() != saved
    finally:
        _set_torch_flags(saved)
    assert _torch_flags() == saved


@pytest.mark.slow
def test_paper_ablation_is_one_sweep_and_one_report_of_tables_2_and_3(workspace: Path, imagenet_home: Path) -> None:
    out = workspace / "ablation"
    result = sweep(
        workspace, out, "experiment=paper_ablation", *CPU_SLOTS, "hydra.launcher.start=warm", "data.fold=0,1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[10/10]" in result.stdout  # 5 cells × 2 folds
    report = mer_report(out)
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(out / "report.csv")
    assert sorted(zip(table["input"], table["head"])) == [
        ("apex", "hinge"),
        ("u", "hinge"),
        ("uv", "hinge"),
        ("uv", "softmax"),
        ("v", "hinge"),
    ]
    assert set(table["n_samples"]) == {10} and set(table["n_folds"]) == {2}
    assert set(table["configuration"].str.contains("recipe=paper")) == {True}  # the paper as written
    md = (out / "report.md").read_text()  # one group: both tables side by side, not five groups
    assert md.count("Table 2 style: input ablation") == 1 and md.count("Table 3 style") == 1
    assert "ablation=" not in md


@pytest.mark.slow
def test_a_two_fold_cut_of_the_sensitivity_sweep_runs_through_mer_report(workspace: Path, imagenet_home: Path) -> None:
    out = workspace / "sensitivity"
    result = sweep(
        workspace,
        out,
        "experiment=paper_sensitivity",
        *CPU_SLOTS,
        "hydra.launcher.start=warm",
        "data.fold=0,1",
        "seed=0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[14/14]" in result.stdout  # 7 settings × 2 folds × 1 seed
    report = mer_report(out)
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(out / "report_sensitivity.csv")
    assert list(table["setting"]) == [
        "paper",
        "epochs_50",
        "hinge_p2",
        "norm_none",
        "norm_train_standardize",
        "precise_bn",
        "pretrained_none",
    ]
    assert set(table["n_samples"]) == {10} and table["accuracy_diff"].iloc[1:].notna().all()
    for _, r in table.iterrows():
        assert r["accuracy_ci_low"] <= r["accuracy"] <= r["accuracy_ci_high"]
    configs = {p.name: p for p in out.iterdir() if p.is_dir()}
    p2 = next(p for name, p in configs.items() if "sensitivity=hinge_p2" in name and "data.fold=0" in name)
    assert "  p: 2\n" in (p2 / ".hydra" / "config.yaml").read_text()
    md = (out / "report.md").read_text()
    assert "## Sensitivity: the choices the paper leaves open" in md
    assert "**Data check (casme2): the counts differ from the paper's**" in md
    assert "sensitivity: one open choice changed at a time" in report.stdout


@pytest.mark.slow
def test_rerun_skips_finished_jobs_and_reruns_changed_ones(workspace: Path) -> None:
    """On the default launcher for -m (gpus): a skipped job says so, and each sweep ends with a
    line counting how its jobs ended, then its dir and the report to run."""
    out = workspace / "resume"
    first = sweep(workspace, out, "data.fold=0,1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "gpus launcher: 2 jobs" in first.stdout
    assert first.stdout.splitlines()[-3:] == sweep_end("2 jobs: 2 ran, 0 skipped, 0 failed", out)
    stamps = {k: (d / METRICS).stat().st_mtime_ns for k, d in job_dirs(out).items()}
    again = sweep(workspace, out, "data.fold=0,1")
    assert again.returncode == 0, again.stderr[-3000:]
    skipped = [line for line in again.stdout.splitlines() if "skipped: finished earlier" in line]
    assert len(skipped) == 2 and not re.search(r"done in|FAILED", again.stdout)
    assert re.fullmatch(
        r"\[\d/2\] \w+: data\.fold=0,data=casme2,preprocess\.size=32,trainer\.max_epochs=1 "
        r"skipped: finished earlier \(\d of 2 jobs ended\)",
        sorted(skipped)[0],
    ), skipped
    assert again.stdout.splitlines()[-3:] == sweep_end("2 jobs: 0 ran, 2 skipped, 0 failed", out)
    assert stamps == {k: (d / METRICS).stat().st_mtime_ns for k, d in job_dirs(out).items()}
    # A changed config that keeps the dir name (the progress bar is not part of it) runs again.
    changed = sweep(workspace, out, "data.fold=0,1", "trainer.enable_progress_bar=true")
    assert changed.returncode == 0 and changed.stdout.splitlines()[-3:] == sweep_end(
        "2 jobs: 2 ran, 0 skipped, 0 failed", out
    )
    assert len(list(out.iterdir())) == 3  # the same two job dirs, plus multirun.yaml
    assert all((d / METRICS).stat().st_mtime_ns > stamps[k] for k, d in job_dirs(out).items())


def launch_sweep(workspace: Path, sweep_dir: Path, launcher: list[str], jobs: list[list[str]]) -> list:
    """What `launcher` returns to Hydra's sweeper for `jobs` (each job's own overrides), set up as
    Hydra's multirun sets it up for `mer-train -m` (`sweep_command`'s overrides on the synthetic
    release, the task `mer.train.job.hydra_main`)."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.callbacks import Callbacks
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.plugins import Plugins
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext

    from mer.config import CONFIG_DIR
    from mer.train.job import hydra_main

    task = on_release(workspace)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        setup_globals()
        cfg = compose(
            "train",
            overrides=[*task, f"hydra.sweep.dir={sweep_dir}", "hydra.mode=MULTIRUN", *launcher],
            return_hydra_config=True,
        )
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks(cfg))
        sweeper_launcher = Plugins.instance().instantiate_launcher(
            hydra_context=context, task_function=hydra_main, config=cfg
        )
        return list(sweeper_launcher.launch([[*task, *job] for job in jobs], initial_job_idx=0))


@pytest.mark.slow
@pytest.mark.filterwarnings(r"ignore:\s*'hydra/launcher/submitit_local' is validated against")  # as mer-train does
@pytest.mark.parametrize(
    "name, launcher",
    [
        ("gpus", [*CPU_SLOTS, "hydra.launcher.n_jobs=2"]),
        ("submitit_local", ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"]),
    ],
)
def test_a_failed_job_comes_back_failed_and_the_others_completed_with_their_uf1(
    workspace: Path, name: str, launcher: list[str], monkeypatch, capfd
) -> None:
    """The real launcher's `JobReturn`s, which Hydra's sweepers and callbacks read: the failed job's
    status is FAILED with a `JobFailed` naming its failed.txt (what the basic sweeper raises), the
    other's COMPLETED with the UF1 in its metrics.json (what Optuna's would optimise)."""
    from hydra.core.utils import JobStatus

    from mer.train.job import JobFailed

    monkeypatch.setattr(sys, "argv", [str(Path(sys.executable).with_name("mer-train"))])  # what gpus runs
    out = workspace / f"statuses-{name}"
    results = launch_sweep(workspace, out, launcher, [["data.fold=0"], ["data.fold=9"]])
    jobs = job_dirs(out)
    assert [r.status for r in results] == [JobStatus.COMPLETED, JobStatus.FAILED]
    uf1 = json.loads((jobs["data.fold=0"] / METRICS).read_text())["uf1"]
    assert isinstance(results[0].return_value, float) and results[0].return_value == uf1
    assert isinstance(results[1]._return_value, JobFailed)
    assert str(results[1]._return_value) == f"{jobs['data.fold=9'] / FAILED}: {FOLD_9}"
    assert (jobs["data.fold=9"] / FAILED).read_text().startswith(FOLD_9)
    with pytest.raises(JobFailed):
        results[1].return_value  # noqa: B018 (the property raises, as for Hydra's sweepers)
    assert capfd.readouterr().out.splitlines()[-3:] == sweep_end("2 jobs: 1 ran, 0 skipped, 1 failed", out)


def test_a_skipped_job_returns_the_uf1_it_recorded(workspace: Path, tmp_path: Path) -> None:
    """hydra_main's return, for Hydra's sweepers: a job finished earlier with the same config
    trains nothing and returns the UF1 in its metrics.json."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    from mer.config import CONFIG_DIR
    from mer.run_dir import RUN_CONFIG
    from mer.train.job import hydra_main

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*on_release(workspace), "data.fold=1"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path)
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    (tmp_path / METRICS).write_text(json.dumps({"uf1": 0.4321, "accuracy": 0.5}))
    (tmp_path / RUN_CONFIG).write_text(OmegaConf.to_yaml(task, resolve=True))
    HydraConfig.instance().set_config(cfg)
    try:
        assert hydra_main(task) == 0.4321
    finally:
        HydraConfig.instance().cfg = None


@pytest.mark.slow
def test_a_sweep_on_hydras_basic_launcher_ends_with_the_same_count(workspace: Path) -> None:
    """hydra/launcher=basic runs the jobs in its own process: their lines are mer-train's own, a
    callback ends the sweep with the lines mer's launchers end theirs with, and a failed job, whose
    error Hydra's sweeper raises once the sweep has run, makes it exit 1 with one line of it."""
    out = workspace / "basic"
    first = sweep(workspace, out, "hydra/launcher=basic", "data.fold=0,9")
    assert first.returncode == 1, first.stderr[-3000:]
    assert first.stdout.splitlines()[-3:] == sweep_end("2 jobs: 1 ran, 0 skipped, 1 failed", out)
    assert_exit_names_the_failure(first, job_dirs(out)["data.fold=9"])
    again = sweep(workspace, out, "hydra/launcher=basic", "data.fold=0,9")
    assert again.returncode == 1, again.stderr[-3000:]
    assert f"{job_dirs(out)['data.fold=0']}: skipped: finished earlier with this config" in again.stdout
    assert again.stdout.splitlines()[-3:] == sweep_end("2 jobs: 0 ran, 1 skipped, 1 failed", out)
    assert_exit_names_the_failure(again, job_dirs(out)["data.fold=9"])


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_others_and_the_sweep_exits_1(workspace: Path) -> None:
    out = workspace / "faults"
    result = sweep(workspace, out, "data.fold=0,9,2")
    assert result.returncode == 1, result.stderr[-3000:]
    assert_exit_names_the_failure(result, job_dirs(out)["data.fold=9"])
    jobs = job_dirs(out)
    assert (jobs["data.fold=0"] / METRICS).is_file() and (jobs["data.fold=2"] / METRICS).is_file()
    failed = (jobs["data.fold=9"] / FAILED).read_text()
    assert failed.startswith("MerError: data.fold=9 is out of range")
    assert re.search(r"data\.fold=9,\S+ FAILED in [\d.]+ s \(MerError: data\.fold=9 is out of range", result.stdout)
    assert result.stdout.splitlines()[-3:] == sweep_end("3 jobs: 2 ran, 0 skipped, 1 failed", out)
    report = mer_report(out)
    assert report.returncode == 0, report.stderr
    assert "data.fold=9" in (out / "report.md").read_text()
    # Without the failing job, the same sweep (its jobs skipped, as finished) exits 0.
    again = sweep(workspace, out, "data.fold=0,2")
    assert again.returncode == 0 and again.stdout.splitlines()[-3:] == sweep_end(
        "2 jobs: 0 ran, 2 skipped, 0 failed", out
    )


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(workspace: Path) -> None:
    """Each job is said as it is submitted and as it ends, the sweep ends with their count, its dir
    and the report to run, and the jobs, which run at once, share the cores."""
    out = workspace / "submitit"
    result = sweep(workspace, out, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "data.fold=0,1")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    name = "data.fold={},data=casme2,preprocess.size=32,trainer.max_epochs=1"
    assert [re.sub(r"job \d+", "job N", line) for line in lines[-7:-5]] == [
        f"[{k + 1}/2] submitted: {name.format(k)} (submitit job N)" for k in (0, 1)
    ]
    ended = sorted(lines[-5:-3])
    for k in (0, 1):
        assert re.fullmatch(
            rf"\[{k + 1}/2\] {re.escape(name.format(k))} done in [\d.]+ s \(\d of 2 jobs ended\)", ended[k]
        ), ended
    assert lines[-3:] == sweep_end("2 jobs: 2 ran, 0 skipped, 0 failed", out)
    assert "validated against ConfigStore schema" not in result.stderr
    jobs = job_dirs(out)
    shares = {json.loads((jobs[f"data.fold={f}"] / METRICS).read_text())["timing"]["threads"] for f in (0, 1)}
    assert shares == {max(1, available_cores() // 2)}
    assert all((jobs[f"data.fold={f}"] / METRICS).is_file() for f in (0, 1))
    held_out = {json.loads((jobs[f"data.fold={f}"] / METRICS).read_text())["test_subject"] for f in (0, 1)}
    assert held_out == {"sub01", "sub02"}
    assert (out / ".submitit").is_dir()  # submitit's own job records


@pytest.mark.slow
def test_deterministic_mode_repeats_bit_for_bit(workspace: Path) -> None:
    runs = []
    for name in ("det_a", "det_b"):
        result = sweep(workspace, workspace / name, "trainer=deterministic", "data.fold=1", "trainer.max_epochs=2")
        assert result.returncode == 0, result.stderr[-3000:]
        (job,) = job_dirs(workspace / name).values()
        runs.append(pd.read_csv(job / PREDICTIONS))
    pd.testing.assert_frame_equal(runs[0], runs[1])
