"""Courtesy around a question is taken off before search; the question itself stays."""

from __future__ import annotations

import pytest

from knowledge.courtesy import COURTESY, without_courtesy


@pytest.mark.parametrize(
    ("asked", "core"),
    [
        ("不好意思，退款什麼時候會到？麻煩了", "退款什麼時候會到？"),
        ("不好意思，請問退貨要幾天內申請", "退貨要幾天內申請"),
        ("您好～想請問運費多少", "運費多少"),
        ("退貨運費要自己出嗎？麻煩了，謝謝", "退貨運費要自己出嗎？"),
        ("Hi, sorry to bother you, can I return this? Thanks!", "can I return this?"),
        ("hello how long does shipping take please", "how long does shipping take"),
        ("退款多久會入帳", "退款多久會入帳"),
    ],
)
def test_the_courtesy_around_a_question_is_taken_off(asked: str, core: str) -> None:
    assert without_courtesy(asked) == core


@pytest.mark.parametrize("text", ["謝謝", "不好意思", "thanks!", "Hi"])
def test_a_message_of_courtesy_alone_is_kept(text: str) -> None:
    assert without_courtesy(text) == text


def test_courtesy_inside_the_question_stays() -> None:
    # only what opens and closes the message goes; "please" inside is part of the request
    assert without_courtesy("can you please cancel my order") == "can you please cancel my order"
    assert COURTESY.search("can you please cancel my order")


@pytest.mark.parametrize(
    ("asked", "core"),
    [
        ("想問一下退貨要幾天內申請", "退貨要幾天內申請"),
        ("請教一下，運費多少", "運費多少"),
        ("我想問可以刷卡嗎", "可以刷卡嗎"),
        ("訂單要怎麼取消？不好意思", "訂單要怎麼取消？"),
        ("hi quick question, do you ship to Japan?", "do you ship to Japan?"),
    ],
)
def test_fillers_that_only_announce_a_question_are_taken_off(asked: str, core: str) -> None:
    assert without_courtesy(asked) == core
