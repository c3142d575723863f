# The etcd-stretch worker (workflow + activities), run with tsx like in development.
#   docker build -t etcd-stretch-worker:0.1.0 .
# Needs at run time: TEMPORAL_* / ETCD_STRETCH_TASK_QUEUE (worker/temporal-connection.ts), and
# either KUBECONFIG naming a self-contained kubeconfig with the contexts of your migration specs,
# mounted read-only (single mode: docker-compose.yml), or ETCD_STRETCH_CLUSTER in a Pod of that
# cluster, which then uses the Pod's ServiceAccount (per-cluster mode: deploy/worker/worker.yaml).
FROM node:24.22.3-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first (cached while the lockfile is unchanged). tsx is a runtime dependency:
# the worker and the CLI run TypeScript directly; the Temporal core bridge, @swc/core and
# esbuild ship prebuilt linux-gnu binaries, so no compiler is needed.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY client ./client
COPY deploy/worker/healthcheck.mjs ./deploy/worker/

# The image's unprivileged user (uid/gid 1000); nothing under /app is writable by it.
USER node

HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
  CMD ["node", "--import", "tsx", "deploy/worker/healthcheck.mjs"]

# Node itself as the main process: the Temporal worker handles SIGTERM (finishes or cancels
# running activities, then exits).
CMD ["node", "--import", "tsx", "worker/main.ts"]
