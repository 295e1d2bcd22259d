"""Orders v2 objects in the shapes of PayPal's checkout_orders_v2 spec: the order, the payer who approved
it, and the capture or authorization its completion makes.

Ids are 17 upper-case characters, as PayPal's are. Links are only to what the sandbox serves (no
`update` PATCH, no capture `refund`), hrefs carry the `{base}` marker the simulator replaces.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from provider_sandbox.providers.paypal.wire import MERCHANT, code, link, stamp

ORDERS = "{base}/v2/checkout/orders"
SELLER_PROTECTION = {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]}
AUTHORIZATION_DAYS = 29  # PayPal's honor period plus validity


def order(now: datetime, checked: dict[str, Any]) -> dict[str, Any]:
    """A new order from a checked create request (order_fields.order_request)."""
    oid = code(17)
    payee = {"email_address": MERCHANT["email"], "merchant_id": MERCHANT["merchant_id"]}
    obj = {
        "id": oid,
        "intent": checked["intent"],
        "status": "PAYER_ACTION_REQUIRED" if checked["payer_action"] else "CREATED",
        "purchase_units": [{**unit, "payee": dict(payee)} for unit in checked["purchase_units"]],
        "create_time": stamp(now),
        "links": [],
    }
    obj["links"] = links(obj)
    return obj


def links(obj: dict[str, Any]) -> list[dict[str, str]]:
    """The order's links for its status: the approval page until approved, the completing action until done."""
    oid, status = obj["id"], obj["status"]
    made = [link(f"{ORDERS}/{oid}", "self")]
    if status in ("CREATED", "PAYER_ACTION_REQUIRED"):
        rel = "payer-action" if status == "PAYER_ACTION_REQUIRED" else "approve"
        made.append(link(f"{{base}}/checkoutnow?token={oid}", rel))
    if status != "COMPLETED":
        action = "capture" if obj["intent"] == "CAPTURE" else "authorize"
        made.append(link(f"{ORDERS}/{oid}/{action}", action, "POST"))
    return made


def approve(obj: dict[str, Any], pid: str, now: datetime) -> None:
    """The payer `pid` approved the order in PayPal's checkout."""
    email = f"buyer-{pid.lower()}@example.com"
    name = {"given_name": "Sandbox", "surname": "Buyer"}
    obj["payer"] = {"name": dict(name), "email_address": email, "payer_id": pid}
    obj["payment_source"] = {
        "paypal": {"email_address": email, "account_id": pid, "account_status": "VERIFIED", "name": dict(name)}
    }
    obj.update(status="APPROVED", update_time=stamp(now))
    obj["links"] = links(obj)


def _money(currency: str, value: float) -> dict[str, str]:
    places = 0 if currency in ("HUF", "JPY", "TWD") else 2
    return {"currency_code": currency, "value": f"{value:.{places}f}"}


def _payment(obj: dict[str, Any], unit: dict[str, Any], kind: str, now: datetime) -> dict[str, Any]:
    pid = code(17)
    made: dict[str, Any] = {"id": pid, "amount": dict(unit["amount"]), "seller_protection": dict(SELLER_PROTECTION)}
    made.update({name: unit[name] for name in ("custom_id", "invoice_id") if name in unit})
    made["links"] = [
        link(f"{{base}}/v2/payments/{kind}/{pid}", "self"),
        link(f"{ORDERS}/{obj['id']}", "up"),
    ]
    made.update(create_time=stamp(now), update_time=stamp(now))
    return made


def capture(obj: dict[str, Any], unit: dict[str, Any], now: datetime) -> dict[str, Any]:
    made = _payment(obj, unit, "captures", now)
    currency, gross = unit["amount"]["currency_code"], float(unit["amount"]["value"])
    fee = round(gross * 0.0349 + 0.49, 2)
    made.update(status="COMPLETED", final_capture=True)
    made["seller_receivable_breakdown"] = {
        "gross_amount": dict(unit["amount"]),
        "paypal_fee": _money(currency, fee),
        "net_amount": _money(currency, gross - fee),
    }
    return made


def authorization(obj: dict[str, Any], unit: dict[str, Any], now: datetime) -> dict[str, Any]:
    made = _payment(obj, unit, "authorizations", now)
    made.update(status="CREATED", expiration_time=stamp(now + timedelta(days=AUTHORIZATION_DAYS)))
    return made


def complete(obj: dict[str, Any], payments: list[dict[str, Any]], kind: str, now: datetime) -> None:
    """The order after its capture or authorization: each unit holds its payment."""
    for unit, payment in zip(obj["purchase_units"], payments, strict=True):
        unit["payments"] = {kind: [payment]}
    obj.update(status="COMPLETED", update_time=stamp(now))
    obj["links"] = links(obj)


def minimal(obj: dict[str, Any]) -> dict[str, Any]:
    """`Prefer: return=minimal` (the default): what PayPal sends without the full representation."""
    body: dict[str, Any] = {key: obj[key] for key in ("id", "status", "payment_source", "payer") if key in obj}
    if obj["status"] == "COMPLETED":
        body["purchase_units"] = [
            {"reference_id": unit["reference_id"], "payments": unit["payments"]} for unit in obj["purchase_units"]
        ]
    body["links"] = obj["links"]
    return body
