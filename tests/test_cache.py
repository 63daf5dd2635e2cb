"""The flow cache through the real `mer-prepare`: hit, miss, atomicity, concurrent writers, Ctrl-C,
the synthetic release's name, and damage (cut short, edited, deleted, changed, a full disk) named,
moved aside and rebuilt."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import as_from_a_terminal
from hydra import compose, initialize_config_dir

from mer.atomic import write_atomically
from mer.errors import MerError, user_error_in, user_facing
from mer.preprocess import cache_build
from mer.preprocess.cache import CHANNELS, REPAIR, load_cache
from mer.preprocess.prepare import INTERRUPTED, prepare
from mer.synthetic import generate_synthetic

CONF = Path(__file__).resolve().parents[1] / "conf"
SHEET = "CASME2-coding-20140508.xlsx"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A small synthetic CASME II release (3 subjects × 4 clips)."""
    root = tmp_path_factory.mktemp("release") / "casme2"
    generate_synthetic(root, n_subjects=3, clips_per_subject=4, seed=3)
    return root


def overrides(root: Path, out: Path, *extra: str) -> list[str]:
    """Point mer-prepare at the release as a CASME II dataset, writing under `out`."""
    return ["data=casme2", f"data.root={root}", f"paths.output_dir={out}", "preprocess.size=64", *extra]


def prepare_in_process(*args: str):
    """Compose the real config and run `prepare` as `mer-prepare` does."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return prepare(compose("prepare", overrides=list(args)))


def mer_prepare(*args: str, **popen) -> subprocess.Popen:
    """Start the real `mer-prepare` console script (stdout and stderr piped unless `popen` says otherwise)."""
    exe = Path(sys.executable).with_name("mer-prepare")
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen([str(exe), *args], **popen)


def cache_dirs(out: Path) -> list[Path]:
    """Finished and temporary cache directories under an output dir."""
    return sorted(p for p in (out / "cache").glob("*") if p.is_dir())


def test_build_then_hit_touches_no_image(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = prepare_in_process(*overrides(release, out))
    manifest = cache.manifest
    assert manifest["n"] == len(cache.samples) > 0
    assert manifest["params"]["size"] == 64 and manifest["params"]["flow"]["tau"] == 0.25
    assert manifest["counts"]["label"] and manifest["provenance"]["sheet_sha256"]
    for name in CHANNELS:
        array = cache.array(name)
        assert array.shape == (manifest["n"], 64, 64) and array.dtype == np.float16
    assert np.isfinite(cache.array("u")).all() and np.abs(cache.array("v")).max() > 0.1
    assert not np.isnan(cache.array("landmarks")).any()
    assert cache.samples["sample_id"].tolist() == sorted(cache.samples["sample_id"])

    # Garble every frame: a second run that opened any image would fail.
    spoiled = release.parent / "spoiled"
    shutil.copytree(release, spoiled)
    for frame in spoiled.rglob("*.jpg"):
        frame.write_bytes(b"garbage")
    hit = prepare_in_process(*overrides(spoiled, out))
    assert hit.path == cache.path
    assert hit.manifest["build_seconds"] == manifest["build_seconds"]  # not rebuilt


def test_any_parameter_change_is_a_miss(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = prepare_in_process(*overrides(release, out)).path
    tau = prepare_in_process(*overrides(release, out, "preprocess.flow.tau=0.3")).path
    policy = prepare_in_process(*overrides(release, out, "data.reader.apex_policy=drop")).path
    assert len({base, tau, policy}) == 3
    # An edited sheet (one action-unit cell) is new content too.
    edited = release.parent / "edited"
    shutil.copytree(release, edited)
    sheet = pd.read_excel(edited / SHEET, dtype=object)
    sheet.loc[0, "Action Units"] = "99"
    sheet.to_excel(edited / SHEET, index=False)
    assert prepare_in_process(*overrides(edited, out)).path not in {base, tau, policy}
    # `workers` only changes speed, never content.
    assert prepare_in_process(*overrides(release, out, "preprocess.workers=1")).path == base


@pytest.mark.slow
def test_killed_run_leaves_no_half_cache(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = overrides(release, out, "preprocess.size=224", "preprocess.workers=1")
    proc = mer_prepare(*args, start_new_session=True)
    deadline = time.time() + 60
    while not any(p.name.startswith(".tmp-") for p in cache_dirs(out)):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.5)  # let it write a few clips
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert all(p.name.startswith(".tmp-") for p in cache_dirs(out))  # nothing final
    cache = prepare_in_process(*args)  # the next run builds cleanly and sweeps the debris
    assert [p.name for p in cache_dirs(out)] == [cache.path.name]
    assert np.abs(cache.array("u")).max() > 0.1


@pytest.mark.slow
def test_ctrl_c_ends_the_build_at_once_and_leaves_nothing(release: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once the progress bar is
    up: the queued clips are dropped and the running one ended, one line, exit 130, and no temporary
    cache, lock file or cache left. The flow is made so slow (TV-L1 without early stop, 2,000 warps:
    about 40 s a clip) that finishing even one clip would outlast the wait."""
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    slow = ("preprocess.size=224", "preprocess.workers=1", "preprocess.flow.epsilon=0", "preprocess.flow.warps=2000")
    with open(log, "w") as stderr:
        proc = mer_prepare(*overrides(release, out, *slow), stderr=stderr, preexec_fn=as_from_a_terminal)
        try:
            deadline = time.time() + 120
            while "align + flow" not in log.read_text():
                assert time.time() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=30) == 130
        finally:  # a failure here must not leave a worker spinning through the rest of the suite
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines[-1] == INTERRUPTED and "Traceback" not in log.read_text()
    assert sorted(p.name for p in (out / "cache").iterdir()) == []  # no .tmp-* dir, no *.lock, no cache
    deadline = time.time() + 10
    while group_alive(proc.pid):  # the workers were ended, not left running on their own
        assert time.time() < deadline
        time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    """Whether any process of a process group is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_synthetic_release_is_named_so_and_not_compared_with_the_paper(release: Path, tmp_path: Path) -> None:
    """`data=synthetic` reads the generated release with the CASME II reader: its cache and log name
    it synthetic-casme2, and its counts are said once to be synthetic, never set against the paper's."""
    root = tmp_path / "synthetic-casme2"
    shutil.copytree(release, root)  # the same parameters: read as it is, not generated again
    size = ("data.reader.n_subjects=3", "data.reader.clips_per_subject=4", "data.reader.seed=3")
    proc = mer_prepare("data=synthetic", f"data.root={root}", *size, f"paths.output_dir={tmp_path}", *SMALL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    cache = load_cache(stdout.strip().splitlines()[-1])
    assert cache.path.name.startswith("synthetic-casme2-") and cache.path.parent == tmp_path / "cache"
    assert cache.manifest["dataset"] == "casme2" and cache.manifest["paper_counts"] is None
    output = (stdout + stderr).splitlines()
    assert not [line for line in output if "differ" in line or "regenerating" in line]
    said = [line for line in output if "synthetic release" in line]
    assert len(said) == 1 and said[0].endswith(
        "synthetic-casme2 is a synthetic release (it proves the pipeline): its counts are not compared with the paper's"
    )
    n = cache.manifest["n"]
    assert any(line.endswith(f"synthetic-casme2: {n} samples, 3 subjects") for line in output)


@pytest.mark.slow
def test_two_concurrent_runs_give_one_valid_cache(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [mer_prepare(*overrides(release, out)) for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    last_lines = {stdout.strip().splitlines()[-1] for stdout, _ in results}
    assert len(last_lines) == 1  # both print the same cache path as their last line
    (path,) = last_lines
    assert [p for p in cache_dirs(out)] == [Path(path)]
    cache = load_cache(path)
    assert json.loads((Path(path) / "manifest.json").read_text())["n"] == len(cache.samples)
    assert np.isfinite(cache.array("u")).all() and np.abs(cache.array("u")).max() > 0.1


@pytest.mark.slow
def test_user_mistake_is_one_line(tmp_path: Path) -> None:
    proc = mer_prepare("data=casme2", f"data.root={tmp_path / 'nowhere'}", f"paths.output_dir={tmp_path}")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    (line,) = [text for text in stderr.splitlines() if text.strip()]
    assert line.startswith("error: ") and "nowhere" in line


# ─── integrity: damaged caches are named, moved aside and rebuilt ───────────────────────────────

SMALL = ("preprocess.size=32", "preprocess.workers=1")


@pytest.fixture(scope="module")
def built(release: Path, tmp_path_factory) -> Path:
    """An output dir holding one sound cache of `release` at 32² (copied by each damage test)."""
    out = tmp_path_factory.mktemp("built")
    prepare_in_process(*overrides(release, out, *SMALL))
    return out


def copy_of(built: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the built output dir, and the path of the cache in it."""
    out = tmp_path / "out"
    shutil.copytree(built, out)
    (cache,) = cache_dirs(out)
    return out, cache


def truncate(cache: Path) -> str:
    """Cut v.npy short by 1,000 bytes (a copy interrupted); returns the problem mer must name."""
    size = (cache / "v.npy").stat().st_size
    os.truncate(cache / "v.npy", size - 1000)
    return f"v.npy is {size - 1000:,} bytes, the manifest records {size:,} (cut short)"


def rename_manifest_key(cache: Path) -> str:
    """Rename params.size in the manifest (a hand edit gone wrong)."""
    manifest = json.loads((cache / "manifest.json").read_text())
    manifest["params"]["crop"] = manifest["params"].pop("size")
    (cache / "manifest.json").write_text(json.dumps(manifest))
    return "manifest.json has no `params.size` entry (edited or damaged)"


def delete_manifest(cache: Path) -> str:
    """Delete the manifest, the other files kept (a copy cut short)."""
    (cache / "manifest.json").unlink()
    return "no manifest.json beside its other files (a copy cut short)"


def delete_array(cache: Path) -> str:
    """Delete one channel array (a partial copy)."""
    (cache / "strain.npy").unlink()
    return "strain.npy is missing"


def change_one_byte(cache: Path) -> str:
    """Flip one byte in the middle of u.npy's data: same size, same header, other content."""
    data = bytearray((cache / "u.npy").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (cache / "u.npy").write_bytes(bytes(data))
    return "u.npy has the recorded size but not the recorded sha256 (its content changed since it was built)"


def load_as_entry_point(cache: Path, capsys, verify: bool = False) -> tuple[int, list[str]]:
    """`load_cache` under `user_facing`, as mer-train / mer-show call it: exit code, stderr lines."""
    with pytest.raises(SystemExit) as exit_:
        user_facing(load_cache)(cache, verify)
    return exit_.value.code, capsys.readouterr().err.splitlines()


def expected_line(cache: Path, problem: str) -> str:
    """The one line a damaged cache gets."""
    return f"error: damaged cache {cache}: {problem}; {REPAIR}"


def assert_moved_aside_and_rebuilt(release: Path, out: Path, cache: Path, problem: str, *extra: str) -> None:
    """Under mer-prepare: one warning naming the problem, the damaged copy kept aside, a sound rebuild."""
    damaged_bytes = {p.name: p.read_bytes() for p in cache.iterdir()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt = prepare_in_process(*overrides(release, out, *SMALL, *extra))
    moved = [str(w.message) for w in caught if "is damaged" in str(w.message)]
    (aside,) = [p for p in cache_dirs(out) if p != cache]
    assert aside.name.startswith(f"{cache.name}.damaged-")
    assert moved == [f"cache {cache} is damaged ({problem}): moved it to {aside.name} and rebuilding it"]
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == damaged_bytes  # kept as it was
    assert rebuilt.path == cache
    load_cache(cache, verify=True)  # sound, hashes included
    assert np.abs(rebuilt.array("v")).max() > 0.1


@pytest.mark.parametrize("damage", [truncate, rename_manifest_key, delete_manifest, delete_array])
def test_damaged_cache_is_named_then_moved_aside_and_rebuilt(damage, release, built, tmp_path, capsys):
    out, cache = copy_of(built, tmp_path)
    problem = damage(cache)
    code, lines = load_as_entry_point(cache, capsys)
    assert code == 2 and lines == [expected_line(cache, problem)]
    assert_moved_aside_and_rebuilt(release, out, cache, problem)


def test_a_failure_while_moving_a_damaged_cache_aside_is_shown_as_itself(release, built, tmp_path, monkeypatch):
    """The rename that moves a damaged cache aside fails: the user sees that error, not the earlier
    "damaged cache" line it was raised while handling (`user_error_in` follows causes only)."""
    out, cache = copy_of(built, tmp_path)
    truncate(cache)

    def rename_denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(src))

    monkeypatch.setattr(cache_build.os, "rename", rename_denied)
    with pytest.raises(PermissionError) as raised:
        user_facing(prepare_in_process)(*overrides(release, out, *SMALL))
    assert isinstance(raised.value.__context__, MerError)  # raised while handling the damage...
    assert user_error_in(raised.value) is None  # ...but it is not that mistake, and surfaces whole


def test_verify_catches_one_changed_byte(release, built, tmp_path, capsys):
    out, cache = copy_of(built, tmp_path)
    problem = change_one_byte(cache)
    load_cache(cache)  # the cheap check cannot see it: sizes and headers agree
    code, lines = load_as_entry_point(cache, capsys, verify=True)
    assert code == 2 and lines == [expected_line(cache, problem)]
    assert_moved_aside_and_rebuilt(release, out, cache, problem, "preprocess.verify=true")


def test_manifest_records_every_file_as_sha256sum_would(built):
    (cache,) = cache_dirs(built)
    files = json.loads((cache / "manifest.json").read_text())["files"]
    assert sorted(files) == sorted(["samples.csv", "landmarks.npy", "transform.npy", *(f"{c}.npy" for c in CHANNELS)])
    for name, record in files.items():
        data = (cache / name).read_bytes()
        assert record["bytes"] == len(data) and record["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["u.npy"]["shape"] == [12, 32, 32] and files["u.npy"]["dtype"] == "<f2"
    assert files["landmarks.npy"]["shape"] == [12, 68, 2] and files["transform.npy"]["dtype"] == "<f4"


def test_full_disk_while_building_leaves_no_half_cache(release, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_save = np.save

    def save_until_the_disk_fills(path, array, *args, **kwargs):
        if Path(path).name == "transform.npy":  # the channel arrays are on disk by now
            Path(path).write_bytes(b"\x93NUMPY half")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(path, array, *args, **kwargs)

    monkeypatch.setattr(np, "save", save_until_the_disk_fills)
    with pytest.raises(MerError) as err:
        prepare_in_process(*overrides(release, out, *SMALL))
    assert str(err.value).startswith(f"no space left on the disk of {out / 'cache'} while writing the cache ")
    assert str(err.value).endswith("nothing half-written was kept; free space there (or write elsewhere) and run again")
    assert cache_dirs(out) == []  # neither a finished nor a temporary cache


def test_write_atomically_leaves_no_half_file_on_a_full_disk(tmp_path):
    target = tmp_path / "run" / "predictions.csv"
    target.parent.mkdir()

    def half_then_full(tmp: Path) -> None:
        tmp.write_text("sample_id,subject,la")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(
        MerError, match=f"^no space left on the disk of {re.escape(str(target.parent))} while writing predictions.csv: "
    ):
        write_atomically(target, half_then_full)
    assert list(target.parent.iterdir()) == []
    write_atomically(target, lambda tmp: tmp.write_text("sample_id\n"))
    assert [p.name for p in target.parent.iterdir()] == ["predictions.csv"]


@pytest.mark.slow
def test_damage_through_the_entry_points(release, built, tmp_path):
    """`mer-train cache=PATH` on a cut-short cache: one line, exit 2; `mer-prepare --verify` on a
    changed byte: one warning, the cache rebuilt, its path printed last."""
    out, cache = copy_of(built, tmp_path)
    problem = truncate(cache)
    exe = Path(sys.executable).with_name("mer-train")
    train = subprocess.run(
        [str(exe), f"cache={cache}", "preprocess.size=32", f"paths.output_dir={out}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 2 and "Traceback" not in train.stderr
    assert train.stderr.strip().splitlines()[-1] == expected_line(cache, problem)

    out, cache = copy_of(built, tmp_path / "verify")
    problem = change_one_byte(cache)
    proc = mer_prepare(*overrides(release, out, *SMALL), "--verify")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    (aside,) = [p for p in cache_dirs(out) if p != cache]
    assert (
        f"warning: cache {cache} is damaged ({problem}): moved it to {aside.name} and rebuilding it"
        in stderr.splitlines()
    )
    assert stdout.strip().splitlines()[-1] == str(cache)
    load_cache(cache, verify=True)
