"""A sweep dir → the runs table (one row per job: identity, status, why it failed), every finished
job's predictions in one frame, and the cache manifests the jobs trained on: what the report reads.

Reads the run-directory contract of `mer.run_dir` (`.hydra/`, metrics.json, predictions.csv, failed.txt)
and never re-trains. A broken file marks its job failed, with the reason; the rest is reported.
A folder of single runs (`outputs/train`) reads as a sweep: runs of one dataset on different data
roots are different configurations, and of a run repeated (same configuration, fold and seed) the
newest finished one is kept, the others set aside with a warning each.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mer.errors import MerError
from mer.evaluate.au_metrics import PRED_SUFFIX, SCORE_SUFFIX, au_columns
from mer.run_dir import FAILED, METRICS, PREDICTIONS, SCORE_PREFIX, configuration_overrides, override_key
from mer.train.search_space import describe

REQUIRED_COLUMNS = ("sample_id", "subject", "label", "pred")
#: The columns an action-unit job's predictions.csv starts with; then `AU<n>`, `AU<n>_pred`, `AU<n>_score`.
AU_REQUIRED_COLUMNS = ("sample_id", "subject")
#: What names a configuration: a row of report.csv.
KEY = ["dataset", "input", "head", "configuration"]
# Overrides already named by the dataset/input/head columns (an `ablation` cell sets input and head).
OWN_KEYS = ("data", "input", "head", "ablation")
#: Said beside every result of a generated release (`is_synthetic`), in report.md and the terminal.
SYNTHETIC_NOTE = "synthetic data: proves the pipeline; these are NOT the paper's numbers."


def _read_yaml(path: Path) -> Any:
    """A YAML file's content; a broken file is a one-line error naming it."""
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise MerError(f"{path}: cannot read it as YAML ({str(err).splitlines()[0]})") from err


def _config_value(cfg: dict, dotted: str, path: Path) -> Any:
    """`cfg["a"]["b"]` for "a.b"; a missing key names the file (it is not a mer-train run dir)."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MerError(f"{path}: no `{dotted}` in this config; is this a mer-train run dir?")
        node = node[part]
    return node


def _job_row(job_dir: Path, sweep_dir: Path) -> dict:
    """One job's identity (dataset, input, head, other overrides, data roots, fold, seed) and status;
    its configuration is named once every job is read (`_name_configurations`)."""
    config_path = job_dir / ".hydra" / "config.yaml"
    cfg = _read_yaml(config_path) or {}
    overrides_path = job_dir / ".hydra" / "overrides.yaml"
    overrides = [str(o) for o in (_read_yaml(overrides_path) or [])] if overrides_path.is_file() else []
    dataset = str(_config_value(cfg, "data.name", config_path))
    input_name = str(_config_value(cfg, "input.name", config_path))
    head = str(_config_value(cfg, "head.name", config_path))
    data = cfg.get("data") or {}
    # The fold: the held-out source of a cross-dataset job, else the held-out subject, by id or index.
    fold = next((data.get(k) for k in ("test_dataset", "test_subject") if data.get(k) not in (None, "")), None)
    fold = fold if fold is not None else _config_value(cfg, "data.fold", config_path)
    rest = _search_space_as_one([o for o in configuration_overrides(overrides) if override_key(o) not in OWN_KEYS])
    runtime = _hydra_runtime(job_dir)
    recipe = _choice(runtime, "recipe")
    for group in ("recipe", "tune"):  # chosen by an experiment: not among the job's overrides
        choice = _choice(runtime, group)
        if choice and choice != "none" and not any(override_key(o) == group for o in rest):
            rest = sorted(rest + [f"{group}={choice}"])
    tune = cfg.get("tune") or {}
    failed = job_dir / FAILED
    error = (
        next((ln.strip() for ln in failed.read_text(errors="replace").splitlines() if ln.strip()), "")
        if failed.is_file()
        else ""
    )
    broken = _metrics_problem(job_dir / METRICS)
    model = (cfg.get("model") or {}).get("arch", "mobilenetv2")
    size = (cfg.get("preprocess") or {}).get("size")  # runs before `arch`: MobileNetV2
    return {
        "job": str(job_dir.relative_to(sweep_dir)),
        "job_dir": str(job_dir),
        "dataset": dataset,
        "input": input_name,
        "head": head,
        "task": str((cfg.get("task") or {}).get("name", "emotion")),  # runs before `task`: emotion
        "rest": ",".join(rest),
        "data_roots": _data_roots(cfg, runtime.get("cwd")),
        "fold": str(fold),
        "seed": int(cfg.get("seed") or 0),
        "test_dataset": data.get("test_dataset"),
        "status": "ok" if (job_dir / METRICS).is_file() and not broken else "failed",
        "error": (broken or error)[:300],
        "size": size,
        # The network's side: model.input_size where a model resizes the flow, else the flow's own.
        "input_size": (cfg.get("model") or {}).get("input_size") or size,
        "epochs": (cfg.get("trainer") or {}).get("max_epochs"),
        "model": str(model),
        "recipe": recipe or "",
        "tuning": tuning_label(tune),
        "search_space": describe(tune.get("params")) if tune.get("name") == "nested" else "",
        **({} if broken else _job_cost(job_dir / METRICS)),
    }


def _search_space_as_one(overrides: list[str]) -> list[str]:
    """The overrides with a search space's (`+tune.params.<key>="choice(1,2)"`, whose expressions
    hold commas) folded into one `tune.params=<sha256 prefix>` (the space itself is the row's
    `search_space`): one configuration per space, and a name that splits on its commas."""
    space = sorted(o for o in overrides if override_key(o).startswith("tune.params."))
    if not space:
        return overrides
    digest = hashlib.sha256("\n".join(space).encode()).hexdigest()[:8]
    return sorted([o for o in overrides if o not in space] + [f"tune.params={digest}"])


def tuning_label(tune: dict) -> str:
    """How a report names a job's tuning: "nested: 4 inner folds, 20 trials", "" where untuned."""
    if tune.get("name") != "nested":
        return ""
    return f"nested: {tune.get('inner_folds')} inner folds, {tune.get('trials')} trials"


def _hydra_runtime(job_dir: Path) -> dict:
    """Hydra's record of the job's run (`hydra.runtime` in `.hydra/hydra.yaml`: the directory it ran
    in, the config choices), {} where there is none."""
    hydra_path = job_dir / ".hydra" / "hydra.yaml"
    if not hydra_path.is_file():
        return {}
    return ((_read_yaml(hydra_path) or {}).get("hydra") or {}).get("runtime") or {}


def _choice(runtime: dict, group: str) -> str | None:
    """The job's choice of a config group (`recipe`: paper, mer; `tune`: nested_paper) from Hydra's
    record, None where none was chosen: an experiment picks it in its defaults, so it is not among
    the job's overrides."""
    choice = (runtime.get("choices") or {}).get(group)
    return None if choice in (None, "null") else str(choice)


def _data_roots(cfg: dict, cwd: str | None) -> tuple[str, ...]:
    """Where the job read its data, as overrides: `data.root=PATH`, or a composite's
    `data.roots.<source>=PATH`; interpolations resolved (as written where they cannot be), a
    relative path taken from the directory the job ran in (`cwd`, where Hydra recorded it)."""
    data = cfg.get("data") or {}
    written = {"data.root": data.get("root")} | {f"data.roots.{k}": v for k, v in (data.get("roots") or {}).items()}
    config = OmegaConf.create(cfg)
    roots = []
    for key, value in written.items():
        try:
            value = OmegaConf.select(config, key)
        except OmegaConfBaseException:
            pass  # an interpolation this process cannot resolve: as written
        if value not in (None, ""):
            roots.append(f"{key}={Path(cwd or '', str(value))}")
    return tuple(roots)


def _metrics_problem(path: Path) -> str:
    """Why a job's metrics.json cannot be trusted ("" when it is absent or a JSON object)."""
    if not path.is_file():
        return ""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"{path}: not readable JSON ({err})"
    return "" if isinstance(metrics, dict) else f"{path}: not a JSON object of metrics"


def _job_cost(path: Path) -> dict[str, float]:
    """A finished job's parameter count and training seconds from its metrics.json (NaN where the
    job has not finished, or ran before mer recorded them)."""
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    return {
        "n_parameters": metrics.get("n_parameters", float("nan")),
        "fit_s": (metrics.get("timing") or {}).get("fit_s", float("nan")),
    }


def _name_configurations(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with each job's configuration named: its other overrides (`rest`), head and input; where
    one dataset's jobs read different data roots, each job's roots join its other overrides."""
    apart = runs.groupby("dataset")["data_roots"].transform("nunique") > 1
    rest = [
        sorted([*filter(None, others.split(",")), *(roots if keep_apart else ())])
        for others, roots, keep_apart in zip(runs["rest"], runs["data_roots"], apart)
    ]
    return runs.assign(
        rest=[",".join(others) for others in rest],
        configuration=[
            ",".join(sorted([*others, f"head={head}", f"input={input_name}"]))
            for others, head, input_name in zip(rest, runs["head"], runs["input"])
        ],
    )


def _run_time(job_dir: str) -> float:
    """When a job ran: its metrics.json's time, or, unfinished, its config's."""
    return next(
        p.stat().st_mtime for p in (Path(job_dir) / METRICS, Path(job_dir) / ".hydra" / "config.yaml") if p.is_file()
    )


def _drop_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """Keep one job per configuration+fold+seed, the newest finished one (the newest where none
    finished), and warn once per job set aside, naming it and the one kept."""
    runs = runs.assign(_failed=runs["status"] != "ok", _time=runs["job_dir"].map(_run_time)).sort_values(
        ["_failed", "_time", "job"], ascending=[True, False, True], kind="stable"
    )
    for (_, configuration, fold, seed), group in runs.groupby(["dataset", "configuration", "fold", "seed"]):
        kept = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            why = "finished" if other["_failed"] and not kept["_failed"] else "newer"
            warnings.warn(
                f"{configuration} fold {fold} seed {seed} ran {len(group)} times: kept {kept['job']} ({why}), "
                f"set aside {other['job']}",
                stacklevel=2,
            )
    runs = runs.drop_duplicates(["dataset", "configuration", "fold", "seed"], keep="first")
    return (
        runs.drop(columns=["_failed", "_time"])
        .sort_values(["dataset", "configuration", "seed", "fold"], key=_natural_key)
        .reset_index(drop=True)
    )


def fold_key(value: Any) -> tuple:
    """Sort key that puts fold "10" after "9" (numbers first, then names)."""
    text = str(value)
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _natural_key(values: pd.Series) -> pd.Series:
    """`fold_key` over a column, for `sort_values(key=...)`."""
    return values.map(fold_key)


def collect_runs(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per job dir under `sweep_dir` (searched recursively; a sweep, or a folder of single
    runs): finished (`status` "ok") or failed/unfinished (`.hydra/` but no metrics.json); a repeated
    configuration+fold+seed is kept once."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise MerError(
            f"sweep dir {sweep_dir} does not exist: pass the dir `mer-train -m` wrote "
            "(e.g. outputs/train-multirun/<date>)"
        )
    jobs = sorted(d.parent for d in sweep_dir.rglob(".hydra") if (d / "config.yaml").is_file())
    runs = pd.DataFrame(
        [_job_row(job, sweep_dir) for job in jobs],
        columns=[
            "job",
            "job_dir",
            "dataset",
            "input",
            "head",
            "task",
            "rest",
            "data_roots",
            "fold",
            "seed",
            "test_dataset",
            "status",
            "error",
            "size",
            "input_size",
            "epochs",
            "model",
            "recipe",
            "tuning",
            "search_space",
            "n_parameters",
            "fit_s",
        ],
    )
    if not (runs["status"] == "ok").any():
        failed = f"; found {len(runs)} failed or unfinished job dirs, e.g. {runs['job'].iloc[0]}" if len(runs) else ""
        raise MerError(f"no runs under {sweep_dir}: expected job dirs with {METRICS} (from mer-train -m ...){failed}")
    return _drop_duplicates(_name_configurations(runs))


def read_predictions(job_dir: str | Path, task: str = "emotion") -> pd.DataFrame:
    """A job's predictions.csv, checked for the contract's columns of its task (the error names the file)."""
    path = Path(job_dir) / PREDICTIONS
    if not path.is_file():
        raise MerError(f"{path} is missing but {METRICS} is there: rerun that job or delete its dir")
    required = AU_REQUIRED_COLUMNS if task == "au" else REQUIRED_COLUMNS
    try:
        table = pd.read_csv(path, dtype={c: str for c in required})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise MerError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from err
    if task == "au":
        return _checked_au_predictions(path, table)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if not any(c.startswith(SCORE_PREFIX) for c in table.columns):
        missing.append(f"{SCORE_PREFIX}<class>")
    if missing:
        raise MerError(
            f"{path}: missing required columns {', '.join(missing)} (mer-train writes "
            f"{', '.join(REQUIRED_COLUMNS)}, then {SCORE_PREFIX}<class> per class)"
        )
    return table


def _checked_au_predictions(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """An action-unit job's predictions: sample_id, subject and each AU's truth, prediction and score,
    every one 0/1 where it must be (the error names the file and the column)."""
    missing = [c for c in AU_REQUIRED_COLUMNS if c not in table.columns]
    aus = au_columns(table)
    if missing or not aus:
        missing += [] if aus else ["AU<n>, AU<n>_pred, AU<n>_score"]
        raise MerError(
            f"{path}: missing required columns {', '.join(missing)} (mer-train task=au writes sample_id, "
            "subject, then AU<n>, AU<n>_pred and AU<n>_score per action unit)"
        )
    for column in (c for au in aus for c in (au, f"{au}{PRED_SUFFIX}")):
        if not table[column].isin([0, 1]).all():
            raise MerError(f"{path}: column {column} holds values other than 0 and 1")
    return table[[*AU_REQUIRED_COLUMNS, *(c for au in aus for c in (au, f"{au}{PRED_SUFFIX}", f"{au}{SCORE_SUFFIX}"))]]


def load_predictions(
    runs: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, list[str]], pd.DataFrame, pd.DataFrame]:
    """All finished emotion jobs' predictions in one frame tagged with the job's keys, each dataset's
    class order (score columns of predictions.csv, then any other label seen), `runs` with every job
    whose predictions.csv is unreadable marked failed, the reason in `error` (the rest is reported),
    and all finished action-unit jobs' predictions, tagged alike (empty where there are none)."""
    frames, au_frames, classes, runs = [], [], {}, runs.copy()
    for i, run in runs[runs["status"] == "ok"].iterrows():
        try:
            table = read_predictions(run["job_dir"], run["task"])
        except MerError as err:
            runs.loc[i, ["status", "error"]] = ["failed", str(err)[:300]]
            continue
        tags = run[["job", *KEY, "rest", "fold", "seed"]].to_dict()
        if run["task"] == "au":
            au_frames.append(table.assign(**tags))
            continue
        order = classes.setdefault(run["dataset"], [])
        order += [
            c[len(SCORE_PREFIX) :]
            for c in table.columns
            if c.startswith(SCORE_PREFIX) and c[len(SCORE_PREFIX) :] not in order
        ]
        frames.append(table[list(REQUIRED_COLUMNS)].assign(**tags))
    if not frames and not au_frames:
        example = runs.loc[runs["status"] != "ok"].iloc[0]
        raise MerError(f"nothing to report: no job has readable predictions, e.g. {example['job']}: {example['error']}")
    tag_columns = ["job", *KEY, "rest", "fold", "seed"]
    preds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*REQUIRED_COLUMNS, *tag_columns])
    au_preds = pd.concat(au_frames, ignore_index=True) if au_frames else pd.DataFrame()
    for dataset, order in classes.items():
        seen = preds.loc[preds["dataset"] == dataset, ["label", "pred"]].to_numpy().ravel()
        order += sorted(set(seen) - set(order))
    return preds, classes, runs, au_preds


def sample_list(preds: pd.DataFrame, au_preds: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exact samples scored: sample_id, subject, label (union over configurations; an action-unit
    configuration's clips with an empty label)."""
    if au_preds is not None and len(au_preds):
        preds = pd.concat([preds, au_preds[["sample_id", "subject"]].assign(label="")], ignore_index=True)
    return (
        preds[["sample_id", "subject", "label"]]
        .drop_duplicates()
        .sort_values(["sample_id", "label"])
        .reset_index(drop=True)
    )


def is_synthetic(dataset: str) -> bool:
    """Whether a dataset name is one of the generated releases (`synthetic`, `synthetic_composite`)."""
    return str(dataset).startswith("synthetic")


def dataset_subjects(manifests: dict[str, dict | None]) -> dict[str, list[str]]:
    """Per dataset whose cache manifest is readable, its subjects in LOSO fold order (fold i holds
    out the i-th, as `SampleTable.subjects` sorts them): the folds a complete sweep covers."""
    return {
        dataset: sorted(manifest["counts"]["subject"])
        for dataset, manifest in manifests.items()
        if manifest and isinstance(manifest.get("counts", {}).get("subject"), dict)
    }


def cache_manifests(runs: pd.DataFrame) -> dict[str, dict | None]:
    """Per dataset, the manifest of the cache its first finished job trained on (named in its
    metrics.json), which holds `mer.preprocess.data_check`'s record; None where that cache is not
    readable here (moved, or runs from before mer recorded it)."""
    manifests = {}
    for dataset, jobs in runs[runs["status"] == "ok"].groupby("dataset"):
        try:
            cache = Path(json.loads((Path(jobs["job_dir"].iloc[0]) / METRICS).read_text())["cache"])
            manifests[dataset] = json.loads((cache / "manifest.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            manifests[dataset] = None
    return manifests
