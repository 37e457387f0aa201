# syntax=docker/dockerfile:1
# Multi-stage: dependencies once, then a slim runtime image that runs the TypeScript with tsx.

FROM node:20.20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev

FROM node:20.20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json drizzle.config.ts ./
COPY drizzle ./drizzle
COPY src ./src
USER node
EXPOSE 3000
# Overridden per service in compose.yaml (api, relay, migrate).
CMD ["node", "--import", "tsx", "src/main/api.ts"]
