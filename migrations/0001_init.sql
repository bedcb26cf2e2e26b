-- gws-emulator schema, version 1.
-- Times are milliseconds since the Unix epoch (UTC), as in the API's utcTime.
-- Try: sqlite3 chat.db "SELECT * FROM transcript WHERE chat = '<id>'"

-- One row per chat. `id` is the chat id of the API; `rowid` joins the other tables.
CREATE TABLE chats (
    rowid          INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    nickname       TEXT    NOT NULL,
    subject        TEXT    NOT NULL DEFAULT '',
    user_data      TEXT,                 -- the RequestChat userData object, as JSON
    endpoint       TEXT,
    state          TEXT    NOT NULL CHECK (state IN ('WaitingForAgent', 'Chatting', 'Idle')),
    last_index     INTEGER NOT NULL DEFAULT 0,   -- index of the newest message
    created_at     INTEGER NOT NULL,
    last_customer_activity INTEGER NOT NULL,     -- drives the inactivity timeout
    ended_at       INTEGER
);
CREATE INDEX chats_by_state ON chats (state, created_at);

-- Everyone who took part in a chat, in join order. participant_id is the API's participantId.
CREATE TABLE participants (
    chat_rowid     INTEGER NOT NULL REFERENCES chats (rowid) ON DELETE CASCADE,
    participant_id INTEGER NOT NULL,
    nickname       TEXT    NOT NULL,
    type           TEXT    NOT NULL CHECK (type IN ('Customer', 'Agent', 'External')),
    joined_at      INTEGER NOT NULL,
    left_at        INTEGER,              -- NULL while in the chat
    PRIMARY KEY (chat_rowid, participant_id)
) WITHOUT ROWID;

-- The transcript: `idx` is the API's message index, 1-based and contiguous per chat.
CREATE TABLE messages (
    chat_rowid     INTEGER NOT NULL REFERENCES chats (rowid) ON DELETE CASCADE,
    idx            INTEGER NOT NULL,
    type           TEXT    NOT NULL CHECK (type IN ('Text', 'ParticipantJoined', 'ParticipantLeft',
                                                    'TypingStarted', 'TypingStopped', 'PushUrl', 'Notice')),
    participant_id INTEGER NOT NULL,
    text           TEXT,
    url            TEXT,
    utc_time       INTEGER NOT NULL,
    PRIMARY KEY (chat_rowid, idx)
) WITHOUT ROWID;

-- How far each reader has read: 'customer' (GetTranscript) and 'agent' (the admin API).
CREATE TABLE read_cursors (
    chat_rowid     INTEGER NOT NULL REFERENCES chats (rowid) ON DELETE CASCADE,
    reader         TEXT    NOT NULL CHECK (reader IN ('customer', 'agent')),
    last_read_index INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_rowid, reader)
) WITHOUT ROWID;

-- The simulated contact centre's pending work. due_at NULL: waits for an agent to join.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    chat_rowid     INTEGER NOT NULL REFERENCES chats (rowid) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('agent_join', 'system_message', 'bot_typing',
                                                    'bot_reply', 'idle_timeout')),
    due_at         INTEGER,
    reply_to       INTEGER               -- bot_typing/bot_reply: the customer message's idx
);
CREATE INDEX jobs_by_due ON jobs (due_at);
CREATE INDEX jobs_by_chat ON jobs (chat_rowid, kind);

-- Every message with its chat id, sender and a readable time.
CREATE VIEW transcript AS
SELECT c.id                                                     AS chat,
       m.idx                                                    AS "index",
       strftime('%Y-%m-%d %H:%M:%f', m.utc_time / 1000.0, 'unixepoch') AS utc,
       p.nickname                                               AS "from",
       p.type                                                   AS from_type,
       m.type                                                   AS type,
       coalesce(m.text, m.url)                                  AS text
FROM messages m
JOIN chats c ON c.rowid = m.chat_rowid
JOIN participants p ON p.chat_rowid = m.chat_rowid AND p.participant_id = m.participant_id;

-- Pending work with its chat id and a readable due time.
CREATE VIEW pending_work AS
SELECT j.id, c.id AS chat, j.kind,
       CASE WHEN j.due_at IS NULL THEN 'when an agent joins'
            ELSE strftime('%Y-%m-%d %H:%M:%f', j.due_at / 1000.0, 'unixepoch') END AS due,
       j.reply_to
FROM jobs j JOIN chats c ON c.rowid = j.chat_rowid;
