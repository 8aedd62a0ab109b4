"""Sealing benchmark: seal 10,000 answers and sign them as one digest, against the bare PyNaCl
calls on the same bytes in the same run.

    .venv/bin/python -m bench.bench_sealing [--answers 10000] [--rounds 3] [--analysts 2]

- *bare*: for each answer, the padded plaintext ``bot.sealing.envelope`` would encrypt (prepared
outside
  the timed loop): a random 32-byte key, ``crypto_aead_xchacha20poly1305_ietf_encrypt`` with a
  random nonce, ``crypto_box_seal`` of the key to each analyst; then one Ed25519 signature
  (``crypto_sign``) over bytes of the digest's size. This is the floor: the cryptography alone.
- *ours*: ``seal_answer`` for each answer (validation, canonical JSON, padding, the same
  cryptography, the envelope header), then ``sign_digest`` over all envelopes (structure
  checks, entry framing, padding to a size bucket, the signature).

Rounds alternate bare and ours; the medians are compared. Answers are a realistic mix: choices,
numbers, dates and free texts of 1 to 200 Korean or Russian characters.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date

import nacl.bindings
import nacl.utils
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bot.questionnaire.flow import AnswerValue
from bot.sealing.envelope import (
    ENVELOPE_MAGIC,
    FORMAT_VERSION,
    RecordKind,
    ReportContext,
    encode_plaintext,
    seal_answer,
    sign_digest,
)
from bot.sealing.keys import AnalystPublicKey, BotSigningKey, Recipients

FLOW_VERSION = "0123456789abcdef"


def _answers(n: int, rng: random.Random) -> list[tuple[str, AnswerValue]]:
    out: list[tuple[str, AnswerValue]] = []
    for i in range(n):
        pick = i % 4
        if pick == 0:
            out.append(("site", {"choice": rng.choice(["construction", "clothing", "it_centre"])}))
        elif pick == 1:
            out.append(("hours", {"number": rng.randint(0, 24)}))
        elif pick == 2:
            out.append(("since", {"year": rng.randint(2010, 2025), "month": rng.randint(1, 12)}))
        else:
            alphabet = rng.choice(["로동시간녀성손전화리용", "работачасыденьги"])
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
            out.append(("more", {"text": text}))
    return out


def _context() -> ReportContext:
    return ReportContext(report_id="ab" * 16, flow_id="bench", flow_version=FLOW_VERSION, lang="ko")


def run_ours(
    recipients: Recipients, bot: BotSigningKey, answers: list[tuple[str, AnswerValue]]
) -> tuple[float, int]:
    ctx = _context()
    start = time.perf_counter()
    envelopes = [
        seal_answer(recipients, ctx, slot=i % 65536, question=q, answer=a)
        for i, (q, a) in enumerate(answers)
    ]
    digest = sign_digest(
        bot, seq=1, day=date(2025, 1, 1), key_ids=recipients.key_ids, entries=envelopes
    )
    return time.perf_counter() - start, len(digest)


def run_bare(
    publics: list[tuple[bytes, bytes]], seed: bytes, plaintexts: list[bytes], digest_size: int
) -> float:
    header_start = ENVELOPE_MAGIC + bytes([FORMAT_VERSION, len(publics)])
    _, signing_secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    start = time.perf_counter()
    parts: list[bytes] = []
    for padded in plaintexts:
        key = nacl.utils.random(32)
        header = header_start + b"".join(
            kid + nacl.bindings.crypto_box_seal(key, pk) for kid, pk in publics
        )
        nonce = nacl.utils.random(24)
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            padded, header, nonce, key
        )
        parts.append(header + nonce + ciphertext)
    body = b"".join(parts)
    body += bytes(max(0, digest_size - 64 - len(body)))
    nacl.bindings.crypto_sign(body, signing_secret)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--analysts", type=int, default=2)
    args = parser.parse_args()

    rng = random.Random(2025)
    keys = [
        AnalystPublicKey(PrivateKey.generate().public_key, SigningKey.generate().verify_key)
        for _ in range(args.analysts)
    ]
    recipients = Recipients(keys)
    seed = nacl.utils.random(32)
    bot = BotSigningKey(SigningKey(seed))
    answers = _answers(args.answers, rng)
    ctx = _context()
    # The bare side encrypts exactly the bytes ours does (prepared outside the timing).
    plaintexts = [
        encode_plaintext({**ctx.fields(RecordKind.ANSWER, i % 65536), "question": q, "answer": a})
        for i, (q, a) in enumerate(answers)
    ]
    publics = [(kid, bytes(box)) for kid, box in recipients.boxes]

    ours_times: list[float] = []
    bare_times: list[float] = []
    digest_size = 0
    for _ in range(args.rounds):
        seconds, digest_size = run_ours(recipients, bot, answers)
        ours_times.append(seconds)
        bare_times.append(run_bare(publics, seed, plaintexts, digest_size))
    ours = statistics.median(ours_times)
    bare = statistics.median(bare_times)
    n = args.answers
    print(f"answers: {n}, analysts: {args.analysts}, rounds: {args.rounds}")
    print(f"bare PyNaCl: {bare:.3f} s ({n / bare:,.0f} answers/s)")
    print(f"ours:        {ours:.3f} s ({n / ours:,.0f} answers/s)")
    print(f"digest: {digest_size:,} bytes")
    print(
        f"| sealing: seal + sign {n:,} answers | {n:,} answers (choices, numbers, dates, texts "
        f"of 1-200 ko/ru characters) sealed to {args.analysts} analyst keys, then one signed "
        f"digest of {digest_size / 2**20:.0f} MiB; median of {args.rounds} alternating rounds | "
        f"bare PyNaCl (AEAD + crypto_box_seal per key + one crypto_sign) on the same bytes: "
        f"{bare:.2f} s | {ours:.2f} s (x{ours / bare:.2f}) | |"
    )


if __name__ == "__main__":
    main()
