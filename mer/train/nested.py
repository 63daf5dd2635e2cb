"""Nested LOSO tuning (`tune=nested`): one outer job's honest choice of settings.

The outer job holds out its test subject. Its training subjects are split into `tune.inner_folds`
group-k-fold splits (each subject whole in one split); an Optuna study tries `tune.trials` settings
from `tune.params`, each scored by the mean of its inner folds' score (UF1, or the mean AU F1), each
inner fold trained on the other splits and scored on its own. The test subject is in no split and
in no inner training: the inner datamodules exclude it. The best trial's settings then train on every
training subject, and the outer job predicts its test subject once (`mer.train.job`).

The study lives in the job dir (`tuning.db`, SQLite), so an interrupted job resumes it; every trial
× inner fold is written to `tuning.csv` and the choice to `chosen.json`. The inner trainings run
back to back in this process, on the cache the job loaded once.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from sklearn.model_selection import GroupKFold

from mer.atomic import write_atomically
from mer.errors import MerError
from mer.preprocess.cache import FlowCache
from mer.run_dir import AU_F1
from mer.train.fold_run import fit_and_predict, fold_metrics, make_datamodule, make_model
from mer.train.search_space import INSTALL_TUNE, SearchDimension, check_inner_folds, check_tuning, cost_line

log = logging.getLogger(__name__)

TUNING_CSV, CHOSEN_JSON, STUDY_DB = "tuning.csv", "chosen.json", "tuning.db"
TUNING_COLUMNS = ("trial", "params", "inner_fold", "train_subjects", "val_subjects", "score")


@dataclass(frozen=True)
class TunedConfig:
    """What nested tuning hands the outer job: its config with the chosen settings, and the choice."""

    config: DictConfig
    chosen: dict[str, Any]  # {"params": {key: value}, "score": mean inner score}


def inner_splits(
    samples: pd.DataFrame, subjects: list[str], folds: int, seed: int
) -> list[tuple[list[str], list[str]]]:
    """(training subjects, validation subjects) of each inner fold: scikit-learn's GroupKFold over the
    clips of `subjects`, grouped by subject (each subject whole in one split, the splits' clip counts
    balanced), shuffled by `seed`; every subject validates in exactly one split."""
    rows = samples[samples["subject"].isin(subjects)]
    groups = rows["subject"].to_numpy()
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        (sorted(set(groups[train])), sorted(set(groups[val])))
        for train, val in splitter.split(np.zeros(len(rows)), groups=groups)
    ]


def with_params(cfg: DictConfig, params: dict[str, Any]) -> DictConfig:
    """A copy of `cfg` with each `key: value` of `params` set."""
    tuned = cfg.copy()
    for key, value in params.items():
        OmegaConf.update(tuned, key, value, merge=False)
    return tuned


def task_metric(cfg: DictConfig) -> str:
    """The inner folds' score: `tune.metric`, else the task's own (UF1, or the mean AU F1)."""
    return cfg.tune.metric or (AU_F1 if cfg.task.name == "au" else "uf1")


def inner_score(cfg: DictConfig, cache: FlowCache, validate: list[str], exclude: list[str], scratch: Path) -> float:
    """Train on the inner fold's training subjects (all but `validate` and `exclude`), score on
    `validate`: no logger, no checkpoint, no progress bar, no file of the outer job's."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = make_datamodule(cfg, cache, holdout=validate, exclude=exclude)
    model = make_model(cfg, dm)
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(scratch),
        **({} if len(dm.val_index) else {"limit_val_batches": 0}),
    )
    predictions, _ = fit_and_predict(trainer, model, dm)
    return float(fold_metrics(predictions, dm)[task_metric(cfg)])


def suggest(trial: Any, dimension: SearchDimension) -> Any:
    """A trial's value for one dimension, through Optuna's public `suggest_*` for its distribution."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    dist = dimension.distribution()
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(dimension.key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(dimension.key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(dimension.key, dist.low, dist.high, step=dist.step, log=dist.log)


def _study(cfg: DictConfig, run_dir: Path) -> Any:
    """The outer job's study, stored in its dir (resumed where an earlier run of it stopped)."""
    import optuna

    tune = cfg.tune
    sampler = (
        optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=tune.startup_trials)
        if tune.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=cfg.seed)
    )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials)
        if tune.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name="nested",
        storage=f"sqlite:///{run_dir / STUDY_DB}",
        load_if_exists=True,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
    )


def nested_tuning(cfg: DictConfig, cache: FlowCache, run_dir: Path) -> TunedConfig:
    """Tune on the outer fold's training subjects (the study resumed where it stopped), write
    tuning.csv and chosen.json, and return the config with the best trial's settings."""
    space = check_tuning(cfg)
    try:
        import optuna
    except ImportError:
        raise MerError(INSTALL_TUNE) from None
    outer = make_datamodule(cfg, cache)
    exclude = list(outer.test_subjects)
    training = [s for s in outer.subjects if s not in exclude]
    check_inner_folds(cfg.tune.inner_folds, len(training))
    splits = inner_splits(outer.samples, training, cfg.tune.inner_folds, cfg.seed)
    log.info("%s (this outer fold: test subject %s)", cost_line(1, cfg.tune.trials, len(splits)), outer.test_subject)
    study = _study(cfg, run_dir)
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]

    def objective(trial: Any) -> float:
        params = {d.key: suggest(trial, d) for d in space}
        trial_cfg = with_params(cfg, params)
        scores = []
        with tempfile.TemporaryDirectory(prefix="inner-", dir=run_dir) as scratch:
            for k, (train_subjects, val_subjects) in enumerate(splits):
                score = inner_score(trial_cfg, cache, val_subjects, exclude, Path(scratch))
                scores.append(score)
                trial.set_user_attr(f"inner_{k}", {"train": train_subjects, "val": val_subjects, "score": score})
                trial.report(float(np.mean(scores)), k)
                log.info(
                    "trial %d, inner fold %d of %d: %s %.4f", trial.number, k + 1, len(splits), task_metric(cfg), score
                )
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(scores))

    study.optimize(objective, n_trials=max(0, cfg.tune.trials - len(done)))
    write_tuning_csv(study, run_dir / TUNING_CSV)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise MerError(f"nested tuning in {run_dir}: no trial ran to its end (all pruned or failed); raise tune.trials")
    best = max(complete, key=lambda t: (t.value, -t.number))
    chosen = {"params": best.params, "score": best.value, "trial": best.number, "metric": task_metric(cfg)}
    write_atomically(run_dir / CHOSEN_JSON, lambda tmp: tmp.write_text(json.dumps(chosen, indent=2)))
    log.info(
        "nested tuning chose %s (mean inner %s %.4f, trial %d)", best.params, task_metric(cfg), best.value, best.number
    )
    return TunedConfig(with_params(cfg, best.params), chosen)


def write_tuning_csv(study: Any, path: Path) -> None:
    """tuning.csv: one row per trial × inner fold that ran (a pruned trial's first folds only)."""
    rows = [
        {
            "trial": trial.number,
            "params": json.dumps(trial.params, sort_keys=True),
            "inner_fold": int(name.split("_")[1]),
            "train_subjects": json.dumps(fold["train"]),
            "val_subjects": json.dumps(fold["val"]),
            "score": fold["score"],
        }
        for trial in study.trials
        for name, fold in sorted(trial.user_attrs.items(), key=lambda kv: int(kv[0].split("_")[1]))
        if name.startswith("inner_")
    ]
    table = pd.DataFrame(rows, columns=list(TUNING_COLUMNS))
    write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))
