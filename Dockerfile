# Builds the cairn binary and runs it in a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p cairn-server

FROM debian:bookworm-slim
RUN useradd --system --home /data cairn && mkdir -p /data && chown cairn /data
COPY --from=build /src/target/release/cairn /usr/local/bin/cairn
USER cairn
VOLUME /data
EXPOSE 5433
ENV CAIRN_LISTEN=0.0.0.0:5433 CAIRN_DATA_DIR=/data
ENTRYPOINT ["cairn"]
CMD ["serve"]
