FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production HTTP_PORT=8080
EXPOSE 8080
CMD ["node", "--max-semi-space-size=128", "--import", "tsx", "src/main.ts"]
