-- 0003 email outbox: every message gatehouse sends is stored here before the first
-- delivery attempt, so a crash or an unreachable mail server delays it but never loses
-- it. The worker picks pending rows whose next_attempt_at has come (see the index),
-- retries with backoff and finally marks a row failed.
--
-- status is the `as_str()` name of `OutboxStatus` (pending, sent, failed); times are
-- whole seconds since the Unix epoch, as everywhere else.

CREATE TABLE email_outbox (
    id              TEXT    PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created         INTEGER NOT NULL,
    sent_at         INTEGER
);

CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_created ON email_outbox (created);
