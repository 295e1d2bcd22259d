"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation through MultiFernet.

The first configured key encrypts; every configured key decrypts, so a new key can be put in front
and old ciphertexts re-encrypted (`rotate`) before the old key is removed.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted with any configured key (a key was removed too early)."""


class SecretBox:
    def __init__(self, keys: list[SecretStr]) -> None:
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret could not be decrypted with any key in ENCRYPTION_KEYS; "
                "was a key removed before its secrets were rotated?"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptionError("a stored secret could not be rotated: no key decrypts it") from None
