"""Which sweep jobs `hydra/launcher=packed` trains together: those of one configuration (all
overrides equal but the fold and seed), cut into packs of at most `folds_per_pack`."""

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


def packs_of(jobs: Sequence[SweepJob], folds_per_pack: int | None) -> list[list[SweepJob]]:
    """The jobs grouped by configuration (`pack_key`), in the sweep's order, each group cut into
    packs of at most `folds_per_pack` (None: the whole group)."""
    groups: dict[tuple[str, ...], list[SweepJob]] = {}
    for job in jobs:
        groups.setdefault(pack_key(job.overrides), []).append(job)
    size = folds_per_pack or max(map(len, groups.values()), default=1)
    return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]
