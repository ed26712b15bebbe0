# syntax=docker/dockerfile:1
# simulate's container image: the `simulate` binary on Debian bookworm-slim, run as a
# non-root user. Used by deploy/kubernetes/ (docs/KUBERNETES.md):
#
#   docker build -t ghcr.io/simulate/simulate:0.1.0 .
#
# Not built in this project's CI (no container engine there): tests/it/deploy.rs checks
# what can be checked without one (every COPY source exists and is not ignored, the binary
# and the manifests agree with Cargo.toml and the command line).

# The build: cargo's registry and the target folder are cache mounts, so a rebuild after a
# source change recompiles our crates only.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# What the build reads: the workspace, the SQLite build flags, and the files the binary
# embeds (the shipped personas, scenario, mapping, proto and event schema).
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY crates crates
COPY src src
COPY personas personas
COPY scenarios scenarios
COPY mappings mappings
COPY proto proto
COPY schema schema
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin simulate \
    && cp target/release/simulate /usr/local/bin/simulate

# The runtime: no compiler, no certificates package (TLS roots are compiled in through
# webpki-roots), a shell for the merge Job's wait.
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 simulate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /work simulate \
    && mkdir /work /results && chown simulate:simulate /work /results
COPY --from=builder /usr/local/bin/simulate /usr/local/bin/simulate
USER 10001:10001
WORKDIR /work
# Prometheus metrics of `--metrics-addr 0.0.0.0:9464` (docs/METRICS.md).
EXPOSE 9464
ENTRYPOINT ["simulate"]
CMD ["--help"]
