"""Cover mode (docs/cover.md): on, with entry codes that are hard to guess and that the
phrasebook does not contain; at Telegram, the bot's name fits the cover and its profile texts
(description, short description, command menu) are the phrasebook's in every language.

No line quotes a code: a weak one is named by its place in the list ("entry code 2")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.doctor.result import Check, fail, ok
from bot.ops.settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from telegram import Bot

    from bot.phrasebook.model import Phrasebook


def _load_book(settings: Settings) -> tuple[Phrasebook | None, str]:
    from bot.phrasebook.loader import load_phrasebook
    from bot.questionnaire.loader import FlowLoadError

    try:
        return load_phrasebook(settings.phrasebook_path, settings.locales_dir), ""
    except FlowLoadError as exc:
        return None, str(exc).splitlines()[0] if str(exc) else "cannot be loaded"


def check_cover(settings: Settings) -> list[Check]:
    """Cover mode on, the phrasebook loads, and every code is hard to guess."""
    name = "cover mode"
    if not settings.cover:
        return [
            fail(
                name,
                "off: the bot's chat, description and menu say what it is to anyone who looks "
                "at a reporter's phone",
                f"set {ENV_PREFIX}COVER=true and {ENV_PREFIX}ENTRY_CODES (docs/cover.md)",
            )
        ]
    if not settings.entry_codes:
        return [
            fail(
                name,
                "on, but no entry code is set: `reportbot run` refuses to start",
                f"set {ENV_PREFIX}ENTRY_CODES, words or phrases separated by commas "
                "(docs/cover.md)",
            )
        ]
    book, problem = _load_book(settings)
    if book is None:
        return [
            fail(
                "phrasebook",
                problem,
                f"run `reportbot flows check {settings.phrasebook_path}` and correct what it names",
            )
        ]
    checks = [
        ok(name, "on: outside a report the bot is a phrasebook"),
        ok("phrasebook", f"{len(book.spec.topics)} topics, {book.phrase_count} phrases"),
    ]
    checks.append(_codes_check(settings, book))
    return checks


def _codes_check(settings: Settings, book: Phrasebook) -> Check:
    from bot.phrasebook.codes import CODE_MIN_CHARS, code_problems, deep_link_payload

    problems: list[str] = []
    for kind, codes in (
        ("entry code", settings.entry_codes),
        ("duress code", settings.duress_codes),
    ):
        for n, code in enumerate(codes, start=1):
            problems += [f"{kind} {n} {p}" for p in code_problems(code.get_secret_value(), book)]
    if problems:
        return fail(
            "cover codes",
            "; ".join(problems),
            f"choose codes of at least {CODE_MIN_CHARS} letters and digits that the phrasebook "
            f"does not contain, in {ENV_PREFIX}ENTRY_CODES and {ENV_PREFIX}DURESS_CODES; keep "
            "the old entry code beside the new one while people learn it (docs/cover.md)",
        )
    links = sum(1 for code in settings.entry_codes if deep_link_payload(code.get_secret_value()))
    return ok(
        "cover codes",
        f"{len(settings.entry_codes)} entry code(s), {links} of them usable as a "
        f"t.me/<bot>?start= link; {len(settings.duress_codes)} duress code(s)",
    )


def expected_profile(book: Phrasebook, lang: str) -> tuple[list[tuple[str, str]], str, str]:
    """What ``reportbot run`` publishes in ``lang`` in cover mode: the command menu (name,
    description), the description and the short description."""
    from bot.phrasebook.model import COMMAND_IDS

    commands = [(tid.removeprefix("pb.command."), book.text(lang, tid)) for tid in COMMAND_IDS]
    return (
        commands,
        book.text(lang, "pb.bot.description"),
        book.text(lang, "pb.bot.short_description"),
    )


async def profile_checks(settings: Settings, bot: Bot) -> list[Check]:
    """At Telegram: the bot's name and @username hold no forbidden word, and its profile texts
    are the phrasebook's in every offered language (and for every other)."""
    from telegram.error import TelegramError

    from bot.phrasebook.loader import read_forbidden
    from bot.questionnaire.flow import LANGUAGES
    from bot.questionnaire.loader import FlowLoadError

    if not settings.cover:
        return []
    book, _ = _load_book(settings)
    try:
        forbidden = read_forbidden(settings.locales_dir)
    except FlowLoadError:
        return []  # the phrasebook line says what is wrong
    if book is None:
        return []
    checks: list[Check] = []
    shown = f"{bot.first_name} {bot.username or ''}"
    hits = sorted({w for lang in LANGUAGES for w in forbidden.found_in(lang, shown)})
    if hits:
        checks.append(
            fail(
                "bot name",
                f"the bot's name or @username holds {hits}, which the cover must never show",
                "rename it with @BotFather (/mybots > Edit Bot > Edit Name); a @username cannot "
                "be changed: make a new bot with a phrasebook name (docs/cover.md)",
            )
        )
    else:
        checks.append(ok("bot name", f"@{bot.username}: fits the cover (no forbidden word)"))
    try:
        wrong = await _profile_differences(settings, bot, book)
    except TelegramError as exc:
        checks.append(
            fail(
                "bot profile",
                f"cannot read the profile texts ({type(exc).__name__})",
                "run the doctor again; if it persists, check the Bot API server",
            )
        )
        return checks
    if wrong:
        checks.append(
            fail(
                "bot profile",
                f"not the phrasebook's: {', '.join(wrong)}",
                "start the bot (`reportbot run` publishes the profile in every language when it "
                "starts); if they change back, another process uses this token: revoke it",
            )
        )
    else:
        languages = ", ".join(settings.languages)
        checks.append(ok("bot profile", f"the phrasebook's menu and descriptions ({languages})"))
    return checks


async def _profile_differences(settings: Settings, bot: Bot, book: Phrasebook) -> list[str]:
    wrong: list[str] = []
    for code in (None, *settings.languages):
        lang = code or settings.languages[0]
        where = code or "default"
        commands, description, short = expected_profile(book, lang)
        got_commands = [
            (c.command, c.description) for c in await bot.get_my_commands(language_code=code)
        ]
        if got_commands != commands:
            wrong.append(f"commands ({where})")
        if (await bot.get_my_description(language_code=code)).description != description:
            wrong.append(f"description ({where})")
        got_short = await bot.get_my_short_description(language_code=code)
        if got_short.short_description != short:
            wrong.append(f"short description ({where})")
    return wrong
