# syntax=docker/dockerfile:1
# kiwoom-guard: multi-stage build on a supported Node LTS (Node 20 reached end
# of life in April 2026). Stage "build" compiles TypeScript with the dev
# dependencies; stage "deps" installs production dependencies only (npm ci
# --omit=dev; pkcs11js builds its native addon there); the runtime image gets
# the compiled proxy, those dependencies and the policies, runs as uid 10001
# and writes nothing outside its data dir (read-only root filesystem).
# Pin NODE_IMAGE by digest in your registry (node:24-trixie-slim@sha256:...).
ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./

FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proxy ./proxy
RUN npm run build

FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    KGUARD_CONFIG=/etc/kguard/kguard.yaml
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tini && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 kguard \
 && useradd --system --uid 10001 --gid kguard --home-dir /var/lib/kguard --shell /usr/sbin/nologin kguard \
 && install -d -o kguard -g kguard -m 0700 /var/lib/kguard
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/proxy ./dist/proxy
COPY package.json ./
COPY policies ./policies
COPY deploy/docker/kguard.yaml /etc/kguard/kguard.yaml
# The entrypoint and `kguard ...` on the PATH (for `docker exec` / `kubectl exec`, same config through KGUARD_CONFIG)
# are one wrapper that turns core dumps off before node starts (deploy/docker/kguard says why).
COPY deploy/docker/kguard ./bin/kguard
RUN chmod 0755 bin/kguard && ln -s /app/bin/kguard /usr/local/bin/kguard
USER 10001:10001
EXPOSE 8080 9090
# Liveness for plain Docker (Kubernetes uses the manifests' probes): the admin port's /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KGUARD_ADMIN__PORT||9090)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/kguard"]
CMD ["serve"]
