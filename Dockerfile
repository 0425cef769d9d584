# syntax=docker/dockerfile:1

# Static (musl) build of the operator.
FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crds crds
COPY operator operator
COPY e2e e2e
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p modeldeploy-operator --bin modeldeploy-operator \
 && cp target/x86_64-unknown-linux-musl/release/modeldeploy-operator /modeldeploy-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /modeldeploy-operator /modeldeploy-operator
USER 65532:65532
ENTRYPOINT ["/modeldeploy-operator"]
