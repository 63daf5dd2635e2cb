"""Which sweep jobs `hydra/launcher=packed` may train together: those of one configuration (all
overrides equal but the fold and seed)."""

from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import DictConfig

from mer.run_dir import override_key

#: Override keys whose values may differ within a pack: which fold a job is, and its seed.
PACKED_KEYS = ("data.fold", "data.test_subject", "seed")


@dataclass
class SweepJob:
    """A sweep job: its overrides, composed config and number."""

    overrides: list[str]
    config: DictConfig
    idx: int


def pack_key(overrides: Sequence[str]) -> tuple[str, ...]:
    """What jobs of one pack share: their overrides but the fold and seed (`PACKED_KEYS`)."""
    return tuple(sorted(o for o in overrides if override_key(o) not in PACKED_KEYS))


def configurations(jobs: Sequence[SweepJob]) -> list[list[SweepJob]]:
    """The jobs grouped by configuration (`pack_key`), groups and jobs in the sweep's order; the
    launcher cuts each group into packs."""
    groups: dict[tuple[str, ...], list[SweepJob]] = {}
    for job in jobs:
        groups.setdefault(pack_key(job.overrides), []).append(job)
    return list(groups.values())
