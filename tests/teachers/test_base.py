import numpy as np
import pytest

from molmtd.errors import TeacherSpecError
from molmtd.teachers.base import TeacherOutput, format_spec, get_teacher, list_teachers, parse_spec


def test_parse_spec_types_and_quotes():
    name, params = parse_spec('ecfp:radius=3,size=1024,counts=true,path="a,b:c.npy",x=0.5,y=none')
    assert name == "ecfp"
    assert params == {"radius": 3, "size": 1024, "counts": True, "path": "a,b:c.npy",
                      "x": 0.5, "y": None}


def test_format_spec_round_trip():
    params = {"size": 1024, "radius": 3, "path": "dir with space/a.npy"}
    assert parse_spec(format_spec("ecfp", params)) == ("ecfp", params)
    assert format_spec("maccs", {}) == "maccs"


@pytest.mark.parametrize("bad", [":radius=2", "ecfp:radius", "ecfp:=2"])
def test_bad_specs_raise(bad):
    with pytest.raises(TeacherSpecError):
        parse_spec(bad)


def test_unknown_teacher_lists_known():
    with pytest.raises(TeacherSpecError, match="unknown teacher 'nope'.*known teachers: .*maccs"):
        get_teacher("nope")


def test_unknown_parameter_lists_accepted():
    with pytest.raises(TeacherSpecError, match="no parameter 'bogus'.*accepted"):
        get_teacher("ecfp:bogus=1")


def test_registry_lists_families():
    infos = list_teachers()
    families = {i.family for i in infos}
    assert {"fingerprint", "descriptor", "file"} <= families


def test_teacher_output_validates_shapes():
    with pytest.raises(ValueError, match="embeddings must be"):
        TeacherOutput(np.zeros((3, 2), np.float32), np.ones(2, bool))


def test_split_spec_list_keeps_parameters_together():
    from molmtd.teachers.base import split_spec_list

    assert split_spec_list("ecfp:radius=2,size=1024, maccs,chemprop:checkpoint=a/0,physchem") == [
        "ecfp:radius=2,size=1024", "maccs", "chemprop:checkpoint=a/0", "physchem"]
    assert split_spec_list("") == []
