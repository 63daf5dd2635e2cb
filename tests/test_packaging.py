"""mer as users install it: a wheel that carries every module and config, whose entry points run from
any directory and write only there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import mer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel .` builds from this checkout (no network: this venv's setuptools)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("mer-*.whl")
    return built


def test_the_wheel_carries_every_module_and_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for top in ("mer", "hydra_plugins") for p in (ROOT / top).rglob("*.py")}
    configs = {f"mer/{p.relative_to(ROOT)}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert modules - names == set() and configs - names == set()
    assert "mer/evaluate/report_prose.md" in names and len(configs) > 50
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for command in ("mer-train", "mer-prepare", "mer-report", "mer-show", "mer-predict", "mer-export", "mer ="):
        assert command in scripts


@pytest.mark.slow
def test_installed_from_the_wheel_it_runs_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"  # a non-editable install: the wheel's files, nothing of this checkout
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    installed = sorted(p for p in site.rglob("*") if p.is_file())
    work = tmp_path / "somewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("MER_OUTPUT_DIR", None), env.pop("MER_DATA_DIR", None)

    def run(command: str, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(site / "bin" / command), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{command} {args}:\n{done.stderr[-3000:]}"
        return done

    assert run("mer", "--version").stdout.strip() == f"mer {mer.__version__}"
    assert str(site / "mer" / "conf") in run("mer").stdout  # the wheel's own configs
    small = ["data.reader.n_subjects=3", "data.reader.clips_per_subject=4", "preprocess.size=32"]
    cache = Path(run("mer-prepare", *small).stdout.strip().splitlines()[-1])
    assert cache.is_relative_to(work / "outputs" / "cache") and (work / "data" / "synthetic-casme2").is_dir()
    run(
        "mer-train",
        "-m",
        *small,
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "data.fold=0,1",
        "hydra/launcher=gpus",
        "hydra.launcher.gpus=[]",
        "save_checkpoint=true",
        "hydra.sweep.dir=sweep",
    )
    run("mer-report", "sweep")
    assert len(pd.read_csv(work / "sweep" / "report.csv")) == 1
    checkpoint = next((work / "sweep").glob("*/model.ckpt"))
    run("mer-export", str(checkpoint), "--format", "torchscript", "--out", "export")
    assert (work / "export" / "model.torchscript.pt").is_file()
    run("mer-show", str(cache), "--out", "fig.png", "--per-class", "1")
    clip = next((work / "data" / "synthetic-casme2" / "CASME2_RAW_selected" / "sub01").iterdir())
    assert "label:" in run("mer-predict", str(checkpoint), str(clip)).stdout  # apex spotted
    for launcher in ("slurm", "submitit_local"):  # Hydra finds each launcher of the install
        assert (
            "_target_: hydra_plugins"
            in run("mer-train", f"hydra/launcher={launcher}", "--cfg", "hydra", "--package", "hydra.launcher").stdout
        )
    assert sorted(p for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts) == [
        p for p in installed if "__pycache__" not in p.parts
    ]  # nothing written into the install
