// Validates ServiceMonitor resources (JSON array on standard input) with the Prometheus
// Operator's own schema for them, as compiled by @kubernetes-models/prometheus-operator
// (pinned by package-lock.json): types, enums, patterns and required fields. Prints the
// errors and exits 1 if any resource is invalid. tests/unit/test_deploy_manifests.py runs it.
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const resources = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const resource of resources) {
  try {
    new ServiceMonitor(resource).validate();
  } catch (error) {
    failed += 1;
    console.log(`${resource.metadata?.name}: ${error.message}`);
    for (const detail of error.errors ?? []) {
      console.log(`  ${detail.instancePath} ${detail.message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
