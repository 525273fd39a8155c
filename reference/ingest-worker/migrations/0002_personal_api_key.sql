-- Keys for the query API, sent as `Authorization: Bearer <key>`. PostHog calls them personal API keys
-- (`phx_…`); here each key is scoped to exactly one team. Only the SHA-256 of a key is stored
-- (`secure_value`, lowercase hex); the plain key is shown once, when it is created.

CREATE TABLE personal_api_key (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES team (id),
    label TEXT NOT NULL DEFAULT '',
    secure_value TEXT NOT NULL UNIQUE,
    -- the key's last four characters, to tell keys apart in listings
    mask_value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE INDEX personal_api_key_team ON personal_api_key (team_id);
