"""Gateway's pure rules: which role a key grants, reading a bearer token."""

from shop_gateway.domain import Role, bearer_token, role_for_api_key

KEYS = {"staff_key": "staff-key-0123456789", "warehouse_key": "warehouse-key-0123456789"}


def test_each_key_grants_its_own_role_and_nothing_else() -> None:
    assert role_for_api_key("staff-key-0123456789", **KEYS) is Role.STAFF
    assert role_for_api_key("warehouse-key-0123456789", **KEYS) is Role.WAREHOUSE
    assert role_for_api_key("staff-key-012345678", **KEYS) is None
    assert role_for_api_key("", **KEYS) is None
    assert role_for_api_key(None, **KEYS) is None


def test_a_bearer_token_is_read_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
