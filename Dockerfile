# The etcd-stretch worker: compiled JavaScript and a prebuilt workflow bundle, no TypeScript
# loader and no bundling at start.
#   docker build -t etcd-stretch-worker:0.1.0 .
# Needs at run time: TEMPORAL_* / ETCD_STRETCH_TASK_QUEUE (worker/temporal-connection.ts), and
# either KUBECONFIG naming a self-contained kubeconfig with the contexts of your migration specs,
# mounted read-only (single mode: docker-compose.yml), or ETCD_STRETCH_CLUSTER in a Pod of that
# cluster, which then uses the Pod's ServiceAccount (per-cluster mode: deploy/worker/worker.yaml).
# Probes (worker/health-server.ts) on ETCD_STRETCH_HEALTH_ADDRESS: /livez, /startupz, /readyz.

# Build: every dependency, TypeScript compiled to dist/, the workflow bundle written once
# (`npm run build`: tsconfig.build.json, worker/build-workflow-bundle.ts).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY client ./client
RUN npm run build

# Production dependencies only. tsx is a dependency for the `etcd-stretch` bin of an npm
# install, which runs the TypeScript sources; the image runs the compiled files, so it goes.
# The Temporal core bridge ships prebuilt linux-gnu binaries: no compiler needed.
FROM node:24.22.3-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm uninstall --no-save --no-audit --no-fund tsx && npm cache clean --force

FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production
ENV ETCD_STRETCH_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
WORKDIR /app
COPY package.json ./
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The image's unprivileged user (uid/gid 1000); nothing under /app is writable by it.
USER node

# Liveness: the process answers (it asks nothing of Temporal, so a Temporal outage does not
# mark every worker unhealthy). Readiness is /readyz: `node dist/worker/health-probe.js readyz`.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "dist/worker/health-probe.js", "livez"]

# Node itself as the main process: the Temporal worker handles SIGTERM (finishes or cancels
# running activities, then exits). The CLI: `node dist/client/cli.js`.
CMD ["node", "dist/worker/main.js"]
