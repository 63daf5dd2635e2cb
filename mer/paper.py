"""The paper's reference as data: its numbers, which the report prints beside ours, and its data.

The paper ("Micro-expression recognition with optical flow and an improved MobileNetV2 + SVM";
what mer takes from it, and what it leaves open, is in docs/paper.md) reports on CASME II,
leave-one-subject-out, 5 classes: 249 clips of 26 subjects (§4.1), the onset→apex TV-L1 flow
u + v into the standard MobileNetV2 whose classifier is replaced by the multiclass hinge of eq. 12
(Table 3's "SVM"), scored by accuracy (eq. 13) and F1 over the pooled predictions.
"""

from __future__ import annotations

from typing import NamedTuple

SOURCE = (
    '"Micro-expression recognition with optical flow and an improved MobileNetV2 + SVM": '
    "CASME II, leave-one-subject-out, 5 classes (happiness, disgust, repression, surprise, others), "
    "249 samples of 26 subjects in the paper's copy; Tables 2, 3 and 5 as transcribed in mer's "
    "docs/paper.md. F1 is the unweighted (macro) F1, i.e. our UF1."
)
DATASET = "casme2"
#: The label set of `data.reader.label_set` the paper's numbers are on (fear and sadness dropped).
LABEL_SET = "5class"
CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
#: §4.1: clips per class of the paper's CASME II copy, its clip count and its subject count.
CLASS_COUNTS = {"happiness": 32, "disgust": 63, "repression": 27, "surprise": 28, "others": 99}
N_SAMPLES = 249
N_SUBJECTS = 26


class Result(NamedTuple):
    """One published cell: accuracy in percent and F1 (= UF1) as a fraction."""

    accuracy: float
    f1: float


#: The network every number of the paper is from (`model.arch`): beside another model's rows the
#: report shows none of them.
MODEL = "mobilenetv2"

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

#: Table 4 (the paper's comparison with other methods on CASME II, 5 classes, each row as the paper
#: reports it, under that method's own protocol): method [the paper's reference] → accuracy % / F1,
#: in the paper's order. The methods table never mixes these rows with ours.
TABLE4 = {
    "LBP [6]": Result(39.68, 0.3589),
    "OSW [38]": Result(41.70, 0.3820),
    "FDM [10]": Result(41.96, 0.2972),
    "MRW [13]": Result(46.15, 0.4307),
    "LBP-SIP [7]": Result(43.32, 0.3976),
    "MDMO [11]": Result(44.25, 0.4416),
    "Sparse Sampling [39]": Result(49.00, 0.5100),
    "optical flow + improved MobileNetV2 + SVM (the paper)": TABLE3["hinge"],
}

#: How the paper names our inputs and heads.
INPUT_LABELS = {
    "apex": "apex frame",
    "u": "u",
    "v": "v",
    "uv": "u + v",
    "uvm": "u + v + magnitude",
    "uvs": "u + v + strain",
}
HEAD_LABELS = {
    "softmax": "MobileNetV2 + Softmax",
    "hinge": "MobileNetV2 + SVM (multiclass hinge: the paper's SVM)",
    "svm": "MobileNetV2 + post-hoc scikit-learn SVM (our extension, not in the paper)",
}
