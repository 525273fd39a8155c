-- Hogref's PostgreSQL schema for ingestion: teams, persons, distinct ids, groups.
-- Column names follow PostHog's posthog_team / posthog_person / posthog_persondistinctid / posthog_group.

CREATE TABLE team (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL DEFAULT gen_random_uuid(),
    -- NULL means "same as id" (one project per team so far)
    project_id BIGINT,
    name TEXT NOT NULL,
    api_token TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    anonymize_ips BOOLEAN NOT NULL DEFAULT false,
    person_processing_opt_out BOOLEAN NOT NULL DEFAULT false,
    drop_events_older_than_seconds BIGINT,
    ingested_event BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE person (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL,
    team_id BIGINT NOT NULL REFERENCES team (id),
    properties JSONB NOT NULL DEFAULT '{}',
    properties_last_updated_at JSONB NOT NULL DEFAULT '{}',
    properties_last_operation JSONB NOT NULL DEFAULT '{}',
    is_user_id BIGINT,
    is_identified BOOLEAN NOT NULL DEFAULT false,
    version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, uuid)
);

CREATE TABLE person_distinct_id (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES team (id),
    person_id BIGINT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    distinct_id TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    UNIQUE (team_id, distinct_id)
);
CREATE INDEX person_distinct_id_person ON person_distinct_id (person_id);

-- Distinct ids seen on personless events, so a later merge writes an override (version 1).
CREATE TABLE personless_distinct_id (
    team_id BIGINT NOT NULL REFERENCES team (id),
    distinct_id TEXT NOT NULL,
    is_merged BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, distinct_id)
);

-- At most 5 group types per project, indexes 0..4.
CREATE TABLE group_type_mapping (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES team (id),
    project_id BIGINT NOT NULL,
    group_type TEXT NOT NULL,
    group_type_index SMALLINT NOT NULL CHECK (group_type_index BETWEEN 0 AND 4),
    UNIQUE (project_id, group_type),
    UNIQUE (project_id, group_type_index)
);

CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES team (id),
    group_type_index SMALLINT NOT NULL,
    group_key TEXT NOT NULL,
    group_properties JSONB NOT NULL DEFAULT '{}',
    properties_last_updated_at JSONB NOT NULL DEFAULT '{}',
    properties_last_operation JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    UNIQUE (team_id, group_type_index, group_key)
);
