//! Per-team API keys in PostgreSQL (table `personal_api_key`, an ingest-worker migration): creating a
//! key, and finding the team a key belongs to. Only the key's SHA-256 is stored.

use sqlx::PgPool;

use crate::error::Result;

/// Creates a key for `team_id` and returns it in plain text (`phx_` and 64 hex digits); it cannot be
/// read back later.
pub async fn create_api_key(pool: &PgPool, team_id: i64, label: &str) -> Result<String> {
    let key: String = sqlx::query_scalar(
        "SELECT 'phx_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')",
    )
    .fetch_one(pool)
    .await?;
    sqlx::query(
        "INSERT INTO personal_api_key (team_id, label, secure_value, mask_value) \
         VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'), right($3, 4))",
    )
    .bind(team_id)
    .bind(label)
    .bind(&key)
    .execute(pool)
    .await?;
    Ok(key)
}

/// The team `key` belongs to, if the key exists.
pub async fn team_for_key(pool: &PgPool, key: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT team_id FROM personal_api_key WHERE secure_value = encode(sha256(convert_to($1, 'UTF8')), 'hex')",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?)
}

/// The team's timezone, if the team exists.
pub async fn team_timezone(pool: &PgPool, team_id: i64) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT timezone FROM team WHERE id = $1")
            .bind(team_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The key of an `Authorization: Bearer <key>` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, key) = header.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_header() {
        assert_eq!(bearer("Bearer phx_1"), Some("phx_1"));
        assert_eq!(bearer("bearer  phx_1 "), Some("phx_1"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("phx_1"), None);
    }
}
