"""The subject-level bootstrap: hand-made cases, a reference computed with scikit-learn, paired
differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from mer.evaluate.metrics import pooled_metrics
from mer.evaluate.statistics import Bootstrap, paired_bootstrap, subject_bootstrap

CLASSES = ["a", "b", "c"]


def predictions(n_subjects: int, seed: int = 0, per_subject: int = 6, hit: float = 0.6) -> pd.DataFrame:
    """Random predictions of `n_subjects` subjects, right with probability `hit`."""
    rng = np.random.default_rng(seed)
    n = n_subjects * per_subject
    label = rng.choice(CLASSES, n)
    pred = np.where(rng.random(n) < hit, label, rng.choice(CLASSES, n))
    return pd.DataFrame(
        {
            "seed": 0,
            "subject": np.repeat([f"s{i:02d}" for i in range(n_subjects)], per_subject),
            "sample_id": [f"x{i}" for i in range(n)],
            "label": label,
            "pred": pred,
        }
    )


def test_two_subjects_one_right_one_wrong_by_hand() -> None:
    # Subject A all right, B all wrong: a resample is AA (1.0), AB (0.5) or BB (0.0), each of the
    # outer two with probability 1/4, so the 95 % interval of accuracy and UAR is [0, 1].
    preds = pd.DataFrame(
        {"seed": 0, "subject": ["A", "A", "B", "B"], "label": ["a", "b", "a", "b"], "pred": ["a", "b", "b", "a"]}
    )
    ci = subject_bootstrap(preds, ["a", "b"], Bootstrap(2000, 0.95, seed=3))
    assert ci["accuracy"] == (0.0, 1.0) and ci["uar"] == (0.0, 1.0)
    # A 40 % interval (the 30th to 70th percentile) sits on the middle outcome, AB: half the resamples.
    assert subject_bootstrap(preds, ["a", "b"], Bootstrap(2000, 0.4, seed=3))["accuracy"] == (0.5, 0.5)


def test_interval_is_the_percentile_of_resamples_scored_by_scikit_learn() -> None:
    preds = predictions(5, seed=1)
    boot = Bootstrap(200, 0.9, seed=7)
    ci = subject_bootstrap(preds, CLASSES, boot)
    subjects = sorted(preds["subject"].unique())
    scores = {"accuracy": [], "uf1": [], "uar": []}
    for counts in boot.weights(len(subjects)):  # the same draws, pooled by concatenation
        pooled = pd.concat([preds[preds["subject"] == s] for s, k in zip(subjects, counts) for _ in range(k)])
        scores["accuracy"].append(accuracy_score(pooled["label"], pooled["pred"]))
        scores["uf1"].append(
            f1_score(
                pooled["label"],
                pooled["pred"],
                average="macro",
                labels=sorted(set(pooled["label"]) | set(pooled["pred"])),
            )
        )
        scores["uar"].append(balanced_accuracy_score(pooled["label"], pooled["pred"]))
    for name, values in scores.items():
        assert ci[name] == pytest.approx(tuple(np.quantile(values, [0.05, 0.95]))), name


def spread_subjects(copies: int) -> pd.DataFrame:
    """Five subjects of four clips, right on 0, 1, 2, 3 and 4 of them, repeated `copies` times
    under new subject names: the same subjects' spread, `copies` times as many subjects."""
    rows = []
    for copy in range(copies):
        for right in range(5):
            for clip in range(4):
                label = CLASSES[clip % 3]
                rows.append(
                    {
                        "seed": 0,
                        "subject": f"s{copy}-{right}",
                        "label": label,
                        "pred": label if clip < right else CLASSES[(clip + 1) % 3],
                    }
                )
    return pd.DataFrame(rows)


def test_point_estimate_inside_and_more_subjects_narrow_the_interval() -> None:
    widths = []
    for preds in (spread_subjects(1), spread_subjects(9), predictions(6, seed=2), predictions(60, seed=2)):
        point = pooled_metrics(preds["label"], preds["pred"], CLASSES)
        ci = subject_bootstrap(preds, CLASSES)
        for name in ("accuracy", "uf1", "uar"):
            assert ci[name][0] <= point[name] <= ci[name][1], name
        widths.append(ci["accuracy"][1] - ci["accuracy"][0])
    assert widths[1] < widths[0] / 2  # about 1/3 of the width with 9× the subjects (1/√9)


def test_seeds_are_averaged_inside_each_resample() -> None:
    one, other = predictions(8, seed=4), predictions(8, seed=5)
    both = pd.concat([one, other.assign(seed=1, subject=one["subject"])])
    ci = subject_bootstrap(both, CLASSES, Bootstrap(500, seed=0))
    point = np.mean([pooled_metrics(p["label"], p["pred"], CLASSES)["accuracy"] for p in (one, other)])
    assert ci["accuracy"][0] <= point <= ci["accuracy"][1]
    single = subject_bootstrap(one, CLASSES, Bootstrap(500, seed=0))["accuracy"]
    assert ci["accuracy"] != pytest.approx(single)


def test_paired_difference_of_identical_predictions_is_zero() -> None:
    preds = predictions(10, seed=6)
    diff = paired_bootstrap(preds, preds.copy(), CLASSES)
    assert diff == {"accuracy": (0.0, 0.0, 0.0), "uf1": (0.0, 0.0, 0.0), "uar": (0.0, 0.0, 0.0)}


def test_paired_difference_is_a_minus_b_and_its_interval_holds_it() -> None:
    a = predictions(12, seed=8, hit=0.9)
    b = a.assign(pred=np.where(np.arange(len(a)) % 3 == 0, "c", a["label"]))  # B wrong on every third
    diff = paired_bootstrap(a, b, CLASSES, Bootstrap(1000, seed=1))
    expected = accuracy_score(a["label"], a["pred"]) - accuracy_score(b["label"], b["pred"])
    low, high = diff["accuracy"][1:]
    assert diff["accuracy"][0] == pytest.approx(expected) and low <= expected <= high
    # Pairing removes the subjects' shared difficulty: narrower than the two unpaired intervals' spread.
    ci_a, ci_b = subject_bootstrap(a, CLASSES), subject_bootstrap(b, CLASSES)
    assert high - low < (ci_a["accuracy"][1] - ci_a["accuracy"][0]) + (ci_b["accuracy"][1] - ci_b["accuracy"][0])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="n_resamples=0"):
        Bootstrap(0)
    with pytest.raises(ValueError, match="confidence=95"):
        Bootstrap(100, 95)
