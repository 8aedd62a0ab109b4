"""Keys: the bot fails closed on a bad key; private key files stay private; retiring works."""

from __future__ import annotations

import base64
import json
import os
from datetime import date
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from bot.sealing.envelope import seal_answer, sign_digest, verify_digest
from bot.sealing.keys import (
    ANALYST_PUBLIC_PREFIX,
    AnalystPublicKey,
    KeyFileError,
    KeyPermissionError,
    Recipients,
    WrongKeyTypeError,
    fingerprint,
    load_analyst_public_key,
    load_bot_keys,
    load_bot_signing_key,
    load_bot_verify_key,
    load_recipients,
    new_bot_key,
)
from reportbot_analyst.keys import (
    AnalystSecretKey,
    PassphraseError,
    analyst_key_file_bytes,
    load_analyst_key,
    new_analyst_key,
)
from reportbot_analyst.opening import NotSealedToKeyError, open_envelope
from tests.sealing_support import PASSPHRASE, Team, make_team, report_context, write_team_files


@pytest.fixture
def team() -> Team:
    return make_team()


@pytest.fixture
def files(team: Team, tmp_path: Path) -> dict[str, Path]:
    return write_team_files(team, tmp_path / "keys")


# ---- the bot refuses private and malformed keys ----


def test_bot_refuses_to_start_with_an_analyst_private_key_as_public_key(
    files: dict[str, Path],
) -> None:
    with pytest.raises(WrongKeyTypeError, match="analyst PRIVATE key"):
        load_bot_keys(files["bot.key"], [files["alice.key"]])


def test_bot_refuses_an_unprotected_analyst_private_key_too(
    team: Team, tmp_path: Path, files: dict[str, Path]
) -> None:
    bare = tmp_path / "plain.key"
    bare.write_bytes(analyst_key_file_bytes(team.alice, None))
    bare.chmod(0o600)
    with pytest.raises(WrongKeyTypeError, match="PRIVATE"):
        load_bot_keys(files["bot.key"], [files["bob.pub"], bare])


def test_bot_refuses_an_analyst_private_key_as_its_signing_key(files: dict[str, Path]) -> None:
    with pytest.raises(WrongKeyTypeError, match="analyst PRIVATE key"):
        load_bot_keys(files["alice.key"], [files["alice.pub"]])


def test_bare_base64_key_is_refused_it_could_be_private(team: Team) -> None:
    raw_private = base64.b64encode(bytes(PrivateKey.generate()) * 2).decode()
    with pytest.raises(WrongKeyTypeError, match="bare key") as refused:
        load_analyst_public_key(raw_private)
    assert raw_private not in str(refused.value)  # the message never echoes key material
    with pytest.raises(WrongKeyTypeError, match="PEM"):
        load_analyst_public_key(
            ANALYST_PUBLIC_PREFIX + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )


@pytest.mark.parametrize(
    "text",
    [
        ANALYST_PUBLIC_PREFIX + base64.b64encode(bytes(range(63))).decode(),
        ANALYST_PUBLIC_PREFIX + base64.b64encode(bytes(range(65))).decode(),
        ANALYST_PUBLIC_PREFIX + "not base64 at all!",
        ANALYST_PUBLIC_PREFIX + "",
        # an all-zero X25519 key: a low-order point libsodium will not seal to
        ANALYST_PUBLIC_PREFIX + base64.b64encode(bytes(32) + bytes(range(32))).decode(),
    ],
)
def test_bad_lengths_encodings_and_weak_points_are_refused(text: str) -> None:
    with pytest.raises(KeyFileError):
        load_analyst_public_key(text)


def test_bot_verify_key_and_analyst_key_are_not_interchangeable(
    team: Team, files: dict[str, Path]
) -> None:
    with pytest.raises(WrongKeyTypeError):
        load_analyst_public_key(files["bot.pub"])
    with pytest.raises(WrongKeyTypeError):
        load_bot_verify_key(files["alice.pub"])
    with pytest.raises(WrongKeyTypeError, match="PRIVATE signing key"):
        load_bot_verify_key(files["bot.key"])


def test_recipients_refuse_anything_but_public_keys(team: Team) -> None:
    with pytest.raises(WrongKeyTypeError):
        AnalystPublicKey(PrivateKey.generate(), team.alice.signing_key.verify_key)  # type: ignore[arg-type]  # the attack under test
    with pytest.raises(KeyFileError, match="no active"):
        Recipients([])


def test_missing_analyst_keys_stop_the_start(files: dict[str, Path]) -> None:
    with pytest.raises(KeyFileError, match="no analyst public key"):
        load_bot_keys(files["bot.key"], [])
    with pytest.raises(KeyFileError, match="no such key file"):
        load_bot_keys(files["bot.key"], [files["alice.pub"].with_name("nobody.pub")])


def test_bot_loads_good_keys(team: Team, files: dict[str, Path]) -> None:
    keys = load_bot_keys(files["bot.key"], [files["alice.pub"], files["bob.pub"]])
    assert keys.signing.key_id == team.bot.key_id
    assert set(keys.recipients.key_ids) == {team.alice.key_id, team.bob.key_id}


# ---- permissions ----


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602, 0o610])
def test_private_key_files_others_can_access_are_refused(files: dict[str, Path], mode: int) -> None:
    files["bot.key"].chmod(mode)
    with pytest.raises(KeyPermissionError, match="chmod 600"):
        load_bot_signing_key(files["bot.key"])
    files["alice.key"].chmod(mode)
    with pytest.raises(KeyPermissionError, match="read by others"):
        load_analyst_key(files["alice.key"], lambda: PASSPHRASE)


def test_key_files_are_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        _, key_path, pub_path = new_bot_key(tmp_path / "bot")
        _, akey_path, _ = new_analyst_key(tmp_path / "a", "alice", PASSPHRASE, limits="min")
    finally:
        os.umask(old)
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert akey_path.stat().st_mode & 0o777 == 0o600
    assert load_bot_signing_key(key_path).public == load_bot_verify_key(pub_path)


def test_key_files_are_never_overwritten(tmp_path: Path) -> None:
    new_bot_key(tmp_path)
    before = (tmp_path / "bot.key").read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        new_bot_key(tmp_path)
    assert (tmp_path / "bot.key").read_bytes() == before


# ---- passphrases ----


def test_wrong_passphrase_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        load_analyst_key(files["alice.key"], lambda: "not the passphrase")


def test_passphrase_is_normalised_so_any_keyboard_opens_the_key(team: Team, tmp_path: Path) -> None:
    composed = "한글 비밀 문장입니다"
    import unicodedata

    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    path = tmp_path / "k.key"
    path.write_bytes(analyst_key_file_bytes(team.alice, composed, limits="min"))
    path.chmod(0o600)
    assert load_analyst_key(path, lambda: decomposed).key_id == team.alice.key_id


def test_short_passphrase_is_refused(team: Team) -> None:
    with pytest.raises(PassphraseError, match="too short"):
        analyst_key_file_bytes(team.alice, "short", limits="min")


def test_tampered_key_file_public_part_is_detected(team: Team, tmp_path: Path) -> None:
    doc = json.loads(analyst_key_file_bytes(team.alice, None))
    doc["public"] = team.bob.public.token()
    path = tmp_path / "k.key"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="do not match"):
        load_analyst_key(path, lambda: "")


def test_production_default_is_not_the_test_minimum(team: Team) -> None:
    doc = json.loads(analyst_key_file_bytes(team.alice, PASSPHRASE, limits="interactive"))
    assert doc["kdf"]["memlimit"] >= 64 * 1024 * 1024
    from reportbot_analyst.keys import DEFAULT_KDF_LIMITS, KDF_LIMITS

    assert KDF_LIMITS[DEFAULT_KDF_LIMITS][1] >= 256 * 1024 * 1024


# ---- several keys, retiring ----


def test_retired_key_is_not_sealed_to_but_old_digests_still_open(
    team: Team, files: dict[str, Path]
) -> None:
    ctx = report_context()
    # Before: alice and bob are active.
    before = load_bot_keys(files["bot.key"], [files["alice.pub"], files["bob.pub"]])
    old = seal_answer(before.recipients, ctx, slot=0, question="q", answer={"number": 1})
    old_digest = sign_digest(
        before.signing,
        seq=1,
        day=date(2025, 1, 1),
        key_ids=before.recipients.key_ids,
        entries=[old],
    )
    # Alice's key is retired (by key id): new envelopes are sealed to bob only.
    after = load_bot_keys(
        files["bot.key"], [files["alice.pub"], files["bob.pub"]], retired=[team.alice.key_id.hex()]
    )
    assert after.recipients.key_ids == (team.bob.key_id,)
    assert after.retired_ids == {team.alice.key_id}
    new = seal_answer(after.recipients, ctx, slot=1, question="q", answer={"number": 2})
    with pytest.raises(NotSealedToKeyError):
        open_envelope(new, [team.alice])
    assert open_envelope(new, [team.bob]).fields["answer"] == {"number": 2}
    # Alice still opens what was sealed to her before.
    digest = verify_digest(old_digest, team.bot.public)
    entry = digest.entries[0]
    assert isinstance(entry, bytes)
    assert open_envelope(entry, [team.alice]).fields["answer"] == {"number": 1}


def test_retiring_every_key_stops_the_start(team: Team, files: dict[str, Path]) -> None:
    with pytest.raises(KeyFileError, match="retired"):
        load_recipients([files["alice.pub"]], retired=[files["alice.pub"]])


def test_fingerprints_are_25_digits_in_groups_of_five(team: Team) -> None:
    fp = team.alice.public.fingerprint
    groups = fp.split(" ")
    assert [len(g) for g in groups] == [5, 5, 5, 5, 5]
    assert all(g.isdigit() for g in groups)
    assert fp != team.bob.public.fingerprint
    assert fingerprint(b"x") == fingerprint(b"x")


def test_new_analyst_key_round_trips(tmp_path: Path) -> None:
    key, key_path, pub_path = new_analyst_key(tmp_path, "alice", PASSPHRASE, limits="min")
    assert isinstance(key, AnalystSecretKey)
    assert load_analyst_public_key(pub_path) == key.public
    assert load_analyst_key(key_path, lambda: PASSPHRASE).secret == key.secret
