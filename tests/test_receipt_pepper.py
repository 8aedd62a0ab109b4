"""The receipt pepper stays out of the database and its backups, or the bot does not start
(issue 17.6).

The attack: someone copies the data directory (or a backup of it) and tests guessed receipt codes
offline against the stored tags. The pepper mixed into every tag blocks it only while it is not in
what they copied: ``reportbot run`` refuses to start without one, with one others can read, and
with one inside the data directory, also reached through a symlink.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.ops.settings import Settings, SettingsError
from bot.receipts.pepper import new_pepper_file
from bot.server import load_receipt_pepper
from reportbot_analyst.keys import AnalystSecretKey
from tests.bot_support import FLOW_PATH, LOCALES, TEST_TOKEN

REPORTBOT = Path(sys.executable).parent / "reportbot"


def _settings(tmp_path: Path, pepper: Path | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", receipt_pepper=pepper)


def _refusal(settings: Settings) -> str:
    with pytest.raises(SettingsError) as caught:
        load_receipt_pepper(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("REPORTBOT_RECEIPT_PEPPER: ")
    return message


def test_a_pepper_beside_the_bot_key_is_taken(tmp_path: Path) -> None:
    pepper = new_pepper_file(tmp_path / "keys")
    assert load_receipt_pepper(_settings(tmp_path, pepper)) is not None


def test_no_pepper_stops_the_start(tmp_path: Path) -> None:
    assert "required" in _refusal(_settings(tmp_path, None))


def test_a_pepper_in_the_data_directory_would_travel_with_its_backups_and_stops_the_start(
    tmp_path: Path,
) -> None:
    inside = new_pepper_file(tmp_path / "data" / "keys")
    assert "inside the data directory" in _refusal(_settings(tmp_path, inside))


def test_a_symlink_outside_to_a_pepper_inside_the_data_directory_stops_the_start(
    tmp_path: Path,
) -> None:
    inside = new_pepper_file(tmp_path / "data")
    link = tmp_path / "receipt.pepper"
    link.symlink_to(inside)
    assert "inside the data directory" in _refusal(_settings(tmp_path, link))


def test_a_pepper_others_can_read_stops_the_start(tmp_path: Path) -> None:
    pepper = new_pepper_file(tmp_path / "keys")
    pepper.chmod(0o644)
    _refusal(_settings(tmp_path, pepper))


@pytest.mark.slow
def test_reportbot_run_refuses_a_pepper_inside_the_data_directory_before_reaching_telegram(
    tmp_path: Path,
) -> None:
    analyst = AnalystSecretKey.generate()
    pub = tmp_path / "analyst.pub"
    pub.write_text(analyst.public.token() + "\n")
    data_dir = tmp_path / "data"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_COVER": "false",
        "REPORTBOT_API_URL": "http://127.0.0.1:9",  # nothing listens: it must not get that far
        "REPORTBOT_DATA_DIR": str(data_dir),
        "REPORTBOT_ANALYST_PUBLIC_KEYS": str(pub),
        "REPORTBOT_RECEIPT_PEPPER": str(new_pepper_file(data_dir)),
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
    }
    done = subprocess.run(
        [str(REPORTBOT), "run", "--env-file", str(tmp_path / "absent.env")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "REPORTBOT_RECEIPT_PEPPER: must not be inside the data directory" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
