"""Whoever gets into the channel cannot inject a report: forged digests are named and dropped.

Genuine digests are posted by the real sender; then forgeries are posted beside them (a digest
signed with another key, a genuine one with one byte changed, an old one with its number changed,
an old one posted again, a second digest under a number already used). The toolkit rejects each
with a clear line, uses nothing from it, and still opens every genuine report exactly once.
"""

from __future__ import annotations

import struct
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import _register, cli
from bot.delivery.channel_checks import ChannelChecker, key_fingerprints
from bot.delivery.digests import DigestCloser
from bot.delivery.outbox import DigestSender, Outcome
from bot.sealing.envelope import ReportContext, seal_answer, sign_digest
from bot.sealing.keys import BotSigningKey, write_public_file
from storage.base import ChannelBinding
from storage.memory import MemoryReportStore
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, FakeChannelApi, Posted, make_bot
from tests.digest_support import (
    FLOW_ID,
    FLOW_VERSION,
    Keys,
    add_report,
    answer_texts,
    make_keys,
    open_files,
    save_posted,
)

SEQ_OFFSET = 5  # "RBSD" + version byte


async def _channel_with_genuine_digests(keys: Keys) -> FakeChannelApi:
    store = MemoryReportStore()
    await store.set_channel_binding(
        ChannelBinding(CHANNEL_ID, key_fingerprints(keys.recipients), date(2026, 3, 1))
    )
    checker = ChannelChecker(
        store, channel_id=CHANNEL_ID, allowed_admins=ANALYST_IDS, recipients=keys.recipients
    )
    sender = DigestSender(store, checker, bot_fingerprint=keys.signing.public.fingerprint)
    closer = DigestCloser(store, keys.signing, keys.recipients)
    for n in range(3):
        await add_report(store, keys.recipients, f"genuine{n}")
        await closer.close()
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    async with make_bot(api) as bot:
        assert (await sender.deliver(bot)).outcome is Outcome.DELIVERED
    assert len(api.posted) == 3
    return api


def _forged_report(keys: Keys, signer: BotSigningKey, seq: int) -> bytes:
    """A digest carrying an injected report, sealed to the real analysts (whose keys are public)."""
    ctx = ReportContext("f" * 32, FLOW_ID, FLOW_VERSION, "ko")
    envelope = seal_answer(keys.recipients, ctx, slot=1, question="q0", answer={"text": "INJECTED"})
    return sign_digest(
        signer, seq=seq, day=date(2026, 3, 2), key_ids=keys.recipients.key_ids, entries=[envelope]
    )


def _post(api: FakeChannelApi, name: str, data: bytes) -> None:
    api.posted.append(Posted(name, "", data, CHANNEL_ID, 1000 + len(api.posted)))


def _flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


async def test_forged_digests_are_rejected_and_genuine_reports_open_once(tmp_path: Path) -> None:
    keys = make_keys()
    api = await _channel_with_genuine_digests(keys)
    genuine = [p.data for p in api.posted]
    _post(api, "000004.bin", _forged_report(keys, BotSigningKey.generate(), seq=4))
    _post(api, "000002.bin", _flip(genuine[1], len(genuine[1]) // 2))
    renumbered = bytearray(genuine[0])
    renumbered[SEQ_OFFSET : SEQ_OFFSET + 8] = struct.pack(">Q", 5)
    _post(api, "000005.bin", bytes(renumbered))
    _post(api, "000001.bin", genuine[0])  # the same digest posted again
    _post(api, "000003.bin", _forged_report(keys, keys.signing, seq=3))  # a number reused

    paths = save_posted(api.posted, tmp_path / "channel")
    result = open_files(paths, keys)
    rejected = {o.path.name: o.message for o in result.verify.rejected}
    assert "not the pinned bot key" in rejected["00003-000004.bin"]
    assert "forged or altered" in rejected["00004-000002.bin"]
    assert "forged or altered" in rejected["00005-000005.bin"]
    assert "two digests under one number" in rejected["00007-000003.bin"]
    assert [o.path.name for o in result.verify.duplicates] == ["00006-000001.bin"]
    assert [d.seq for d in result.verify.accepted] == [1, 2, 3]
    assert result.verify.missing == []
    texts = answer_texts(result)
    assert "INJECTED" not in texts
    assert texts == {f"genuine{n}-{k}": 1 for n in range(3) for k in range(2)}


async def test_a_replayed_old_digest_is_named_in_a_later_run(tmp_path: Path) -> None:
    keys = make_keys()
    api = await _channel_with_genuine_digests(keys)
    bot_pub = tmp_path / "bot.pub"
    write_public_file(bot_pub, keys.signing.public.token())
    first = save_posted(api.posted, tmp_path / "week1")
    _register()
    ok = CliRunner().invoke(cli, ["analyst", "verify", *map(str, first), "--bot-key", str(bot_pub)])
    assert ok.exit_code == 0, ok.output
    assert "no gap" in ok.stdout
    replay = save_posted(api.posted[:1], tmp_path / "week2")
    forged = tmp_path / "week2" / "000004.bin"
    forged.write_bytes(_forged_report(keys, BotSigningKey.generate(), seq=4))
    refused = CliRunner().invoke(
        cli, ["analyst", "verify", str(replay[0]), str(forged), "--bot-key", str(bot_pub)]
    )
    assert refused.exit_code == 1
    assert f"REJECTED  {forged}: signed by key id" in refused.stderr
    assert "forged, or the bot key changed" in refused.stderr
    assert "1 file(s) rejected" in refused.stderr


@pytest.mark.parametrize("where", ["header", "entry", "padding", "signature"])
async def test_any_altered_region_of_a_posted_digest_is_rejected(
    where: str, tmp_path: Path
) -> None:
    keys = make_keys()
    api = await _channel_with_genuine_digests(keys)
    data = api.posted[0].data
    position = {
        "header": SEQ_OFFSET + 3,
        "entry": 200,
        "padding": len(data) - 64 - 10,
        "signature": len(data) - 5,
    }[where]
    (path,) = save_posted(
        [Posted("000001.bin", "", _flip(data, position), CHANNEL_ID, 1)], tmp_path
    )
    result = open_files([*save_posted(api.posted[1:], tmp_path / "rest"), path], keys)
    (rejected,) = result.verify.rejected
    assert rejected.path == path
    assert rejected.message
    assert [d.seq for d in result.verify.accepted] == [2, 3]
    assert result.verify.missing == [(1, 1)]
