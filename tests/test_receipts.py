"""Receipt codes, what the server derives from them, and analysts' signed, sealed replies.

Without the bot: the code's shape and entropy, the argon2id derivation, the reply file format
(sealed to the report's reply key, signed by an analyst), the checks the bot makes before it keeps
a reply, and ``reportbot analyst reply``.
"""

from __future__ import annotations

import math
import secrets
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import _register, cli
from bot.receipts.codes import CODE_ENTROPY_BITS, ReceiptCode, new_code, parse_code
from bot.receipts.derivation import (
    TEST_KDF,
    Derived,
    derive_v1,
    derive_v2,
    parse_reply_key,
    reply_key_token,
)
from bot.receipts.pepper import ReceiptPepper, load_pepper, new_pepper_file
from bot.receipts.replies import (
    BadReplySignatureError,
    ReplyFormatError,
    UnknownSignerError,
    open_reply,
    verify_reply,
)
from bot.receipts.service import IssuedReceipt, Match, ReceiptService, ReplyOutcome
from bot.sealing.keys import KeyFileError
from reportbot_analyst.keys import AnalystSecretKey, new_analyst_key
from reportbot_analyst.replies import ReplyInputError, seal_reply
from storage.base import ReceiptScheme, ReportId, new_report_id
from storage.memory import MemoryReportStore

SALT = bytes(range(16))
PEPPER = ReceiptPepper.generate()


def derive(code: ReceiptCode, salt: bytes, r: int = 0) -> Derived:
    """What a receipt made now derives (scheme 2, secret salt ``r``), at the test cost."""
    return derive_v2(code, r, salt, TEST_KDF.v2, PEPPER.secret)


def _code() -> ReceiptCode:
    return new_code()


def _reply_setup() -> tuple[ReportId, Derived, str]:
    report = new_report_id()
    derived = derive(_code(), SALT)
    return report, derived, reply_key_token(derived.reply_public)


# --- the code -------------------------------------------------------------------------------


def test_code_carries_at_least_fifty_bits_of_entropy() -> None:
    assert CODE_ENTROPY_BITS >= 50
    assert math.isclose(CODE_ENTROPY_BITS, 18 * math.log2(10))


def test_code_looks_like_two_russian_mobile_numbers() -> None:
    code = ReceiptCode("123456789987654321")
    assert code.numbers() == ("8 912 345-67-89", "8 998 765-43-21")
    assert code.display() == "8 912 345-67-89\n8 998 765-43-21"


def test_code_repr_never_shows_the_digits() -> None:
    code = ReceiptCode("123456789987654321")
    assert "123" not in repr(code)
    assert "123" not in repr(IssuedReceipt(code, "k"))
    derived = derive(code, SALT)
    assert derived.tag.hex()[:8] not in repr(derived)
    assert "123" not in repr(Match(new_report_id(), derived))


def test_fresh_codes_use_every_digit_position() -> None:
    codes = [new_code().digits for _ in range(400)]
    assert len(set(codes)) == 400
    for position in range(18):
        assert len({c[position] for c in codes}) == 10  # no fixed digit hides in the 18


@pytest.mark.parametrize(
    "typed",
    [
        "8 912 345-67-89\n8 998 765-43-21",
        "+7 (912) 345 67 89, +7 998 765 43 21",
        "89123456789 89987654321",
        "9123456789 9987654321",
        "８ ９１２ ３４５-６７-８９ ８ ９９８ ７６５-４３-２１",  # full-width digits
        "tel 8-912-345-67-89 / 8-998-765-43-21",
    ],
)
def test_a_code_is_read_back_however_the_numbers_are_written(typed: str) -> None:
    assert parse_code(typed) == ReceiptCode("123456789987654321")


@pytest.mark.parametrize(
    "typed",
    [
        "8 912 345-67-89",  # one number only
        "8 912 345-67-89 8 998 765-43-2",  # a digit missing
        "8 912 345-67-89 8 998 765-43-210",  # a digit too many
        "8 812 345-67-89 8 998 765-43-21",  # not a mobile number
        "hello",
        "",
        "9" * 500,
    ],
)
def test_what_is_not_two_numbers_is_not_a_code(typed: str) -> None:
    assert parse_code(typed) is None


@given(st.integers(0, 10**18 - 1))
@settings(max_examples=200, deadline=None)
def test_every_code_reads_back_from_its_display(value: int) -> None:
    code = ReceiptCode(str(value).zfill(18))
    assert parse_code(code.display()) == code


# --- derivation -----------------------------------------------------------------------------


def test_the_lookup_tag_depends_on_code_and_salt_and_does_not_contain_the_code() -> None:
    code = ReceiptCode("123456789987654321")
    one = derive(code, SALT)
    assert derive(code, SALT) == one  # deterministic: the tag finds the report
    assert derive(code, bytes(16)).tag != one.tag  # per-database salt
    assert derive(ReceiptCode("123456789987654320"), SALT).tag != one.tag
    assert derive(code, SALT, r=1).tag != one.tag  # the secret salt
    assert derive_v1(code, SALT, TEST_KDF.v1, PEPPER.secret).tag != one.tag  # the scheme
    assert one.tag != one.seed
    assert code.digits.encode() not in one.tag + one.seed
    assert len(one.tag) == 32


def test_the_reply_key_is_derived_from_the_code_alone() -> None:
    code = new_code()
    assert derive(code, SALT).reply_public == derive(code, SALT).reply_public
    assert derive(new_code(), SALT).reply_public != derive(code, SALT).reply_public


def test_reply_key_text_round_trips_and_junk_is_refused() -> None:
    derived = derive(new_code(), SALT)
    token = reply_key_token(derived.reply_public)
    assert parse_reply_key(token) == derived.reply_public
    for bad in ("", "rb-reply-pub-v1:", "rb-reply-pub-v1:AAAA", token[:-2], "rb-analyst-pub-v1:x"):
        with pytest.raises(ValueError, match="reply key"):
            parse_reply_key(bad)
    with pytest.raises(ValueError, match="X25519"):
        parse_reply_key(reply_key_token(bytes(32)))  # a low-order point nobody could open


# --- replies ----------------------------------------------------------------------------------


def test_a_signed_reply_opens_only_with_the_key_derived_from_the_right_code() -> None:
    analyst = AnalystSecretKey.generate()
    report, derived, token = _reply_setup()
    data = seal_reply(
        analyst, report, token, "Спасибо. Где вы сейчас работаете?", day=date(2026, 3, 2)
    )
    opened = open_reply(data, report, derived, [analyst.public])
    assert opened.text == "Спасибо. Где вы сейчас работаете?"
    assert opened.day == date(2026, 3, 2)
    other = derive(new_code(), SALT)
    with pytest.raises(ReplyFormatError):
        open_reply(data, report, other, [analyst.public])


def test_a_reply_signed_by_an_unknown_analyst_is_refused() -> None:
    ours, stranger = AnalystSecretKey.generate(), AnalystSecretKey.generate()
    report, derived, token = _reply_setup()
    data = seal_reply(stranger, report, token, "hello", day=date(2026, 3, 2))
    with pytest.raises(UnknownSignerError):
        verify_reply(data, [ours.public])
    with pytest.raises(UnknownSignerError):
        open_reply(data, report, derived, [ours.public])


def test_every_flipped_byte_of_a_reply_is_refused() -> None:
    analyst = AnalystSecretKey.generate()
    report, derived, token = _reply_setup()
    data = seal_reply(analyst, report, token, "짧은 답", day=date(2026, 3, 2))
    for position in range(len(data)):
        altered = bytearray(data)
        altered[position] ^= 0x01
        with pytest.raises((ReplyFormatError, UnknownSignerError, BadReplySignatureError)):
            open_reply(bytes(altered), report, derived, [analyst.public])


def test_a_reply_moved_to_another_report_is_refused() -> None:
    analyst = AnalystSecretKey.generate()
    report, derived, token = _reply_setup()
    other_report = new_report_id()
    data = seal_reply(analyst, report, token, "hello", day=date(2026, 3, 2))
    with pytest.raises(ReplyFormatError):
        open_reply(data, other_report, derived, [analyst.public])


def test_reply_text_is_checked_before_sealing() -> None:
    analyst = AnalystSecretKey.generate()
    report, _, token = _reply_setup()
    with pytest.raises(ReplyInputError, match="empty"):
        seal_reply(analyst, report, token, " \u202e\n ", day=date(2026, 3, 2))
    with pytest.raises(ReplyInputError, match="4000"):
        seal_reply(analyst, report, token, "a" * 4001, day=date(2026, 3, 2))
    with pytest.raises(ReplyInputError, match="REPORT_ID"):
        seal_reply(analyst, "nope", token, "hello", day=date(2026, 3, 2))
    with pytest.raises(ReplyInputError, match="reply key"):
        seal_reply(analyst, report, "rb-analyst-pub-v1:xyz", "hello", day=date(2026, 3, 2))


def test_short_and_long_replies_seal_to_the_same_size() -> None:
    analyst = AnalystSecretKey.generate()
    report, _, token = _reply_setup()
    day = date(2026, 3, 2)
    assert len(seal_reply(analyst, report, token, "a", day=day)) == len(
        seal_reply(analyst, report, token, "가" * 200, day=day)
    )


# --- the service: what the bot keeps ------------------------------------------------------------


async def test_service_keeps_good_replies_and_refuses_forged_ones() -> None:
    store = MemoryReportStore()
    analyst, stranger = AnalystSecretKey.generate(), AnalystSecretKey.generate()
    service = ReceiptService(store, [analyst.public], pepper=PEPPER, kdf=TEST_KDF)
    report = await store.open_report()
    issued = await service.issue(report)
    match = await service.find(issued.code)
    assert match is not None
    assert match.report_id == report
    assert await service.find(new_code()) is None

    good = seal_reply(analyst, report, issued.reply_key, "답장입니다", day=date(2026, 3, 2))
    forged = seal_reply(stranger, report, issued.reply_key, "가짜", day=date(2026, 3, 2))
    altered = bytearray(good)
    altered[60] ^= 0xFF
    assert await service.accept_reply(forged) is ReplyOutcome.UNKNOWN_SIGNER
    assert await service.accept_reply(bytes(altered)) is ReplyOutcome.BAD_SIGNATURE
    assert await service.accept_reply(b"%PDF-1.4 not a reply") is ReplyOutcome.NOT_A_REPLY
    assert await service.accept_reply(b"RBRP\x01short") is ReplyOutcome.MALFORMED
    assert await service.accept_reply(good) is ReplyOutcome.STORED
    assert await service.accept_reply(good) is ReplyOutcome.DUPLICATE
    assert await store.replies(report) == [good]
    assert [r.text for r in await service.replies(match)] == ["답장입니다"]


async def test_a_reply_for_a_report_without_receipt_is_refused() -> None:
    store = MemoryReportStore()
    analyst = AnalystSecretKey.generate()
    service = ReceiptService(store, [analyst.public], pepper=PEPPER, kdf=TEST_KDF)
    report, _, token = _reply_setup()
    data = seal_reply(analyst, report, token, "hello", day=date(2026, 3, 2))
    assert await service.accept_reply(data) is ReplyOutcome.NO_RECEIPT


async def test_a_stored_reply_whose_signer_is_no_longer_trusted_is_not_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryReportStore()
    old, new = AnalystSecretKey.generate(), AnalystSecretKey.generate()
    report = await store.open_report()
    issued = await ReceiptService(store, [old.public], pepper=PEPPER, kdf=TEST_KDF).issue(report)
    await store.add_reply(report, seal_reply(old, report, issued.reply_key, "x", day=date.today()))
    later = ReceiptService(
        store, [new.public], pepper=PEPPER, kdf=TEST_KDF
    )  # the old key was removed
    match = await later.find(issued.code)
    assert match is not None
    assert await later.replies(match) == []
    assert any(r.getMessage() == "stored_replies_refused" for r in caplog.records)


# --- the command ------------------------------------------------------------------------------


def test_analyst_reply_command_writes_a_signed_file_from_text_or_file(tmp_path: Path) -> None:
    _register()
    key, key_path, _ = new_analyst_key(tmp_path, "anna", None)
    report, derived, token = _reply_setup()
    runner = CliRunner()
    out = tmp_path / "r.bin"
    result = runner.invoke(
        cli,
        [
            "analyst",
            "reply",
            report,
            "--text",
            "Спасибо",
            "--key",
            str(key_path),
            "--reply-key",
            token,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert key.public.fingerprint in result.output
    assert open_reply(out.read_bytes(), report, derived, [key.public]).text == "Спасибо"

    text_file = tmp_path / "reply.txt"
    text_file.write_text("긴 답장\n둘째 줄", encoding="utf-8")
    opened_dir = tmp_path / "opened"
    opened_dir.mkdir()
    (opened_dir / "reports.jsonl").write_text(
        f'{{"report": "{report}", "reply_key": "{token}"}}\n', encoding="utf-8"
    )
    result = runner.invoke(
        cli,
        [
            "analyst",
            "reply",
            report,
            "--file",
            str(text_file),
            "--key",
            str(key_path),
            "--opened",
            str(opened_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    second = tmp_path / "r-2.bin"  # never overwrites the first
    assert open_reply(second.read_bytes(), report, derived, [key.public]).text == "긴 답장\n둘째 줄"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "x"], "--opened DIR"),
        (["--text", "x", "--file", "f.txt", "--reply-key", "k"], "one of them"),
        (["--text", "x", "--reply-key", "rb-reply-pub-v1:AAAA"], "reply key"),
        (["--text", "x", "--opened", "."], "not in"),
    ],
)
def test_analyst_reply_command_errors_are_one_line(
    tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    monkeypatch.chdir(tmp_path)
    _, key_path, _ = new_analyst_key(tmp_path, "anna", None)
    (tmp_path / "reports.jsonl").write_text("", encoding="utf-8")
    report = secrets.token_hex(16)
    result = CliRunner().invoke(cli, ["analyst", "reply", report, "--key", str(key_path), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- the spec, independently -------------------------------------------------------------------


def test_docs_format_section_5_opens_a_reply_with_plain_pynacl_calls() -> None:
    """A second reader written from docs/format.md section 5 alone."""
    import hashlib
    import json
    import struct

    import nacl.bindings
    import nacl.pwhash
    from nacl.public import PrivateKey as Priv
    from nacl.public import SealedBox as Box
    from nacl.signing import VerifyKey

    analyst = AnalystSecretKey.generate()
    report = new_report_id()
    digits = "123456789987654321"
    derived = derive(ReceiptCode(digits), SALT, r=5)
    data = seal_reply(
        analyst, report, reply_key_token(derived.reply_public), "답장", day=date(2026, 3, 2)
    )

    # 5.1, step by step (scheme 2, secret salt r = 5)
    slow = nacl.pwhash.argon2id.kdf(
        32,
        b"rb-receipt-v2:" + digits.encode() + b":5",
        SALT,
        nacl.pwhash.argon2id.OPSLIMIT_MIN,
        nacl.pwhash.argon2id.MEMLIMIT_MIN,
    )
    master = hashlib.blake2b(
        slow, key=PEPPER.secret, digest_size=32, person=b"reportbot-pep-v2"
    ).digest()
    tag = hashlib.blake2b(b"", key=master, digest_size=32, person=b"reportbot-tag-v2").digest()
    seed = hashlib.blake2b(b"", key=master, digest_size=32, person=b"reportbot-rpl-v2").digest()
    assert tag == derived.tag
    private = Priv.from_seed(seed)

    # 5.2, step by step
    assert data[:4] == b"RBRP"
    assert data[4] == 1
    assert data[5:21].hex() == report
    reply_kid = hashlib.blake2b(
        bytes(private.public_key), digest_size=8, person=b"reportbot-keyid1"
    ).digest()
    assert data[21:29] == reply_kid
    signer_kid = hashlib.blake2b(
        bytes(analyst.public.box_key), digest_size=8, person=b"reportbot-keyid1"
    ).digest()
    assert data[29:37] == signer_kid
    (length,) = struct.unpack(">I", data[37:41])
    sealed, signature = data[41 : 41 + length], data[41 + length :]
    assert len(signature) == 64
    VerifyKey(bytes(analyst.public.verify_key)).verify(data[: 41 + length], signature)
    padded = Box(private).decrypt(sealed)
    assert len(padded) == 1024
    plain = nacl.bindings.sodium_unpad(padded, len(padded))
    (json_len,) = struct.unpack(">I", plain[:4])
    doc = json.loads(plain[4 : 4 + json_len].decode("utf-8"))
    assert doc == {"day": "2026-03-02", "kind": "reply", "report": report, "text": "답장"}


# --- the pepper: a stolen database alone tests nothing --------------------------------------------


async def test_a_stolen_database_alone_cannot_test_a_guessed_code(tmp_path: Path) -> None:
    """The attacker has the database (salt and tags) and even the right code, but not the pepper
    file: every derivation they can run misses the stored tag, for every secret salt; with the
    pepper one of them hits."""
    store = MemoryReportStore()
    analyst = AnalystSecretKey.generate()
    pepper = ReceiptPepper.generate()
    report = await store.open_report()
    issued = await ReceiptService(store, [analyst.public], pepper=pepper, kdf=TEST_KDF).issue(
        report
    )
    salt = await store.receipt_salt()
    every_r = range(TEST_KDF.secret_salts)
    guessed_pepper = ReceiptPepper.generate().secret
    unpeppered = [derive_v1(issued.code, salt, TEST_KDF.v1).tag]
    guessed = [derive_v2(issued.code, r, salt, TEST_KDF.v2, guessed_pepper).tag for r in every_r]
    right = [derive_v2(issued.code, r, salt, TEST_KDF.v2, pepper.secret).tag for r in every_r]
    for scheme in ReceiptScheme:
        assert await store.find_receipts(unpeppered, scheme=scheme) is None
        assert await store.find_receipts(guessed, scheme=scheme) is None
    found = await store.find_receipts(right, scheme=ReceiptScheme.V2)
    assert found is not None
    assert found[1] == report


async def test_receipts_made_before_the_pepper_are_still_found_with_their_replies() -> None:
    store = MemoryReportStore()
    analyst = AnalystSecretKey.generate()
    report = await store.open_report()
    code = new_code()
    legacy = derive_v1(code, await store.receipt_salt(), TEST_KDF.v1)  # as the bot did before
    await store.put_receipt(legacy.tag, report, scheme=ReceiptScheme.V1)
    token = reply_key_token(legacy.reply_public)
    await store.add_reply(report, seal_reply(analyst, report, token, "old", day=date.today()))
    service = ReceiptService(store, [analyst.public], pepper=PEPPER, kdf=TEST_KDF)
    match = await service.find(code)
    assert match is not None
    assert match.report_id == report
    assert [r.text for r in await service.replies(match)] == ["old"]
    assert await service.find(new_code()) is None


def test_the_pepper_file_is_private_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    path = new_pepper_file(tmp_path / "keys")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_pepper(path) != load_pepper(new_pepper_file(tmp_path / "other"))
    assert "hidden" in repr(load_pepper(path))
    path.chmod(0o644)
    with pytest.raises(KeyFileError):
        load_pepper(path)
