#!/bin/sh
# Prints alerts.yaml wrapped in a PrometheusRule, for clusters running the Prometheus Operator:
#   sh deploy/prometheus/to-prometheusrule.sh [namespace] | kubectl apply -f -
# The operator picks rules by label; add the one your Prometheus selects (ruleSelector), e.g. release=...
set -eu
namespace=${1:-ccc-sync}
cat <<HEADER
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: ccc-sync
  namespace: ${namespace}
  labels:
    app.kubernetes.io/name: ccc-sync
    app.kubernetes.io/part-of: ccc-sync
spec:
HEADER
sed -e '/^#/d' -e 's/^./  &/' "$(dirname "$0")/alerts.yaml"
