# syntax=docker/dockerfile:1
# llm-cost-exporter image. Built with the same scripts CI runs (scripts/install-deps,
# scripts/build), from Debian bookworm packages only, so the image and the tested
# binary come from one recipe. The base is pinned to a dated snapshot tag so that a
# rebuild gets the same distribution; bump it deliberately (and the digest, if you pin one).
ARG DEBIAN_IMAGE=debian:bookworm-20260824-slim

FROM ${DEBIAN_IMAGE} AS build
# The git revision for --version and llm_exporter_build_info: the build context has
# no .git (.dockerignore). `--build-arg REVISION=$(git rev-parse --short=12 HEAD)`.
ARG REVISION=unknown
WORKDIR /src
# Dependencies first: this layer is reused until the package list changes.
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build && rm -rf /var/lib/apt/lists/*
COPY . .
# Neither tests nor benchmarks: they need test-only packages (python3, GoogleTest).
RUN BUILD_TESTS=OFF REVISION="${REVISION}" scripts/build
# RelWithDebInfo keeps symbols for local debugging; the image does not need them.
RUN strip --strip-unneeded build/exporter/llm-cost-exporter build/exporter/tools/llm-traffic-gen

FROM ${DEBIAN_IMAGE}
COPY scripts/install-deps /tmp/install-deps
RUN /tmp/install-deps --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps \
 && groupadd --system --gid 10429 llm \
 && useradd --system --uid 10429 --gid llm --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin llm \
 && install -d -o 10429 -g 10429 -m 0700 /var/lib/llm-cost-exporter
COPY --from=build /src/build/exporter/llm-cost-exporter /src/build/exporter/tools/llm-traffic-gen /usr/local/bin/
COPY exporter/pricing/prices.yml /etc/llm-cost-exporter/prices.yml
COPY exporter/config/llm-cost-exporter.yml /etc/llm-cost-exporter/config.yml
# Numeric ids so that Kubernetes runAsNonRoot can verify the user without /etc/passwd.
USER 10429:10429
# The state file (--storage.path); mount a volume here to keep counters across containers.
VOLUME ["/var/lib/llm-cost-exporter"]
# 10429: /metrics and the web endpoints. 10430: event ingest (HTTP and UDP), which
# must stay on a private network: whoever can write to it can create or hide spend.
EXPOSE 10429/tcp 10430/tcp 10430/udp
# The slim image has no curl or wget; bash's /dev/tcp speaks enough HTTP for a probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/10429 && printf 'GET /-/healthy HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && timeout 3 head -n 1 <&3 | grep -q ' 200'"]
ENTRYPOINT ["/usr/local/bin/llm-cost-exporter"]
CMD ["--web.listen-address=:10429", \
     "--ingest.listen-address=0.0.0.0:10430", \
     "--udp.listen-address=0.0.0.0:10430", \
     "--pricing.file=/etc/llm-cost-exporter/prices.yml", \
     "--config.file=/etc/llm-cost-exporter/config.yml", \
     "--storage.path=/var/lib/llm-cost-exporter"]
