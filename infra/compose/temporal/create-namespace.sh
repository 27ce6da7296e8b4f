#!/bin/sh
# The namespace Clearpost's workflows run in ($1), with a retention that outlives a review round.
set -eu
namespace=$1
until temporal operator cluster health >/dev/null 2>&1; do sleep 2; done
if temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --namespace "$namespace" --retention 30d
fi
