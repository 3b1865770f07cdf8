-- 0007 outposts: what serves proxy providers (and later LDAP and RADIUS). gatehouse runs
-- one embedded outpost in process; the table keeps authentik's model so the API and its
-- clients see outposts as they know them. Stored whole as JSON, the name kept unique.
CREATE TABLE outposts (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    managed     TEXT UNIQUE,
    outpost_json TEXT NOT NULL
);
