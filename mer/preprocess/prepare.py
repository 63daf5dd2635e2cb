"""`mer-prepare`: dataset release → flow cache (a Hydra app; prints the cache path last)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer.config import CONFIG_DIR
from mer.data import read_samples
from mer.errors import MerError, plural, user_facing
from mer.preflight import checked_cli
from mer.preprocess.align import check_no_face_policy
from mer.preprocess.cache import FlowCache, release_name
from mer.preprocess.cache_build import build_cache
from mer.preprocess.data_check import log_data_checks

log = logging.getLogger(__name__)


#: `preprocess` keys that change how a cache is built or checked, never its content.
NOT_CONTENT = ("workers", "verify")
#: The one line after Ctrl-C stopped a cache build (`mer-prepare`, or the one `mer-train` starts).
INTERRUPTED = "interrupted: the cache was not written"


def cache_params(preprocess_cfg: DictConfig) -> dict[str, Any]:
    """The preprocessing parameters that key the cache: all of `preprocess` but `NOT_CONTENT`."""
    params = OmegaConf.to_container(preprocess_cfg, resolve=True)
    for key in NOT_CONTENT:
        params.pop(key, None)
    return params


def prepare(cfg: DictConfig) -> FlowCache:
    """Read the configured dataset and return its cache, building it on a miss. Ctrl-C during the
    build, once its workers, temporary cache and lock are gone, is `INTERRUPTED` and exit 130."""
    size = cfg.preprocess.size
    if not isinstance(size, int) or size < 16:
        raise MerError(
            f"preprocess.size={size!r}: use an integer ≥ 16 (the paper uses 224; "
            "a 28² network resizes the flow: model.input_size)"
        )
    check_no_face_policy(cfg.preprocess.align.no_face)
    table = read_samples(cfg.data)
    counts = table.counts()
    subjects = plural(len(counts["subject"]), "subject")
    log.info("%s: %s, %s", release_name(table.dataset, table.provenance), plural(len(table), "sample"), subjects)
    for what, per in counts.items():  # label, subject (and dataset for a composite)
        log.info("  per %s: %s", what, ", ".join(f"{k} {n}" for k, n in per.items()))
    try:
        return build_cache(
            table,
            params=cache_params(cfg.preprocess),
            flow_fn=instantiate(cfg.preprocess.flow),
            cache_root=cfg.paths.cache_dir,
            workers=cfg.preprocess.workers,
            verify=cfg.preprocess.verify,
        )
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        raise SystemExit(130) from None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="prepare")
@user_facing
def hydra_main(cfg: DictConfig) -> None:
    """Entry point of `mer-prepare`: the cache's data checks in the log, its path printed last."""
    cache = prepare(cfg)
    log_data_checks(cache.manifest, log)
    print(cache.path, flush=True)


def main() -> None:
    """Console script: `--verify` stands for `preprocess.verify=true`; check the command line, then
    run the Hydra app."""
    sys.argv = [arg if arg != "--verify" else "preprocess.verify=true" for arg in sys.argv]
    checked_cli("prepare", "mer.preprocess.prepare")


if __name__ == "__main__":
    main()
