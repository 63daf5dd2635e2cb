"""LOSO DataModule: one held-out subject per fold, the fold's tensors held in memory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from mer.data.action_units import au_name, au_targets, resolve_aus
from mer.errors import MerError
from mer.preprocess.cache import CHANNELS, FlowCache, load_cache
from mer.train.normalization import InputNormalization, check_normalization, normalization_stats
from mer.train.resize import InputResize

BALANCING = ("none", "weighted_loss", "sampler")
TASKS = ("emotion", "au")


def resolve_test_subject(subjects: Sequence[str], fold: int | None, test_subject: str | None) -> str:
    """The held-out subject: `test_subject` by id, else `subjects[fold]` (subjects sorted)."""
    if test_subject is not None:
        if str(test_subject) not in subjects:
            raise MerError(
                f"data.test_subject={test_subject!r} is not a subject of this dataset: choose one of {list(subjects)}"
            )
        return str(test_subject)
    if not isinstance(fold, int) or isinstance(fold, bool) or not 0 <= fold < len(subjects):
        raise MerError(
            f"data.fold={fold!r} is out of range: this dataset has {len(subjects)} "
            f"subjects, so folds 0–{len(subjects) - 1} (or sweep them all with folds=all)"
        )
    return subjects[fold]


def held_out_source(samples: pd.DataFrame, test_dataset: str) -> list[str]:
    """The subjects of the source dataset a cross-dataset run tests on (all of them)."""
    sources = sorted(samples["dataset"].unique())
    if test_dataset not in sources or len(sources) < 2:
        raise MerError(
            f"data.test_dataset={test_dataset!r}: hold out one of several source datasets of a "
            f"composite ({', '.join(sources)} here); use data=composite with data.include naming "
            "the training and test sources"
        )
    return sorted(samples.loc[samples["dataset"] == test_dataset, "subject"].unique())


class _Gather:
    """Collate a list of indices into one batch by indexing the fold's tensors (no copies per item)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> None:
        self.x, self.y, self.index = x, y, index

    def __call__(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows_t = torch.as_tensor(rows)
        if self.x.is_cuda:  # pinned and asynchronous: a pageable copy would wait for the GPU
            rows_t = rows_t.pin_memory().to(self.x.device, non_blocking=True)
        return self.x[rows_t], self.y[rows_t], self.index[rows_t]


class LosoDataModule(L.LightningDataModule):
    """Serves one LOSO fold of a flow cache: the chosen channels of all samples, split by subject,
    at the network's `input_size` (the cache's own size when None; `mer.train.resize`), with the
    task's targets: the class index of each clip (`task=emotion`), or its 0/1 action units (`task=au`)."""

    def __init__(
        self,
        cache: str | Path | FlowCache,
        channels: Sequence[str],
        fold: int | None = 0,
        test_subject: str | None = None,
        test_dataset: str | None = None,
        normalization: str = "sample_minmax",
        batch_size: int = 32,
        balance: str = "none",
        val_subjects: int = 0,
        augment: bool = False,
        seed: int = 0,
        input_size: int | None = None,
        task: dict | None = None,
        holdout: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.cache = cache if isinstance(cache, FlowCache) else load_cache(cache)
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown or not channels:
            raise MerError(f"input channels {list(channels)}: each must be one of {list(CHANNELS)}")
        if balance not in BALANCING:
            raise MerError(f"datamodule.balance={balance!r}: choose one of {list(BALANCING)}")
        self.channels = list(channels)
        self.resize = InputResize(self.channels, self.cache.size, input_size)
        self.samples: pd.DataFrame = self.cache.samples
        self.task = dict(task or {"name": "emotion"})
        if self.task.get("name") not in TASKS:
            raise MerError(f"task={self.task.get('name')!r}: choose one of {', '.join(TASKS)}")
        if self.multilabel and balance == "sampler":
            raise MerError(
                "datamodule.balance=sampler draws clips by class, and task=au has none: "
                "use balance=weighted_loss (each AU's positive weight) or none"
            )
        self.subjects = sorted(self.samples["subject"].unique())
        #: Subjects used nowhere: nested tuning's inner folds leave out the outer fold's test subject.
        self.excluded = sorted(map(str, exclude))
        if holdout is not None:  # nested tuning's inner fold: these training subjects validate
            self.test_subjects = sorted(map(str, holdout))
            self.test_subject = ",".join(self.test_subjects)
        elif test_dataset is not None:  # cross-dataset: one whole source is the test set
            self.test_subjects = held_out_source(self.samples, test_dataset)
            self.test_subject = str(test_dataset)
        else:
            self.test_subject = resolve_test_subject(self.subjects, fold, test_subject)
            self.test_subjects = [self.test_subject]
        self.normalization, self.batch_size = check_normalization(normalization), batch_size
        self.balance, self.augment, self.seed = balance, augment, seed
        self.val_subjects = self._pick_val_subjects(val_subjects)
        subject = self.samples["subject"].to_numpy()
        held_out = np.isin(subject, self.test_subjects)
        unused = np.isin(subject, self.excluded)
        self.test_index = np.flatnonzero(held_out & ~unused)
        self.val_index = np.flatnonzero(np.isin(subject, self.val_subjects))
        self.train_index = np.flatnonzero(~held_out & ~unused & ~np.isin(subject, self.val_subjects))
        # The protocol's one rule, checked on ids rather than trusted.
        if set(self.samples["sample_id"].iloc[self.train_index]) & set(self.test_ids):
            raise RuntimeError("a test-subject sample reached the training set")
        if set(subject[np.concatenate([self.train_index, self.test_index, self.val_index])]) & set(self.excluded):
            raise RuntimeError("an excluded subject's sample reached a fold")
        if self.multilabel:
            self.aus = resolve_aus(self.task.get("aus", "dataset"), self.samples["dataset"])
            self.classes = tuple(au_name(au) for au in self.aus)
            self.targets = au_targets(
                self.samples["action_units"].fillna("").tolist(),
                self.aus,
                self.task.get("static_aus", "keep"),
                self.samples["sample_id"].tolist(),
            )
        else:
            self.classes = self.cache.classes
            self.labels = self.samples["label"].map({c: i for i, c in enumerate(self.classes)}).to_numpy(copy=True)
        self.x: torch.Tensor | None = None
        self._augment_generator: torch.Generator | None = None  # made on the batches' device
        self.normalization_stats: dict[str, list[float]] = {}  # the training fold's, set by setup

    def _pick_val_subjects(self, count: int) -> list[str]:
        """Inner-validation subjects, drawn by seed from the training fold (never the test subject)."""
        pool = [s for s in self.subjects if s not in self.test_subjects and s not in self.excluded]
        if not 0 <= count < len(pool):
            raise MerError(
                f"datamodule.val_subjects={count}: use 0–{len(pool) - 1} "
                "(subjects held out of the training fold for inner validation)"
            )
        rng = np.random.default_rng(self.seed)
        return sorted(rng.choice(pool, size=count, replace=False).tolist()) if count else []

    @property
    def test_ids(self) -> list[str]:
        """sample_ids of the held-out subject (or source, cross-dataset)."""
        return self.samples["sample_id"].iloc[self.test_index].tolist()

    @property
    def train_ids(self) -> list[str]:
        """sample_ids the model trains on."""
        return self.samples["sample_id"].iloc[self.train_index].tolist()

    @property
    def multilabel(self) -> bool:
        """Whether the targets are action units (`task=au`), several per clip, not one class."""
        return self.task.get("name") == "au"

    @property
    def class_weights(self) -> list[float] | None:
        """For `balance=weighted_loss`, from the training fold: inverse-frequency class weights, or
        for action units each AU's positive weight, negatives / positives (1 where it has none)."""
        if self.balance != "weighted_loss":
            return None
        if self.multilabel:
            positives = self.targets[self.train_index].sum(axis=0)
            negatives = len(self.train_index) - positives
            return [float(n / p) if p else 1.0 for n, p in zip(negatives, positives)]
        counts = np.bincount(self.labels[self.train_index], minlength=len(self.classes))
        return [len(self.train_index) / (len(self.classes) * c) if c else 0.0 for c in counts]

    def setup(self, stage: str | None = None) -> None:
        """Load the fold's channels into one tensor at the input size (on the training device when it is a GPU)."""
        if self.x is not None:
            return
        stacked = np.stack([self.cache.array(name) for name in self.channels], axis=1).astype(np.float32)
        x = self.resize(torch.from_numpy(stacked))
        self.normalization_stats = normalization_stats(x.numpy(), self.normalization, self.train_index)
        normalize = InputNormalization(self.normalization, **self.normalization_stats)
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.x = normalize(x).to(device)
        if self.multilabel:
            self.y = torch.as_tensor(self.targets, dtype=torch.float32, device=device)
        else:
            self.y = torch.as_tensor(self.labels, dtype=torch.long, device=device)
        self.index = torch.arange(len(self.samples), device=device)

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training fold's inputs and targets (for fitting the post-hoc SVM)."""
        self.setup()
        rows = torch.as_tensor(self.train_index, device=self.x.device)
        return self.x[rows], self.y[rows]

    def _loader(self, index: np.ndarray, train: bool) -> DataLoader:
        """Batches of `index` gathered from the in-memory tensors; no worker processes."""
        gather = _Gather(self.x, self.y, self.index)
        generator = torch.Generator().manual_seed(self.seed)
        if train and self.balance == "sampler":
            counts = np.bincount(self.labels[index], minlength=len(self.classes))
            weights = 1.0 / counts[self.labels[index]]
            sampler = WeightedRandomSampler(weights, len(index), generator=generator)
            return DataLoader(index.tolist(), batch_size=self.batch_size, sampler=sampler, collate_fn=gather)
        return DataLoader(
            index.tolist(),
            batch_size=self.batch_size,
            shuffle=train,
            collate_fn=gather,
            generator=generator if train else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_index, train=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_index, train=False) if len(self.val_index) else []

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_index, train=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Augment training batches on the device (`augmented`), when `augment` is on."""
        if not (self.augment and self.trainer is not None and self.trainer.training):
            return batch
        x, y, index = batch
        return self.augmented(x), y, index

    def augmented(self, x: torch.Tensor) -> torch.Tensor:
        """Horizontal flips (u changes sign) and ±4 px shifts of a batch, drawn from this fold's own
        generator (seeded by `seed`), so a fold packed with others draws as it would alone."""
        if self._augment_generator is None or self._augment_generator.device != x.device:
            self._augment_generator = torch.Generator(x.device).manual_seed(self.seed)
        flip = torch.rand(len(x), device=x.device, generator=self._augment_generator) < 0.5
        flipped = x.flip(-1)
        if "u" in self.channels:
            flipped[:, self.channels.index("u")] *= -1
        x = torch.where(flip[:, None, None, None], flipped, x)
        shifts = torch.randint(-4, 5, (2,), device=x.device, generator=self._augment_generator)
        dy, dx = (int(v) for v in shifts)
        return torch.roll(x, shifts=(dy, dx), dims=(2, 3))
