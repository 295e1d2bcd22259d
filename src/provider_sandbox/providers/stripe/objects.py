"""Stripe objects in the shapes of the API reference (customer, product, price, payment intent,
charge, payment method, refund; the subscription is in subscription_objects.py). seed.py builds an
account's history from them.

Test payment methods behave as Stripe documents them: `pm_card_visa` (and the other brand
methods) succeed; `pm_card_chargeDeclined*` decline with the documented codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provider_sandbox.providers.stripe.store import Account, new_id


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    funding: str = "credit"
    decline_code: str | None = None  # None: the charge succeeds
    error_code: str = "card_declined"
    message: str = "Your card was declined."


TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", "debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", decline_code="generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline_code="insufficient_funds", message="Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", decline_code="expired_card", error_code="expired_card", message="Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard(
        "visa",
        "0127",
        decline_code="incorrect_cvc",
        error_code="incorrect_cvc",
        message="Your card's security code is incorrect.",
    ),
}


def customer(account: Account, created: int, params: dict[str, Any], seed: str | None = None) -> dict[str, Any]:
    cid = new_id("cus", seed)
    return {
        "id": cid,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": cid[4:12].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": params.get("payment_method"),
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": params.get("metadata", {}),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(created: int, name: str, metadata: dict[str, str], description: str | None = None) -> dict[str, Any]:
    return {
        "id": new_id("prod"),
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    created: int,
    product_id: str,
    currency: str,
    unit_amount: int,
    recurring: dict[str, Any] | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": extra.get("lookup_key"),
        "metadata": extra.get("metadata", {}),
        "nickname": extra.get("nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def payment_intent(created: int, amount: int, currency: str, params: dict[str, Any]) -> dict[str, Any]:
    pid = new_id("pi")
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pid}_secret_{new_id('x')[2:]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": params.get("customer"),
        "description": params.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": params.get("metadata", {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": params.get("payment_method"),
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_confirmation" if params.get("payment_method") else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


# Over 60 lines: one literal, the Charge object with the fields Stripe documents, in their order.
def charge(
    created: int,
    amount: int,
    currency: str,
    card: TestCard,
    payment_method: str,
    *,
    customer_id: str | None = None,
    payment_intent_id: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    seed: str | None = None,
) -> dict[str, Any]:
    succeeded = card.decline_code is None
    cid = new_id("ch", seed)
    return {
        "id": cid,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn", seed and seed + "/txn") if succeeded else None,
        "billing_details": _billing_details(),
        "calculated_statement_descriptor": "NEXTCRM SANDBOX",
        "captured": succeeded,
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if succeeded else card.error_code,
        "failure_message": None if succeeded else card.message,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata or {},
        "on_behalf_of": None,
        "outcome": _outcome(card),
        "paid": succeeded,
        "payment_intent": payment_intent_id,
        "payment_method": payment_method,
        "payment_method_details": {
            "card": {**_card(card, payment_method), "network": card.brand},
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/sandbox/{cid}",
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if succeeded else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


def payment_method(created: int, method: str, card: TestCard) -> dict[str, Any]:
    """The PaymentMethod a test method stands for, as Stripe embeds it whole in a card error."""
    networks = {"available": [card.brand], "preferred": None}
    details = {**_card(card, method), "display_brand": card.brand, "networks": networks, "wallet": None}
    return {
        "id": method,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(),
        "card": {**details, "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True}},
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def _billing_details() -> dict[str, Any]:
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    return {"address": address, "email": None, "name": None, "phone": None}


def _card(card: TestCard, payment_method: str) -> dict[str, Any]:
    """What a charge's payment method details and a PaymentMethod say alike of the card."""
    return {
        "brand": card.brand,
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": new_id("fp", payment_method)[3:19],
        "funding": card.funding,
        "last4": card.last4,
    }


def _outcome(card: TestCard) -> dict[str, Any]:
    if card.decline_code is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "network_status": "declined_by_network",
        "reason": card.decline_code,
        "risk_level": "normal",
        "risk_score": 40,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def refund(created: int, charge_obj: dict[str, Any], amount: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_obj["id"],
        "created": created,
        "currency": charge_obj["currency"],
        "destination_details": {
            "card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"},
            "type": "card",
        },
        "metadata": params.get("metadata", {}),
        "payment_intent": charge_obj["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
