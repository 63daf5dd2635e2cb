"""The paper's published numbers (CASME II, LOSO, 5 classes), as data the report prints beside ours."""

from __future__ import annotations

from typing import NamedTuple

SOURCE = (
    '"Micro-expression recognition with optical flow and an improved MobileNetV2 + SVM": '
    "CASME II, leave-one-subject-out, 5 classes (happiness, disgust, repression, surprise, others), "
    "249 samples in the paper's copy; Tables 2, 3 and 5 as transcribed in the project's DESIGN.md "
    '("Paper results"). F1 is the unweighted (macro) F1, i.e. our UF1.'
)
DATASET = "casme2"
N_SAMPLES = 249
CLASSES = ("happiness", "disgust", "repression", "surprise", "others")


class Result(NamedTuple):
    """One published cell: accuracy in percent and F1 (= UF1) as a fraction."""

    accuracy: float
    f1: float


#: Table 2 (input ablation), all with the paper's SVM head, which is our `hinge` head.
TABLE2_HEAD = "hinge"
TABLE2 = {
    "apex": Result(34.54, 0.2384),
    "u": Result(38.96, 0.3151),
    "v": Result(42.17, 0.3612),
    "uv": Result(53.01, 0.5231),
}

#: Table 3 (head ablation), all on the u + v input. Keys are our head names: the paper's "SVM" is
#: `hinge` (multiclass hinge loss trained end to end); our `svm` (post-hoc scikit-learn) is not in it.
TABLE3_INPUT = "uv"
TABLE3 = {
    "softmax": Result(38.55, 0.3360),
    "hinge": Result(53.01, 0.5231),
}

#: Table 5: the diagonal of the confusion matrix of the best model (u + v, SVM), % of the true class.
TABLE5_INPUT, TABLE5_HEAD = "uv", "hinge"
TABLE5_DIAGONAL = {
    "happiness": 37.50,
    "disgust": 41.27,
    "repression": 33.33,
    "surprise": 64.29,
    "others": 67.68,
}

#: How the paper names our inputs and heads.
INPUT_LABELS = {"apex": "apex frame", "u": "u", "v": "v", "uv": "u + v",
                "uvm": "u + v + magnitude", "uvs": "u + v + strain"}
HEAD_LABELS = {
    "softmax": "MobileNetV2 + Softmax",
    "hinge": "MobileNetV2 + SVM (multiclass hinge: the paper's SVM)",
    "svm": "MobileNetV2 + post-hoc scikit-learn SVM (our extension, not in the paper)",
}
