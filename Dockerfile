# syntax=docker/dockerfile:1
# Multi-stage: the build (all dependencies, esbuild) and the production dependencies each in a
# stage of their own; the runtime image gets only dist/, the production node_modules, the
# migrations and package.json, and runs `node dist/...`: no tsx, esbuild or devDependencies.
# One image for every process; compose.yaml picks the entrypoint per service.
# .ci/image-check runs these steps outside Docker and starts the result.

FROM node:24.22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts off, whichever npm the image ships (one that ignores package.json's
# allowScripts would run every dependency's script); the build needs none of them.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:24.22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Production dependencies, scripts off as above; the project's own postinstall, patch-package
# (kafkajs, postgres), is run explicitly.
RUN npm ci --omit=dev --ignore-scripts && npx --no-install patch-package

FROM node:24.22-bookworm-slim AS runtime
# Stack traces point into src/ through dist's source maps.
ENV NODE_ENV=production NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY drizzle ./drizzle
COPY --from=build /app/dist ./dist
USER node
# 3000: the API. 9400: the relay's /metrics, /healthz and /readyz (METRICS_PORT).
EXPOSE 3000 9400 9401
# Overridden per service in compose.yaml (api, relay, consumer, migrate); the services keep
# --initial-old-space-size (docs/benchmarks.md).
CMD ["node", "--initial-old-space-size=64", "dist/main/api.js"]
