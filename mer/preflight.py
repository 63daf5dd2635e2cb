"""Check a Hydra command line against the composed config before torch is imported, so that every
mistake (an unknown key or option, a sweep typed with a space, a config file that is not YAML, a
dataset folder not given, not there or not the release) comes back as one line with exit code 2 in
about a second, before any job starts."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from yaml import MarkedYAMLError

from mer.config import CONFIG_DIR
from mer.errors import MerError, root_not_set, user_facing
from mer.run_dir import SWEEP_DIR_ENV
from mer.train.input_size import check_input_size

#: Hydra flags that only print (help, the config, completion): Hydra answers them, no job runs.
_PRINT_ONLY = ("help", "hydra_help", "shell_completion", "info")
#: Hydra flags that replace mer's config (another primary config, a rerun): left to Hydra to check.
#: --config-dir only adds a folder to the search path, and is checked with it.
_OTHER_CONFIG = ("config_path", "config_name", "experimental_rerun")
#: Override keys that name a folder that must exist (a release, a cache).
_FOLDER_KEYS = re.compile(r"^(data\.root|data\.roots\.\w+|cache)$")
#: The entry point that spots in long videos: it reads a release through `data.videos` (a spotting
#: reader); the others read one through `data.reader` (a recognition reader).
SPOTTING_APP = "mer-spot"
_UNKNOWN_KEY = re.compile(r"Could not (?:override '([^']+)'|delete from config\. '([^']+)' does not exist)")


def checked_cli(config_name: str, task_module: str) -> None:
    """Run an entry point: check its command line (one line and exit code 2 for a mistake), then
    import `task_module`, whose `hydra_main` does the work (torch and Lightning come in only now)."""
    # A job the gpus launcher started as its own run: its sweep's command line was checked already.
    launched = bool(os.environ.get(SWEEP_DIR_ENV))
    if launched or user_facing(check_command_line)(config_name, sys.argv[1:]):
        importlib.import_module(task_module).hydra_main()
    else:  # Hydra prints (--help, --cfg job, --info) and runs no job: no need to import it
        hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)(_no_job)()


def _no_job(cfg: DictConfig) -> None:
    """The task of a Hydra call that only prints; Hydra never calls it."""


def check_command_line(config_name: str, args: list[str]) -> bool:
    """Raise a one-line `MerError` for the first mistake on `mer-<config_name> ARGS`. Returns
    whether Hydra will run a job (not for --help, --cfg, --info...), which it then runs as given."""
    parsed = get_args_parser().parse_args(args)
    if any(getattr(parsed, flag) for flag in _PRINT_ONLY):
        return False
    if any(getattr(parsed, flag) for flag in _OTHER_CONFIG):
        return True
    app = f"mer-{config_name}"
    folders = config_folders(parsed.config_dir)
    overrides = parse_overrides(parsed.overrides)
    if any(o.get_key_element() == "hydra.searchpath" for o in overrides):
        return True  # a search path of its own, which may name packages: its options are Hydra's to check
    check_group_choices(parsed.overrides, folders)
    sweeps = [o.input_line for o in overrides if o.is_sweep_override()]
    if sweeps and not parsed.multirun:
        raise MerError(f"{sweeps[0]} is a sweep: add -m ({app} -m {' '.join(parsed.overrides)})")
    cfg = composed(config_name, first_job(overrides), app, folders)
    if parsed.cfg:  # --cfg job prints the config, unset values as ???
        return False
    check_data_serves(cfg, app)
    check_mandatory_values(cfg, app)
    if "model" in cfg and "preprocess" in cfg:  # mer-train: the network's side against the flow's
        check_input_size(cfg.model.get("input_size"), cfg.preprocess.size)
    check_folders(overrides, cfg)
    check_logger_packages(cfg)
    check_release(cfg, app)
    check_nested_tuning(cfg)
    return True


def config_folders(config_dir: str | None) -> list[Path]:
    """The folders Hydra reads configs from, in its order: mer's, then `--config-dir`'s (a folder of
    the user's own configs, laid out like mer's), made absolute as Hydra makes it."""
    if config_dir is None:
        return [Path(CONFIG_DIR)]
    own = Path(os.path.abspath(config_dir))
    if not own.is_dir():
        raise MerError(
            f"--config-dir {config_dir}: no such folder; give the folder of your own configs, laid out "
            f"like {CONFIG_DIR} (data/my_release.yaml, experiment/..., ...)"
        )
    return [Path(CONFIG_DIR), own]


def group_options(group: str, folders: list[Path]) -> list[str]:
    """The options of a config group: the YAML files in `<folder>/<group>/` of every config folder."""
    return sorted({p.stem for folder in folders for p in (folder / group).glob("*.yaml")})


def check_group_choices(args: list[str], folders: list[Path]) -> None:
    """Refuse `input=flow3d` (or `head=a,knn` in a sweep) with one line naming the closest options.

    Hydra's own message for an unknown option is a multi-line dump of its search path; this
    checks plain and comma-separated choices of every top-level group, every value of a sweep.
    """
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or "(" in value or "$" in value or "." in key or "/" in key:
            continue
        holding = [folder / key for folder in folders if (folder / key).is_dir()]
        if not holding:
            continue
        options = group_options(key, folders)
        for choice in value.split(","):
            if choice not in options and choice != "null":
                raise unknown_option(key, choice, options, holding)


def unknown_option(group: str, choice: str, options: list[str], holding: list[Path]) -> MerError:
    """The one line for a group option that is not there: the closest options, all of them, and the
    folders holding them (given where every option is a file there, none a plugin's)."""
    where = f"; options live in {' and '.join(f'{folder}/' for folder in holding)}" if holding else ""
    return MerError(
        f"unknown {group} '{choice}': {did_you_mean(choice, options)}choose one of {', '.join(options)} "
        f"({group}=... on the command line{where})"
    )


def parse_overrides(args: list[str]) -> list[Override]:
    """Hydra's parse of the overrides; one that does not parse is named with what was probably
    meant (`input=apex uv`: a sweep's values take commas, no spaces)."""
    parser = OverridesParser.create()
    try:
        return parser.parse_overrides(args)
    except OverrideParseException:
        pass
    for i, arg in enumerate(args):
        try:
            parser.parse_overrides([arg])
        except OverrideParseException as err:
            if "=" not in arg and i > 0 and "=" in args[i - 1]:
                raise MerError(
                    f"'{arg}' is not key=value: did you mean {args[i - 1]},{arg}? "
                    "(a sweep's values are separated by commas, without spaces)"
                ) from None
            reason = str(err).splitlines()[-2 if "=" in arg else 0].strip()
            raise MerError(
                f"cannot read override '{arg}' ({reason}): write key=value, "
                "e.g. trainer.max_epochs=3 or, in a sweep, input=apex,uv"
            ) from None
    raise AssertionError("unreachable: the overrides parse one by one but not together")


def first_job(overrides: list[Override]) -> list[str]:
    """The overrides of a sweep's first job (each sweep at its first value): the config every job
    shares but for the swept values, whose keys and group options are checked all the same."""
    job = []
    for override in overrides:
        if not override.is_sweep_override():
            job.append(override.input_line)
            continue
        first = next(override.sweep_string_iterator(), None)
        if first is not None:
            job.append(f"{override.get_key_element()}={first}")
    return job


def composed(config_name: str, overrides: list[str], app: str, folders: list[Path]) -> DictConfig:
    """The config Hydra composes from these overrides (its own section included), or a one-line
    error: an unknown key or group option with the closest real ones, a file that is not YAML."""
    try:
        return _compose(config_name, overrides, folders)
    except MarkedYAMLError as err:  # Hydra lets the parser's error through: name the file and line
        mark = err.context_mark or err.problem_mark
        reason = ": ".join(part for part in (err.context, err.problem) if part)
        raise MerError(f"{mark.name}, line {mark.line + 1}: cannot parse it as YAML ({reason})") from None
    except MissingConfigException as err:
        group, _, choice = (err.missing_cfg_file or "").rpartition("/")
        options = list(err.options or [])
        if not group or not options:
            raise MerError(str(err).splitlines()[0]) from None
        raise unknown_option(group, choice, options, []) from None
    except ConfigCompositionException as err:
        match = _UNKNOWN_KEY.search(str(err))
        if not match:
            raise MerError(" ".join(str(err).split())) from None
        key = match.group(1) or match.group(2)
        others = [o for o in overrides if o.lstrip("~+").partition("=")[0] != key]
        try:
            without = _compose(config_name, others, folders)
        except ConfigCompositionException:  # another mistake too: the keys of the plain config
            without = _compose(config_name, [], folders)
        known = config_keys(without, hydra=key.startswith("hydra"))
        raise MerError(
            f"unknown key {key}: {did_you_mean_key(key, known, folders)}(`{app} --cfg job` prints every key)"
        ) from None


def _compose(config_name: str, overrides: list[str], folders: list[Path]) -> DictConfig:
    """Hydra's composition of mer's config, as its entry points see it (Hydra's section included),
    with the user's folder (--config-dir) on the search path where Hydra puts it: after mer's."""
    # quoted: a folder's name may hold a comma or a space
    paths = ",".join("'file://" + str(folder).replace("'", "\\'") + "'" for folder in folders[1:])
    search = [f"hydra.searchpath=[{paths}]"] if paths else []
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=config_name):
        return compose(config_name, overrides=[*overrides, *search], return_hydra_config=True)


def did_you_mean(word: str, candidates: list[str], prefix: str = "") -> str:
    """ "did you mean x? " for the candidates closest to `word` (each after `prefix`), or "" when
    none is close; a short word (svn, one letter off svm) gets its one closest candidate."""
    candidates = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.75)
    close = close or difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {' or '.join(prefix + c for c in close)}? " if close else ""


def did_you_mean_key(key: str, known: list[str], folders: list[Path]) -> str:
    """ "did you mean x? " for an unknown dotted key: its parent's closest keys where the parent
    exists (trainer.max_epoch → trainer.max_epochs), else the closest keys and config groups."""
    parent, _, leaf = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent]
    if parent and siblings:
        return did_you_mean(leaf, siblings, prefix=f"{parent}.")
    return did_you_mean(key, [*known, *config_groups(folders)])


def config_keys(cfg: DictConfig, hydra: bool = False) -> list[str]:
    """Every dotted key of a config (its interpolations left unresolved); Hydra's only if asked."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    return [key for key, _ in _leaves(tree) if hydra or not key.startswith("hydra.")]


def config_groups(folders: list[Path]) -> list[str]:
    """The config groups of every config folder, nested ones by path (`model/optimizer`)."""
    return sorted({str(d.relative_to(root)) for root in folders for d in root.rglob("*") if d.is_dir()})


def _leaves(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every key of a plain nested dict, a nested dict's own key included."""
    for key, value in tree.items():
        yield f"{prefix}{key}", value
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")


def release_key(app: str) -> str:
    """The data config's node an entry point reads the release through: `videos` for mer-spot (every
    long video and interval), `reader` for the others (the sample table)."""
    return "videos" if app == SPOTTING_APP else "reader"


def check_data_serves(cfg: DictConfig, app: str) -> None:
    """Refuse in one line a data config the entry point cannot read: a spotting release (`videos:`
    only) for mer-train or mer-prepare, a release without long videos for mer-spot."""
    data = cfg.get("data") or {}
    if release_key(app) in data:
        return
    name = data.get("name")
    if app == SPOTTING_APP:
        raise MerError(
            f"data={name} has no long videos to spot in: {app} reads data=casme_sq, samm_lv or synthetic_spot "
            "(mer-train recognises clips)"
        )
    if "videos" in data:
        raise MerError(
            f"data={name} is a spotting release (long videos with annotated intervals, no clips to recognise): "
            f"use mer-spot data={name} data.root=DIR"
        )


def check_mandatory_values(cfg: DictConfig, app: str) -> None:
    """Refuse a mandatory value (`???`) left unset, such as a real dataset's `data.root`, and a
    composite's source without its folder."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    unset = [key for key, value in _leaves(tree) if value == "???" and not key.startswith("hydra.")]
    roots = cfg.data.get("roots") or {}
    unset += [f"data.roots.{key}" for key in cfg.data.get("include") or [] if roots.get(key) in (None, "")]
    if not unset:
        return
    if unset[0] == "data.root":
        name = str(cfg.data.name)
        raise MerError(
            f"data.root is not set: give the folder of the {name} release, e.g. "
            f"{app} data={name} data.root=/path/to/{name.upper()}"
        )
    if unset[0].startswith("data.roots."):
        raise root_not_set(unset[0].rsplit(".", 1)[1])
    raise MerError(f"{unset[0]} is not set: give it on the command line ({unset[0]}=...)")


def check_folders(overrides: list[Override], cfg: DictConfig) -> None:
    """Refuse a dataset root or cache folder named on the command line that is not there (every
    value of a sweep)."""
    for override in overrides:
        key = override.key_or_group
        if not _FOLDER_KEYS.match(key) or override.is_delete():
            continue
        values = override.sweep_string_iterator() if override.is_sweep_override() else [override.value()]
        for value in values:
            if value is not None and not Path(str(value)).expanduser().is_dir():
                what = (
                    "a mer cache (the folder mer-prepare printed)"
                    if key == "cache"
                    else f"the {cfg.data.name if key == 'data.root' else key.rsplit('.', 1)[1]} release"
                )
                raise MerError(f"{key}={value}: no such folder; give the folder of {what}")


def check_logger_packages(cfg: DictConfig) -> None:
    """Refuse `logger=tensorboard` where its optional package is not installed."""
    if "tensorboard" in (cfg.get("logger") or {}) and importlib.util.find_spec("tensorboard") is None:
        raise MerError(
            "logger=tensorboard needs the tensorboard package: pip install -e '.[tensorboard]' "
            "(or pip install tensorboard)"
        )


def check_release(cfg: DictConfig, app: str = "mer-train") -> None:
    """Refuse a dataset folder that is there but is not the release (its parent, say) as its reader
    (`data.reader`, or mer-spot's `data.videos`) would, from the folders alone: once, before a
    sweep's jobs start. A run given `cache=PATH` reads that cache, not the release."""
    if cfg.get("cache"):
        return
    from mer.data import locate_release  # pandas, for a command line sound so far: the job needs it next

    locate_release(OmegaConf.to_container(cfg.data[release_key(app)], resolve=True))


def check_nested_tuning(cfg: DictConfig) -> None:
    """For `tune=nested`: Optuna installed, the study's settings and every search expression sound,
    and no more inner folds than an outer fold has training subjects (the data's subjects read once
    here), each a one-line error before any job trains."""
    if (cfg.get("tune") or {}).get("name") != "nested":
        return
    from mer.data import read_samples
    from mer.train.search_space import check_inner_folds, check_tuning

    check_tuning(cfg)
    samples = read_samples(cfg.data).rows
    test_dataset = cfg.data.get("test_dataset")
    held_out = samples.loc[samples["dataset"] == test_dataset, "subject"].nunique() if test_dataset else 1
    check_inner_folds(cfg.tune.inner_folds, samples["subject"].nunique() - held_out)
