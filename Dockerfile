# syntax=docker/dockerfile:1
# The Baseplate operator image: `make image`, or `docker build -t baseplate:latest .`

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p baseplate \
    && cp target/release/baseplate /baseplate

# glibc and libgcc only: TLS is rustls, so no OpenSSL is needed.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /baseplate /baseplate
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/baseplate", "run"]
