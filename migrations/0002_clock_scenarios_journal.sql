-- gws-emulator schema, version 2: the controllable clock, each chat's own time, agent scenarios,
-- the request journal, and the index retention uses to find ended chats.

-- The emulator's time: the wall clock plus offset_ms, or frozen_at while frozen (ms since the epoch).
CREATE TABLE clock (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms      INTEGER NOT NULL DEFAULT 0,
    frozen_at      INTEGER
);
INSERT INTO clock (id) VALUES (1);

-- A chat's own time is the emulator's time plus clock_offset (ms).
ALTER TABLE chats ADD COLUMN clock_offset INTEGER NOT NULL DEFAULT 0;
-- The scenario the chat runs, and its steps as they were when the chat picked it (JSON).
-- NULL for chats from schema version 1: they follow --agent-mode.
ALTER TABLE chats ADD COLUMN scenario TEXT;
ALTER TABLE chats ADD COLUMN scenario_steps TEXT;
-- 1 once the bot's rules answer the customer ("then": "bot"); NULL: as --agent-mode says.
ALTER TABLE chats ADD COLUMN bot INTEGER;
-- Retention deletes ended chats by the time they ended.
CREATE INDEX chats_by_end ON chats (ended_at) WHERE ended_at IS NOT NULL;

-- Pending work gains the scenario's steps: scenario_step runs step `step` (1-based) once its
-- delay passed; scenario_typed ends the typing of step `step`; scenario_wait is the waitFor of
-- step `step` (due at its timeout; without one, NULL: it waits for the customer's message).
DROP VIEW pending_work;
CREATE TABLE jobs_v2 (
    id             INTEGER PRIMARY KEY,
    chat_rowid     INTEGER NOT NULL REFERENCES chats (rowid) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('agent_join', 'system_message', 'bot_typing',
                                                    'bot_reply', 'idle_timeout', 'scenario_step',
                                                    'scenario_typed', 'scenario_wait')),
    due_at         INTEGER,              -- the emulator's time; NULL: waits for an agent or a message
    reply_to       INTEGER,              -- bot_typing/bot_reply: the customer message's idx
    step           INTEGER               -- scenario_step/scenario_wait: the step, from 1
);
INSERT INTO jobs_v2 (id, chat_rowid, kind, due_at, reply_to)
    SELECT id, chat_rowid, kind, due_at, reply_to FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_by_due ON jobs (due_at);
CREATE INDEX jobs_by_chat ON jobs (chat_rowid, kind);

CREATE VIEW pending_work AS
SELECT j.id, c.id AS chat, j.kind,
       CASE WHEN j.due_at IS NULL THEN 'when an agent joins or the customer writes'
            ELSE strftime('%Y-%m-%d %H:%M:%f', j.due_at / 1000.0, 'unixepoch') END AS due,
       j.reply_to, j.step
FROM jobs j JOIN chats c ON c.rowid = j.chat_rowid;

-- Scenarios added at run time (PUT /__admin/scenarios/{name}); the files of --scenarios-dir
-- are not copied here.
CREATE TABLE scenarios (
    name           TEXT    PRIMARY KEY,
    document       TEXT    NOT NULL,     -- the scenario as JSON
    updated_at     INTEGER NOT NULL
);

-- The request journal: every customer API request, newest last; at most --journal-size rows.
CREATE TABLE requests (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,     -- wall-clock time the request arrived (ms)
    method         TEXT    NOT NULL,
    path           TEXT    NOT NULL,     -- with the query string
    chat           TEXT,                 -- the chat id, when the path or the answer names one
    operation      TEXT,
    request_body   TEXT,                 -- up to 4 KiB
    http_status    INTEGER,              -- NULL: the connection was dropped without an answer
    status_code    INTEGER,              -- the answer's GWS statusCode
    response_body  TEXT,                 -- up to 4 KiB
    truncated      INTEGER NOT NULL DEFAULT 0,  -- 1 when a body was cut
    duration_us    INTEGER NOT NULL,
    fault          TEXT                  -- the fault injected, as JSON
);
CREATE INDEX requests_by_chat ON requests (chat, id);
