"""Typed request and response models (the OpenAPI 3.1 document is generated from them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from payment_api.jsonbody import FloatLiteral
from payment_api.problems import ProblemError

Currency = Literal["USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "NZD", "SGD"]
CURRENCIES: tuple[str, ...] = get_args(Currency)
ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_AMOUNT = 99_999_999

Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT, strict=True, description="minor units (cents), a JSON integer")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")]


class PaymentCreate(BaseModel):
    """Body of ``POST /v1/payments`` (unknown fields refused)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    amount: Amount
    currency: Currency
    payment_method: Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,64}$")]
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    customer_email: Email | None = None


class RefundCreate(BaseModel):
    """Body of ``POST /v1/payments/{id}/refunds``: no amount means the refundable remainder."""

    model_config = ConfigDict(extra="forbid", strict=True)

    amount: Amount | None = None
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"]


class Card(BaseModel):
    """What the processor tells about the card: never more than brand and last four digits."""

    brand: str
    last4: str


class Payment(BaseModel):
    """A payment's public view (``customer_email`` is stored, never returned)."""

    id: str
    status: Literal["processing", "requires_action", "succeeded", "failed"]
    amount: int
    currency: str
    amount_refunded: int
    description: str | None
    card: Card | None
    failure_code: str | None
    created_at: str


class PaymentCreated(Payment):
    """The ``201`` of ``POST /v1/payments``: the payment and, only when it is ``requires_action`` (Stripe's 3-D
    Secure), the intent's ``client_secret`` the checkout completes the authentication with (never in a GET)."""

    client_secret: str | None = Field(
        default=None,
        description=(
            "Present only when status is requires_action: the PaymentIntent's client secret for Stripe.js "
            "(confirmCardPayment). Stored with the answer and replayed; never returned by GET."
        ),
    )


class Refund(BaseModel):
    """A refund: ``pending`` while the processor call is in flight (and after a processor timeout, until the retry or
    the reconciler finishes it), then ``succeeded`` or ``failed``."""

    id: str
    payment_id: str
    amount: int
    status: Literal["pending", "succeeded", "failed"]
    reason: str
    created_by: str | None = Field(
        description=(
            "The operator who made the refund: the full ARN of their operator-role session "
            "(arn:aws:sts::<account>:assumed-role/<role>/<session>), or local:<name> for a local operator; null for "
            "refunds made before the service recorded it."
        )
    )
    created_at: str


class RefundList(BaseModel):
    """``GET /v1/payments/{id}/refunds``, newest first."""

    data: list[Refund]
    has_more: bool


Base64 = Annotated[str, StringConstraints(max_length=16384, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]


class OperatorProof(BaseModel):
    """Body of ``POST /v1/operator-tokens``: a SigV4-signed ``sts:GetCallerIdentity`` POST, in the form Vault's AWS
    auth uses (the URL, the headers as a JSON object and the body, each base64)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    iam_http_request_method: Literal["POST"]
    iam_request_url: Base64 = Field(description="base64 of the signed URL: https://sts.<region>.amazonaws.com/")
    iam_request_headers: Base64 = Field(
        description="base64 of a JSON object: header name to a string or a list of strings (Authorization, Host, "
        "X-Amz-Date, X-Amz-Security-Token, Content-Type as signed)"
    )
    iam_request_body: Base64 = Field(description="base64 of Action=GetCallerIdentity&Version=2011-06-15")


class OperatorToken(BaseModel):
    """An operator token: ``Authorization: Bearer <token>`` on the operator routes until ``expires_at`` (at most an
    hour), naming one operator."""

    token: str
    expires_at: str
    operator: str = Field(description="The full ARN of the operator-role session (created_by of their refunds).")
    operator_user_id: str = Field(description="STS's UserId of the session: <role id>:<session name>.")


class FieldError(BaseModel):
    """One line of a validation failure: the field at fault (dotted path) and why, never the value sent."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details with the contract's ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


def validate(model: type[ModelT], body: Any) -> ModelT:
    """Validate a parsed body; errors name the field and never quote the value."""
    if not isinstance(body, dict):
        raise ProblemError(
            "validation_failed",
            "The body must be a JSON object.",
            [{"field": "body", "message": "must be a JSON object"}],
        )
    # A JSON number with a fraction or an exponent is parsed as a FloatLiteral, a str subclass, which strict mode
    # takes for a string: given as a float it is refused by every field, string fields included (a description of
    # 1.5 was stored as "1.5"; schemathesis found it). Only the top level: no field holds an object or an array.
    fields = {name: float(value) if isinstance(value, FloatLiteral) else value for name, value in body.items()}
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        errors = [
            {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
            for item in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise ProblemError("validation_failed", "The request body is not valid.", errors) from error
