"""Regenerate ``tests/vectors/format-v1.json``: fixed keys, envelopes of each kind, a digest.

Run from the repository root::

    .venv/bin/python tests/vectors/make_vectors.py

Keys are derived from fixed labels, so ids, fingerprints and key texts never change; envelopes
and the digest differ on every run (sealing is randomised), and any fresh output is equally
valid. ``tests/test_format_vectors.py`` opens the file with an independent implementation of
``docs/format.md``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from datetime import date
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey
from PIL import Image

from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import (
    PAD_BUCKETS,
    ExternalEntry,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_dummy,
    seal_manifest,
    sign_digest,
)
from bot.sealing.keys import BotSigningKey, Recipients
from reportbot_analyst.keys import AnalystSecretKey, analyst_key_file_bytes

OUT = Path(__file__).with_name("format-v1.json")
PASSPHRASE = "로동자 보호 2025 кодовая фраза"
REPORT_ID = "0123456789abcdef0123456789abcdef"
FLOW_VERSION = "158c17349cd39f3b"


def fixed(label: str) -> bytes:
    """32 bytes derived from a label: the vectors' keys are public test data, never real keys."""
    return hashlib.blake2b(label.encode(), digest_size=32, person=b"rb-test-vectors").digest()


def analyst(name: str) -> AnalystSecretKey:
    return AnalystSecretKey(
        PrivateKey(fixed(f"{name} x25519")), SigningKey(fixed(f"{name} ed25519"))
    )


def main() -> None:
    alice, bob, carol = analyst("alice"), analyst("bob"), analyst("carol")
    bot = BotSigningKey(SigningKey(fixed("bot ed25519")))
    recipients = Recipients([alice.public, bob.public])
    report = ReportContext(REPORT_ID, "worker_report", FLOW_VERSION, "ko")

    photo = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(photo, format="PNG")

    envelopes: list[dict[str, object]] = []

    def add(name: str, envelope: bytes, inline: bool = True) -> bytes:
        envelopes.append({"name": name, "hex": envelope.hex(), "inline": inline})
        return envelope

    entries: list[bytes | ExternalEntry] = [
        add(
            "answer-short",
            seal_answer(
                recipients, report, slot=0, question="site", answer={"choice": "it_centre"}
            ),
        ),
        add(
            "answer-200-korean",
            seal_answer(recipients, report, slot=1, question="more", answer={"text": "로동" * 100}),
        ),
        add(
            "answer-other",
            seal_answer(
                recipients,
                report,
                slot=2,
                question="taken",
                answer={"choices": ["quota", "other"], "text": 'Ещё: "налог"\n'},
            ),
        ),
        add("dummy", seal_dummy(recipients)),
        add(
            "manifest",
            seal_manifest(
                recipients, report, slot=9, status=ReportStatus.COMPLETE, slots=[0, 1, 2, 3]
            ),
        ),
    ]
    attachment = add(
        "attachment",
        seal_attachment(
            recipients,
            report,
            slot=3,
            question="evidence",
            ref="photo1",
            media=MediaKind.PHOTO,
            data=photo.getvalue(),
            mime="image/png",
        ),
        inline=False,
    )
    entries.append(ExternalEntry.of(attachment))
    digest = sign_digest(
        bot,
        seq=7,
        day=date(2025, 3, 1),
        key_ids=recipients.key_ids,
        entries=entries,
    )

    def analyst_doc(name: str, key: AnalystSecretKey) -> dict[str, object]:
        return {
            "name": name,
            "x25519_secret": bytes(key.box_key).hex(),
            "ed25519_seed": bytes(key.signing_key).hex(),
            "public_text": key.public.token(),
            "key_id": key.key_id.hex(),
            "fingerprint": key.public.fingerprint,
            "recipient": name != "carol",
        }

    doc = {
        "format_version": 1,
        "spec": "docs/format.md",
        "generated_by": "tests/vectors/make_vectors.py",
        "analysts": [
            analyst_doc("alice", alice),
            analyst_doc("bob", bob),
            analyst_doc("carol", carol),
        ],
        "bot": {
            "seed": bytes(fixed("bot ed25519")).hex(),
            "verify_text": bot.public.token(),
            "key_id": bot.key_id.hex(),
            "fingerprint": bot.public.fingerprint,
        },
        "key_file": {
            "analyst": "alice",
            "passphrase": PASSPHRASE,
            "text": analyst_key_file_bytes(alice, PASSPHRASE, limits="min").decode("ascii"),
        },
        "key_file_unprotected": {
            "analyst": "bob",
            "text": analyst_key_file_bytes(bob, None).decode("ascii"),
        },
        "buckets": list(PAD_BUCKETS),
        "expected_plaintexts": {
            "answer-short": {
                "kind": "answer",
                "report": REPORT_ID,
                "slot": 0,
                "flow": "worker_report",
                "flow_version": FLOW_VERSION,
                "lang": "ko",
                "question": "site",
                "answer": {"choice": "it_centre"},
            },
            "answer-200-korean": {"kind": "answer", "answer": {"text": "로동" * 100}},
            "answer-other": {
                "kind": "answer",
                "answer": {"choices": ["quota", "other"], "text": 'Ещё: "налог"\n'},
            },
            "dummy": {"kind": "dummy"},
            "manifest": {"kind": "manifest", "status": "complete", "slots": [0, 1, 2, 3]},
            "attachment": {
                "kind": "attachment",
                "media": "photo",
                "metadata": "stripped",
                "mime": "image/png",
                "ref": "photo1",
            },
        },
        "envelopes": envelopes,
        "digest": {
            "seq": 7,
            "day": "2025-03-01",
            "bot_key_id": bot.key_id.hex(),
            "key_ids": [k.hex() for k in recipients.key_ids],
            "entries": [e["name"] for e in envelopes],
            "length": len(digest),
            "base64": base64.b64encode(digest).decode("ascii"),
        },
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)  # noqa: T201 - a script


if __name__ == "__main__":
    main()
