"""An API-key integration's credentials, decrypted only for the call that needs them."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.providers.base import ApiCredentials
from integration_service.providers.errors import ProviderAuthError
from integration_service.security.encryption import SecretBox


def load_api_credentials(engine: Engine, box: SecretBox, integration_id: uuid.UUID) -> ApiCredentials:
    """The integration's API key and secret; ProviderAuthError when no key is stored."""
    with engine.connect() as connection:
        row = connection.execute(
            select(credentials.c.api_key_encrypted, credentials.c.api_secret_encrypted).where(
                credentials.c.id == integration_id
            )
        ).one_or_none()
    if row is None or row.api_key_encrypted is None:
        raise ProviderAuthError("the integration has no API key: set apiKey (PATCH /api/integrations/{id})")
    secret = None if row.api_secret_encrypted is None else box.decrypt(row.api_secret_encrypted)
    return ApiCredentials(box.decrypt(row.api_key_encrypted), secret)
