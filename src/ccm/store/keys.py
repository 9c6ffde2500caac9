"""API keys of the risk service: generation, hashing and validation (the :class:`~ccm.store.Store` methods
``create_api_key``, ``list_api_keys``, ``revoke_api_key`` and ``authenticate`` use these).

A key is ``ccm_`` + 32 URL-safe characters from :mod:`secrets` (192 bits). The store keeps only a salted
scrypt hash of it and its first :data:`PREFIX_LENGTH` characters (``ccm_`` + 8), which find the row without
hashing against every key and tell keys apart in listings; the other 24 characters (144 bits) stay secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from typing import Any

from ccm.errors import InputError
from ccm.store.records import ApiKeyRecord

ROLES = ("admin", "risk", "account")
KEY_PREFIX = "ccm_"
SECRET_CHARS = 32
PREFIX_LENGTH = len(KEY_PREFIX) + 8
SALT_BYTES = 16
# scrypt cost: ~16 MiB and a few tens of ms per hash; Store.authenticate remembers verified secrets, so a
# busy client pays it once per process, not per request.
SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES = 2**14, 8, 1, 32
LAST_USED_RESOLUTION_S = 60.0  # authenticate writes last_used_at at most this often per key


def new_secret() -> str:
    """A fresh key: ``ccm_`` + 32 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(SECRET_CHARS)[:SECRET_CHARS]


def hash_secret(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def matches(secret: str, salt_hex: str, hash_hex: str) -> bool:
    """Whether ``secret`` hashes to ``hash_hex`` under ``salt_hex`` (constant-time comparison)."""
    try:
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    return hmac.compare_digest(hash_secret(secret, salt), expected)


def well_formed(secret: Any) -> bool:
    """Cheap shape check before any database or hashing work."""
    return (isinstance(secret, str) and len(secret) == len(KEY_PREFIX) + SECRET_CHARS
            and secret.startswith(KEY_PREFIX) and secret.isascii())


def fingerprint(secret: str) -> bytes:
    """An in-memory cache key for a secret already verified (never stored)."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def validate(name: Any, role: Any, accounts: Iterable[str] | None) -> tuple[str, str, tuple[str, ...]]:
    """``(name, role, accounts)`` checked: :class:`InputError` naming the field otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"expected a non-empty key name, got {name!r}", field="name")
    if len(name) > 200:
        raise InputError("the key name is longer than 200 characters", field="name")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", field="role", hint="one of " + ", ".join(ROLES))
    if accounts is None:
        accounts = ()
    if isinstance(accounts, str | bytes):
        raise InputError("accounts must be a list of account ids, not a string", field="accounts")
    ids: list[str] = []
    for k, account in enumerate(accounts):
        if not isinstance(account, str) or not account.strip():
            raise InputError(f"expected a non-empty account id, got {account!r}", field=f"accounts[{k}]")
        if len(account) > 200:
            raise InputError("the account id is longer than 200 characters", field=f"accounts[{k}]")
        if account not in ids:
            ids.append(account)
    if role == "account" and not ids:
        raise InputError("a key with role 'account' needs at least one account id", field="accounts",
                         hint="name the accounts it may see (--account ID, repeatable)")
    if role != "account" and ids:
        raise InputError(f"a key with role {role!r} sees every account: give no account ids", field="accounts",
                         hint="use role 'account' to restrict a key to some accounts")
    return name.strip(), role, tuple(ids)


def record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(id=int(row.id), name=row.name, role=row.role, accounts=tuple(json.loads(row.accounts)),
                        created_at=row.created_at, revoked_at=row.revoked_at, last_used_at=row.last_used_at,
                        prefix=row.prefix)
