# Builds the single provis binary; the same image runs `serve`, `work`, `migrate` or `all-in-one`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/provis

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/provis provis && mkdir -p /var/lib/provis && chown provis /var/lib/provis
COPY --from=build /src/target/release/provis /usr/local/bin/provis
USER provis
WORKDIR /var/lib/provis
EXPOSE 8000
ENTRYPOINT ["provis"]
CMD ["all-in-one", "--data-dir", "/var/lib/provis"]
