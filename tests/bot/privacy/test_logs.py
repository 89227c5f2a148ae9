"""Log records are masked once serving has installed the masking: uvicorn-style access lines
and kefu's own."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.privacy.logs import install_log_masking, uninstall_log_masking


@pytest.fixture
def masking() -> Iterator[None]:
    install_log_masking()
    yield
    uninstall_log_masking()


def test_log_records_carry_no_personal_numbers(
    masking: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = logging.getLogger("uvicorn.access")
    # a uvicorn served earlier in this process configured its access log not to propagate
    monkeypatch.setattr(log, "propagate", True)
    monkeypatch.setattr(log, "disabled", False)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    with caplog.at_level(logging.INFO):
        log.info('%s - "%s %s HTTP/1.1" %d', "1.2.3.4", "GET", "/api/search?q=0912345678", 200)
        logging.getLogger("bot").info("mail from amy.lin@gmail.com card 4111111111111111")
        logging.getLogger("bot").info("order %s shipped", "20263817131063")
    messages = [r.getMessage() for r in caplog.records]
    assert '1.2.3.4 - "GET /api/search?q=*******678 HTTP/1.1" 200' in messages
    assert "mail from a***@gmail.com card ************1111" in messages
    assert "order 20263817131063 shipped" in messages
    said = " ".join(messages)
    assert "0912345678" not in said and "amy.lin" not in said and "4111111111111111" not in said


def test_without_masking_records_are_as_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("bot").info("call 0912345678")
    assert caplog.records[0].getMessage() == "call 0912345678"
