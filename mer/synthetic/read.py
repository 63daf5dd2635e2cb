"""The synthetic release as a sample table: generated on first use, read by its layout's reader.

The reader is not chosen here: `conf/data/<layout>.yaml` names it and its defaults, as for a real
release, so `data=synthetic data.reader.layout=samm` reads with the reader and defaults of
`data=samm`, the synthetic config's policies on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mer.config import CONFIG_DIR
from mer.data import instantiate_reader
from mer.data.samples import SampleTable
from mer.synthetic.layouts import LAYOUTS
from mer.synthetic.params import synthetic_params
from mer.synthetic.release import existing_params, generate_synthetic, refuse_foreign


def read_synthetic(
    root: str | Path,
    layout: str = "casme2",
    n_subjects: int = 8,
    clips_per_subject: int = 8,
    frames_per_clip: Sequence[int] = (9, 15),
    seed: int = 0,
    label_set: str | None = None,
    **policies: Any,
) -> SampleTable:
    """The synthetic release as a sample table, read by the real reader of its layout.

    Generates the release on first use (or when its parameters changed), so a fresh checkout
    runs the whole pipeline with no download. `label_set` (None: the layout's config default)
    and the reader's policies (`apex_policy`, `missing_frames`, ...) replace the values of
    `conf/data/<layout>.yaml`; a policy that config has no key for (SMIC has no `apex_policy`)
    is not passed.
    """
    params = synthetic_params(n_subjects, clips_per_subject, frames_per_clip, seed, layout=layout)
    root = Path(root).expanduser().absolute()
    if existing_params(root) != params:
        refuse_foreign(root)
        generate_synthetic(root, n_subjects, clips_per_subject, frames_per_clip, seed, layout=layout)
    release = LAYOUTS[layout]
    reader = layout_reader_config(release.name)
    reader.root = str(root)
    options = {**release.reader_options, **policies}
    if label_set is not None:
        options["label_set"] = label_set
    for key, value in options.items():
        if key in reader:
            reader[key] = value
    table = instantiate_reader(reader)
    provenance = {**table.provenance, "synthetic": params}
    return dataclasses.replace(table, provenance=provenance)


def layout_reader_config(name: str) -> DictConfig:
    """The `reader` node of `conf/data/<name>.yaml`: the real reader's target and its defaults."""
    return OmegaConf.load(Path(CONFIG_DIR) / "data" / f"{name}.yaml").reader
