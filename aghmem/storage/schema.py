"""The SQLite schema of HOME/state/aghmem.db.

Derived tables (rebuilt from the files whenever their shape changes) and
history tables (decisions, signals, traces: only ever added to).
"""

# Bumped when a derived table changes shape: those are dropped and rebuilt
# from the files; history tables are only ever added to.
SCHEMA_VERSION = 6
DERIVED_TABLES = ("entries", "texts", "invalid_files", "index_dirty", "scanned_scopes")

# Indexes of `entries` whose keys come in no particular order as files are
# taken in (a body's hash, dates): a first load into an empty catalog drops
# them and builds each once at the end (`features.sync.deferred_indexes`).
DEFERRED_INDEXES = {
    "entries_body": "CREATE INDEX IF NOT EXISTS entries_body ON entries (scope_key, body_hash);",
    "entries_newest": "CREATE INDEX IF NOT EXISTS entries_newest ON entries (scope_key, mtime_ns DESC, filename);",
    "entries_created": "CREATE INDEX IF NOT EXISTS entries_created ON entries (scope_key, created_sort DESC, id);",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    scope_key     TEXT NOT NULL,
    filename      TEXT NOT NULL,
    id            TEXT NOT NULL,
    type          TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    body_hash     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    created_at    TEXT,
    updated_at    TEXT,
    entity        TEXT,
    attribute     TEXT,
    superseded_by TEXT,
    -- For the CF face (COMPAT N6): provenance.source_sessions[0], a valid
    -- metadata.cf_type, and created_at (else the file's mtime) to sort by.
    source_session TEXT,
    cf_type       TEXT,
    created_sort  TEXT NOT NULL,
    PRIMARY KEY (scope_key, filename)
) WITHOUT ROWID;
-- Each file's text as last seen, apart so that entry rows stay small.
CREATE TABLE IF NOT EXISTS texts (
    id  TEXT PRIMARY KEY,
    raw TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_id ON entries (id);
{entries_body}
CREATE INDEX IF NOT EXISTS entries_slot ON entries (scope_key, entity, attribute) WHERE entity IS NOT NULL;
{entries_newest}
{entries_created}
CREATE INDEX IF NOT EXISTS entries_session ON entries (scope_key, source_session, created_sort DESC, id)
    WHERE source_session IS NOT NULL;

-- Files not taken in: kind 'invalid' (cannot be read or parsed) or
-- 'quarantined' (a limit or the safety scan). size and mtime_ns say which
-- version was refused, so a scan skips it until it changes.
CREATE TABLE IF NOT EXISTS invalid_files (
    path      TEXT PRIMARY KEY,
    scope_key TEXT NOT NULL,
    filename  TEXT NOT NULL,
    error     TEXT NOT NULL,
    seen_at   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    rule      TEXT NOT NULL,
    size      INTEGER,
    mtime_ns  INTEGER
);
CREATE INDEX IF NOT EXISTS invalid_files_scope ON invalid_files (scope_key, filename);

-- Memories whose index document may differ from the catalog: marked in the
-- same transaction as the catalog change, cleared once the index commits.
CREATE TABLE IF NOT EXISTS index_dirty (
    id    TEXT PRIMARY KEY,
    stamp INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS scanned_scopes (
    scope_key  TEXT PRIMARY KEY,
    scanned_at TEXT NOT NULL
) WITHOUT ROWID;

-- Recall signals (history, kept across rebuilds of the derived tables).
CREATE TABLE IF NOT EXISTS signals (
    memory_id         TEXT PRIMARY KEY,
    recall_count      INTEGER NOT NULL DEFAULT 0,
    last_recalled_at  TEXT,
    first_recalled_at TEXT,
    recall_score      REAL NOT NULL DEFAULT 0,
    session_count     INTEGER NOT NULL DEFAULT 0,
    query_count       INTEGER NOT NULL DEFAULT 0,
    promoted_at       TEXT
);
CREATE TABLE IF NOT EXISTS signal_queries (
    memory_id  TEXT NOT NULL,
    query_hash TEXT NOT NULL,
    PRIMARY KEY (memory_id, query_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signal_sessions (
    memory_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (memory_id, session_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS surfaced (
    session_id TEXT NOT NULL,
    memory_id  TEXT NOT NULL,
    PRIMARY KEY (session_id, memory_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recall_traces (
    session_id  TEXT NOT NULL,
    turn_seq    INTEGER NOT NULL,
    executed_at TEXT NOT NULL,
    trace       TEXT NOT NULL,
    PRIMARY KEY (session_id, turn_seq)
) WITHOUT ROWID;

-- One line for each pruned decision (decisions.keep_audit_summary).
CREATE TABLE IF NOT EXISTS decision_summaries (
    id              TEXT PRIMARY KEY,
    scope_key       TEXT NOT NULL,
    op              TEXT NOT NULL,
    origin          TEXT NOT NULL,
    target_filename TEXT,
    reason          TEXT NOT NULL,
    applied_at      TEXT
);

-- Dream runs (DESIGN §8). A run that completed (promoted or skipped) sets
-- the time gate's clock; a failed one does not.
CREATE TABLE IF NOT EXISTS dreams (
    id              TEXT PRIMARY KEY,
    scope_key       TEXT NOT NULL,
    status          TEXT NOT NULL,
    trigger         TEXT NOT NULL,
    forced          INTEGER NOT NULL,
    candidate_count INTEGER NOT NULL DEFAULT 0,
    promoted_count  INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT NOT NULL,
    completed_at    TEXT,
    lock_until      TEXT,
    artifact_paths  TEXT NOT NULL DEFAULT '[]',
    decision_id     TEXT,
    reason          TEXT,
    failure_reason  TEXT,
    failure_path    TEXT,
    pid             INTEGER
);
CREATE INDEX IF NOT EXISTS dreams_scope ON dreams (scope_key, started_at);
CREATE INDEX IF NOT EXISTS dreams_started ON dreams (started_at);

-- Sessions as their ledgers' meta.json describe them ('' = unbound): what
-- the dream gate counts without reading the ledgers.
CREATE TABLE IF NOT EXISTS sessions (
    workspace_id  TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    stopped_at    TEXT,
    last_sequence INTEGER NOT NULL DEFAULT 0,
    event_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_stopped ON sessions (stopped_at) WHERE stopped_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS decisions (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    idempotency_key    TEXT NOT NULL,
    candidate_hash     TEXT NOT NULL,
    scope_key          TEXT NOT NULL,
    op                 TEXT NOT NULL,
    origin             TEXT NOT NULL,
    source             TEXT NOT NULL,
    reason             TEXT NOT NULL,
    confidence         REAL NOT NULL,
    targets            TEXT NOT NULL,
    target_filename    TEXT,
    frontmatter        TEXT,
    post_content       TEXT,
    post_content_hash  TEXT,
    prior_content      TEXT,
    prior_content_hash TEXT,
    rule_trace         TEXT NOT NULL,
    llm_trace          TEXT,
    prompt_version     TEXT,
    decided_at         TEXT NOT NULL,
    applied_at         TEXT,
    -- pending: recorded, file not yet changed; applied; recorded: nothing to
    -- apply (noop, reject); abandoned: the daemon died before applying.
    status             TEXT NOT NULL,
    reverts            TEXT
);
CREATE INDEX IF NOT EXISTS decisions_scope ON decisions (scope_key, seq);
CREATE INDEX IF NOT EXISTS decisions_target ON decisions (scope_key, target_filename, seq);
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (status) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS decisions_applied ON decisions (applied_at) WHERE applied_at IS NOT NULL;
""".format(**DEFERRED_INDEXES)
