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
    "samm": {
        "5class": ("anger", "contempt", "happiness", "surprise", "others"),
        "all": (
            "anger",
            "contempt",
            "disgust",
            "fear",
            "happiness",
            "others",
            "sadness",
            "surprise",
        ),
        "composite3": ("negative", "positive", "surprise"),
    },
    "smic": {
        "all": ("negative", "positive", "surprise"),  # SMIC-HS's own three label folders
        "composite3": ("negative", "positive", "surprise"),
    },
    "casme3": {
        "all": ("happy", "disgust", "fear", "anger", "sad", "surprise", "others"),
        "4class": ("negative", "positive", "surprise", "others"),
        "composite3": ("negative", "positive", "surprise"),
    },
}

_CASME3_4CLASS: dict[str, str | None] = {
    "happy": "positive",
    "disgust": "negative",
    "fear": "negative",
    "anger": "negative",
    "sad": "negative",
    "surprise": "surprise",
    "others": "others",
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
    "samm": {
        # The common SAMM 5-class protocol: disgust, fear and sadness (few clips) dropped.
        "5class": {
            "anger": "anger",
            "contempt": "contempt",
            "happiness": "happiness",
            "surprise": "surprise",
            "others": "others",
            "disgust": None,
            "fear": None,
            "sadness": None,
        },
        "all": {e: e for e in CLASSES["samm"]["all"]},
        # MEGC2019: negative = SAMM anger + contempt + disgust + fear + sadness; others dropped.
        "composite3": {
            "anger": "negative",
            "contempt": "negative",
            "disgust": "negative",
            "fear": "negative",
            "sadness": "negative",
            "happiness": "positive",
            "surprise": "surprise",
            "others": None,
        },
    },
    "smic": {
        "all": {e: e for e in CLASSES["smic"]["all"]},
        "composite3": {e: e for e in CLASSES["smic"]["composite3"]},  # already MEGC2019's classes
    },
    "casme3": {
        "all": {e: e for e in CLASSES["casme3"]["all"]},
        # CAS(ME)^3's 4-class protocol: negative = anger, disgust, fear, sad.
        "4class": _CASME3_4CLASS,
        # MEGC2019's three classes applied to CAS(ME)^3 (not part of the 2019 composite).
        "composite3": {e: None if c == "others" else c for e, c in _CASME3_4CLASS.items()},
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
