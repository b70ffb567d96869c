"""Teachers: every embedding model behind one small protocol, chosen by spec string.

Importing a family module registers its teachers; back-ends (RDKit calculators,
chemprop, onnxruntime, transformers, jtnnencoder, eosce) are imported only when a teacher is used.
"""

from molmtd.teachers.base import (
    Teacher,
    TeacherInfo,
    TeacherOutput,
    format_spec,
    get_teacher,
    list_teachers,
    parse_spec,
    register_teacher,
    teacher_names,
)

# family modules register themselves on import; each must keep its top-level imports light
from molmtd.teachers import distilled, eosce, files, fingerprints, gnn, jtvae, mordred, smiles  # noqa: E402,F401  isort: skip

__all__ = [
    "Teacher",
    "TeacherInfo",
    "TeacherOutput",
    "format_spec",
    "get_teacher",
    "list_teachers",
    "parse_spec",
    "register_teacher",
    "teacher_names",
]
