"""PayPal resource routes: payments v1 (create, approve, execute, list, sale refund), billing plans
and subscriptions v1 (billing.py), orders v2 (orders.py) and the notifications API (webhook signature
verification, the registered webhooks and the events sent: notifications.py).

Approval is automatic: the approval link (`/paypal/checkoutnow?token=...`) redirects to the
merchant's return URL with `paymentId`, `token` and `PayerID`, as PayPal does after the buyer
consents. Executing with payer id `DENYPAYER2345` gives a denied sale (PAYMENT.SALE.DENIED).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.billing import BillingRoutes, approve_subscription
from provider_sandbox.providers.paypal.errors import (
    PayPalError,
    json_object,
    v1_invalid,
    v1_malformed,
    v1_not_found,
)
from provider_sandbox.providers.paypal.notifications import NotificationRoutes
from provider_sandbox.providers.paypal.orders import OrderRoutes, approve_order
from provider_sandbox.providers.paypal.payment_list import parse_query, payment_history
from provider_sandbox.providers.paypal.wire import (
    DENIED_PAYER,
    MERCHANT,
    link,
    money_total,
    payer_id,
    payer_info,
    payment,
    sale,
    stamp,
)


def _validate_payment(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("intent") != "sale":
        raise v1_invalid("intent", "Only intent=sale is simulated")
    payer = data.get("payer")
    if not isinstance(payer, dict) or payer.get("payment_method") != "paypal":
        raise v1_invalid("payer.payment_method", "payment_method must be paypal")
    transactions = data.get("transactions")
    if not isinstance(transactions, list) or not transactions:
        raise v1_invalid("transactions", "At least one transaction is required")
    clean = []
    for index, transaction in enumerate(transactions):
        amount = transaction.get("amount") if isinstance(transaction, dict) else None
        if not isinstance(amount, dict) or not isinstance(amount.get("currency"), str) or len(amount["currency"]) != 3:
            raise v1_invalid(f"transactions[{index}].amount.currency", "A three-letter currency code is required")
        kept = {k: v for k, v in transaction.items() if k in ("description", "custom", "invoice_number", "item_list")}
        total = money_total(amount.get("total"), f"transactions[{index}].amount.total")
        clean.append(
            {"amount": {"total": total, "currency": amount["currency"].upper()}, "payee": dict(MERCHANT), **kept}
        )
    urls = data.get("redirect_urls")
    if not isinstance(urls, dict) or not all(isinstance(urls.get(k), str) for k in ("return_url", "cancel_url")):
        raise v1_invalid("redirect_urls", "return_url and cancel_url are required for PayPal payments")
    return {"transactions": clean, "redirect_urls": {k: urls[k] for k in ("return_url", "cancel_url")}}


def _find(store: dict[str, dict[str, Any]], object_id: str) -> dict[str, Any]:
    if object_id not in store:
        raise v1_not_found()
    return store[object_id]


class PayPalRoutes:
    """Payments v1 and checkout approval; `routes()` is their table (with notifications', billing's and orders')."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/v1/payments/payment", self.create_payment),
            Route("GET", "/v1/payments/payment/{payment_id}", self.get_payment),
            Route("GET", "/v1/payments/payment", self.list_payments),
            Route("GET", "/checkoutnow", self.approve),
            Route("POST", "/v1/payments/payment/{payment_id}/execute", self.execute),
            Route("GET", "/v1/payments/sale/{sale_id}", self.get_sale),
            Route("POST", "/v1/payments/sale/{sale_id}/refund", self.refund_sale),
            Route("GET", "/v1/payments/refund/{refund_id}", self.get_refund),
            *NotificationRoutes(self.api).routes(),
            *BillingRoutes(self.api).routes(),
            *OrderRoutes(self.api).routes(),
        ]

    async def create_payment(self, request: Request) -> Response:
        self.api.authorize(request)
        obj = payment("{base}", self.api.clock.now(), _validate_payment(await json_object(request, v1_malformed)))
        self.api.payments[obj["id"]] = obj
        token = obj["links"][1]["href"].rsplit("=", 1)[1]
        self.api.approvals[token] = ("payment", obj["id"])
        return self.api.render(obj, request, 201)

    async def get_payment(self, request: Request, payment_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(_find(self.api.payments, payment_id), request)

    async def list_payments(self, request: Request) -> Response:
        self.api.authorize(request)
        query = parse_query(request.query_params)
        return self.api.render(payment_history(self.api.payments.values(), query), request)

    async def approve(self, request: Request) -> Response:
        token = request.query_params.get("token") or request.query_params.get("ba_token") or ""
        kind, object_id = self.api.approvals.get(token, ("", ""))
        if kind == "payment":
            obj = self.api.payments[object_id]
            chosen = request.query_params.get("sandbox_payer") or payer_id()
            self.api.approved_payers[object_id] = chosen
            query = {"paymentId": object_id, "token": token, "PayerID": chosen}
            return RedirectResponse(f"{obj['redirect_urls']['return_url']}?{urlencode(query)}", 302)
        if kind == "subscription":
            return approve_subscription(self.api, request, object_id, token)
        if kind == "order":
            return approve_order(self.api, request, object_id)
        raise PayPalError(404, "INVALID_RESOURCE_ID", "Unknown or expired checkout token.", v1=True)

    async def execute(self, request: Request, payment_id: str) -> Response:
        self.api.authorize(request)
        obj = _find(self.api.payments, payment_id)
        payer = (await json_object(request, v1_malformed)).get("payer_id")
        if not isinstance(payer, str) or not payer:
            raise v1_invalid("payer_id", "payer_id is required")
        if obj["state"] != "created":
            raise PayPalError(400, "PAYMENT_ALREADY_DONE", "Payment has been done already for this cart.", v1=True)
        if self.api.approved_payers.get(payment_id) != payer:
            raise PayPalError(400, "PAYMENT_NOT_APPROVED_FOR_EXECUTION", "Payer has not approved payment", v1=True)
        now, denied = self.api.clock.now(), payer == DENIED_PAYER
        del self.api.approved_payers[payment_id]
        obj.update(payer=payer_info(payer), state="failed" if denied else "approved", update_time=stamp(now))
        if denied:
            obj["failure_reason"] = "PAYER_CANNOT_PAY"
        obj["links"] = [obj["links"][0]]
        for transaction in obj["transactions"]:
            record = sale("{base}", now, obj, transaction["amount"], denied)
            self.api.sales[record["id"]] = record
            transaction["related_resources"] = [{"sale": record}]
            total = f"{record['amount']['total']} {record['amount']['currency']}"
            if denied:
                self.api.emit(request, "PAYMENT.SALE.DENIED", "sale", record, f"A {total} sale payment was denied")
            else:
                self.api.emit(request, "PAYMENT.SALE.COMPLETED", "sale", record, f"Payment completed for {total}")
        return self.api.render(obj, request)

    async def get_sale(self, request: Request, sale_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(_find(self.api.sales, sale_id), request)

    async def refund_sale(self, request: Request, sale_id: str) -> Response:
        self.api.authorize(request)
        record = _find(self.api.sales, sale_id)
        data = await json_object(request, v1_malformed)
        if record["state"] not in ("completed", "partially_refunded"):
            raise PayPalError(
                400, "TRANSACTION_REFUSED", "The request was refused: the sale is not refundable.", v1=True
            )
        refunded = self.api.refunded.get(sale_id, 0.0)
        remaining = round(float(record["amount"]["total"]) - refunded, 2)
        amount = data.get("amount")
        value = money_total(amount.get("total"), "amount.total") if isinstance(amount, dict) else f"{remaining:.2f}"
        if float(value) <= 0 or float(value) > remaining:
            raise PayPalError(
                400, "REFUND_EXCEEDED_TRANSACTION_AMOUNT", "Refund amount exceeded transaction amount.", v1=True
            )
        refunded = round(refunded + float(value), 2)
        now = stamp(self.api.clock.now())
        record.update(state="refunded" if refunded >= float(record["amount"]["total"]) else "partially_refunded")
        self.api.refunded[sale_id] = refunded
        record["update_time"] = now
        refund_id = payer_id()[:12] + "REF45"
        refund = {
            "id": refund_id,
            "state": "completed",
            "amount": {"total": value, "currency": record["amount"]["currency"]},
            "sale_id": sale_id,
            "parent_payment": record["parent_payment"],
            "create_time": now,
            "update_time": now,
            "links": [
                link(f"{{base}}/v1/payments/refund/{refund_id}", "self"),
                link(f"{{base}}/v1/payments/payment/{record['parent_payment']}", "parent_payment"),
                link(f"{{base}}/v1/payments/sale/{sale_id}", "sale"),
            ],
        }
        self.api.refunds[refund["id"]] = refund
        self.api.emit(
            request,
            "PAYMENT.SALE.REFUNDED",
            "refund",
            refund,
            f"A {value} {record['amount']['currency']} sale payment was refunded",
        )
        return self.api.render(refund, request, 201)

    async def get_refund(self, request: Request, refund_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(_find(self.api.refunds, refund_id), request)
