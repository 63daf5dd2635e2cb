"""The flow cache through the real `mer-prepare`: hit, miss, atomicity, concurrent writers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from mer.data.synthetic import generate_synthetic
from mer.preprocess.cache import CHANNELS, load_cache
from mer.preprocess.prepare import prepare

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
    return ["data=casme2", f"data.root={root}", f"paths.output_dir={out}", "preprocess.size=64",
            *extra]


def prepare_in_process(*args: str):
    """Compose the real config and run `prepare` as `mer-prepare` does."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return prepare(compose("prepare", overrides=list(args)))


def mer_prepare(*args: str, **popen) -> subprocess.Popen:
    """Start the real `mer-prepare` console script."""
    exe = Path(sys.executable).with_name("mer-prepare")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


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


def test_user_mistake_is_one_line(tmp_path: Path) -> None:
    proc = mer_prepare("data=casme2", f"data.root={tmp_path / 'nowhere'}",
                       f"paths.output_dir={tmp_path}")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    (line,) = [l for l in stderr.splitlines() if l.strip()]
    assert line.startswith("error: ") and "nowhere" in line
