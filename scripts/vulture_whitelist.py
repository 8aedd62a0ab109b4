"""Names vulture cannot see used: each is called or read by a library, not by our code.

`make deadcode` (part of `make test`) runs vulture with this file ([tool.vulture] in
pyproject.toml also skips decorated hooks: click commands, pydantic validators, pytest fixtures).
Anything else vulture reports is dead: remove it, do not add it here. A line here names a hook
a library calls, and says which library.
"""

# python-telegram-bot's Application calls these; ForgetfulApplication keeps nothing (bot/app.py).
_.mark_data_for_update_persistence
_._mark_for_persistence_update
_.chat_ids  # their parameters, named as PTB names them
_.user_ids
# PTB's BaseRateLimiter: the library calls process_request for every Bot API call.
_.process_request
# logging.Formatter's hooks, overridden (bot/ops/logging.py) so that no path renders a traceback.
_.formatException
_.formatStack
_.ei
_.stack_info
# The interpreter calls sys.unraisablehook (bot/ops/logging.py sets it).
_.unraisablehook
# openpyxl and zipfile read these attributes when the workbook is saved (analyst exports).
_.data_type
_.freeze_panes
_.modified
_.compress_type
# html.parser.HTMLParser calls these (tests/test_analyst_html.py, tests/test_analyst_exports.py).
_.handle_starttag
_.handle_endtag
_.handle_data
# Never called: mypy checks there that both stores satisfy the ReportStore protocol.
_._conforms
# Keys of the Bot API's JSON (handlers/telegram_calls.py TypedDicts): Telegram reads them.
_.callback_data
_.inline_keyboard
