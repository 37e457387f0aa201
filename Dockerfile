# syntax=docker/dockerfile:1
# Multi-stage: dependencies once, then a slim runtime image that runs the TypeScript with tsx.
# One image for every process; compose.yaml picks the entrypoint per service.

FROM node:20.20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Production dependencies with install scripts off, whichever npm the image ships (one that
# ignores package.json's allowScripts would run every dependency's script). None is needed
# here: the one the project allows sets up the embedded Postgres of `npm start`, which the
# containers never use. The project's own postinstall, patch-package, is run explicitly.
RUN npm ci --omit=dev --ignore-scripts && npx --no-install patch-package

FROM node:20.20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json drizzle.config.ts ./
COPY drizzle ./drizzle
COPY src ./src
USER node
# 3000: the API. 9400: the relay's /metrics, /healthz and /readyz (RELAY_METRICS_PORT).
EXPOSE 3000 9400
# Overridden per service in compose.yaml (api, relay, consumer, migrate); the services keep
# --initial-old-space-size (README, Benchmark: "What made these figures").
CMD ["node", "--initial-old-space-size=64", "--import", "tsx", "src/main/api.ts"]
