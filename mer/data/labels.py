"""Label sets: how each dataset's emotion names map onto the classes a protocol scores."""

from __future__ import annotations

from mer.errors import MerError

#: Class order per label set (the order of score columns and confusion-matrix rows).
#: `5class` follows the paper's Table 5; `composite3` is MEGC2019's.
CLASSES: dict[str, dict[str, tuple[str, ...]]] = {
    "casme2": {
        "5class": ("happiness", "disgust", "repression", "surprise", "others"),
        "all": ("happiness", "disgust", "repression", "surprise", "others", "fear", "sadness"),
        "composite3": ("negative", "positive", "surprise"),
    },
}

#: Emotion name in the release's sheet → class, per label set; a name mapped to None is dropped.
MAPPINGS: dict[str, dict[str, dict[str, str | None]]] = {
    "casme2": {
        "5class": {
            "happiness": "happiness",
            "disgust": "disgust",
            "repression": "repression",
            "surprise": "surprise",
            "others": "others",
            "fear": None,
            "sadness": None,
        },
        "all": {e: e for e in CLASSES["casme2"]["all"]},
        # MEGC2019: negative = CASME II disgust + repression; others, fear and sadness dropped.
        "composite3": {
            "happiness": "positive",
            "disgust": "negative",
            "repression": "negative",
            "surprise": "surprise",
            "others": None,
            "fear": None,
            "sadness": None,
        },
    },
}


def label_set(dataset: str, name: str) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """Classes and emotion→class mapping of one label set, or a clear error naming the choices."""
    try:
        sets = MAPPINGS[dataset]
    except KeyError:
        raise MerError(f"no label sets for dataset '{dataset}'") from None
    if name not in sets:
        raise MerError(
            f"unknown label set '{name}' for {dataset}: choose one of {sorted(sets)} (data.reader.label_set)"
        )
    return CLASSES[dataset][name], sets[name]
