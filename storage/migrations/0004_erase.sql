-- Message ids the bot still has to delete from a reporter's chat, so that erasing survives a
-- restart (see docs/threat-model.md, "The reporter's phone"). No chat id, no user id: a row names
-- a conversation only by a random key made in memory, and a message id alone does not say which
-- chat it is in (the bot tries them in the chat of whoever writes next; deleteMessages skips ids
-- that are not in that chat). Rows go as soon as their messages are deleted, and after two days
-- at the latest (Telegram lets a bot delete messages for 48 hours only). keep = 1: a receipt the
-- reporter has not yet confirmed writing down; it stays on screen through a restart.

CREATE TABLE erase_pending (
    conversation BLOB NOT NULL
                 CHECK (typeof(conversation) = 'blob' AND length(conversation) = 16),
    message_id   INTEGER NOT NULL CHECK (typeof(message_id) = 'integer' AND message_id > 0),
    keep         INTEGER NOT NULL DEFAULT 0 CHECK (keep IN (0, 1)),
    created_day  TEXT NOT NULL CHECK (date(created_day) IS created_day),
    PRIMARY KEY (conversation, message_id)
) WITHOUT ROWID;
