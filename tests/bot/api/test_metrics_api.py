"""GET /api/metrics on the real app: periods, bad dates, and the numbers of scripted
conversations, worked out here from what the script did."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.bot.api.conftest import ANSWERED, REFUSED, send, start
from tests.customer_tokens import as_customer


@pytest.fixture
def client(admin: TestClient) -> TestClient:
    """The metrics are the business's numbers: only an admin reads them."""
    return admin


def test_metrics_are_for_admins_only(services) -> None:
    from bot.app import create_app

    with as_customer(TestClient(create_app(services))) as anonymous:
        refused = anonymous.get("/api/metrics")
        assert refused.status_code == 401 and refused.json()["code"] == "not_logged_in"
        services.accounts.add("mei", "correct horse battery", "agent", "美玲")
        anonymous.post(
            "/api/auth/login", json={"username": "mei", "password": "correct horse battery"}
        )
        forbidden = anonymous.get("/api/metrics")
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


RATES = (
    "deflection_rate",
    "handoff_rate",
    "resolution_confirmed_rate",
    "resolution_assumed_rate",
    "answered_rate",
    "clarifying_rate",
    "refusal_rate",
)


def around_today() -> dict[str, str]:
    """A period that holds everything the test does, even across midnight UTC."""
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


def metrics(client: TestClient, **params: str) -> dict:
    response = client.get("/api/metrics", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_period_with_no_data_counts_zero_and_has_no_rates(client: TestClient):
    start(client)  # today, not in the period asked for
    found = metrics(client, **{"from": "2020-01-01", "to": "2020-01-31"})
    # whole days in the shop's time zone (the opening hours': Asia/Taipei, UTC+8)
    assert found["from"] == "2019-12-31T16:00:00Z"
    assert found["to"] == "2020-01-31T16:00:00Z"  # the last day is included
    assert found["engaged_conversations"] == found["bot_turns"] == 0
    assert found["handed_off_conversations"] == found["refused_turns"] == 0
    for rate in RATES:
        assert found[rate] is None, rate
    assert found["first_response_time_seconds"] == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p90": None,
        "p95": None,
    }
    assert found["containment_by_topic"] == {}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-11-31"},
        {"from": "2026-11-02", "to": "2026-11-01"},  # to before from
        {"from": "2026-11-01T12:00:00", "to": "2026-11-01T08:00:00"},
    ],
)
def test_bad_periods_are_bad_requests(client: TestClient, params: dict[str, str]):
    response = client.get("/api/metrics", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert response.json()["message"]


def test_one_day_and_open_periods_are_fine(client: TestClient):
    day = str(date(2026, 11, 1))
    one = metrics(client, **{"from": day, "to": day})
    assert (one["from"], one["to"]) == ("2026-10-31T16:00:00Z", "2026-11-01T16:00:00Z")
    assert metrics(client)["from"] is None
    taipei = metrics(client, **{"from": "2026-11-01T08:00:00+08:00"})
    assert datetime.fromisoformat(taipei["from"]) == datetime(2026, 11, 1, tzinfo=UTC)


def test_the_numbers_of_a_scripted_day(client: TestClient):
    period = around_today()

    # 1. answered, and the customer says it helped
    happy = start(client)
    turn = send(client, happy, ANSWERED)
    assert turn["status"] == "answered"
    response = client.post(
        f"/api/conversations/{happy}/feedback", json={"helpful": True, "turn_seq": turn["turn_seq"]}
    )
    assert response.status_code == 201

    found = metrics(client, **period)
    assert found["engaged_conversations"] == 1
    assert found["resolution_confirmed_conversations"] == 1
    assert found["resolution_confirmed_rate"] == 1.0
    assert found["handoff_rate"] == 0.0 and found["deflection_rate"] == 1.0
    assert found["answered_rate"] == 1.0 and found["refusal_rate"] == 0.0

    # 2. refused, and the customer asks for a person
    stuck = start(client)
    refused = send(client, stuck, REFUSED)
    assert refused["status"] == "refused"
    assert client.post(f"/api/conversations/{stuck}/handoff").status_code in (200, 201)
    # 3. started but never written in: not engaged, counts nowhere
    start(client)

    engaged, handed_off, confirmed = 2, 1, 1
    turns = {"answered": 1, "refused": 1, "clarifying": 0}
    found = metrics(client, **period)
    assert found["engaged_conversations"] == engaged
    assert found["handed_off_conversations"] == handed_off
    assert found["handoff_rate"] == handed_off / engaged
    assert found["deflection_rate"] == (engaged - handed_off) / engaged
    assert found["handoffs_by_trigger"] == {"customer_request": 1}
    assert found["resolution_confirmed_rate"] == confirmed / engaged
    assert found["resolution_assumed_conversations"] == 0
    assert found["pending_conversations"] == 0  # one confirmed, one handed off
    assert found["bot_turns"] == sum(turns.values())
    assert found["answered_rate"] == turns["answered"] / sum(turns.values())
    assert found["refusal_rate"] == turns["refused"] / sum(turns.values())
    assert found["clarifying_rate"] == 0.0
    assert found["unanswered"]["top_refused_questions"] == [{"question": REFUSED, "count": 1}]
    assert found["first_response_time_seconds"]["count"] == engaged
    assert found["first_response_time_seconds"]["p50"] >= 0
    assert found["turn_latency_ms"]["count"] == sum(turns.values())
    by_topic = found["containment_by_topic"]
    assert sum(t["conversations"] for t in by_topic.values()) == engaged
    assert sum(t["handed_off_conversations"] for t in by_topic.values()) == handed_off
    assert by_topic["shop_faq.xlsx › 退換貨"]["containment_rate"] == 1.0

    # the same day seen from a period before it is empty
    past = metrics(client, **{"from": "2020-01-01", "to": "2020-01-02"})
    assert past["engaged_conversations"] == 0 and past["handoff_rate"] is None


def test_dashboard_days_are_taipei_days_around_midnight(client: TestClient, services) -> None:
    """Two conversations 20 minutes apart around midnight in Taipei (UTC+8): the same UTC day,
    two days of the shop's. The per-day counts and the period's whole days are the shop's."""
    from sqlalchemy import update

    from bot.conversation.sql import conversations, events

    moments = {
        datetime(2026, 11, 1, 15, 50, tzinfo=UTC): None,  # 23:50 on 1 November in Taipei
        datetime(2026, 11, 1, 16, 10, tzinfo=UTC): None,  # 00:10 on 2 November in Taipei
    }
    for at in moments:
        cid = start(client)
        send(client, cid, ANSWERED)
        with services.store.engine.begin() as conn:  # the conversation, moved back in time
            conn.execute(update(events).where(events.c.conversation_id == cid).values(at=at))
            conn.execute(
                update(conversations)
                .where(conversations.c.id == cid)
                .values(created_at=at, updated_at=at)
            )
    both_days = metrics(client, **{"from": "2026-11-01", "to": "2026-11-02"})
    assert both_days["conversations_per_day"] == [
        {"day": "2026-11-01", "conversations": 1},
        {"day": "2026-11-02", "conversations": 1},
    ]
    second = metrics(client, **{"from": "2026-11-02", "to": "2026-11-02"})
    assert second["engaged_conversations"] == 1
    assert second["conversations_per_day"] == [{"day": "2026-11-02", "conversations": 1}]
    behind = client.get(
        "/api/admin/conversations",
        params={"from": "2026-11-02", "to": "2026-11-02", "metric": "engaged"},
    )
    assert behind.status_code == 200, behind.text
    assert len(behind.json()["conversations"]) == 1
