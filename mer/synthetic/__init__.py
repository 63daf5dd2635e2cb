"""Synthetic releases: the project's embedded default dataset, in each real release's layout.

Nobody here holds the licensed CASME II, so this package writes a small dataset in its *exact*
raw layout (``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` and the 20140508 coding sheet) for
the real reader and pipeline to run on end to end; with `layout=` it writes the same plan in
SAMM's, SMIC-HS's, CAS(ME)^3 part A's, MMEW's, 4DME's, CASME's or CAS(ME)^2's layout instead.
The faces are the real photo bundled with scikit-image, one per subject under its own pose,
photometry and mild shape change; each clip
moves that subject's face by a sub-pixel micro-motion in the region its action units name, so
onset→apex optical flow recovers a known, class-specific field (saved to ``synthetic.json``).
It proves the pipeline; it never stands in for the paper's numbers. It is not a reader: it may
use later stages (dlib landmarks) and reads its releases back through `mer.data`'s readers.

One job per module, in the order a release is made: `params` (the checked parameters) →
`face` (the face and its motion model) → `plan` (every random choice) → `layouts` (the plan in
each release's folders and sheet, on `layout_base`'s helpers; `meb_layouts` holds MMEW's, 4DME's,
CASME's and CAS(ME)^2's; `xlsx` writes sheets with stable bytes) → `render` (the frames) →
`release` (the folder, atomic and locked) → `read` (the sample table). `long_videos` writes long
videos with planted micro- and macro-expressions for spotting (CAS(ME)^2's and SAMM Long Videos'
layouts) from the same face and motion model, and reads them back with the long-video readers.
"""

from mer.synthetic.face import displacement_field, expression_profile
from mer.synthetic.params import synthetic_params
from mer.synthetic.read import read_synthetic
from mer.synthetic.release import GROUND_TRUTH_FILE, generate_synthetic, load_ground_truth

__all__ = [
    "GROUND_TRUTH_FILE",
    "displacement_field",
    "expression_profile",
    "generate_synthetic",
    "load_ground_truth",
    "read_synthetic",
    "synthetic_params",
]
