"""Copies a person can read: everything held about a customer as one HTML page (for the
admin answering a request for a copy), and a customer's own conversation as plain text (for
the customer, from the widget).

Headings are in zh-TW and English side by side. Everything that comes from the log is
escaped: a message is text, never markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from bot.conversation.events import (
    AgentReplied,
    AgentSentImage,
    AgentsUnavailable,
    BotTurn,
    CustomerMessaged,
    CustomerSentImage,
    OfflineMessageLeft,
    Recorded,
)
from bot.conversation.store import Conversation

# (zh-TW, English) headings of the readable copy
HEADINGS: dict[str, tuple[str, str]] = {
    "title": ("個人資料副本", "Copy of personal data"),
    "customer": ("顧客", "Customer"),
    "exported_at": ("匯出時間", "Exported at"),
    "channels": ("管道", "Channels"),
    "tags": ("標籤", "Tags"),
    "profile": ("更正與行銷設定", "Corrections and marketing"),
    "surveys": ("滿意度調查", "Survey answers"),
    "conversations": ("對話", "Conversations"),
    "conversation": ("對話", "Conversation"),
    "status": ("狀態", "Status"),
    "created_at": ("開始", "Started"),
    "seq": ("序號", "Seq"),
    "at": ("時間", "Time"),
    "kind": ("種類", "Kind"),
    "data": ("內容", "Content"),
    "none": ("無", "None"),
    "pictures": ("圖片", "Pictures"),
    "picture": ("圖片", "Picture"),
}


def _heading(key: str) -> str:
    zh, en = HEADINGS[key]
    return escape(f"{zh} / {en}")


def _value(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return _heading("none")
    if isinstance(value, dict):  # one field a line; texts as they were written
        return "\n".join(
            f"{escape(str(k))}: {_value(v)}" for k, v in value.items() if v not in (None, "", [])
        )
    if isinstance(value, list):
        return escape(json.dumps(value, ensure_ascii=False, default=str))
    return escape(str(value))


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{_heading(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_value(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def export_html(held: Mapping[str, Any]) -> str:
    """The export (`CustomerData.export`) as a standalone HTML page."""
    parts = [
        "<!doctype html>",
        '<html lang="zh-Hant"><head><meta charset="utf-8">',
        f"<title>{_heading('title')}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}"
        "td{white-space:pre-wrap}</style></head><body>",
        f"<h1>{_heading('title')}</h1>",
        "<dl>",
        f"<dt>{_heading('customer')}</dt><dd>{_value(held.get('customer_id'))}</dd>",
        f"<dt>{_heading('exported_at')}</dt><dd>{_value(held.get('exported_at'))}</dd>",
        f"<dt>{_heading('channels')}</dt><dd>{_value(', '.join(held.get('channels', [])))}</dd>",
        f"<dt>{_heading('tags')}</dt><dd>{_value(', '.join(held.get('tags', [])))}</dd>",
        "</dl>",
    ]
    if held.get("profile"):
        parts += [f"<h2>{_heading('profile')}</h2>", f"<pre>{_value(held['profile'])}</pre>"]
    surveys = held.get("survey_answers", [])
    parts.append(f"<h2>{_heading('surveys')}</h2>")
    parts.append(
        _table(
            ["conversation", "at", "data"],
            [[s.get("conversation_id"), s.get("at"), _survey(s)] for s in surveys],
        )
        if surveys
        else f"<p>{_heading('none')}</p>"
    )
    parts.append(f"<h2>{_heading('conversations')}</h2>")
    for conversation in held.get("conversations", []):
        parts.append(
            f"<h3>{_heading('conversation')} {_value(conversation.get('id'))}</h3>"
            f"<p>{_heading('channels')}: {_value(conversation.get('channel'))} · "
            f"{_heading('status')}: {_value(conversation.get('status'))} · "
            f"{_heading('created_at')}: {_value(conversation.get('created_at'))}</p>"
        )
        parts.append(
            _table(
                ["seq", "at", "kind", "data"],
                [[e["seq"], e["at"], e["kind"], e["data"]] for e in conversation["events"]],
            )
        )
        pictures = conversation.get("pictures") or []
        if pictures:
            parts.append(f"<h4>{_heading('pictures')}</h4>")
            parts.extend(_picture(p) for p in pictures)
    parts.append("</body></html>")
    return "\n".join(parts)


def _picture(picture: Mapping[str, Any]) -> str:
    """One picture of the copy, inline; its type is the one sniffed when it was taken."""
    kind = str(picture.get("content_type", ""))
    if kind not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
        return ""
    source = f"data:{kind};base64,{picture.get('base64', '')}"
    caption = f"#{picture.get('seq')} · {picture.get('at')} · {picture.get('sent_by')}"
    return (
        f'<figure><img src="{escape(source)}" alt="{_heading("picture")} {escape(caption)}" '
        f'style="max-width:480px"><figcaption>{escape(caption)}</figcaption></figure>'
    )


def _survey(answer: Mapping[str, Any]) -> dict[str, Any]:
    return {k: answer.get(k) for k in ("csat", "ces", "comment")}


# (zh-TW, English) names of who spoke, in the customer's copy
SPEAKERS = {
    "customer": ("您", "You"),
    "bot": ("AI 助理", "AI assistant"),
    "agent": ("客服人員", "Agent"),
    "offline": ("您的留言", "Your message"),
}


def _speaker(key: str, language: str, name: str | None = None) -> str:
    zh, en = SPEAKERS[key]
    said = zh if language.startswith("zh") else en
    return f"{said} {name}" if name else said


def _picture_line(content_type: str) -> str:
    return f"[圖片 / picture: {content_type}]"


def conversation_text(conversation: Conversation, events: Iterable[Recorded]) -> str:
    """What the customer saw in one conversation, as plain text: their messages, the bot's
    replies and the agents' replies, with times. Private events never appear."""
    language = conversation.language or "zh"
    title = "對話紀錄 / Conversation"
    lines = [f"{title} {conversation.id}", f"{conversation.created_at.isoformat()}", ""]
    for recorded in events:
        event = recorded.event
        if event.private:
            continue
        at = event.at.strftime("%Y-%m-%d %H:%M")
        if isinstance(event, CustomerMessaged):
            said = (_speaker("customer", language), event.text)
        elif isinstance(event, (BotTurn, AgentsUnavailable)):
            said = (_speaker("bot", language), event.reply)
        elif isinstance(event, AgentReplied):
            said = (_speaker("agent", language, event.agent_name), event.text)
        elif isinstance(event, OfflineMessageLeft):
            said = (_speaker("offline", language), event.text)
        elif isinstance(event, CustomerSentImage):
            said = (_speaker("customer", language), _picture_line(event.content_type))
        elif isinstance(event, AgentSentImage):
            said = (
                _speaker("agent", language, event.agent_name),
                _picture_line(event.content_type),
            )
        else:
            continue
        lines.append(f"[{at}] {said[0]}:")
        lines.extend(f"  {line}" for line in said[1].splitlines() or [""])
    return "\n".join(lines) + "\n"
