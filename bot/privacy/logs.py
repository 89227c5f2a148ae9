"""Application logs without personal data: every log record's message is masked as exports
are (bot/privacy/redaction.py), whichever library logs it (uvicorn's access log writes the
query string of each request, where a search may hold a phone number)."""

from __future__ import annotations

import logging
from typing import Any

from bot.privacy.redaction import mask_personal

_installed: list[Any] = []


def install_log_masking() -> None:
    """Mask the personal numbers of every log record made from now on (once per process)."""
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a malformed record is logging's to report, as it is
        cleaned = mask_personal(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    _installed.append(make_record)
    logging.setLogRecordFactory(masked_record)


def uninstall_log_masking() -> None:
    if _installed:
        logging.setLogRecordFactory(_installed.pop())
