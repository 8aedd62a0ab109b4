"""Envelopes and digests: round trips, tampering, padding, attachments, signatures."""

from __future__ import annotations

import io
import itertools
import random
from datetime import date

import pytest
from PIL import Image

from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import (
    DIGEST_ENTRY_BUCKETS,
    DIGEST_SIZE_BUCKETS,
    ENVELOPE_PREFIX_BYTES,
    MAX_ATTACHMENT_BYTES,
    PAD_BUCKETS,
    AttachmentTooLargeError,
    ExternalEntry,
    ForgedError,
    FormatError,
    Metadata,
    NotOurFormatError,
    ReportContext,
    ReportStatus,
    SealingError,
    TruncatedError,
    UnknownVersionError,
    bucket_for,
    encode_plaintext,
    pad_with_dummies,
    parse_envelope,
    seal_answer,
    seal_attachment,
    seal_dummy,
    seal_manifest,
    sign_digest,
    verify_digest,
)
from bot.sealing.keys import MAX_RECIPIENTS, BotSigningKey, Recipients
from bot.sealing.metadata import strip_image_metadata
from reportbot_analyst.opening import (
    DamagedError,
    NotSealedToKeyError,
    OpenError,
    open_envelope,
    read_record,
)
from tests.sealing_support import Team, digest_of, gps_jpeg, has_gps, make_team, report_context


@pytest.fixture
def team() -> Team:
    return make_team()


@pytest.fixture
def ctx() -> ReportContext:
    return report_context()


# ---- round trip ----


def test_answer_opens_with_each_analyst_key_alone_and_with_no_other(
    team: Team, ctx: ReportContext
) -> None:
    envelope = seal_answer(
        team.recipients, ctx, slot=3, question="site", answer={"choice": "clothing"}
    )
    for key in (team.alice, team.bob):
        opened = open_envelope(envelope, [key])
        assert opened.key_id == key.key_id
        assert opened.fields == {
            "kind": "answer",
            "report": ctx.report_id,
            "slot": 3,
            "flow": "worker_report",
            "flow_version": ctx.flow_version,
            "lang": "ko",
            "question": "site",
            "answer": {"choice": "clothing"},
        }
    with pytest.raises(NotSealedToKeyError):
        open_envelope(envelope, [team.carol])


def test_key_with_a_forged_matching_id_cannot_open(team: Team, ctx: ReportContext) -> None:
    """Carol rewrites her key id into Alice's slot: the sealed key still does not open.

    The header stays well formed (pairs re-sorted by key id), so the refusal comes from the
    cryptography, not from the format check that a random id order would trip first.
    """
    envelope = seal_answer(team.recipients, ctx, slot=0, question="q", answer={})
    parsed = parse_envelope(envelope)
    pairs = sorted(
        (team.carol.key_id if kid == team.alice.key_id else kid, sealed)
        for kid, sealed in parsed.recipients
    )
    header = parsed.header[:ENVELOPE_PREFIX_BYTES] + b"".join(k + s for k, s in pairs)
    forged = header + envelope[len(parsed.header) :]
    assert parse_envelope(forged).recipients == tuple(pairs)
    with pytest.raises(OpenError):
        open_envelope(forged, [team.carol])


def test_every_record_kind_round_trips_and_reads_typed(team: Team, ctx: ReportContext) -> None:
    manifest = seal_manifest(
        team.recipients, ctx, slot=9, status=ReportStatus.INTERRUPTED, slots=[2, 0, 1, 1]
    )
    record = read_record(open_envelope(manifest, [team.alice]))
    assert record is not None
    assert getattr(record, "status", None) == "interrupted"
    assert getattr(record, "slots", None) == (0, 1, 2)
    assert read_record(open_envelope(seal_dummy(team.recipients), [team.bob])) is None


def test_unicode_text_survives_exactly(team: Team, ctx: ReportContext) -> None:
    text = '로동자 녀성 \u2014 Работа 12 часов\n"quoted" \\ tab\t😀'
    envelope = seal_answer(team.recipients, ctx, slot=1, question="more", answer={"text": text})
    assert open_envelope(envelope, [team.alice]).fields["answer"] == {"text": text}


# ---- tampering ----


def test_flipped_byte_anywhere_in_a_small_envelope_is_rejected(
    team: Team, ctx: ReportContext
) -> None:
    envelope = seal_answer(team.recipients, ctx, slot=0, question="site", answer={"choice": "x"})
    for position in range(len(envelope)):
        for key in (team.alice, team.bob):
            altered = bytearray(envelope)
            altered[position] ^= 0x01
            with pytest.raises((FormatError, OpenError)):
                open_envelope(bytes(altered), [key])


def test_truncated_or_extended_envelope_is_rejected(team: Team, ctx: ReportContext) -> None:
    envelope = seal_answer(team.recipients, ctx, slot=0, question="site", answer={})
    for cut in (0, 3, 5, 6, 100, len(envelope) - 17, len(envelope) - 1):
        with pytest.raises(FormatError):
            open_envelope(envelope[:cut], [team.alice])
    with pytest.raises(FormatError):
        open_envelope(envelope + b"\x00", [team.alice])


def test_envelope_of_unknown_version_is_named_as_such(team: Team, ctx: ReportContext) -> None:
    envelope = bytearray(seal_answer(team.recipients, ctx, slot=0, question="q", answer={}))
    envelope[4] = 2
    with pytest.raises(UnknownVersionError, match="version 2"):
        parse_envelope(bytes(envelope))
    with pytest.raises(NotOurFormatError):
        parse_envelope(b"GIF89a" + bytes(envelope[6:]))


def test_flipped_byte_anywhere_in_a_small_signed_digest_is_rejected(
    team: Team, ctx: ReportContext
) -> None:
    entries: list[bytes | ExternalEntry] = [
        seal_answer(team.recipients, ctx, slot=0, question="site", answer={"choice": "a"}),
        ExternalEntry.of(b"RBSE" + bytes(2000)),
    ]
    digest = digest_of(team, entries, padded=False)
    verify_digest(digest, team.bot.public)  # the original verifies
    for position in range(len(digest)):
        altered = bytearray(digest)
        altered[position] ^= 0x80
        with pytest.raises(FormatError):
            verify_digest(bytes(altered), team.bot.public)


@pytest.mark.slow
def test_flipped_bytes_in_a_large_digest_are_rejected_random_sample(
    team: Team, ctx: ReportContext
) -> None:
    entries = pad_with_dummies(
        team.recipients,
        [seal_answer(team.recipients, ctx, slot=i, question="q", answer={}) for i in range(50)],
        count_buckets=(1024,),
    )
    digest = digest_of(team, list(entries))
    assert len(digest) > 1_000_000
    rng = random.Random(1234)
    positions = {0, 4, 5, len(digest) - 1, len(digest) - 64, *rng.sample(range(len(digest)), 120)}
    for position in positions:
        altered = bytearray(digest)
        altered[position] ^= 1 << rng.randrange(8)
        with pytest.raises(FormatError):
            verify_digest(bytes(altered), team.bot.public)


def test_digest_signed_by_another_bot_key_is_rejected(team: Team, ctx: ReportContext) -> None:
    impostor = BotSigningKey.generate()
    digest = sign_digest(
        impostor, seq=5, day=date(2025, 1, 1), key_ids=team.recipients.key_ids, entries=[]
    )
    with pytest.raises(ForgedError, match="not the pinned bot key"):
        verify_digest(digest, team.bot.public)


def test_truncated_digest_is_named_truncated(team: Team, ctx: ReportContext) -> None:
    digest = digest_of(team, [seal_dummy(team.recipients)], padded=False)
    for cut in (5, 20, 40, len(digest) - 200, len(digest) - 64, len(digest) - 1):
        with pytest.raises(TruncatedError, match="truncated"):
            verify_digest(digest[:cut], team.bot.public)


def test_digest_of_unknown_version_is_named_as_such(team: Team) -> None:
    digest = bytearray(digest_of(team, [], padded=False))
    digest[4] = 9
    with pytest.raises(UnknownVersionError, match="version 9"):
        verify_digest(bytes(digest), team.bot.public)


def test_digest_carries_sequence_day_key_ids_and_entries(team: Team, ctx: ReportContext) -> None:
    answer = seal_answer(team.recipients, ctx, slot=0, question="q", answer={"number": 1})
    external = ExternalEntry.of(answer)
    digest = verify_digest(
        digest_of(team, [answer, external], seq=42, day=date(2024, 2, 29)), team.bot.public
    )
    assert (digest.seq, digest.day) == (42, date(2024, 2, 29))
    assert digest.key_ids == team.recipients.key_ids
    assert digest.bot_key_id == team.bot.key_id
    assert digest.entries == (answer, external)


def test_digest_refuses_entries_sealed_to_unlisted_keys(team: Team, ctx: ReportContext) -> None:
    answer = seal_answer(team.recipients, ctx, slot=0, question="q", answer={})
    with pytest.raises(SealingError):
        sign_digest(
            team.bot,
            seq=1,
            day=date(2025, 1, 1),
            key_ids=[team.alice.key_id],
            entries=[answer],
        )
    with pytest.raises(SealingError):
        sign_digest(team.bot, seq=0, day=date(2025, 1, 1), key_ids=[], entries=[])


# ---- padding ----


@pytest.mark.parametrize(("lang", "char"), [("ko", "로"), ("ru", "ж"), ("en", "x")])
def test_answers_of_1_and_200_characters_seal_to_the_same_length(
    team: Team, lang: str, char: str
) -> None:
    ctx = report_context(lang)
    short = seal_answer(team.recipients, ctx, slot=0, question="more", answer={"text": char})
    long = seal_answer(
        team.recipients, ctx, slot=65535, question="more", answer={"text": char * 200}
    )
    choice = seal_answer(team.recipients, ctx, slot=1, question="site", answer={"choice": "a"})
    manifest = seal_manifest(
        team.recipients, ctx, slot=100, status=ReportStatus.COMPLETE, slots=range(40)
    )
    dummy = seal_dummy(team.recipients)
    lengths = {len(e) for e in (short, long, choice, manifest, dummy)}
    assert lengths == {6 + 88 * 2 + 24 + 16 + PAD_BUCKETS[0]}


def test_length_reveals_only_the_bucket(team: Team, ctx: ReportContext) -> None:
    overhead = 6 + 88 * 2 + 24 + 16
    for size in (1, 500, 900, 1500, 5000, 13000):
        envelope = seal_answer(
            team.recipients, ctx, slot=0, question="more", answer={"text": "a" * size}
        )
        assert len(envelope) - overhead in PAD_BUCKETS


def test_bucket_boundaries_follow_the_spec() -> None:
    for bucket, following in itertools.pairwise(PAD_BUCKETS):
        assert bucket_for(bucket - 1) == bucket
        assert bucket_for(bucket) == following  # ISO 7816-4 needs one byte of padding
        assert following <= bucket * 4
    with pytest.raises(SealingError):
        bucket_for(PAD_BUCKETS[-1])
    assert len(encode_plaintext({"kind": "x"})) == PAD_BUCKETS[0]


def test_dummies_fill_a_digest_to_a_count_bucket(team: Team, ctx: ReportContext) -> None:
    answers = [seal_answer(team.recipients, ctx, slot=i, question="q", answer={}) for i in range(3)]
    padded = pad_with_dummies(team.recipients, answers)
    assert len(padded) == DIGEST_ENTRY_BUCKETS[0]
    assert padded[:3] == answers
    assert len({len(bytes(e)) for e in padded if isinstance(e, bytes)}) == 1


def test_digests_with_different_report_counts_have_one_size(team: Team, ctx: ReportContext) -> None:
    sizes = set()
    for count in (0, 1, 3, 16):
        answers = [
            seal_answer(team.recipients, ctx, slot=i, question="q", answer={"n": i})
            for i in range(count)
        ]
        digest = sign_digest(
            team.bot,
            seq=count + 1,
            day=date(2025, 1, 1),
            key_ids=team.recipients.key_ids,
            entries=pad_with_dummies(team.recipients, answers),
        )
        sizes.add(len(digest))
    assert sizes == {DIGEST_SIZE_BUCKETS[0]}
    many = pad_with_dummies(team.recipients, [seal_dummy(team.recipients)] * 17)
    assert len(many) == DIGEST_ENTRY_BUCKETS[1]
    big = sign_digest(
        team.bot, seq=99, day=date(2025, 1, 1), key_ids=team.recipients.key_ids, entries=many
    )
    assert len(big) in DIGEST_SIZE_BUCKETS
    assert len(big) > DIGEST_SIZE_BUCKETS[0]


# ---- input the bot must refuse to seal ----


def test_sealing_refuses_values_outside_the_format(team: Team, ctx: ReportContext) -> None:
    with pytest.raises(SealingError):
        seal_answer(team.recipients, ctx, slot=0, question="q", answer={"n": 1.5})
    with pytest.raises(SealingError):
        seal_answer(team.recipients, ctx, slot=0, question="q", answer={"t": "\ud800"})
    with pytest.raises(SealingError):
        seal_answer(team.recipients, ctx, slot=65536, question="q", answer={})
    with pytest.raises(SealingError):
        seal_answer(team.recipients, ctx, slot=0, question="Q; drop", answer={})
    with pytest.raises(SealingError):
        ReportContext("not-a-report-id", "worker_report", "0011223344556677", "ko")
    with pytest.raises(SealingError):
        ReportContext("ab" * 16, "worker_report", "0011223344556677", "de")


def test_recipients_hold_at_most_16_distinct_keys(team: Team) -> None:
    from reportbot_analyst.keys import AnalystSecretKey

    many = [AnalystSecretKey.generate().public for _ in range(MAX_RECIPIENTS + 1)]
    with pytest.raises(Exception, match="at most"):
        Recipients(many)
    with pytest.raises(Exception, match="twice"):
        Recipients([team.alice.public, team.alice.public])


# ---- attachments ----


def test_gps_tagged_jpeg_is_sealed_without_any_metadata(team: Team, ctx: ReportContext) -> None:
    photo = gps_jpeg()
    assert has_gps(photo)
    assert b"CanaryPhone" in photo
    envelope = seal_attachment(
        team.recipients,
        ctx,
        slot=4,
        question="evidence",
        ref="p1",
        media=MediaKind.PHOTO,
        data=photo,
        mime="image/jpeg",
    )
    opened = open_envelope(envelope, [team.alice])
    assert opened.fields["metadata"] == Metadata.STRIPPED
    assert not has_gps(opened.body)
    assert b"CanaryPhone" not in opened.body
    assert b"Exif" not in opened.body
    with Image.open(io.BytesIO(opened.body)) as img:
        assert img.size == (48, 64)  # the orientation was applied before stripping


def test_keeping_metadata_is_explicit_and_recorded(team: Team, ctx: ReportContext) -> None:
    photo = gps_jpeg()
    envelope = seal_attachment(
        team.recipients,
        ctx,
        slot=4,
        question="evidence",
        ref="p1",
        media=MediaKind.DOCUMENT,
        data=photo,
        mime="image/jpeg",
        strip_metadata=False,
    )
    opened = open_envelope(envelope, [team.bob])
    assert opened.fields["metadata"] == Metadata.KEPT
    assert opened.body == photo


def test_files_that_cannot_be_cleaned_are_marked_not_stripped(
    team: Team, ctx: ReportContext
) -> None:
    voice = b"OggS" + bytes(range(256)) * 40
    envelope = seal_attachment(
        team.recipients,
        ctx,
        slot=5,
        question="evidence",
        ref="v1",
        media=MediaKind.VOICE,
        data=voice,
        mime="audio/ogg",
    )
    opened = open_envelope(envelope, [team.alice])
    assert opened.fields["metadata"] == Metadata.NOT_STRIPPED
    assert opened.body == voice
    assert strip_image_metadata(b"\xff\xd8\xff\xe0 broken jpeg", "image/jpeg") is None


def test_png_text_chunks_are_stripped(team: Team, ctx: ReportContext) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "55.75N 37.61E canary")
    buffer = io.BytesIO()
    Image.new("P", (10, 10)).save(buffer, format="PNG", pnginfo=info)
    assert b"canary" in buffer.getvalue()
    stripped = strip_image_metadata(buffer.getvalue(), "image/png")
    assert stripped is not None
    assert b"canary" not in stripped[0]
    assert stripped[1] == "image/png"


def test_attachment_over_20_mib_is_refused(team: Team, ctx: ReportContext) -> None:
    with pytest.raises(AttachmentTooLargeError):
        seal_attachment(
            team.recipients,
            ctx,
            slot=1,
            question="evidence",
            ref="big",
            media=MediaKind.VIDEO,
            data=bytes(MAX_ATTACHMENT_BYTES + 1),
            mime="video/mp4",
        )


@pytest.mark.slow
def test_attachment_of_20_mib_seals_and_opens(team: Team, ctx: ReportContext) -> None:
    data = bytes(MAX_ATTACHMENT_BYTES)
    envelope = seal_attachment(
        team.recipients,
        ctx,
        slot=1,
        question="evidence",
        ref="big",
        media=MediaKind.VIDEO,
        data=data,
        mime="video/mp4",
    )
    assert len(envelope) - (6 + 88 * 2 + 24 + 16) == PAD_BUCKETS[-1]
    assert len(envelope) < 21 * 1024 * 1024  # storage's MAX_ATTACHMENT_BYTES
    assert open_envelope(envelope, [team.bob]).body == data


def test_damaged_ciphertext_is_reported_as_damaged(team: Team, ctx: ReportContext) -> None:
    envelope = bytearray(seal_answer(team.recipients, ctx, slot=0, question="q", answer={}))
    envelope[-1] ^= 0xFF
    with pytest.raises(DamagedError):
        open_envelope(bytes(envelope), [team.alice])


def test_sealing_benchmark_runs_and_reports_a_ratio_to_bare_pynacl() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_sealing", "--answers", "40", "--rounds", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    row = run.stdout.strip().splitlines()[-1]
    assert row.startswith("| sealing: seal + sign 40 answers")
    assert "(x" in row
