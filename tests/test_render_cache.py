"""Keyboards built once (handlers.render): the same buttons from the cache as built fresh, and
nothing of a reporter's in a cache: no answer text, no marked choice, no id."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from bot.questionnaire.engine import Prompt
from bot.questionnaire.flow import Kind
from bot.questionnaire.kind import ChoiceView
from handlers.callbacks import Op, decode, encode
from handlers.render import SELECTED_MARK, Lru, Renderer
from handlers.telegram_calls import Keyboard
from tests.bot_support import running_bot, shipped_flow, shipped_ui, tap, walk

OTHER_WORDS = "CanaryOtherWordsQx"
MORE_TEXT = "CanaryMoreTextQx 임금을 받지 못했습니다"


def ongoing_prompt() -> Prompt:
    return Prompt(
        qid="ongoing",
        kind=Kind.SINGLE,
        prompt_id="ongoing.prompt",
        help_id=None,
        choices=tuple(ChoiceView(c, f"ongoing.{c}") for c in ("still", "stopped", "dont_know")),
        can_skip=True,
        can_back=True,
        selected=(),
        sub_step=None,
        max_length=None,
        min=None,
        max=None,
        step=4,
        total=20,
        can_send_now=True,
    )


def payloads(markup: Keyboard | None) -> list[str]:
    assert markup is not None
    return [b["callback_data"] for row in markup.buttons["inline_keyboard"] for b in row]


def test_a_screen_shown_again_comes_from_the_cache_and_another_nonce_only_changes_the_nonce() -> (
    None
):
    render = Renderer(shipped_flow(), shipped_ui())
    prompt = ongoing_prompt()
    first = render.prompt_screen("ru", "AbC", prompt)
    again = render.prompt_screen("ru", "AbC", replace(prompt, step=5))  # the text may differ
    assert first.markup is not None
    assert again.markup is not None
    shown, again_shown = first.markup.json, again.markup.json
    assert (again_shown, again_shown.form) == (shown, shown.form)
    assert (render.templates.hits, render.templates.misses) == (1, 1)
    other = render.prompt_screen("ru", "x_9", prompt)
    assert render.templates.hits == 2  # labels and layout reused, only the nonce spliced in
    fresh = Renderer(shipped_flow(), shipped_ui()).prompt_screen("ru", "x_9", prompt).markup
    assert other.markup is not None
    assert fresh is not None
    assert (other.markup.json, other.markup.json.form) == (fresh.json, fresh.json.form)
    assert other.markup.json == json.dumps(other.markup.buttons)
    assert other.markup.json.form == quote_plus(other.markup.json)
    for data in payloads(other.markup):
        callback = decode(data)
        assert callback.nonce == "x_9"
        assert data == encode(callback.op, "x_9", callback.qid, callback.cid)
    assert [decode(d).op for d in payloads(first.markup)][-2:] == [Op.BACK, Op.EXIT]


def test_a_marked_choice_is_shown_but_never_cached() -> None:
    render = Renderer(shipped_flow(), shipped_ui())
    prompt = replace(ongoing_prompt(), selected=("stopped",))
    screen = render.prompt_screen("ru", "AbC", prompt)
    assert screen.markup is not None
    labels = [b["text"] for row in screen.markup.buttons["inline_keyboard"] for b in row]
    assert sum(label.startswith(SELECTED_MARK) for label in labels) == 1
    assert len(render.templates) == 0
    assert len(render.layouts) == 0


def test_the_cache_forgets_the_least_recently_used_first() -> None:
    cache: Lru[str, int] = Lru(capacity=2)
    assert cache.get("a", lambda: 1) == 1
    assert cache.get("b", lambda: 2) == 2
    assert cache.get("a", lambda: 10) == 1  # a is now the most recent
    assert cache.get("c", lambda: 3) == 3  # b goes
    assert len(cache) == 2
    assert cache.get("b", lambda: 20) == 20
    assert cache.get("a", lambda: 30) == 30  # a went when b came back
    assert (cache.hits, cache.misses) == (1, 5)
    with pytest.raises(ValueError, match="capacity"):
        Lru[str, int](capacity=0)


async def test_no_answer_text_marked_choice_or_id_enters_a_cache_after_a_whole_report(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click("Русский")
        await tap(client, Op.CHOOSE, "intro", "continue")
        await walk(client, {}, stop_at="what")
        await tap(client, Op.CHOOSE, "what", "violence")
        await tap(client, Op.CHOOSE, "what", "other")
        await client.send(OTHER_WORDS)
        await tap(client, Op.DONE, "what")
        await walk(client, {"more": [("text", MORE_TEXT)]})
        shown = [str(c.params) for c in bot.telegram.calls if "reply_markup" in c.params]
        assert any(SELECTED_MARK in s for s in shown)  # a marked screen was shown
        assert any(OTHER_WORDS in s for s in shown)  # and the reporter's words, on the review
        assert any(MORE_TEXT in s for s in shown)
        payloads_shown = [data for _, _, data in client.buttons()]
        assert payloads_shown
        await tap(client, Op.SUBMIT)
        render = bot.runtime.renderer
        assert len(render.templates) > 0
        caches = (render.layouts, render.templates, render.choice_labels)
        kept = repr([cache.items() for cache in caches])
        for secret in (OTHER_WORDS, MORE_TEXT, SELECTED_MARK, str(client.person.user_id)):
            assert secret not in kept
            assert quote_plus(secret) not in kept  # nor in a template's quoted form
        for data in payloads_shown:  # a template waits for the nonce: it holds no payload whole
            assert data not in kept
