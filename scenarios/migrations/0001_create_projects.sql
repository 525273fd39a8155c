-- A migration the PostgreSQL scenario applies with sqlx's migrator.
CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX projects_team_id ON projects (team_id);
