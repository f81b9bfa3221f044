"""The error hierarchy survives the wire: to_rpc_status then from_rpc_error gives the same error."""

from __future__ import annotations

import grpc
import pytest
from xiaodian import errors

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only


class FakeCall(grpc.RpcError):
    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidArgument("bad", [("profile.title_weight", "must be >= 0"), ("request_id", "is required")]),
        errors.NotFound("gone", reason="PROFILE_NOT_FOUND", metadata={"name": "x"}),
        errors.AlreadyExists("dup", reason="REQUEST_ID_REUSED"),
        errors.FailedPrecondition("frozen"),
        errors.Unimplemented("later"),
        errors.Internal("oops"),
    ],
)
def test_round_trip(error: errors.XiaodianError) -> None:
    back = errors.from_rpc_error(FakeCall(errors.to_rpc_status(error)))
    assert type(back) is type(error)
    assert (back.message, back.reason, back.metadata) == (error.message, error.reason, error.metadata)
    if isinstance(error, errors.InvalidArgument):
        assert back.violations == error.violations


def test_validation_errors_are_value_errors() -> None:
    assert issubclass(errors.InvalidArgument, ValueError)
    assert not issubclass(errors.NotFound, ValueError)


def test_under_prefixes_every_field() -> None:
    error = errors.InvalidArgument("x", [("a", "d1"), ("b.c", "d2")]).under("profile")
    assert [v.field for v in error.violations] == ["profile.a", "profile.b.c"]
