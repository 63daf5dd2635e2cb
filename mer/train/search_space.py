"""`tune.params`: each config key's search expression in Hydra's sweep grammar, read with Hydra's own
override parser and mapped onto Optuna's distributions (torch-free: `mer.preflight` checks it before
a sweep starts).

The grammar is the one `hydra.sweeper.params` takes, and the mapping is the one Hydra's Optuna
sweeper (`hydra-optuna-sweeper`) applies:

- `choice(a, b, c)` → a categorical of its values;
- `range(start, stop[, step])` → integers (or floats where a bound or the step is one) from start to
  the last value before stop, by step, as Python's `range` counts;
- `interval(low, high)` → a float uniform on [low, high]; `int(interval(low, high))` → integers;
- `tag(log, interval(...))` → the same, log-uniform.

mer does not depend on that plugin itself: its releases pin Optuna below 3, and mer's nested
tuning uses a current Optuna (`pip install 'mer[tune]'`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from mer.errors import MerError, plural

#: What `tune=nested` needs beyond mer's own dependencies, and how to get it.
INSTALL_TUNE = "tune=nested needs Optuna: pip install 'mer[tune]' (or pip install optuna)"
#: `tune.sampler`, `tune.pruner` and `tune.metric` choices (metric None: the task's own, uf1 or au_f1).
SAMPLERS, PRUNERS, METRICS = ("tpe", "random"), ("median", "none"), ("uf1", "accuracy", "uar", "au_f1")


def flat_params(params: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """`tune.params` as dotted key → expression: `+tune.params.model.optimizer.lr=...` on the command
    line nests the key, a preset may write it dotted; both read alike."""
    flat: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if isinstance(value, Mapping):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_tuning(cfg: DictConfig) -> list[SearchDimension]:
    """The search space of a `tune=nested` config, its settings checked (one line naming the key
    for a mistake, before anything trains); Optuna must be importable."""
    import importlib.util

    tune = cfg.tune
    if importlib.util.find_spec("optuna") is None:
        raise MerError(INSTALL_TUNE)
    for key, value, low in (("trials", tune.trials, 1), ("inner_folds", tune.inner_folds, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise MerError(f"tune.{key}={value!r}: give a whole number ≥ {low}")
    for key, value, choices in (("sampler", tune.sampler, SAMPLERS), ("pruner", tune.pruner, PRUNERS)):
        if value not in choices:
            raise MerError(f"tune.{key}={value!r}: choose one of {', '.join(choices)}")
    if tune.metric is not None and tune.metric not in METRICS:
        raise MerError(f"tune.metric={tune.metric!r}: choose one of {', '.join(METRICS)} (or null: the task's own)")
    au = cfg.task.name == "au"
    if tune.metric is not None and (tune.metric == "au_f1") != au:
        raise MerError(
            f"tune.metric={tune.metric} does not score task={cfg.task.name}: use null (the task's own score)"
        )
    return search_space(flat_params(tune.params), cfg)


def check_inner_folds(inner_folds: int, training_subjects: int) -> None:
    """Refuse more inner folds than the outer fold has training subjects (each split needs one)."""
    if inner_folds > training_subjects:
        raise MerError(
            f"tune.inner_folds={inner_folds} but an outer fold trains on {training_subjects} subjects: "
            f"use at most {training_subjects} inner folds"
        )


def cost_line(outer_folds: int, trials: int, inner_folds: int) -> str:
    """What nested tuning costs, said before it starts: "26 outer folds × (20 trials × 4 inner folds
    + 1) = 2,106 trainings"."""
    total = outer_folds * (trials * inner_folds + 1)
    per_fold = f"({plural(trials, 'trial')} × {plural(inner_folds, 'inner fold')} + 1)"
    return f"nested tuning: {plural(outer_folds, 'outer fold')} × {per_fold} = {total:,} trainings"


@dataclass(frozen=True)
class SearchDimension:
    """One key of the search: its config key, the expression as written, and its parsed sweep."""

    key: str
    expression: str
    sweep: ChoiceSweep | RangeSweep | IntervalSweep

    def distribution(self) -> Any:
        """The Optuna distribution of this dimension (Optuna imported here, where it is needed)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        sweep = self.sweep
        log = "log" in sweep.tags
        if isinstance(sweep, ChoiceSweep):
            return CategoricalDistribution(list(sweep.list))
        if isinstance(sweep, RangeSweep):  # as Python's range: stop excluded, the last value below it
            start, stop, step = sweep.start, sweep.stop, sweep.step
            last = start + (math.ceil(round((stop - start) / step, 9)) - 1) * step
            if any(isinstance(v, float) for v in (start, stop, step)):
                return FloatDistribution(float(start), float(round(last, 12)), step=float(step))
            return IntDistribution(int(start), int(last), step=int(step))
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)


def search_space(params: Mapping[str, Any] | None, cfg: DictConfig) -> list[SearchDimension]:
    """The dimensions of `tune.params` (key → expression), each parsed and its key checked against
    `cfg`; a mistake is one line naming `tune.params.<key>`."""
    if not params:
        raise MerError(
            "tune=nested has an empty search space: give tune.params, e.g. "
            "'+tune.params.model.optimizer.lr=\"tag(log, interval(1e-5, 1e-2))\"', or a preset "
            "(tune=nested_paper, tune=nested_baselines)"
        )
    return [_dimension(str(key), value, cfg) for key, value in params.items()]


def _dimension(key: str, expression: Any, cfg: DictConfig) -> SearchDimension:
    """One `tune.params` entry, parsed and checked."""
    where = f"tune.params.{key}"
    if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
        raise MerError(
            f"{where}: {key} is not a key of the config (`mer-train --cfg job` prints every key); "
            "name the value to tune as the config names it, e.g. model.optimizer.lr"
        )
    if key.split(".")[0] in ("tune", "data", "hydra", "seed"):
        raise MerError(f"{where}: {key} is not a training setting; tune the model, head, datamodule or trainer")
    override = _parse(f"{key}={expression}", where, expression)
    sweep = override.value()
    if not override.is_sweep_override() or not isinstance(sweep, (ChoiceSweep, RangeSweep, IntervalSweep)):
        raise MerError(
            f"{where}={expression!r} is not a search expression: use choice(...), range(...), "
            "interval(...) or tag(log, interval(...))"
        )
    if isinstance(sweep, ChoiceSweep) and not sweep.list:
        raise MerError(f"{where}={expression!r}: choice() needs at least one value")
    if isinstance(sweep, IntervalSweep) and not sweep.start < sweep.end:
        raise MerError(f"{where}={expression!r}: an interval's low end must be below its high end")
    if isinstance(sweep, IntervalSweep) and "log" in sweep.tags and sweep.start <= 0:
        raise MerError(f"{where}={expression!r}: a log interval must start above 0")
    if isinstance(sweep, RangeSweep) and (
        sweep.step is None or sweep.step <= 0 or sweep.stop - sweep.step < sweep.start
    ):
        raise MerError(f"{where}={expression!r}: a range needs start < stop and a positive step")
    return SearchDimension(key, str(expression), sweep)


_MISSING = object()


def _parse(line: str, where: str, expression: Any) -> Override:
    """Hydra's parse of one `key=expression`, or a one-line error naming the key."""
    try:
        return OverridesParser.create().parse_override(line)
    except HydraException as err:
        reason = " ".join(str(err).split())
        raise MerError(
            f"{where}={expression!r} does not parse ({reason[:160]}); write e.g. choice(50,100,200)"
        ) from None


def describe(params: Mapping[str, Any] | None) -> str:
    """A search space as the report names it: "model.optimizer.lr=tag(log, interval(1e-5, 1e-3)); ..."."""
    return "; ".join(f"{key}={value}" for key, value in flat_params(params).items())
