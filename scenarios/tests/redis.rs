//! Redis with the `redis` crate: set, get, expire and counters under a key prefix of its own.
#![cfg(feature = "services")]

use redis::Commands as _;

#[test]
fn set_get_and_counters_round_trip() -> anyhow::Result<()> {
    let url = scenarios::endpoints()?.redis_url;
    let prefix = scenarios::unique("r");
    let mut conn = redis::Client::open(url.as_str())?.get_connection()?;

    let () = conn.set(format!("{prefix}:greeting"), "hello")?;
    let got: String = conn.get(format!("{prefix}:greeting"))?;
    assert_eq!(got, "hello");
    let missing: Option<String> = conn.get(format!("{prefix}:absent"))?;
    assert_eq!(missing, None);

    let () = conn.set_ex(format!("{prefix}:short"), "v", 60)?;
    let ttl: i64 = conn.ttl(format!("{prefix}:short"))?;
    assert!((1..=60).contains(&ttl), "ttl {ttl}");

    for _ in 0..5 {
        let _: i64 = conn.incr(format!("{prefix}:n"), 2)?;
    }
    let n: i64 = conn.get(format!("{prefix}:n"))?;
    assert_eq!(n, 10);

    let removed: i64 = conn.del(&[
        format!("{prefix}:greeting"),
        format!("{prefix}:short"),
        format!("{prefix}:n"),
    ])?;
    assert_eq!(removed, 3);
    Ok(())
}
