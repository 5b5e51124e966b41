"""Gateway's pure rules: which role a key grants (rotation included), what each role may do, bearer tokens."""

import pytest

from shop_gateway.domain import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    bearer_token,
    may,
    overlapping_keys,
    parse_keys,
    role_for_api_key,
    roles_with,
)

KEYS = {
    Role.STAFF: ("staff-key-0123456789",),
    Role.SUPPORT: ("support-key-0123456789",),
    Role.WAREHOUSE: ("warehouse-key-0123456789",),
}


def test_each_key_grants_its_own_role_and_nothing_else() -> None:
    assert role_for_api_key("staff-key-0123456789", KEYS) is Role.STAFF
    assert role_for_api_key("support-key-0123456789", KEYS) is Role.SUPPORT
    assert role_for_api_key("warehouse-key-0123456789", KEYS) is Role.WAREHOUSE
    assert role_for_api_key("staff-key-012345678", KEYS) is None
    assert role_for_api_key("staff-key-0123456789 ", KEYS) is None
    assert role_for_api_key("", KEYS) is None
    assert role_for_api_key(None, KEYS) is None


def test_during_a_rotation_the_old_and_the_new_key_both_work() -> None:
    keys = {Role.STAFF: parse_keys("old-staff-key-000000, new-staff-key-000000"), Role.WAREHOUSE: ()}
    assert role_for_api_key("old-staff-key-000000", keys) is Role.STAFF
    assert role_for_api_key("new-staff-key-000000", keys) is Role.STAFF
    assert role_for_api_key("other-staff-key-0000", keys) is None


def test_a_role_without_keys_is_off() -> None:
    keys = {Role.STAFF: ("staff-key-0123456789",)}
    assert role_for_api_key("support-key-0123456789", keys) is None


def test_key_lists_are_comma_separated_and_blanks_are_dropped() -> None:
    assert parse_keys(" a , b,,c ") == ("a", "b", "c")
    assert parse_keys("") == ()
    assert parse_keys(None) == ()


def test_a_key_for_two_roles_is_found() -> None:
    assert overlapping_keys({Role.STAFF: ("k1", "k2"), Role.SUPPORT: ("k2",)}) == {"k2"}
    assert overlapping_keys(KEYS) == set()


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.STAFF, Permission.ADMIN_READ, True),
        (Role.STAFF, Permission.ADMIN_WRITE, True),
        (Role.STAFF, Permission.ORDERS_READ, True),
        (Role.STAFF, Permission.WAREHOUSE, False),
        (Role.SUPPORT, Permission.ADMIN_READ, True),
        (Role.SUPPORT, Permission.ORDERS_READ, True),
        (Role.SUPPORT, Permission.ADMIN_WRITE, False),
        (Role.SUPPORT, Permission.WAREHOUSE, False),
        (Role.WAREHOUSE, Permission.WAREHOUSE, True),
        (Role.WAREHOUSE, Permission.ADMIN_READ, False),
        (Role.WAREHOUSE, Permission.ADMIN_WRITE, False),
        (Role.WAREHOUSE, Permission.ORDERS_READ, False),
    ],
)
def test_the_role_table(role: Role, permission: Permission, allowed: bool) -> None:
    assert may(role, permission) is allowed


def test_every_role_has_an_entry_and_only_staff_writes() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert roles_with(Permission.ADMIN_WRITE) == [Role.STAFF]
    assert roles_with(Permission.ADMIN_READ) == [Role.STAFF, Role.SUPPORT]


def test_a_bearer_token_is_read_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
