#!/bin/sh
# work: one run of the worker. Asks the api for a greeting and logs it;
# exits non-zero (so the Job is retried) when the api does not answer.
set -eu

url="${API_URL:-http://api:8080}/v1/greeting?name=worker"
echo "worker $(cat /etc/worker-version) at $(date -u +%Y-%m-%dT%H:%M:%SZ): GET $url"
wget -q -T "${TIMEOUT:-10}" -O - "$url"
