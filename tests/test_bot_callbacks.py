"""Button payloads: every button of every shipped flow fits Telegram's 64 bytes; forgeries fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.questionnaire.flow import (
    CALLBACK_DATA_MAX,
    CALLBACK_RESERVED,
    ENGINE_CHOICE_IDS,
    callback_bytes,
)
from handlers.callbacks import OVERHEAD, Callback, CallbackError, Op, decode, encode, new_nonce
from tests.bot_support import shipped_flow

ids = st.from_regex(r"[a-z][a-z0-9_]{0,40}", fullmatch=True)


def test_overhead_stays_within_what_the_flow_rules_reserve() -> None:
    assert OVERHEAD <= CALLBACK_RESERVED


def test_every_button_of_the_shipped_flow_fits_and_round_trips() -> None:
    nonce = new_nonce()
    flow = shipped_flow()
    for question in flow.questions:
        for cid in [*question.choices, *ENGINE_CHOICE_IDS]:
            data = encode(Op.CHOOSE, nonce, question.id, cid)
            assert len(data.encode()) <= CALLBACK_DATA_MAX
            assert decode(data) == Callback(Op.CHOOSE, nonce, question.id, cid)


@given(qid=ids, cid=ids)
def test_any_ids_the_flow_rules_allow_fit_in_callback_data(qid: str, cid: str) -> None:
    if callback_bytes(qid, cid) > CALLBACK_DATA_MAX:
        return
    data = encode(Op.CHOOSE, "abc", qid, cid)
    assert len(data.encode()) <= CALLBACK_DATA_MAX
    assert decode(data) == Callback(Op.CHOOSE, "abc", qid, cid)


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "c",
        "cab",  # nonce too short
        "Zabc",  # unknown action
        "cabc:q1",  # a choice without its id
        "babc",  # back without its question
        "xabc:q1",  # exit takes no question
        "babc:q1:c1",  # only a choice carries a choice id
        "cabc:Q1:c1",  # ids are lowercase
        "cabc:q1:c1:extra",
        "cab\u00e9:q1:c1",
        "cabc:q1:c1\n",
        "c" + "a" * 70,
        "cabc:" + "q" * 61,
    ],
)
def test_payloads_this_bot_never_made_are_rejected(forged: str) -> None:
    with pytest.raises(CallbackError):
        decode(forged)


def test_nonces_differ_between_conversations() -> None:
    assert len({new_nonce() for _ in range(200)}) > 190


def test_a_choice_needs_its_question() -> None:
    with pytest.raises(CallbackError):
        Callback(Op.CHOOSE, "abc", "", "x").encode()
