#!/bin/sh
# Starts yanex-worker with options taken from the environment, then any arguments given.
#
#   YANEX_REDIS_URL         Redis, e.g. redis://:password@redis:6379/0 (read by yanex-worker)
#   YANEX_EXPERIMENTS_DIR   the shared experiments directory (read by yanex-worker)
#   YANEX_QUEUES            queues in priority order, separated by spaces or commas [default]
#   YANEX_WORKER_GPU        GPUs for CUDA_VISIBLE_DEVICES, e.g. 0 or 0,1
#   YANEX_WORKER_NAME       worker name (default: host, GPUs and pid)
#   YANEX_ALLOW_ROOTS       directories scripts must lie under, separated by colons
#   YANEX_HEARTBEAT         seconds between heartbeats [5]
#   YANEX_GRACE             seconds a preempted experiment gets after SIGTERM [30]
#
# `exec` makes yanex-worker the container's main process, so `docker stop` sends its
# SIGTERM straight to the worker, which preempts the running experiment and exits.
set -eu

queues=$(printf '%s' "${YANEX_QUEUES:-${YANEX_QUEUE:-default}}" | tr ',' ' ')
options=""
for queue in $queues; do
    options="$options --queue $queue"
done

set -- $options "$@"
if [ -n "${YANEX_WORKER_GPU:-}" ]; then
    set -- "$@" --gpu "$YANEX_WORKER_GPU"
fi
if [ -n "${YANEX_WORKER_NAME:-}" ]; then
    set -- "$@" --name "$YANEX_WORKER_NAME"
fi
if [ -n "${YANEX_HEARTBEAT:-}" ]; then
    set -- "$@" --heartbeat "$YANEX_HEARTBEAT"
fi
if [ -n "${YANEX_GRACE:-}" ]; then
    set -- "$@" --grace "$YANEX_GRACE"
fi
if [ -n "${YANEX_ALLOW_ROOTS:-}" ]; then
    old_ifs=$IFS
    IFS=:
    for root in $YANEX_ALLOW_ROOTS; do
        set -- "$@" --allow-root "$root"
    done
    IFS=$old_ifs
fi

exec yanex-worker "$@"
