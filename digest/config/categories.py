"""arXiv categories with their names: what the sign-up form offers to pick from.

Not every category arXiv has (a profile file or `--category` takes any); the ones readers of
this digest most often follow, grouped by archive, with arXiv's own names.
"""

from __future__ import annotations

CATEGORY_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Computer science",
        (
            ("cs.AI", "Artificial Intelligence"),
            ("cs.CL", "Computation and Language"),
            ("cs.CV", "Computer Vision and Pattern Recognition"),
            ("cs.LG", "Machine Learning"),
            ("cs.NE", "Neural and Evolutionary Computing"),
            ("cs.RO", "Robotics"),
            ("cs.IR", "Information Retrieval"),
            ("cs.HC", "Human-Computer Interaction"),
            ("cs.CR", "Cryptography and Security"),
            ("cs.DC", "Distributed, Parallel, and Cluster Computing"),
            ("cs.DS", "Data Structures and Algorithms"),
            ("cs.DB", "Databases"),
            ("cs.SE", "Software Engineering"),
            ("cs.PL", "Programming Languages"),
            ("cs.GT", "Computer Science and Game Theory"),
            ("cs.MA", "Multiagent Systems"),
            ("cs.SD", "Sound"),
            ("cs.GR", "Graphics"),
            ("cs.CY", "Computers and Society"),
            ("cs.IT", "Information Theory"),
        ),
    ),
    (
        "Statistics",
        (
            ("stat.ML", "Machine Learning"),
            ("stat.ME", "Methodology"),
            ("stat.TH", "Statistics Theory"),
            ("stat.CO", "Computation"),
            ("stat.AP", "Applications"),
        ),
    ),
    (
        "Mathematics",
        (
            ("math.OC", "Optimization and Control"),
            ("math.PR", "Probability"),
            ("math.ST", "Statistics Theory"),
            ("math.NA", "Numerical Analysis"),
            ("math.AP", "Analysis of PDEs"),
        ),
    ),
    (
        "Electrical engineering and systems",
        (
            ("eess.AS", "Audio and Speech Processing"),
            ("eess.IV", "Image and Video Processing"),
            ("eess.SP", "Signal Processing"),
            ("eess.SY", "Systems and Control"),
        ),
    ),
    (
        "Physics and astronomy",
        (
            ("astro-ph.CO", "Cosmology and Nongalactic Astrophysics"),
            ("astro-ph.GA", "Astrophysics of Galaxies"),
            ("astro-ph.IM", "Instrumentation and Methods for Astrophysics"),
            ("hep-ph", "High Energy Physics - Phenomenology"),
            ("hep-th", "High Energy Physics - Theory"),
            ("quant-ph", "Quantum Physics"),
            ("cond-mat.dis-nn", "Disordered Systems and Neural Networks"),
            ("cond-mat.stat-mech", "Statistical Mechanics"),
            ("physics.comp-ph", "Computational Physics"),
        ),
    ),
    (
        "Biology and finance",
        (
            ("q-bio.NC", "Neurons and Cognition"),
            ("q-bio.QM", "Quantitative Methods"),
            ("q-fin.ST", "Statistical Finance"),
        ),
    ),
)

CATEGORY_NAMES: dict[str, str] = {
    code: name for _, entries in CATEGORY_GROUPS for code, name in entries
}
