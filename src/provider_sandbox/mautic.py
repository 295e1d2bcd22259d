"""Mautic simulator: OAuth 2.0 (authorization code, rotating refresh tokens) and the REST API.

Sandbox path                        Real URL (self-hosted: the instance's own host)
/mautic/oauth/v2/authorize          https://<your-mautic>/oauth/v2/authorize
/mautic/oauth/v2/token              https://<your-mautic>/oauth/v2/token
/mautic/api/campaigns ...           https://<your-mautic>/api/campaigns ...

Behaviour from Mautic's source and developer docs (mautic/mautic ApiBundle, FOSOAuthServerBundle
with OAuth2-php): access tokens live 60 minutes, refresh tokens 14 days and ROTATE (the used one
dies: 400 invalid_grant), authorization codes 30 seconds. ApiSubscriber rewrites every /oauth and
/api error into `{"errors": [{"message", "code", "type"}]}`; listings key items BY ID in an object
(`{"total": N, "campaigns": {"7": {...}}}`), and an empty listing is a JSON list `[]` because PHP
encodes an empty array that way. The rate limiter answers 429 with X-RateLimit-* headers.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from provider_sandbox.core.oauth import OAuthError
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.mautic_control import build_mautic_control
from provider_sandbox.mautic_routes import add_api_routes
from provider_sandbox.mautic_state import MauticState, mautic_error


def _token_error(error: OAuthError) -> Response:
    # OAuth2-php answers every token-endpoint failure with 400, invalid_client included.
    status = 400 if error.status == 401 else error.status
    return mautic_error(status, error.description, error.error, {"Cache-Control": "no-store"})


class MauticSimulator(MauticState):
    """The state of mautic_state.py, served: OAuth, the API and the control routes."""

    def router(self) -> APIRouter:
        router = APIRouter()
        mount(
            router,
            oauth_routes(
                OAuthEndpoints(self, error_renderer=_token_error),
                authorize_path="/oauth/v2/authorize",
                exchange_path="/oauth/v2/token",
            ),
        )
        add_api_routes(router, self)
        return router

    def control_router(self) -> APIRouter | None:
        return build_mautic_control(self)
