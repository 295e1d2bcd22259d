"""BillionMail simulator: the self-hosted mail-marketing server's management API.

Sandbox path                           Real URL (self-hosted: the instance's own host)
/billionmail/api/current-user          https://<your-billionmail>/api/current-user   (connection test)
/billionmail/api/batch_mail/task/...   https://<your-billionmail>/api/batch_mail/task/...
/billionmail/api/contact/...           https://<your-billionmail>/api/contact/...
/billionmail/api/email_template/list   https://<your-billionmail>/api/email_template/list
/billionmail/api/mailbox/all           https://<your-billionmail>/api/mailbox/all

Written from aaPanel/BillionMail's Go source (core/api/*/v1 request structs, rbac/jwt.go,
middlewares/HandleApiResponse.go, public.CodeMap):
- Authentication: `Authorization: Bearer <API token>` (the JWT middleware trims "Bearer "; the API
  token is made in Settings -> API). The documented `X-API-Key` header belongs to the separate
  send-one-email API (/api/batch_mail/api/send) and is NOT accepted here, as in the real server.
- EVERY answer is HTTP 200 with `{"success", "code", "msg", "data"}`; failures only show in the
  body: 401 "no authorization" / "" (bad token), 412 parameter errors, 404, 500. Success is code 0.
"""

from __future__ import annotations

from fastapi import APIRouter

from provider_sandbox.billionmail_control import build_billionmail_control
from provider_sandbox.billionmail_routes import add_api_routes
from provider_sandbox.billionmail_state import BillionMailState


class BillionMailSimulator(BillionMailState):
    """The state of billionmail_state.py, served: the API and the control routes."""

    def router(self) -> APIRouter:
        router = APIRouter()
        add_api_routes(router, self)
        return router

    def control_router(self) -> APIRouter | None:
        return build_billionmail_control(self)
