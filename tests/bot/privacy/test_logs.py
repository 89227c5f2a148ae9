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
    masking: None, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO):
        log.info('%s - "%s %s HTTP/1.1" %d', "1.2.3.4", "GET", "/api/search?q=0912345678", 200)
        logging.getLogger("bot").info("mail from amy.lin@gmail.com card 4111111111111111")
        logging.getLogger("bot").info("order %s shipped", "20263817131063")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == '1.2.3.4 - "GET /api/search?q=*******678 HTTP/1.1" 200'
    assert messages[1] == "mail from a***@gmail.com card ************1111"
    assert messages[2] == "order 20263817131063 shipped"


def test_without_masking_records_are_as_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("bot").info("call 0912345678")
    assert caplog.records[0].getMessage() == "call 0912345678"
