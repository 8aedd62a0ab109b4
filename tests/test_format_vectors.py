"""A second, independent reader of docs/format.md: it must open the checked-in test vectors.

Written from the specification alone, step by step, with plain PyNaCl bindings and hashlib.
Nothing from ``bot`` is imported at module level: if the spec and the code drift apart, these
tests fail. (The last tests also run the project's own reader over the same vectors.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import unicodedata
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import pytest

VECTORS = Path(__file__).parent / "vectors" / "format-v1.json"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return doc


# ---- the independent implementation (docs/format.md, sections 1-3) --------------------------


def blake2b(data: bytes, size: int, person: bytes) -> bytes:
    assert len(person) == 16
    return hashlib.blake2b(data, digest_size=size, person=person).digest()


def spec_key_id(public: bytes) -> str:
    return blake2b(public, 8, b"reportbot-keyid1").hex()


def spec_fingerprint(public: bytes) -> str:
    number = int.from_bytes(blake2b(public, 32, b"reportbot-fpr-v1"), "big") % 10**25
    digits = f"{number:025d}"
    return " ".join(digits[i : i + 5] for i in range(0, 25, 5))


def spec_public_text(text: str, prefix: str, size: int) -> bytes:
    assert text.startswith(prefix)
    raw = base64.b64decode(text[len(prefix) :], validate=True)
    assert len(raw) == size
    return raw


def spec_canonical(obj: object) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def spec_open_envelope(
    data: bytes, key_id: bytes, pk: bytes, sk: bytes, buckets: list[int]
) -> tuple[dict[str, Any], bytes]:
    # 2.2 step 1: magic and version
    assert data[0:4] == b"RBSE"
    assert data[4] == 1
    # step 2: recipients
    n = data[5]
    assert 1 <= n <= 16
    header_end = 6 + 88 * n
    recipients = [
        (data[6 + 88 * i : 6 + 88 * i + 8], data[6 + 88 * i + 8 : 6 + 88 * (i + 1)])
        for i in range(n)
    ]
    assert [r[0] for r in recipients] == sorted({r[0] for r in recipients})
    nonce = data[header_end : header_end + 24]
    ciphertext = data[header_end + 24 :]
    assert len(ciphertext) - 16 in buckets
    # step 3: my sealed data key
    sealed = dict(recipients)[key_id]
    data_key = sodium.crypto_box_seal_open(sealed, pk, sk)
    assert len(data_key) == 32
    # step 4: AEAD with the whole header as associated data
    padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        ciphertext, data[:header_end], nonce, data_key
    )
    # step 5: unpad with the padded length as block size
    plain = sodium.sodium_unpad(padded, len(padded))
    # step 6: u32 length, JSON, body
    (length,) = struct.unpack(">I", plain[:4])
    assert length <= 61440
    raw_json = plain[4 : 4 + length]
    body = plain[4 + length :]
    # step 7: canonical JSON object with a kind
    fields = json.loads(raw_json.decode("utf-8"))
    assert isinstance(fields, dict)
    assert isinstance(fields["kind"], str)
    assert spec_canonical(fields) == raw_json
    return fields, body


def spec_read_digest(data: bytes, verify_key: bytes) -> dict[str, Any]:
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        assert pos + n <= len(data), "truncated"
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    assert take(4) == b"RBSD"
    assert take(1) == b"\x01"
    (seq,) = struct.unpack(">Q", take(8))
    day = take(10).decode("ascii")
    bot_key_id = take(8)
    k = take(1)[0]
    key_ids = [take(8) for _ in range(k)]
    (count,) = struct.unpack(">I", take(4))
    entries: list[tuple[str, bytes, int]] = []
    for _ in range(count):
        tag = take(1)[0]
        (length,) = struct.unpack(">I", take(4))
        if tag == 1:
            entries.append(("inline", take(length), length))
        else:
            assert tag == 2
            entries.append(("external", take(32), length))
    (padding,) = struct.unpack(">I", take(4))
    assert take(padding) == bytes(padding)
    signed = data[:pos]
    signature = take(64)
    assert pos == len(data)
    # 3.2 step 3: Ed25519 over everything before the signature
    assert sodium.crypto_sign_open(signature + signed, verify_key) == signed
    return {
        "seq": seq,
        "day": day,
        "bot_key_id": bot_key_id.hex(),
        "key_ids": [kid.hex() for kid in key_ids],
        "entries": entries,
    }


def spec_open_key_file(text: str, passphrase: str | None) -> bytes:
    doc = json.loads(text)
    assert doc["type"] == "reportbot-analyst-secret-key"
    assert doc["v"] == 1
    if doc["protection"] == "none":
        secret = base64.b64decode(doc["secret"], validate=True)
    else:
        assert doc["protection"] == "argon2id"
        assert passphrase is not None
        kdf = doc["kdf"]
        wrap = sodium.crypto_pwhash_alg(
            32,
            unicodedata.normalize("NFC", passphrase).encode("utf-8"),
            base64.b64decode(kdf["salt"], validate=True),
            kdf["opslimit"],
            kdf["memlimit"],
            sodium.crypto_pwhash_ALG_ARGON2ID13,
        )
        boxed = base64.b64decode(doc["secret"], validate=True)
        assert len(boxed) == 104
        secret = sodium.crypto_secretbox_open(boxed[24:], boxed[:24], wrap)
    assert len(secret) == 64
    public = sodium.crypto_scalarmult_base(secret[:32])
    verify, _ = sodium.crypto_sign_seed_keypair(secret[32:])
    assert doc["public"] == "rb-analyst-pub-v1:" + base64.b64encode(public + verify).decode()
    return secret


# ---- the tests ---------------------------------------------------------------------------------


def test_key_ids_fingerprints_and_key_texts_follow_the_spec(vectors: dict[str, Any]) -> None:
    for analyst in vectors["analysts"]:
        sk = bytes.fromhex(analyst["x25519_secret"])
        pk = sodium.crypto_scalarmult_base(sk)
        verify, _ = sodium.crypto_sign_seed_keypair(bytes.fromhex(analyst["ed25519_seed"]))
        raw = spec_public_text(analyst["public_text"], "rb-analyst-pub-v1:", 64)
        assert raw == pk + verify
        assert spec_key_id(pk) == analyst["key_id"]
        assert spec_fingerprint(pk + verify) == analyst["fingerprint"]
    bot = vectors["bot"]
    verify, _ = sodium.crypto_sign_seed_keypair(bytes.fromhex(bot["seed"]))
    assert spec_public_text(bot["verify_text"], "rb-bot-verify-v1:", 32) == verify
    assert spec_key_id(verify) == bot["key_id"]
    assert spec_fingerprint(verify) == bot["fingerprint"]


def test_passphrase_protected_key_file_opens_per_spec(vectors: dict[str, Any]) -> None:
    alice = next(a for a in vectors["analysts"] if a["name"] == "alice")
    secret = spec_open_key_file(vectors["key_file"]["text"], vectors["key_file"]["passphrase"])
    assert secret[:32].hex() == alice["x25519_secret"]
    assert secret[32:].hex() == alice["ed25519_seed"]
    bob = next(a for a in vectors["analysts"] if a["name"] == "bob")
    secret = spec_open_key_file(vectors["key_file_unprotected"]["text"], None)
    assert secret[:32].hex() == bob["x25519_secret"]


def test_wrong_passphrase_does_not_open_the_vector_key_file(vectors: dict[str, Any]) -> None:
    with pytest.raises(nacl.exceptions.CryptoError):
        spec_open_key_file(vectors["key_file"]["text"], "not the passphrase")


def test_every_envelope_opens_with_each_recipient_per_spec(vectors: dict[str, Any]) -> None:
    buckets = vectors["buckets"]
    expected = vectors["expected_plaintexts"]
    for analyst in vectors["analysts"]:
        sk = bytes.fromhex(analyst["x25519_secret"])
        pk = sodium.crypto_scalarmult_base(sk)
        kid = bytes.fromhex(analyst["key_id"])
        for env in vectors["envelopes"]:
            data = bytes.fromhex(env["hex"])
            if not analyst["recipient"]:
                n = data[5]
                listed = {data[6 + 88 * i : 6 + 88 * i + 8] for i in range(n)}
                assert kid not in listed  # carol is not a recipient: nothing to open
                continue
            fields, body = spec_open_envelope(data, kid, pk, sk, buckets)
            for key, value in expected[env["name"]].items():
                assert fields[key] == value, (env["name"], key)
            if fields["kind"] == "attachment":
                assert len(body) == fields["size"]
                assert body.startswith(b"\x89PNG")
            else:
                assert body == b""


def test_short_and_200_character_answers_have_one_length(vectors: dict[str, Any]) -> None:
    by_name = {e["name"]: bytes.fromhex(e["hex"]) for e in vectors["envelopes"]}
    assert len(by_name["answer-short"]) == len(by_name["answer-200-korean"])
    assert len(by_name["answer-short"]) == 6 + 88 * 2 + 24 + 16 + 1024


def test_digest_verifies_and_lists_every_envelope_per_spec(vectors: dict[str, Any]) -> None:
    bot_verify, _ = sodium.crypto_sign_seed_keypair(bytes.fromhex(vectors["bot"]["seed"]))
    spec = vectors["digest"]
    data = base64.b64decode(spec["base64"])
    assert len(data) == spec["length"]
    digest = spec_read_digest(data, bot_verify)
    assert digest["seq"] == spec["seq"]
    assert digest["day"] == spec["day"]
    assert digest["bot_key_id"] == spec["bot_key_id"] == vectors["bot"]["key_id"]
    assert digest["key_ids"] == spec["key_ids"]
    envelopes = {e["name"]: e for e in vectors["envelopes"]}
    assert len(digest["entries"]) == len(spec["entries"])
    for (kind, payload, length), name in zip(digest["entries"], spec["entries"], strict=True):
        envelope = bytes.fromhex(envelopes[name]["hex"])
        assert length == len(envelope)
        if kind == "inline":
            assert envelopes[name]["inline"]
            assert payload == envelope
        else:
            assert not envelopes[name]["inline"]
            assert payload == blake2b(envelope, 32, b"reportbot-blob-1")
    # The padded size is a power of two from 32 KiB (section 3.4).
    assert len(data) >= 32 * 1024
    assert len(data) & (len(data) - 1) == 0


def test_altered_digest_fails_the_spec_signature_check(vectors: dict[str, Any]) -> None:
    bot_verify, _ = sodium.crypto_sign_seed_keypair(bytes.fromhex(vectors["bot"]["seed"]))
    data = bytearray(base64.b64decode(vectors["digest"]["base64"]))
    data[40] ^= 0x01
    with pytest.raises((AssertionError, nacl.exceptions.BadSignatureError)):
        spec_read_digest(bytes(data), bot_verify)


def test_documented_buckets_are_the_vectors_buckets(vectors: dict[str, Any]) -> None:
    doc = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    for bucket in vectors["buckets"]:
        assert f"{bucket:,}" in doc, f"bucket {bucket} is not in docs/format.md"


# ---- the project's own reader agrees on the same vectors ---------------------------------------


def test_project_reader_opens_the_vectors(vectors: dict[str, Any]) -> None:
    from bot.sealing.envelope import PAD_BUCKETS, verify_digest
    from bot.sealing.keys import fingerprint, key_id, parse_bot_verify_key
    from reportbot_analyst.keys import parse_analyst_key_file
    from reportbot_analyst.opening import open_envelope

    assert list(PAD_BUCKETS) == vectors["buckets"]
    alice = parse_analyst_key_file(
        vectors["key_file"]["text"], lambda: str(vectors["key_file"]["passphrase"])
    )
    assert alice.key_id.hex() == vectors["analysts"][0]["key_id"]
    assert alice.public.fingerprint == vectors["analysts"][0]["fingerprint"]
    bot = parse_bot_verify_key(vectors["bot"]["verify_text"])
    assert key_id(bot.raw).hex() == vectors["bot"]["key_id"]
    assert fingerprint(bot.raw) == vectors["bot"]["fingerprint"]
    digest = verify_digest(base64.b64decode(vectors["digest"]["base64"]), bot)
    assert digest.seq == vectors["digest"]["seq"]
    for env in vectors["envelopes"]:
        opened = open_envelope(bytes.fromhex(env["hex"]), [alice])
        for key, value in vectors["expected_plaintexts"][env["name"]].items():
            assert opened.fields[key] == value
