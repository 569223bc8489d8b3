# syntax=docker/dockerfile:1
#
# pdd-server image: `docker build -t pdd-server .`, then `docker run pdd-server -help`.
# Three stages: the release binary with every adapter compiled in, a freely licensed country
# database for -geocoder=maxmind, and a slim Debian runtime that runs as a non-root user.
# tests/process/docs.rs keeps this file in step with the binary and config.example.toml.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- build: the release binary, every adapter (the default features: mysql, maxmind, datadog,
# sentry; not --all-features, which would add the test doubles of the test-util feature) ------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds; the binary is
# copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/pdd-server /usr/local/bin/pdd-server

# --- country database ----------------------------------------------------------------------
# geo-whois-asn-country from ip-location-db, as published in the npm package
# @ip-location-db/geo-whois-asn-country-mmdb: the package is CC0-1.0; it is built from the
# regional internet registries' data, which the NRO licenses under CC BY 4.0 (attribution to
# nro.net). Both notices are shipped in /usr/share/doc/pdd-server/country-db/.
# `--build-arg COUNTRY_DB_VERSION=latest` takes the newest published database.
FROM node:20-${DEBIAN_RELEASE}-slim AS country-db
ARG COUNTRY_DB_VERSION=2.3.2026061719
WORKDIR /db
RUN npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@${COUNTRY_DB_VERSION}" \
    && tar -xzf ip-location-db-geo-whois-asn-country-mmdb-*.tgz \
    && mv package/geo-whois-asn-country.mmdb country.mmdb \
    && mkdir notices \
    && mv package/NRO_LICENSE package/README.md package/package.json notices/ \
    && printf '%s\n' \
        "country.mmdb is geo-whois-asn-country (IPv4 and IPv6) from ip-location-db," \
        "npm package @ip-location-db/geo-whois-asn-country-mmdb, licensed CC0-1.0." \
        "Its sources are the regional internet registries' data: see NRO_LICENSE (CC BY 4.0)." \
        > notices/NOTICE

# --- runtime -------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pdd \
    && useradd --system --uid 10001 --gid pdd --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pdd
COPY --from=build /usr/local/bin/pdd-server /usr/local/bin/pdd-server
COPY --from=country-db /db/country.mmdb /usr/share/pdd-server/country.mmdb
COPY --from=country-db /db/notices/ /usr/share/doc/pdd-server/country-db/
USER 10001:10001
# 8000: main (public) interface; 9990: admin interface, keep it private.
EXPOSE 8000 9990
# Asks the admin interface's /health; exit 0 healthy, 1 not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["pdd-server", "-healthcheck"]
ENTRYPOINT ["pdd-server"]
