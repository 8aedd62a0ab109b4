"""``reportbot doctor`` checks cover mode (issue 15.2, 15.7): one precise line for each way a
deployment can give its cover away, and never a code in any line.

The installation and the fake Bot API are those of ``tests/test_doctor.py``: real keys, a real
database, ``getMe`` and the profile methods answering as Telegram would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.doctor import Report, Status, diagnose
from tests.bot_support import DURESS_CODE, ENTRY_CODE
from tests.test_doctor import DoctorApi, Install, _make_install

SECRET_PARTS = ("ENTRYCANARY", "DURESSCANARY", "Kvass", "lantern", "quiet", "аптека")


@pytest.fixture
async def install(tmp_path: Path) -> Install:
    return await _make_install(tmp_path)


def lines_of(report: Report) -> list[str]:
    lines = report.lines()
    for part in SECRET_PARTS:
        assert all(part.lower() not in line.lower() for line in lines), part
    return lines


def failed(report: Report, name: str) -> str:
    found = [c for c in report.checks if c.name == name and c.status is Status.FAIL]
    assert found, [c.line() for c in report.checks]
    return found[0].line()


async def test_a_deployment_with_the_cover_off_is_flagged(install: Install) -> None:
    report = await diagnose(install.settings(cover=False), quick=True)
    line = failed(report, "cover mode")
    assert "off" in line
    assert "REPORTBOT_COVER=true" in line
    assert not report.ok


async def test_the_cover_on_without_codes_is_flagged_as_a_refused_start(install: Install) -> None:
    report = await diagnose(install.settings(entry_codes=(), duress_codes=()), quick=True)
    line = failed(report, "cover mode")
    assert "refuses to start" in line
    assert "REPORTBOT_ENTRY_CODES" in line


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("Quiet 7",), "entry code 1 has 6 letters and digits, fewer than 10"),
        ((ENTRY_CODE, "аптека"), "entry code 2 finds phrases in the phrasebook"),
    ],
    ids=["short", "a-phrasebook-word"],
)
async def test_a_weak_entry_code_is_named_by_its_place_never_quoted(
    install: Install, codes: tuple[str, ...], expected: str
) -> None:
    report = await diagnose(install.settings(entry_codes=codes), quick=True)
    assert expected in failed(report, "cover codes")
    lines_of(report)


async def test_a_weak_duress_code_is_flagged_too(install: Install) -> None:
    report = await diagnose(install.settings(duress_codes=("Lantern",)), quick=True)
    assert "duress code 1 has 7 letters" in failed(report, "cover codes")
    lines_of(report)


async def test_good_codes_pass_and_say_how_many_work_as_a_link(install: Install) -> None:
    report = await diagnose(
        install.settings(entry_codes=(ENTRY_CODE, "붉은 별 열한개 봄날 아침")), quick=True
    )
    codes = next(c for c in report.checks if c.name == "cover codes")
    assert codes.status is Status.PASS
    assert "2 entry code(s), 1 of them usable as a t.me/<bot>?start= link" in codes.detail
    assert DURESS_CODE not in codes.detail
    lines_of(report)


async def test_a_bot_named_for_reporting_is_flagged(install: Install) -> None:
    api = DoctorApi(bot_name=("Report abuse", "ru_ko_phrases_bot"))
    report = await diagnose(install.settings(), quick=False, request=api)
    line = failed(report, "bot name")
    assert "report" in line
    assert "@BotFather" in line


async def test_an_at_username_for_reporting_is_flagged(install: Install) -> None:
    api = DoctorApi(bot_name=("Разговорник", "worker_report_bot"))
    assert "report" in failed(
        await diagnose(install.settings(), quick=False, request=api), "bot name"
    )


async def test_profile_texts_not_published_are_flagged_per_language(install: Install) -> None:
    api = DoctorApi(
        profile={
            ("getMyDescription", "ru"): {"description": ""},
            ("getMyCommands", ""): [{"command": "start", "description": "Begin"}],
        }
    )
    report = await diagnose(install.settings(), quick=False, request=api)
    line = failed(report, "bot profile")
    assert "description (ru)" in line
    assert "commands (default)" in line
    assert "reportbot run" in line
    assert {"getMyCommands", "getMyDescription", "getMyShortDescription"} <= set(api.seen)


async def test_with_the_cover_off_the_profile_is_not_asked_for(install: Install) -> None:
    api = DoctorApi()
    report = await diagnose(install.settings(cover=False), quick=False, request=api)
    assert "getMyDescription" not in api.seen
    assert [c.name for c in report.checks if c.failed] == ["cover mode"]
