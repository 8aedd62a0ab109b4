"""A minimal useful report in a dozen taps (issue 14.1), through the real Application.

A hurried reporter: /start, the language, the intro, consent, the safety check, the first button
of each of the four most important questions (what happened, where, is it still going on, is
someone in danger now; "Done" after a multi-choice), then "send what I have". Every message typed
and every button pressed counts; at most 12 in all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.callbacks import Op
from storage.base import ReportState
from tests.bot_support import current_qid, running_bot, screen_callbacks, tap
from tests.botclient import ReporterClient

TAPS_MAX = 12
SUBSTANTIVE = ("what", "place", "ongoing", "danger")
LANGUAGE_BUTTON = {"ko": "조선말 (한국어)", "ru": "Русский"}


class Counted:
    """Counts every typed message and pressed button."""

    def __init__(self, client: ReporterClient) -> None:
        self.client = client
        self.actions: list[str] = []

    async def send(self, text: str) -> None:
        self.actions.append(f"type {text}")
        await self.client.send(text)

    async def click(self, label: str) -> None:
        self.actions.append(f"tap {label}")
        await self.client.click(label)

    async def first_choice(self) -> str:
        qid = current_qid(self.client)
        assert qid is not None
        choices = [cb for _, _, cb in screen_callbacks(self.client) if cb.op is Op.CHOOSE]
        self.actions.append(f"tap {qid}:{choices[0].cid}")
        await tap(self.client, Op.CHOOSE, qid, choices[0].cid)
        if current_qid(self.client) == qid:  # a multi-choice waits for "Done"
            ops = {cb.op for _, _, cb in screen_callbacks(self.client)}
            assert Op.DONE in ops, (qid, ops)
            self.actions.append(f"tap {qid}:done")
            await tap(self.client, Op.DONE, qid)
        return qid

    async def send_now(self) -> None:
        self.actions.append("tap send what I have")
        await tap(self.client, Op.SEND_NOW)


@pytest.mark.parametrize("lang", ["ko", "ru"])
async def test_a_minimal_useful_report_takes_at_most_twelve_taps_and_messages(
    tmp_path: Path, lang: str
) -> None:
    async with running_bot(tmp_path) as bot:
        reporter = Counted(bot.client(language_code=lang))
        await reporter.send("/start")
        await reporter.click(LANGUAGE_BUTTON[lang])
        answered: list[str] = []
        while len(answered) < len(SUBSTANTIVE):
            qid = await reporter.first_choice()  # intro, consent, alone, then the facts
            if qid in SUBSTANTIVE:
                answered.append(qid)
            assert len(reporter.actions) <= TAPS_MAX, reporter.actions
        assert answered == list(SUBSTANTIVE), "the four most important facts come first"
        await reporter.send_now()
        assert len(reporter.actions) <= TAPS_MAX, reporter.actions

        [report] = await bot.reports()
        assert report.state is ReportState.COMPLETE
        opened = bot.open(report)
        assert opened.answers["what"] == {"choices": ["unpaid"]}
        assert opened.answers["place"] == {"choice": "moscow"}
        assert opened.answers["ongoing"] == {"choice": "still"}
        assert opened.answers["danger"] == {"choice": "in_danger"}
        assert opened.answers["consent"] == {"consent": True}


async def test_send_what_i_have_is_on_every_prompt_after_consent_and_not_before(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        client = bot.client(language_code="ru")
        await client.send("/start")
        await client.click(LANGUAGE_BUTTON["ru"])
        seen = []
        for _ in range(12):
            qid = current_qid(client)
            ops = {cb.op for _, _, cb in screen_callbacks(client)}
            seen.append((qid, Op.SEND_NOW in ops))
            choices = [cb for _, _, cb in screen_callbacks(client) if cb.op is Op.CHOOSE]
            if choices:
                await tap(client, Op.CHOOSE, qid or "", choices[0].cid)
            else:
                await tap(client, Op.SKIP, qid or "")
        assert seen[0] == ("intro", False)
        assert seen[1] == ("consent", False)
        assert all(offered for _, offered in seen[2:]), seen
