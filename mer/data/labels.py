"""Label sets: how each dataset's emotion names map onto the classes a protocol scores."""

from __future__ import annotations

from collections.abc import Iterable

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
    "mmew": {
        "all": ("happiness", "surprise", "anger", "disgust", "fear", "sadness", "others"),
        "composite3": ("negative", "positive", "surprise"),
    },
    # 4DME's `all` is open (OPEN_LABEL_SETS): its classes are what the sheet names; listed here
    # are the five single emotions the sheet names alone or combined.
    "4dme": {
        "all": ("positive", "negative", "surprise", "repression", "others"),
        "5class": ("positive", "negative", "surprise", "repression", "others"),
        "composite3": ("negative", "positive", "surprise"),
    },
    "casme1": {
        "all": ("disgust", "sadness", "surprise", "repression", "happiness", "tense", "fear", "contempt"),
        "composite3": ("negative", "positive", "surprise"),
    },
    "casme_sq": {  # CAS(ME)^2's own emotion categories
        "3class": ("negative", "positive", "surprise"),
        "all": ("negative", "positive", "surprise", "others"),
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
    "mmew": {
        # MMEW's seven emotions (Ben et al. 2021), all kept, as MEB keeps them.
        "all": {e: e for e in CLASSES["mmew"]["all"]},
        # MEGC2019's three classes applied to MMEW (not part of the 2019 composite): negative =
        # anger + disgust + fear + sadness; others dropped.
        "composite3": {
            "happiness": "positive",
            "surprise": "surprise",
            "anger": "negative",
            "disgust": "negative",
            "fear": "negative",
            "sadness": "negative",
            "others": None,
        },
    },
    "4dme": {
        # Open: every emotion and combination the sheet names (`surprise+positive`) is its own class.
        "all": {e: e for e in CLASSES["4dme"]["all"]},
        # The five emotion categories 4DME annotates (Li et al. 2022, IEEE TAC); a combination
        # spans two of them and is dropped (mer's choice: single-emotion clips only).
        "5class": {e: e for e in CLASSES["4dme"]["5class"]},
        # MEGC2019's three classes applied to 4DME (not part of the 2019 composite): repression is
        # negative, as MEGC2019 counts CASME II's; others dropped.
        "composite3": {
            "positive": "positive",
            "negative": "negative",
            "repression": "negative",
            "surprise": "surprise",
            "others": None,
        },
    },
    "casme1": {
        # CASME's eight emotions (Yan et al. 2013; the sheets' `comtempt` read as contempt), all
        # kept, as MEB keeps them.
        "all": {e: e for e in CLASSES["casme1"]["all"]},
        # MEGC2019's three classes applied to CASME (not part of the 2019 composite): negative =
        # disgust + sadness + fear + contempt; repression and tense dropped. mer's mapping: no
        # paper fixes where CASME's repression and tense belong.
        "composite3": {
            "happiness": "positive",
            "surprise": "surprise",
            "disgust": "negative",
            "sadness": "negative",
            "fear": "negative",
            "contempt": "negative",
            "repression": None,
            "tense": None,
        },
    },
    "casme_sq": {
        # Recognition on CAS(ME)^2's micro-expressions in 3 classes, `others` left out, as MEAN
        # (Liong et al. 2023, spot-then-recognise on long videos) does.
        "3class": {"negative": "negative", "positive": "positive", "surprise": "surprise", "others": None},
        # The sheet's four emotion categories (Qu et al. 2018), `others` kept.
        "all": {e: e for e in CLASSES["casme_sq"]["all"]},
        # MEGC2019's three classes are the sheet's own categories: the same as 3class.
        "composite3": {"negative": "negative", "positive": "positive", "surprise": "surprise", "others": None},
    },
}

#: Label sets with no fixed class list: each emotion the sheet names, alone or combined, is its own
#: class (which of 4DME's combinations occur depends on the sheet); see `sheet_label_set`.
OPEN_LABEL_SETS: frozenset[tuple[str, str]] = frozenset({("4dme", "all")})

#: How a sheet joins emotions into one label: `surprise+positive` (4DME).
COMBINED = "+"


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


def sheet_label_set(dataset: str, name: str, emotions: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """Classes and emotion→class mapping of a label set for the emotions one sheet names (mapping
    keys): an open set's classes are those it knows, sorted, each its own class; in a fixed set a
    combination `a+b` of known emotions maps to the class its parts share, or is dropped if they
    differ. An emotion it does not know stays unmapped, for the reader to refuse."""
    classes, mapping = label_set(dataset, name)
    combined: dict[str, str | None] = {}
    for emotion in set(emotions):
        parts = emotion.split(COMBINED)
        if len(parts) > 1 and all(part in mapping for part in parts):
            shared = {mapping[part] for part in parts}
            combined[emotion] = shared.pop() if len(shared) == 1 else None
    mapping = {**mapping, **combined}
    if (dataset, name) in OPEN_LABEL_SETS:
        found = tuple(sorted(set(emotions) & set(mapping)))
        return found, {emotion: emotion for emotion in found}
    return classes, mapping
