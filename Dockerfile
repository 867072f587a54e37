# rocksdb ships a prebuilt binding for linux-x64 only; on other architectures (arm64) npm ci
# compiles it, so the dependencies are installed in a stage with a toolchain.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
ENV NODE_ENV=production HTTP_PORT=8080
EXPOSE 8080
CMD ["node", "--max-semi-space-size=128", "--import", "tsx", "src/main.ts"]
