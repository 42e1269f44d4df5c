# The single provis binary; one image runs `serve`, `work`, `migrate` or `all-in-one`
# (compose.yaml runs a cluster of them). Checked in CI by scripts/lint-deploy (hadolint).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin provis && strip target/release/provis

FROM debian:bookworm-slim
# CA roots for S3 and LLM endpoints over HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/provis --create-home provis
COPY --from=build /src/target/release/provis /usr/local/bin/provis
USER 10001
WORKDIR /var/lib/provis
ENV PROVIS_DATA_DIR=/var/lib/provis LOG_FORMAT=json
# 8000: the API (serve, all-in-one); 9464: a worker's /metrics and /health.
EXPOSE 8000 9464
ENTRYPOINT ["provis"]
CMD ["all-in-one"]
