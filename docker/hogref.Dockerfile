# syntax=docker/dockerfile:1
# The Hogref reference server, built from the workspace root:
#   docker build -f docker/hogref.Dockerfile -t hogref:dev .
# (docker-compose.yml builds it with context `..`). docker/hogref.Dockerfile.dockerignore keeps
# target/ and .git/ out of the build context.

FROM rust:1.95-bookworm AS builder
# rdkafka-sys compiles the bundled librdkafka; cmake covers its cmake-build feature if enabled.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p hogref \
    && cp target/release/hogref /usr/local/bin/hogref

FROM debian:bookworm-slim AS runtime
# ca-certificates for https:// ClickHouse; curl for the compose healthcheck.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home hogref
COPY --from=builder /usr/local/bin/hogref /usr/local/bin/hogref
# `hogref serve` applies Hogref's ClickHouse migrations on start from `migrations/clickhouse`, relative
# to the working directory (`--migrations DIR` overrides, `--no-migrate` skips).
WORKDIR /usr/share/hogref
COPY migrations/clickhouse /usr/share/hogref/migrations/clickhouse
USER hogref
# Capture API and query API (HOGREF_CAPTURE_PORT / HOGREF_QUERY_PORT defaults); /metrics on both.
EXPOSE 3000 8000
ENTRYPOINT ["/usr/local/bin/hogref"]
# `hogref serve` runs capture, the ingestion worker and the query API, configured entirely from the
# environment (crate `settings`; the variables of docker/.env.example).
CMD ["serve"]
