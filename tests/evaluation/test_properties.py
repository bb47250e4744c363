"""The property suite: EMT Cu physics and the failure capture."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_finetune.evaluation.elastic import ElasticFitError
from mlip_finetune.evaluation.eos import EOSFitError
from mlip_finetune.evaluation.properties import (
    eos_elastic_slack,
    properties_from_points,
    relax_flags,
)
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
from mlip_finetune.schemas.properties import ModelPropertiesDocument
from tests.evaluation.conftest import static_document


def test_emt_cu_properties_are_consistent(cu_props):
    doc = cu_props
    assert doc.failures == {}
    assert doc.relaxed
    assert doc.relax_converged
    assert doc.engine == "EMT"
    assert set(doc.wall_times) == {"relax", "eos", "elastic", "slack", "phase_transitions", "total"}
    # EOS and strain-stress are independent routes to the bulk modulus.
    assert doc.eos.b0 == pytest.approx(doc.elastic.k_vrh, rel=0.05)
    assert doc.eos.excluded == []
    # Every property starts from the same relaxed cell.
    assert doc.eos.v0 == pytest.approx(doc.structure.volume, rel=1e-3)
    assert doc.elastic.structure.volume == pytest.approx(doc.structure.volume)
    c = np.asarray(doc.elastic.elastic_tensor)
    assert c[0, 0] > c[0, 1] > 0
    assert c[3, 3] > 0
    assert doc.elastic.elastically_stable
    assert np.isfinite(doc.slack.kappa)
    assert doc.slack.kappa > 0
    assert doc.slack.debye_temperature > 0
    # fcc Cu is dynamically stable: nothing to follow, no new phase.
    pt = doc.phase_transitions
    assert pt.unstable_modes == []
    assert pt.phase_keys == []
    assert pt.initial_space_group_number == 225
    assert doc.phase_transition_settings == PhaseTransitionSettings()
    assert ModelPropertiesDocument.model_validate(doc.model_dump()).eos == doc.eos


def test_failures_are_recorded_not_raised(cu_props):
    def bad_eos():
        raise EOSFitError("E(V) has no minimum")

    def bad_elastic():
        raise ElasticFitError("singular")

    failures: dict[str, str] = {}
    wall_times: dict[str, float] = {}
    eos, elastic, slack = eos_elastic_slack(
        bad_eos, bad_elastic, slack_temperature=300.0, failures=failures, wall_times=wall_times
    )
    assert (eos, elastic, slack) == (None, None, None)
    assert failures == {
        "eos": "E(V) has no minimum",
        "elastic": "singular",
        "slack": "no elastic tensor",
    }
    assert set(wall_times) == {"eos", "elastic", "slack"}
    # nothing to fit: no elastic call, no elastic time; Slack at the requested temperature
    failures = {"elastic": "no strained cells"}
    eos, elastic, slack = eos_elastic_slack(
        lambda: cu_props.eos, None, slack_temperature=300.0, failures=failures
    )
    assert eos == cu_props.eos
    assert elastic is None
    assert failures == {"elastic": "no strained cells", "slack": "no elastic tensor"}
    _, _, slack = eos_elastic_slack(
        lambda: cu_props.eos, lambda: cu_props.elastic, slack_temperature=300.0, failures={}
    )
    assert slack.kappa == pytest.approx(cu_props.slack.kappa)
    with pytest.raises(ValueError, match="not an EOS failure"):  # other errors propagate
        eos_elastic_slack(
            lambda: (_ for _ in ()).throw(ValueError("not an EOS failure")),
            None,
            slack_temperature=300.0,
            failures={},
        )


def test_points_with_too_few_eos_volumes_record_the_failure(cu_props):
    structure = cu_props.structure
    equilibrium = static_document(structure, -1.0, np.zeros((3, 3)), "eq")
    eos = [static_document(structure, -1.0, np.zeros((3, 3)), "eos")] * 2
    doc = properties_from_points(
        equilibrium, eos, [], [], failures={"elastic": "all strained cells failed"}
    )
    assert (doc.eos, doc.elastic, doc.slack) == (None, None, None)
    assert set(doc.failures) == {"eos", "elastic", "slack"}
    assert doc.failures["elastic"] == "all strained cells failed"
    assert doc.wall_times["total"] == pytest.approx(0.25 + 0.5)
    assert relax_flags(eos) == [True, True]
    assert relax_flags([eos[0].model_copy(update={"metadata": {}})]) is None
