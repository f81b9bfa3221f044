"""Ranking profiles through gRPC: validated in Rust, versioned, persisted, idempotent."""

from __future__ import annotations

import math

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xiaodian import Client, _core, errors
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer
from xiaodian.search.profiles import SETTING_FIELDS
from xiaodian.v1 import search_service_pb2 as pb


def test_rust_profile_fields_are_exactly_the_proto_settings() -> None:
    assert set(_core.default_ranking_profile()) == {"name", *SETTING_FIELDS}


def test_default_profile_is_seeded_with_the_builtin_defaults(client: Client) -> None:
    profile = client.get_ranking_profile(name="default").profile
    assert (profile.name, profile.version) == ("default", 1)
    assert profile.brand_multiplier == 2.0
    assert profile.new_merchant_window_days == 90
    assert profile.rerank_depth == 1000
    assert profile.duplicate_max_distance == 6
    assert all(profile.HasField(name) for name in SETTING_FIELDS)


def test_update_stores_a_new_version_and_keeps_unset_fields(client: Client) -> None:
    updated = client.update_ranking_profile(profile=pb.RankingProfile(name="default", brand_multiplier=3.0)).profile
    assert updated.version == 2
    assert updated.brand_multiplier == 3.0
    assert updated.title_weight == 2.0
    assert client.get_ranking_profile(name="default").profile == updated
    assert client.get_ranking_profile(name="default", version=1).profile.brand_multiplier == 2.0


def test_a_new_profile_starts_from_the_builtin_defaults(client: Client) -> None:
    created = client.update_ranking_profile(profile=pb.RankingProfile(name="spring-sale", sales_weight=1.0)).profile
    assert (created.version, created.sales_weight, created.bm25_k1) == (1, 1.0, 1.2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title_weight": -1.0}, "profile.title_weight"),
        ({"sales_weight": math.nan}, "profile.sales_weight"),
        ({"brand_multiplier": math.inf}, "profile.brand_multiplier"),
        ({"bm25_b": 1.5}, "profile.bm25_b"),
        ({"rerank_depth": 0}, "profile.rerank_depth"),
        ({"duplicate_max_distance": 65}, "profile.duplicate_max_distance"),
        ({"rating_prior_mean": 0.0}, "profile.rating_prior_mean"),
        ({"description": "x" * 1001}, "profile.description"),
    ],
)
def test_a_bad_update_is_invalid_argument_naming_the_field_and_changes_nothing(client: Client, changes, field) -> None:
    before = client.get_ranking_profile(name="default").profile
    with pytest.raises(errors.InvalidArgument) as caught:
        client.update_ranking_profile(profile=pb.RankingProfile(name="default", **changes))
    assert isinstance(caught.value, ValueError)
    assert field in [v.field for v in caught.value.violations]
    assert client.get_ranking_profile(name="default").profile == before


def test_a_bad_name_is_reported_on_profile_name(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.update_ranking_profile(profile=pb.RankingProfile(name="Bad Name"))
    assert [v.field for v in caught.value.violations] == ["profile.name"]
    with pytest.raises(errors.NotFound):
        client.get_ranking_profile(name="Bad Name")


def test_every_violation_is_reported_at_once(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.update_ranking_profile(profile=pb.RankingProfile(name="default", title_weight=-1, bm25_b=2))
    assert [v.field for v in caught.value.violations] == ["profile.title_weight", "profile.bm25_b"]


def test_unknown_profile_or_version_is_not_found(client: Client) -> None:
    with pytest.raises(errors.NotFound):
        client.get_ranking_profile(name="no-such-profile")
    with pytest.raises(errors.NotFound):
        client.get_ranking_profile(name="default", version=99)


def test_missing_request_id_is_invalid_argument(client: Client) -> None:
    request = pb.UpdateRankingProfileRequest(profile=pb.RankingProfile(name="default"))
    # The raw stub: the typed client would fill in a request_id.
    with pytest.raises(grpc.RpcError) as caught:
        client._search.UpdateRankingProfile(request, metadata=client._metadata)
    error = errors.from_rpc_error(caught.value)
    assert isinstance(error, errors.InvalidArgument)
    assert [v.field for v in error.violations] == ["request_id"]


def test_replay_returns_the_original_response_and_writes_nothing(client: Client) -> None:
    request = pb.UpdateRankingProfileRequest(
        request_id="r-1", profile=pb.RankingProfile(name="default", text_weight=2.0)
    )
    first = client.update_ranking_profile(request)
    again = client.update_ranking_profile(request)
    assert again == first
    assert client.get_ranking_profile(name="default").profile.version == 2


def test_request_id_reused_with_other_content_is_already_exists(client: Client) -> None:
    client.update_ranking_profile(request_id="r-2", profile=pb.RankingProfile(name="default", text_weight=2.0))
    with pytest.raises(errors.AlreadyExists):
        client.update_ranking_profile(request_id="r-2", profile=pb.RankingProfile(name="default", text_weight=3.0))
    assert client.get_ranking_profile(name="default").profile.text_weight == 2.0


def test_a_rejected_request_can_be_fixed_and_resent_with_the_same_request_id(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument):
        client.update_ranking_profile(request_id="r-3", profile=pb.RankingProfile(name="default", text_weight=-2.0))
    fixed = client.update_ranking_profile(request_id="r-3", profile=pb.RankingProfile(name="default", text_weight=2.0))
    assert fixed.profile.version == 2


def test_expected_version_guards_against_lost_updates(client: Client) -> None:
    client.update_ranking_profile(profile=pb.RankingProfile(name="default", text_weight=2.0), expected_version=1)
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.update_ranking_profile(profile=pb.RankingProfile(name="default", text_weight=3.0), expected_version=1)
    assert caught.value.metadata["latest_version"] == "2"


def test_profiles_survive_a_restart_and_a_restarted_server_searches_with_every_version(tmp_path) -> None:
    config = Config.ephemeral(tmp_path)
    server = XiaodianServer(config)
    server.start()
    with server.admin_client() as client:
        client.update_ranking_profile(profile=pb.RankingProfile(name="default", sales_weight=0.5))
        client.update_ranking_profile(profile=pb.RankingProfile(name="sale", brand_multiplier=1.0))
        client.update_ranking_profile(profile=pb.RankingProfile(name="sale", brand_multiplier=1.5))
    server.stop()

    restarted = XiaodianServer(config)
    restarted.start()
    try:
        with restarted.admin_client() as client:
            profile = client.get_ranking_profile(name="default").profile
            assert client.search(query="围巾", profile="sale").profile_version == 2
            assert client.search(query="围巾", profile="sale", profile_version=1).profile_version == 1
        assert (profile.version, profile.sales_weight) == (2, 0.5)
    finally:
        restarted.stop()


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)
weight = st.one_of(finite, st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(title=weight, brand=weight, b=st.floats(allow_nan=True), depth=st.integers(0, 200_000))
def test_validation_accepts_exactly_the_documented_ranges(title, brand, b, depth) -> None:
    profile = {
        **_core.default_ranking_profile(),
        "title_weight": title,
        "brand_weight": brand,
        "bm25_b": b,
        "rerank_depth": depth,
    }
    expected = set()
    if not (math.isfinite(title) and title >= 0):
        expected.add("title_weight")
    if not (math.isfinite(brand) and brand >= 0):
        expected.add("brand_weight")
    if not (math.isfinite(b) and 0 <= b <= 1):
        expected.add("bm25_b")
    if not 1 <= depth <= 100_000:
        expected.add("rerank_depth")
    try:
        _core.validate_ranking_profile(profile)
        found = set()
    except errors.InvalidArgument as error:
        found = {v.field for v in error.violations}
    assert found == expected


def test_a_search_reads_its_profile_from_the_engine_not_the_database(server, client: Client, monkeypatch) -> None:
    """Every version of every profile is kept compiled in the engine: a search touches no
    database, an update is seen by the next search, and an old version can still be named."""
    updated = client.update_ranking_profile(profile=pb.RankingProfile(name="default", sales_weight=0.25)).profile
    client.update_ranking_profile(profile=pb.RankingProfile(name="sale", brand_multiplier=1.0))

    def no_database() -> None:
        raise AssertionError("a search opened the database")

    monkeypatch.setattr(server.search.db, "connection", no_database)
    response = client.search(query="围巾", filter=pb.SearchFilter(shop_ids=["nobody"]))
    assert (response.profile, response.profile_version) == ("default", updated.version)
    assert client.search(query="围巾", profile_version=1).profile_version == 1
    assert (client.search(query="围巾", profile="sale").profile_version) == 1
    with pytest.raises(errors.NotFound):
        client.search(query="围巾", profile="default", profile_version=updated.version + 1)
    with pytest.raises(errors.NotFound):
        client.search(query="围巾", profile="no-such-profile")
