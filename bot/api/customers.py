"""One customer across channels: linking codes for customers, one customer's view, merge and
split for agents. Identities are linked only on proof (bot/customers/identities.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.access.customer import CustomerAccess, bearer
from bot.access.ratelimit import RateLimiter
from bot.api.errors import ERROR_RESPONSES, error
from bot.api.fields import ID_PATTERN, ExactText, PlainText
from bot.conversation.store import Conversation, ConversationStore
from bot.customers.corrections import CustomerCorrections
from bot.customers.identities import (
    CustomerIdentities,
    LinkRefused,
    conversations_of,
    identity_of,
    is_identity,
    read_code,
)
from bot.customers.profile import Profile, build_profile, completeness, summarize
from bot.reports.tags import TagSettings

ConversationId = Annotated[
    str, Path(description="The conversation's id", max_length=64, pattern=ID_PATTERN)
]
REFUSED_STATUS = {
    "wrong_code": 400,
    "no_reason": 400,
    "unknown_identity": 404,
    "same_customer": 409,
    "too_many_tries": 429,
}
Identity = Annotated[
    str,
    Path(
        max_length=255,
        pattern=ID_PATTERN,
        description="line:<user id>, messenger:<page-scoped id> or conversation:<id>",
    ),
]


class LinkCode(BaseModel):
    code: str = Field(description="The code to type in the other channel: KF- and 6 digits")
    expires_at: datetime


class LinkCreate(BaseModel):
    code: ExactText = Field(
        max_length=20, description="A code issued in another channel (KF-123456)"
    )


class Linked(BaseModel):
    linked: bool


class ConversationBrief(BaseModel):
    id: str
    channel: str
    status: str
    created_at: datetime
    updated_at: datetime


class IdentityEventPublic(BaseModel):
    at: datetime
    kind: str = Field(description="linked (one-time code), merged or split (an agent)")
    identity: str
    other: str | None
    proof: str
    actor: str
    reason: str | None


class CustomerView(BaseModel):
    customer: str | None = Field(description="kefu's customer id; null: linked to nothing")
    identities: list[str]
    channels: list[str]
    conversations: list[ConversationBrief] = Field(description="On every channel, newest first")
    history: list[IdentityEventPublic]
    profile: dict[str, Any] = Field(description="The profile's known fields")
    completeness: float | None = Field(
        description="Share of the wanted profile fields (KEFU_PROFILE__WANTED) known for them"
    )


class FieldMissing(BaseModel):
    field: str
    customers: int = Field(description="Customers for whom the field is not known")


class CompletenessReport(BaseModel):
    definition: str
    wanted: list[str]
    customers: int
    mean: float | None = Field(description="profile_completeness: the mean over the customers")
    distribution: dict[str, int] = Field(description="Customers by completeness band")
    missing: list[FieldMissing] = Field(description="The wanted fields, most often missing first")


class MergeCreate(BaseModel):
    first: ExactText = Field(max_length=255, description="An identity: line:…, conversation:…")
    second: ExactText = Field(max_length=255, description="Another identity")
    reason: PlainText = Field(max_length=500, description="Why they are one customer")


class SplitCreate(BaseModel):
    identity: ExactText = Field(max_length=255, description="The identity to take out")
    reason: PlainText = Field(max_length=500, description="Why the merge was wrong")


COMPLETENESS_DEFINITION = (
    "Profile completeness: for each customer (identities linked into one count once), the share "
    "of the wanted profile fields that are known; the mean over every customer with a "
    "conversation."
)


Authorization = Annotated[
    str | None, Header(description="`Bearer <customer_token>` from starting the conversation")
]


def router(
    identities: CustomerIdentities,
    store: ConversationStore,
    accounts: Accounts,
    per_client: RateLimiter,
    names: Callable[[str], str | None],
    tags: TagSettings,
    wanted: list[str],
    access: CustomerAccess,
    corrections: CustomerCorrections | None = None,
) -> APIRouter:
    from bot.api.auth import client_address, requires

    agent = Depends(requires(accounts, Role.AGENT))
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(tags=["customers"])

    def profile_of(identity_list: tuple[str, ...], found: list[Any]) -> Profile:
        ids = [c.customer_id for c in found if c.customer_id]
        corrected = corrections.latest_of(ids) if corrections is not None else None
        return build_profile(
            found,
            store.events,
            {i: names(i) for i in identity_list},
            tags,
            corrected.profile_values() if corrected is not None else None,
        )

    def view(identity: str) -> CustomerView:
        customer = identities.customer(identity)
        found = conversations_of(store, customer.identities)
        profile = profile_of(customer.identities, found)
        return CustomerView(
            profile=profile.values,
            completeness=completeness(profile, wanted),
            customer=customer.key,
            identities=list(customer.identities),
            channels=sorted({c.channel for c in found}),
            conversations=[
                ConversationBrief(
                    id=c.id,
                    channel=c.channel,
                    status=c.status.value,
                    created_at=c.created_at,
                    updated_at=c.updated_at,
                )
                for c in found
            ],
            history=[
                IdentityEventPublic(
                    at=e.at,
                    kind=e.kind,
                    identity=e.identity,
                    other=e.other,
                    proof=e.proof,
                    actor=e.actor,
                    reason=e.reason,
                )
                for e in identities.history(customer.identities)
            ],
        )

    def opened(conversation_id: str, authorization: str | None) -> Conversation:
        conversation = store.get(conversation_id)
        access.check(conversation, bearer(authorization))
        return conversation

    def refused(problem: LinkRefused) -> JSONResponse:
        response = error(REFUSED_STATUS.get(problem.code, 400), problem.code, str(problem))
        if problem.retry_after_s is not None:
            response.headers["Retry-After"] = str(problem.retry_after_s)
        return response

    @api.post(
        "/api/conversations/{conversation_id}/link-code",
        status_code=201,
        response_model=LinkCode,
        responses=ERROR_RESPONSES,
    )
    def issue(
        conversation_id: ConversationId, request: Request, authorization: Authorization = None
    ) -> LinkCode:
        """A one-time code (10 minutes) to type in another channel (LINE, Messenger): the two
        become one customer, so that agents see all their conversations together. Only the
        customer holding the conversation's token may ask (else 404, as if unknown)."""
        per_client.hit("client", client_address(request))
        issued = identities.issue_code(identity_of(opened(conversation_id, authorization)))
        return LinkCode(code=issued.code, expires_at=issued.expires_at)

    @api.post(
        "/api/conversations/{conversation_id}/link",
        response_model=Linked,
        responses=ERROR_RESPONSES,
    )
    def link(
        conversation_id: ConversationId,
        body: LinkCreate,
        request: Request,
        authorization: Authorization = None,
    ) -> Response:
        """Type a code issued in another channel: 400 wrong_code when it is unknown, used or
        expired; 429 too_many_tries after 5 tries in 10 minutes. The customer's token is
        required, as on every customer route."""
        per_client.hit("client", client_address(request))
        identity = identity_of(opened(conversation_id, authorization))
        digits = read_code(body.code)
        if digits is None:
            return refused(LinkRefused("wrong_code", "not a linking code (KF-123456)"))
        try:
            identities.redeem(identity, digits)
        except LinkRefused as problem:
            return refused(problem)
        return JSONResponse(Linked(linked=True).model_dump())

    @api.get(
        "/api/agent/customers/{identity}", response_model=CustomerView, responses=ERROR_RESPONSES
    )
    def customer(identity: Identity, _: User = agent) -> CustomerView:
        """One customer: their identities, their conversations on every channel, and the
        history of links, merges and splits."""
        return view(identity)

    @api.get(
        "/api/agent/conversations/{conversation_id}/customer",
        response_model=CustomerView,
        responses=ERROR_RESPONSES,
    )
    def customer_of_conversation(conversation_id: ConversationId, _: User = agent) -> CustomerView:
        """The customer a conversation belongs to (see /api/agent/customers/{identity})."""
        return view(identity_of(store.get(conversation_id)))

    @api.get(
        "/api/admin/customers/completeness",
        response_model=CompletenessReport,
        responses=ERROR_RESPONSES,
    )
    def completeness_report(_: User = admin) -> CompletenessReport:
        """profile_completeness over every customer: the mean, its spread, and the wanted
        fields most often missing."""
        seen: set[str] = set()
        profiles: list[Profile] = []
        for conversation in store.conversations():
            customer = identities.customer(identity_of(conversation))
            if customer.identities[0] in seen:
                continue
            seen.update(customer.identities)
            profiles.append(
                profile_of(customer.identities, conversations_of(store, customer.identities))
            )
        summary = summarize(profiles, wanted)
        return CompletenessReport(
            definition=COMPLETENESS_DEFINITION,
            wanted=list(wanted),
            customers=summary.customers,
            mean=summary.mean,
            distribution=summary.distribution,
            missing=[FieldMissing(field=f, customers=n) for f, n in summary.missing],
        )

    @api.post("/api/agent/customers/merge", response_model=CustomerView, responses=ERROR_RESPONSES)
    def merge(body: MergeCreate, user: User = agent) -> Response:
        """Merge two identities into one customer, with a reason (recorded with the agent).
        404 unknown_identity when either has no conversation."""
        for identity in (body.first, body.second):
            if not is_identity(identity) or not conversations_of(store, (identity,)):
                return refused(LinkRefused("unknown_identity", f"no conversation of {identity!r}"))
        try:
            identities.merge(body.first, body.second, f"agent:{user.username}", body.reason)
        except LinkRefused as problem:
            return refused(problem)
        return JSONResponse(view(body.first).model_dump(mode="json"))

    @api.post("/api/agent/customers/split", response_model=CustomerView, responses=ERROR_RESPONSES)
    def split(body: SplitCreate, user: User = agent) -> Response:
        """Take an identity out of a wrong merge; returns the identity's own view."""
        try:
            identities.split(body.identity, f"agent:{user.username}", body.reason)
        except LinkRefused as problem:
            return refused(problem)
        return JSONResponse(view(body.identity).model_dump(mode="json"))

    return api
