"""An MFA parameter refused for its form says why, in words the caller can act on, and
never repeats the value it was given."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidMfaRequest
from verify_service.http.mfa.mfa_schemas import ChallengeListParams, NewFactorParams, load_mfa


@pytest.mark.parametrize(
    ("schema", "data", "expected"),
    [
        (
            NewFactorParams(),
            {"Metadata": '{"os": 1}'},
            "Invalid request: Metadata (must be a JSON object whose values are all strings)",
        ),
        (NewFactorParams(), {"Metadata": "secret-ish"}, "Invalid request: Metadata (not JSON)"),
        (
            NewFactorParams(),
            {"Config.TimeStep": "thirty"},
            "Invalid request: Config.TimeStep (Not a valid integer)",
        ),
        (
            ChallengeListParams(),
            {"FactorSid": "YF123"},
            "Invalid request: FactorSid (must be a YF sid)",
        ),
    ],
)
def test_the_refusal_names_the_parameter_and_the_rule(
    schema: object, data: dict[str, str], expected: str
) -> None:
    with pytest.raises(InvalidMfaRequest) as refused:
        load_mfa(schema, data)  # type: ignore[arg-type]
    assert str(refused.value) == expected
    assert all(value not in str(refused.value) for value in data.values())
