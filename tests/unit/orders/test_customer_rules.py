"""Customer accounts' rules: emails are unique whatever their case, passwords are long enough and stored as
salted scrypt hashes, segment names are slugs."""

from __future__ import annotations

import pytest

from shop_orders.customers.domain import (
    SCRYPT_N,
    email_key,
    hash_password,
    password_matches,
    password_problem,
    segment_problem,
)


def test_an_email_is_the_same_account_whatever_its_case_and_spaces() -> None:
    assert email_key(" Kim.Minsu@Example.COM ") == email_key("kim.minsu@example.com")
    assert email_key("a@example.com") != email_key("b@example.com")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-one", "at least 10"),
        ("x" * 129, "at most 128"),
        (" " * 12, "only spaces"),
        ("Kim@Example.com", "email"),
        ("abcabcabcabc", "three different"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    problem = password_problem(password, email="kim@example.com")
    assert problem is not None
    assert reason in problem


def test_a_long_enough_password_is_accepted() -> None:
    assert password_problem("correct horse battery", email="kim@example.com") is None
    assert password_problem("비밀번호는열글자이상입니다") is None


def test_a_password_is_stored_as_a_salted_scrypt_hash_that_only_it_matches() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first != second  # a fresh salt per password: equal passwords do not show
    assert "correct horse battery" not in first
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", SCRYPT_N, 8, 1)
    assert len(salt) >= 22
    assert len(digest) >= 43
    assert password_matches("correct horse battery", first)
    assert password_matches("correct horse battery", second)
    assert not password_matches("correct horse batterY", first)
    assert not password_matches("", first)


def test_a_stored_hash_keeps_its_own_parameters() -> None:
    salt = bytes(16)
    assert hash_password("correct horse battery", salt=salt) == hash_password(
        "correct horse battery", salt=salt
    )
    cheaper = "scrypt$1024$8$1$" + hash_password("x" * 10, salt=salt).split("$", 4)[4]
    assert not password_matches("x" * 10, cheaper)  # the same salt and digest under other parameters differ


@pytest.mark.parametrize(
    "stored", ["", "bcrypt$xyz", "scrypt$abc$8$1$AA$AA", "scrypt$1024$8$1$%%$%%", "plain"]
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert not password_matches("anything at all", stored)


@pytest.mark.parametrize("segment", ["vip", "beta-2027", "early_birds", "a", "x" * 64])
def test_a_slug_is_a_segment_name(segment: str) -> None:
    assert segment_problem(segment) is None


@pytest.mark.parametrize(
    ("segment", "reason"),
    [
        ("", "empty"),
        ("x" * 65, "at most 64"),
        ("VIP", "lowercase"),
        ("vip club", "lowercase"),
        ("-vip", "lowercase"),
        ("vip--club", "lowercase"),
        ("../orders", "lowercase"),
        ("vip\u00e9", "lowercase"),
    ],
)
def test_other_segment_names_are_refused_with_a_reason(segment: str, reason: str) -> None:
    problem = segment_problem(segment)
    assert problem is not None
    assert reason in problem
