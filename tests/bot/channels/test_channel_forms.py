"""What a channel sends, in its platform's form and within its limits: long texts split, at
most 5 messages per LINE call, buttons as quick replies; the events of a conversation told in
the customer's language; and a channel that is not set up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.channels.base import Action, Choice, Outgoing
from bot.channels.limits import split_text, units
from bot.channels.line import LineChannel
from bot.channels.messages import (
    ces_question,
    csat_question,
    outgoing,
    read_postback,
)
from bot.channels.settings import LineSettings
from bot.conversation.events import (
    AgentReplied,
    Citation,
    Recorded,
    StatusChanged,
    TurnClarifying,
)
from bot.conversation.status import ConversationStatus
from tests.bot.api.conftest import services_over
from tests.bot.channels.conftest import LINE_SECRET, LINE_TOKEN, line_body, line_text, post_line
from tests.bot.channels.platforms import FakeLine


def line_channel(fake: FakeLine) -> LineChannel:
    return LineChannel(
        LineSettings(
            channel_secret=LINE_SECRET, channel_access_token=LINE_TOKEN, api_base_url=fake.url
        )
    )


def test_a_long_text_and_many_messages_fit_lines_limits(fake_line: FakeLine) -> None:
    paragraph = "退貨須在收到商品後七天內提出申請，請保持商品完整並附上發票。" * 20
    long_text = "\n\n".join([paragraph] * 15)  # about 9,000 characters
    assert units(long_text) > 5000
    said = [Outgoing(long_text)] + [Outgoing(f"第 {n} 則") for n in range(1, 7)]
    said[-1] = Outgoing("最後一則", (Choice("轉接真人客服", Action.POSTBACK, "kefu:handoff"),))
    channel = line_channel(fake_line)
    try:
        delivery = channel.send("U1", said, reply_token="tok-1")
    finally:
        channel.close()
    assert (delivery.replied, delivery.pushed, delivery.failed) == (1, 1, 0)
    [reply] = fake_line.calls_to("/v2/bot/message/reply")
    [push] = fake_line.calls_to("/v2/bot/message/push")
    texts = fake_line.texts(reply) + fake_line.texts(push)
    assert len(fake_line.texts(reply)) == 5 and fake_line.problems == []
    assert all(units(t) <= 5000 for t in texts)
    parts = len(split_text(long_text, 5000))
    assert parts == 2
    assert "".join(texts[:parts]).replace("\n", "") == long_text.replace("\n", "")
    assert texts[parts:] == [f"第 {n} 則" for n in range(1, 6)] + ["最後一則"]
    # the button goes with the last message only
    assert all("quickReply" not in m for m in reply.body["messages"])
    assert fake_line.quick_replies(push)[0]["data"] == "kefu:handoff"


def test_split_text_cuts_at_sentences_and_keeps_everything() -> None:
    text = "短句一。" * 30 + "\n" + "Long sentence here. " * 40
    parts = split_text(text, 100)
    assert all(units(p) <= 100 for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert all(p.endswith(("。", ".")) for p in parts[:-1])
    emoji = split_text("😀" * 30, 11)  # an emoji is 2 units: never cut in half
    assert all(units(p) <= 11 for p in emoji) and "".join(emoji) == "😀" * 30


def clarifying(language: str, options: tuple[str, ...]) -> Recorded:
    turn = TurnClarifying(
        conversation_id="c1",
        question="運費",
        language=language,
        reply="請問您想問的是以下哪一個問題？"
        if language == "zh"
        else "Which of these did you mean?",
        reason="close_competitor",
        confidence=0.5,
        citations=(Citation("i1", "faq.xlsx", "sheet=運送;row=2", "…", title=options[0]),),
        options=options,
    )
    return Recorded(2, turn)


def test_clarifying_options_become_buttons_in_the_customers_language() -> None:
    options = ("運費怎麼計算？", "維修商品寄回的運費由誰負擔？這個選項的文字比二十個字還要長很多")
    [said] = outgoing("c1", [clarifying("zh", options)], "zh", lambda: None)
    assert "1. 運費怎麼計算？" in said.text and "2. 維修商品寄回" in said.text
    assert [c.action for c in said.choices] == [Action.SAY, Action.SAY, Action.POSTBACK]
    assert [c.value for c in said.choices[:2]] == list(options)
    assert said.choices[2].label == "轉接真人客服"
    [english] = outgoing(
        "c1", [clarifying("en", ("Shipping fee", "Repair postage"))], "en", lambda: None
    )
    assert "Tap a button below" in english.text
    assert english.choices[-1].label == "Talk to a person"


def test_agent_replies_resolution_and_survey_are_told() -> None:
    events = [
        Recorded(5, AgentReplied(conversation_id="c1", text="Hi!", agent="tom", agent_name="Tom")),
        Recorded(
            6,
            StatusChanged(
                conversation_id="c1",
                from_status=ConversationStatus.WITH_AGENT,
                to_status=ConversationStatus.RESOLVED,
                actor="agent:tom",
            ),
        ),
    ]
    reply, resolved, csat = outgoing("c1", events, "en", lambda: None)
    assert reply.text == "Tom (staff):\nHi!"
    assert "closed" in resolved.text
    assert [c.value for c in csat.choices] == [f"kefu:csat:c1:{n}" for n in range(1, 6)]
    assert csat == csat_question("c1", "en")
    assert read_postback("kefu:csat:c1:4") is not None
    assert read_postback("kefu:ces:c1:4:7").ces == 7  # type: ignore[union-attr]
    assert [c.value for c in ces_question("c1", 4, "zh").choices][-1] == "kefu:ces:c1:4:7"
    for forged in ("kefu:csat:c1:9", "kefu:ces:c1:4:0", "kefu:csat:c1:x", "other"):
        assert read_postback(forged) is None


def test_a_channel_that_is_not_set_up_answers_404(demo_data_dir: Path, tmp_path: Path) -> None:
    services: Iterator = services_over(demo_data_dir, tmp_path)
    built = next(services)
    try:
        with TestClient(create_app(built)) as client:
            body = line_body(line_text("退貨要怎麼申請？"))
            assert post_line(client, body).status_code == 404
            assert post_line(client, body).json()["code"] == "channel_off"
            check = client.get("/channels/messenger/webhook", params={"hub.mode": "subscribe"})
            assert check.status_code == 404
            assert client.post("/channels/messenger/webhook", content=b"{}").status_code == 404
    finally:
        built.close()
