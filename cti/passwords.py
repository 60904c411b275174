"""Argon2id password hashing, with a constant-cost check for unknown users."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cti.errors import DomainError

MIN_LENGTH: Final = 10
MAX_LENGTH: Final = 1024

_hasher: Final = PasswordHasher()


def check_policy(password: str) -> None:
    """Refuse passwords that are too short or absurdly long (a denial-of-service guard)."""
    if len(password) < MIN_LENGTH:
        raise DomainError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise DomainError(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("no user has this password")


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user (None) costs the same time as a known one."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
