# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, ship only the
# compiled sidecar and production dependencies, run as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proxy ./proxy
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    KGUARD_DATA_DIR=/var/lib/kguard \
    KGUARD_LISTEN__HOST=0.0.0.0 \
    KGUARD_ADMIN__HOST=0.0.0.0
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tini && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 kguard && useradd --system --uid 10001 --gid kguard --home /var/lib/kguard kguard \
 && install -d -o kguard -g kguard -m 0700 /var/lib/kguard
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY policies ./policies
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/proxy/cli/main.js"]
CMD ["serve"]
