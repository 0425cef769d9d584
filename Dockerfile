# syntax=docker/dockerfile:1

# Static (musl) builds of the images modeldeploy ships, one target each:
#   docker build --target operator .              modeldeploy/operator
#   docker build --target storage-initializer .   modeldeploy/storage-initializer
#   docker build --target demo-model .            modeldeploy/demo-model
#   docker build --target router .                modeldeploy/router
FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# The whole workspace: cargo needs every member to resolve the lock file.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p modeldeploy-operator --bin modeldeploy-operator \
        -p modeldeploy-storage-initializer --bin modeldeploy-storage-initializer \
        -p modeldeploy-demo-model --bin modeldeploy-demo-model \
        -p modeldeploy-router --bin modeldeploy-router \
 && mkdir /out \
 && cp target/x86_64-unknown-linux-musl/release/modeldeploy-operator \
       target/x86_64-unknown-linux-musl/release/modeldeploy-storage-initializer \
       target/x86_64-unknown-linux-musl/release/modeldeploy-demo-model \
       target/x86_64-unknown-linux-musl/release/modeldeploy-router /out/

FROM gcr.io/distroless/static-debian12:nonroot AS storage-initializer
COPY --from=builder /out/modeldeploy-storage-initializer /modeldeploy-storage-initializer
USER 65532:65532
ENTRYPOINT ["/modeldeploy-storage-initializer"]

FROM gcr.io/distroless/static-debian12:nonroot AS demo-model
COPY --from=builder /out/modeldeploy-demo-model /modeldeploy-demo-model
USER 65532:65532
ENTRYPOINT ["/modeldeploy-demo-model"]

FROM gcr.io/distroless/static-debian12:nonroot AS router
COPY --from=builder /out/modeldeploy-router /modeldeploy-router
USER 65532:65532
ENTRYPOINT ["/modeldeploy-router"]

# Last, so that a plain `docker build .` gives the operator.
FROM gcr.io/distroless/static-debian12:nonroot AS operator
COPY --from=builder /out/modeldeploy-operator /modeldeploy-operator
USER 65532:65532
ENTRYPOINT ["/modeldeploy-operator"]
