"""resnet.settings: the one reader of the operator's numbers (resnet.limits and resnet.upload_quota use it)."""

import dataclasses

import pytest

from resnet.errors import RunRefused, UserError
from resnet.limits import Limits
from resnet.settings import check_positive, from_environment
from resnet.upload_quota import UploadQuota


@dataclasses.dataclass(frozen=True)
class Knobs:
    count: int = 3
    seconds: float = 1.5

    def __post_init__(self):
        check_positive(self, "knob")


VARIABLES = {"KNOB_COUNT": "count", "KNOB_SECONDS": "seconds"}


def test_each_variable_set_takes_its_fields_place_in_the_fields_kind():
    assert from_environment(Knobs, VARIABLES, {}, UserError) == Knobs()
    knobs = from_environment(Knobs, VARIABLES, {"KNOB_COUNT": "7", "KNOB_SECONDS": "0.25", "OTHER": "x"}, UserError)
    assert knobs == Knobs(count=7, seconds=0.25) and isinstance(knobs.count, int)


@pytest.mark.parametrize(("variable", "text", "says"), [
    ("KNOB_COUNT", "lots", "is not a whole number"),
    ("KNOB_COUNT", "2.5", "is not a whole number"),
    ("KNOB_SECONDS", "soon", "is not a number"),
    ("KNOB_COUNT", "0", "must be above 0"),
    ("KNOB_SECONDS", "-1", "must be above 0"),
    ("KNOB_SECONDS", "nan", "must be above 0"),
])
def test_a_bad_value_is_refused_in_one_line_that_names_the_variable(variable, text, says):
    with pytest.raises(UserError) as refused:
        from_environment(Knobs, VARIABLES, {variable: text}, UserError)
    message = str(refused.value)
    assert message.startswith(f"{variable}={text!r} {says}") and "\n" not in message


def test_limits_and_upload_quotas_refuse_a_negative_variable_as_their_own_refusal():
    # Limits let a negative value through to a bare ValueError before they shared this reader.
    with pytest.raises(RunRefused, match="RESNET_MAX_STEPS='-1' must be above 0"):
        Limits.from_environment({"RESNET_MAX_STEPS": "-1"})
    with pytest.raises(UserError, match="RESNET_SERVER_UPLOAD_MB='-5' must be above 0"):
        UploadQuota.from_environment({"RESNET_SERVER_UPLOAD_MB": "-5"})
    assert Limits.from_environment({"RESNET_MAX_RUN_SECONDS": "2.5"}).max_run_seconds == 2.5


def test_a_dataclass_made_in_code_with_a_zero_is_a_programming_error():
    with pytest.raises(ValueError, match="knob count must be positive, got 0"):
        Knobs(count=0)
