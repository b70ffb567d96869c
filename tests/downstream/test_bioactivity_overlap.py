"""Which of the ten held-out report tasks each bioactivity-supervised teacher has seen the
labels of, and that ``molmtd evaluate`` drops exactly those from its held-out headline."""

from __future__ import annotations

import importlib.util

import pytest

from molmtd.downstream.datasets import dataset_info, report_tasks
from molmtd.downstream.evaluate import _label_leaks, _Source
from molmtd.teachers import get_teacher

# the held-out evaluation's ten report tasks (experiments/heldout_eval.sh)
HELD_OUT = ("atc-antineoplastic", "atc-nervous", "bbbp", "cep-homo", "clintox",
            "organic-density", "photoswitch", "refractive-index", "melting-point",
            "boiling-point")

needs_admet_ai = pytest.mark.skipif(importlib.util.find_spec("admet_ai") is None,
                                    reason="admet-ai is not installed")


def _seen(spec: str) -> set[str]:
    tasks = get_teacher(spec).trained_on()
    return {d for d in HELD_OUT if tasks & set(dataset_info(d).label_tasks)}


def test_the_ten_are_report_tasks():
    assert set(HELD_OUT) <= set(report_tasks())


@needs_admet_ai
@pytest.mark.parametrize("replicate", range(5))
def test_admet_classification_has_seen_bbbp_and_clintox(replicate):
    # BBB_Martins is MoleculeNet BBBP's data (Martins et al. 2012); TDC's ClinTox is
    # MoleculeNet ClinTox's FDA-approval / trial-toxicity label
    assert _seen(f"chemprop:checkpoint=admet_classification/{replicate}") == {"bbbp", "clintox"}
    assert dataset_info("bbbp").label_tasks == ("BBB_Martins",)
    assert dataset_info("clintox").label_tasks == ("ClinTox",)


@needs_admet_ai
def test_the_other_teachers_have_seen_none_of_the_ten():
    # admet_regression's tasks (FreeSolv, AqSolDB, Lipophilicity...) are report tasks
    # outside the ten; MiniMol's HIV likewise; eosce's FS-Mol assays match no task
    for spec in ("chemprop:checkpoint=admet_regression/0", "minimol", "eosce"):
        assert _seen(spec) == set(), spec


@needs_admet_ai
def test_evaluate_drops_the_seen_tasks_from_the_held_out_ranking():
    sources = [_Source("admet-cls", "teacher",
                       get_teacher("chemprop:checkpoint=admet_classification/0")),
               _Source("maccs", "teacher", get_teacher("maccs"))]
    leaks = _label_leaks(sources, list(HELD_OUT))
    assert leaks == {"admet-cls": ["bbbp", "clintox"],
                     "concat(admet-cls+maccs)": ["bbbp", "clintox"]}
    leaked = {d for ds in leaks.values() for d in ds}
    assert [d for d in HELD_OUT if d not in leaked] == [
        "atc-antineoplastic", "atc-nervous", "cep-homo", "organic-density", "photoswitch",
        "refractive-index", "melting-point", "boiling-point"]
