"""Secrets at rest: encrypted, rotatable, and a lost key fails loudly without leaking."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from integration_service.security.encryption import SecretBox, SecretDecryptionError

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def box(*keys: str) -> SecretBox:
    return SecretBox([SecretStr(key) for key in keys])


def test_round_trip_and_ciphertexts_differ() -> None:
    secrets = box(NEW)
    first, second = secrets.encrypt("sk_live_abc"), secrets.encrypt("sk_live_abc")
    assert first != second  # random IV: equal secrets are not recognisable in the table
    assert "sk_live_abc" not in first
    assert secrets.decrypt(first) == "sk_live_abc"


def test_rotation_keeps_old_secrets_readable_then_moves_them_to_the_new_key() -> None:
    stored = box(OLD).encrypt("refresh-token")
    during_rotation = box(NEW, OLD)
    assert during_rotation.decrypt(stored) == "refresh-token"
    rotated = during_rotation.rotate(stored)
    assert box(NEW).decrypt(rotated) == "refresh-token"
    with pytest.raises(SecretDecryptionError):
        box(OLD).decrypt(rotated)


def test_a_missing_key_is_a_clear_error_without_the_ciphertext() -> None:
    stored = box(OLD).encrypt("secret")
    with pytest.raises(SecretDecryptionError, match="ENCRYPTION_KEYS") as raised:
        box(NEW).decrypt(stored)
    assert stored not in str(raised.value)
    with pytest.raises(SecretDecryptionError):
        box(NEW).rotate(stored)
