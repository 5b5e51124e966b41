"""Customer accounts' rules, free of I/O: the email key, password rules and hashing (scrypt), segment names."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode

from shop_api.orders.customers import MAX_SEGMENT_LENGTH, SEGMENT_PATTERN

MAX_ADDRESSES = 20


MIN_PASSWORD_LENGTH = 10


MAX_PASSWORD_LENGTH = 128


# scrypt (RFC 7914) from the standard library: memory-hard, so a stolen table is slow to guess on GPUs, with no
# native dependency to keep. n=2**14, r=8, p=1 is OWASP's minimum (16 MiB, ~50 ms here); the parameters are
# stored with each hash, so raising them later only affects new hashes.
SCRYPT_N = 2**14


SCRYPT_R = 8


SCRYPT_P = 1


_SALT_BYTES = 16


_KEY_BYTES = 32


def email_key(email: str) -> str:
    """The form an email is unique in: trimmed and case-folded (``Kim@Example.com`` is ``kim@example.com``)."""
    return email.strip().casefold()


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is refused, or None when it is acceptable (length rules per NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    if email is not None and email_key(password) == email_key(email):
        return "a password cannot be the email address"
    if len(set(password)) < 4:
        return "use more than three different characters"
    return None


def segment_problem(segment: str) -> str | None:
    """Why ``segment`` is not a segment name, or None when it is one."""
    if not segment:
        return "a segment name cannot be empty"
    if len(segment) > MAX_SEGMENT_LENGTH:
        return f"use at most {MAX_SEGMENT_LENGTH} characters"
    if re.fullmatch(SEGMENT_PATTERN, segment) is None:
        return "use lowercase letters and digits, words joined by single hyphens or underscores (e.g. vip)"
    return None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh random salt per password (base64url, no padding)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    derived = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(derived)}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; a malformed stored value never matches."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(expected))
    except ValueError:
        return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))
