"""One customer across channels: linking codes for customers, one customer's view, merge and
split for agents. Identities are linked only on proof (bot/customers/identities.py).

The profile beside the log: agents record a customer's marketing opt-in or opt-out (with its
source) and fill in the shop's own fields, which admins define; admins read the profiles'
completeness and export the audience list (CSV or XLSX) of the customers who consented."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from openpyxl import Workbook
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.access.customer import CustomerAccess, bearer
from bot.access.ratelimit import RateLimiter
from bot.api.errors import ERROR_RESPONSES, error
from bot.api.fields import ID_PATTERN, ExactText, PlainText
from bot.conversation.store import Conversation, ConversationStore
from bot.customers.audience import audience
from bot.customers.consent import CONSENT_SOURCES, ConsentSource, MarketingConsents
from bot.customers.directory import DEFINITIONS, CustomerDirectory
from bot.customers.fields import (
    FIELD_KINDS,
    CustomField,
    CustomFields,
    FieldKind,
    FieldRefused,
)
from bot.customers.identities import (
    CustomerIdentities,
    LinkRefused,
    conversations_of,
    identity_of,
    is_identity,
    read_code,
)
from bot.customers.profile import completeness
from bot.reports.exports import csv_export, spreadsheet_row

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


class ContactPublic(BaseModel):
    kind: str = Field(description="email or phone")
    value: str
    verified: bool = Field(description="From a verified source, not only self-reported")
    source: str = Field(description="signed_customer_id, order_match or self_reported")


class ConsentPublic(BaseModel):
    consent: bool = Field(description="true: opted in to marketing messages; false: opted out")
    source: str = Field(
        description="Where the answer was given: "
        + ", ".join(CONSENT_SOURCES)
        + ", or privacy_request (a stop recorded on the customer's request)"
    )
    actor: str
    at: datetime
    note: str | None = None


class CustomFieldPublic(BaseModel):
    name: str
    label_zh: str
    label_en: str
    kind: str = Field(description="One of " + ", ".join(FIELD_KINDS))
    choices: list[str]
    wanted: bool = Field(description="Counted in profile completeness")


class FieldValuePublic(BaseModel):
    value: str
    updated_by: str
    updated_at: datetime


class CustomerView(BaseModel):
    customer: str | None = Field(description="kefu's customer id; null: linked to nothing")
    identities: list[str]
    channels: list[str]
    conversations: list[ConversationBrief] = Field(description="On every channel, newest first")
    history: list[IdentityEventPublic]
    profile: dict[str, Any] = Field(description="The profile's known fields")
    completeness: float | None = Field(
        description="Share of the wanted profile fields (KEFU_PROFILE__WANTED and the shop's "
        "own fields marked wanted) known for them"
    )
    wanted: list[str] = Field(description="The fields completeness counts")
    contacts: list[ContactPublic] = Field(description="Verified ones first")
    consent: ConsentPublic | None = Field(description="The latest answer; null: never asked")
    consent_history: list[ConsentPublic] = Field(
        description="Every opt-in and opt-out, oldest first"
    )
    contactable: bool = Field(description="Marketing may write to them (latest answer: opt-in)")
    custom_fields: list[CustomFieldPublic] = Field(description="The shop's own fields")
    field_values: dict[str, FieldValuePublic] = Field(description="By field name")


class FieldMissing(BaseModel):
    field: str
    customers: int = Field(description="Customers for whom the field is not known")


class FieldCoverage(BaseModel):
    field: str
    wanted: bool
    customers: int = Field(description="Customers for whom the field is known")
    share: float | None = Field(description="customers ÷ all customers")


class CompletenessReport(BaseModel):
    definition: str
    definitions: dict[str, dict[str, str]] = Field(description="zh and en, by number")
    channel: str | None
    wanted: list[str]
    customers: int
    mean: float | None = Field(description="profile_completeness: the mean over the customers")
    distribution: dict[str, int] = Field(description="Customers by completeness band")
    missing: list[FieldMissing] = Field(description="The wanted fields, most often missing first")
    fields: list[FieldCoverage] = Field(description="Every profile field and its coverage")


class ConsentCreate(BaseModel):
    consent: bool = Field(description="true: opt-in; false: opt-out")
    source: ConsentSource = Field(description="Where the customer said so")
    note: PlainText | None = Field(default=None, max_length=500)


class FieldCreate(BaseModel):
    name: ExactText = Field(max_length=64, description="a-z, 0-9 and _; a letter first")
    label_zh: PlainText = Field(min_length=1, max_length=120)
    label_en: PlainText = Field(min_length=1, max_length=120)
    kind: FieldKind
    choices: list[Annotated[str, Field(max_length=120)]] = Field(default=[], max_length=50)
    wanted: bool = Field(default=False, description="Count it in profile completeness")


class FieldSet(BaseModel):
    value: str | float | None = Field(description="null clears the field")


class MergeCreate(BaseModel):
    first: ExactText = Field(max_length=255, description="An identity: line:…, conversation:…")
    second: ExactText = Field(max_length=255, description="Another identity")
    reason: PlainText = Field(max_length=500, description="Why they are one customer")


class SplitCreate(BaseModel):
    identity: ExactText = Field(max_length=255, description="The identity to take out")
    reason: PlainText = Field(max_length=500, description="Why the merge was wrong")


COMPLETENESS_DEFINITION = DEFINITIONS["profile_completeness"]["en"]
FIELD_REFUSED_STATUS = {
    "invalid_field": 400,
    "invalid_value": 400,
    "unknown_field": 404,
    "field_exists": 409,
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


Authorization = Annotated[
    str | None, Header(description="`Bearer <customer_token>` from starting the conversation")
]
FieldName = Annotated[str, Path(max_length=64, pattern=ID_PATTERN, description="The field")]


AudienceTag = Annotated[str | None, Query(max_length=200, description="Only with this tag")]
AudienceChannel = Annotated[
    str | None, Query(max_length=40, description="Only customers who wrote on it")
]
Everyone = Annotated[
    bool, Query(description="List those who did not consent too (marked not contactable)")
]


def router(
    identities: CustomerIdentities,
    store: ConversationStore,
    accounts: Accounts,
    per_client: RateLimiter,
    directory: CustomerDirectory,
    access: CustomerAccess,
    consents: MarketingConsents | None = None,
    fields: CustomFields | None = None,
) -> APIRouter:
    from bot.api.auth import client_address, requires

    agent = Depends(requires(accounts, Role.AGENT))
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(tags=["customers"])

    def view(identity: str) -> CustomerView:
        record = directory.record(identity)
        customer = record.customer
        found = record.conversations
        wanted = directory.wanted()
        history = consents.history(customer.identities) if consents is not None else []
        return CustomerView(
            profile=record.profile.values,
            completeness=completeness(record.profile, wanted),
            wanted=wanted,
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
            contacts=[ContactPublic(**p.public()) for p in record.contacts],
            consent=_consent(record.consent),
            consent_history=[c for c in map(_consent, history) if c is not None],
            contactable=record.contactable,
            custom_fields=[
                CustomFieldPublic(**f.public()) for f in (fields.definitions() if fields else [])
            ],
            field_values={
                name: FieldValuePublic(
                    value=v.value, updated_by=v.updated_by, updated_at=v.updated_at
                )
                for name, v in record.fields.items()
            },
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

    def field_refused(problem: FieldRefused) -> JSONResponse:
        return error(FIELD_REFUSED_STATUS.get(problem.code, 400), problem.code, str(problem))

    def known(identity: str) -> JSONResponse | None:
        """None when the identity has a conversation, else the 404 to answer."""
        if is_identity(identity) and conversations_of(store, (identity,)):
            return None
        return refused(LinkRefused("unknown_identity", f"no conversation of {identity!r}"))

    def unavailable(what: str) -> JSONResponse:
        return error(503, "not_available", f"{what} needs the SQL conversation store")

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
    def completeness_report(
        channel: Annotated[
            str | None, Query(max_length=40, description="Only customers who wrote on it")
        ] = None,
        _: User = admin,
    ) -> CompletenessReport:
        """profile_completeness over every customer: the mean, its spread, the wanted fields
        most often missing, and the share of customers who have each profile field."""
        found = directory.coverage_dict(channel or None)
        profile = found["profile"]
        return CompletenessReport(
            definition=COMPLETENESS_DEFINITION,
            definitions=DEFINITIONS,
            channel=channel or None,
            wanted=profile["wanted"],
            customers=profile["customers"],
            mean=found["profile_completeness"],
            distribution=profile["distribution"],
            missing=[FieldMissing(**m) for m in profile["missing"]],
            fields=[FieldCoverage(**f) for f in profile["fields"]],
        )

    @api.post(
        "/api/agent/customers/{identity}/consent",
        status_code=201,
        response_model=CustomerView,
        responses=ERROR_RESPONSES,
    )
    def record_consent(identity: Identity, body: ConsentCreate, user: User = agent) -> Response:
        """Record the customer's opt-in or opt-out of marketing messages, with where they gave
        it; the latest answer counts (the audience export lists only those who opted in)."""
        if consents is None:
            return unavailable("consent")
        problem = known(identity)
        if problem is not None:
            return problem
        consents.record(identity, body.consent, body.source, f"agent:{user.username}", body.note)
        return JSONResponse(view(identity).model_dump(mode="json"), status_code=201)

    @api.get(
        "/api/agent/custom-fields",
        response_model=list[CustomFieldPublic],
        responses=ERROR_RESPONSES,
    )
    def list_fields(_: User = agent) -> list[CustomFieldPublic]:
        """The shop's own profile fields."""
        return [CustomFieldPublic(**f.public()) for f in (fields.definitions() if fields else [])]

    @api.put(
        "/api/agent/customers/{identity}/fields/{name}",
        response_model=CustomerView,
        responses=ERROR_RESPONSES,
    )
    def set_field(
        identity: Identity, name: FieldName, body: FieldSet, user: User = agent
    ) -> Response:
        """Fill in (or, with null, clear) one of the shop's fields for the customer: a number,
        an ISO date, one of a choice field's choices, or text. 400 invalid_value otherwise."""
        if fields is None:
            return unavailable("custom fields")
        problem = known(identity)
        if problem is not None:
            return problem
        try:
            fields.set(identity, name, body.value, user.username)
        except FieldRefused as refusal:
            return field_refused(refusal)
        return JSONResponse(view(identity).model_dump(mode="json"))

    @api.post(
        "/api/admin/custom-fields",
        status_code=201,
        response_model=CustomFieldPublic,
        responses=ERROR_RESPONSES,
    )
    def define_field(body: FieldCreate, request: Request, user: User = admin) -> Response:
        """Define a profile field of the shop's own (text, number, date or choice)."""
        if fields is None:
            return unavailable("custom fields")
        try:
            made = fields.define(
                CustomField(
                    body.name, body.label_zh, body.label_en, body.kind, body.choices, body.wanted
                ),
                user.username,
            )
        except FieldRefused as refusal:
            return field_refused(refusal)
        request.state.audit_target = made.name
        return JSONResponse(CustomFieldPublic(**made.public()).model_dump(), status_code=201)

    @api.delete("/api/admin/custom-fields/{name}", status_code=204, responses=ERROR_RESPONSES)
    def remove_field(name: FieldName, _: User = admin) -> Response:
        """Remove a field of the shop's own, with every customer's value of it."""
        if fields is None:
            return unavailable("custom fields")
        try:
            fields.remove(name)
        except FieldRefused as refusal:
            return field_refused(refusal)
        return Response(status_code=204)

    def audience_of(
        tag: str | None, channel: str | None, everyone: bool
    ) -> tuple[list[str], list[list[Any]]]:
        own = fields.definitions() if fields is not None else []
        return audience(
            directory.everyone(channel or None), own, tag=tag or None, everyone=everyone
        )

    @api.get(
        "/api/admin/audience.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}, **ERROR_RESPONSES},
    )
    def audience_csv(
        tag: AudienceTag = None,
        channel: AudienceChannel = None,
        everyone: Everyone = False,
        _: User = admin,
    ) -> Response:
        """The audience list: customers who opted in to marketing (all with everyone=true),
        with contact points (verified or not), channels, tags, consent and the shop's fields."""
        header, rows = audience_of(tag, channel, everyone)
        return Response(
            csv_export(header, rows, mask=False),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="kefu-audience.csv"'},
        )

    @api.get(
        "/api/admin/audience.xlsx",
        response_class=Response,
        responses={200: {"content": {XLSX: {}}}, **ERROR_RESPONSES},
    )
    def audience_xlsx(
        tag: AudienceTag = None,
        channel: AudienceChannel = None,
        everyone: Everyone = False,
        _: User = admin,
    ) -> Response:
        """The audience list as an Excel file (see audience.csv)."""
        header, rows = audience_of(tag, channel, everyone)
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "audience"
        sheet.append(spreadsheet_row(header))
        for row in rows:
            sheet.append(spreadsheet_row(row, mask=False))
        out = io.BytesIO()
        book.save(out)
        return Response(
            out.getvalue(),
            media_type=XLSX,
            headers={"content-disposition": 'attachment; filename="kefu-audience.xlsx"'},
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


def _consent(found: Any) -> ConsentPublic | None:
    if found is None:
        return None
    return ConsentPublic(
        consent=found.consent, source=found.source, actor=found.actor, at=found.at, note=found.note
    )
