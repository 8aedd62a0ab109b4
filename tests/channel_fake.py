"""A Bot API that knows one analyst channel: the calls the digest sender and the handshake make.

:class:`FakeChannelApi` is a ``BaseRequest``: a real ``telegram.Bot`` built on it talks to this
object instead of the network. The channel's properties (type, username, the bot's rights, the
administrators) are plain attributes a test changes to break a check. Every document posted is
kept in ``posted`` (file name, caption, bytes), so a test can hand exactly what the channel holds
to the analysts' toolkit.

Fault injection: with ``fault_rate`` set, that share of calls is answered with 429 and a
``retry_after``, a 5xx, or a timeout; a timeout on ``sendDocument`` may strike after the document
was posted (the confirmation is lost: the bot will post it again). ``on_call`` runs before each
call and ``after_call`` after Telegram acted but before it answers; either may raise (a test's
``BaseException`` stands for the process dying mid-post).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

JSON = dict[str, Any]

BOT_ID = 7_000_000_002
CHANNEL_ID = -1_001_234_567_890
ANALYST_IDS = (9_100_001, 9_100_002)
TOKEN = "123456789:AAchanneltesttoken_abcdefghijklmnopq"


@dataclass
class Posted:
    file_name: str
    caption: str
    data: bytes
    chat_id: int
    message_id: int


@dataclass
class FakeChannelApi(BaseRequest):
    channel_id: int = CHANNEL_ID
    chat_type: str = "channel"
    username: str | None = None
    bot_status: str = "administrator"
    bot_can_post: bool = True
    admins: list[int] = field(default_factory=lambda: list(ANALYST_IDS))  # every listed analyst
    bot_admins: list[int] = field(default_factory=list)  # other bots that administer it
    reachable: bool = True
    fault_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    on_call: Callable[[str], None] | None = None
    after_call: Callable[[str], None] | None = None  # after Telegram acted, before it answers
    posted: list[Posted] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def heal(self, admins: list[int] | None = None) -> None:
        """Back to a private channel where the bot may post and only ``admins`` administer."""
        self.chat_type = "channel"
        self.username = None
        self.bot_status = "administrator"
        self.bot_can_post = True
        self.admins = list(admins if admins is not None else ANALYST_IDS)
        self.bot_admins = []
        self.reachable = True

    # --- BaseRequest ------------------------------------------------------------------------

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1]
        self.calls.append(api)
        if self.on_call is not None:
            self.on_call(api)
        params: JSON = dict(request_data.parameters) if request_data is not None else {}
        files = request_data.multipart_data if request_data is not None else {}
        lose_confirmation = False
        if api != "getMe" and self.fault_rate and self.rng.random() < self.fault_rate:
            kind = self.rng.choice(("429", "5xx", "timeout"))
            self.faults[kind] = self.faults.get(kind, 0) + 1
            if kind == "429":
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 3",
                    "parameters": {"retry_after": 3},
                }
                return 429, json.dumps(body).encode()
            if kind == "5xx":
                status = self.rng.choice((500, 502, 504))
                body = {"ok": False, "error_code": status, "description": "Internal Server Error"}
                return status, json.dumps(body).encode()
            if api != "sendDocument" or self.rng.random() < 0.5:
                raise TimedOut("fake timeout")
            lose_confirmation = True  # posted, but the answer never reaches the bot
        status, result = self._answer(api, params, files)
        if self.after_call is not None:
            self.after_call(api)
        if lose_confirmation:
            raise TimedOut("fake timeout after posting")
        if status != 200:
            return status, json.dumps(result).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # --- the API ----------------------------------------------------------------------------

    def _user(self, uid: int, is_bot: bool = False) -> JSON:
        return {"id": uid, "is_bot": is_bot, "first_name": "Admin" if not is_bot else "Bot"}

    def _admin(self, uid: int, is_bot: bool = False, *, owner: bool = False) -> JSON:
        if owner:
            return {"status": "creator", "user": self._user(uid), "is_anonymous": False}
        return {
            "status": "administrator",
            "user": self._user(uid, is_bot),
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": False,
            "can_restrict_members": True,
            "can_promote_members": not is_bot,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
            "can_post_messages": True,
            "can_edit_messages": True,
        }

    def _bot_member(self) -> JSON:
        if self.bot_status == "administrator":
            member = self._admin(BOT_ID, True)
            member["can_post_messages"] = self.bot_can_post
            return member
        return {"status": self.bot_status, "user": self._user(BOT_ID, True)}

    def _answer(self, api: str, params: JSON, files: Any) -> tuple[int, Any]:
        if api == "getMe":
            return 200, {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Report",
                "username": "reportbot_channel_test_bot",
            }
        chat_id = int(params.get("chat_id", 0))
        if chat_id != self.channel_id or not self.reachable:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        if api == "getChat":
            chat: JSON = {
                "id": self.channel_id,
                "type": self.chat_type,
                "title": "analysts",
                "accent_color_id": 0,
                "max_reaction_count": 0,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
            if self.username is not None:
                chat["username"] = self.username
            return 200, chat
        if api == "getChatMember":
            if int(params["user_id"]) != BOT_ID:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request"}
            return 200, self._bot_member()
        if api == "getChatAdministrators":
            admins = [self._admin(uid, owner=(i == 0)) for i, uid in enumerate(self.admins)]
            if self.bot_status == "administrator":
                admins.append(self._bot_member())
            if params.get("return_bots"):
                admins += [self._admin(uid, True) for uid in self.bot_admins]
            return 200, admins
        if api == "sendDocument":
            if self.bot_status != "administrator" or not self.bot_can_post:
                return 403, {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: not enough rights to send documents",
                }
            name, content, _mime = files["document"]
            data = content if isinstance(content, bytes) else content.read()
            message_id = next(self._ids)
            self.posted.append(
                Posted(str(name), str(params.get("caption", "")), data, chat_id, message_id)
            )
            return 200, {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": {"id": self.channel_id, "type": "channel", "title": "analysts"},
                "document": {
                    "file_id": f"DOC{message_id}",
                    "file_unique_id": f"U{message_id}",
                    "file_name": str(name),
                    "file_size": len(data),
                },
                "caption": params.get("caption"),
            }
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def make_bot(api: FakeChannelApi) -> Bot:
    """A real ``telegram.Bot`` talking to ``api`` (initialise it with ``async with``)."""
    return Bot(TOKEN, base_url="http://bot-api.test/bot", request=api, get_updates_request=api)
