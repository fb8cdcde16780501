# syntax=docker/dockerfile:1
# ccc-sync container image: `docker build -t ccc-sync .` (BuildKit, the default since Docker 23).
# The runtime image is distroless: glibc, CA certificates (the daemon verifies TLS against the OS trust store),
# no shell, no package manager. Kubernetes manifests: deploy/kubernetes/.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# aws-lc-sys compiles its C with the gcc already in the image; no cmake, no OpenSSL headers needed.
# The cache mounts keep the registry and the target directory between builds; the binary is copied out of
# the cached target directory because a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ccc-sync \
    && install -m 0755 target/release/ccc-sync /usr/local/bin/ccc-sync

# cc: glibc and libgcc (Rust unwinding), matching the bookworm builder; debian12 ships ca-certificates.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/ccc-sync /usr/local/bin/ccc-sync
# Numeric, so Kubernetes runAsNonRoot can verify it without a passwd lookup.
USER 65532:65532
# Mount the config here (Kubernetes: the ConfigMap), or pass --config.
ENV CCC_SYNC_CONFIG=/etc/ccc-sync/ccc-sync.toml
# [server] listen, for /livez, /readyz and /metrics.
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/ccc-sync"]
CMD ["run"]
