// validate.mjs: checks Kubernetes manifests (YAML, one or more documents per file)
// against the official schemas, through the models of kubernetes-models-ts (generated
// from the Kubernetes OpenAPI document and from the KEDA, Knative and prometheus-operator
// CRDs' openAPIV3Schema, each with its ajv-compiled validator).
//   node tests/schemas/validate.mjs NODE_MODULES_DIR FILE.yaml...
// Prints "ok FILE kind/name" or "FAIL FILE kind/name: errors" per document; exits 1 on
// any failure (also for an apiVersion/kind it has no schema for).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
    console.error("usage: node validate.mjs NODE_MODULES_DIR FILE.yaml...");
    process.exit(2);
}
const load = async (p) => import(pathToFileURL(join(modules, p)).href);
const yaml = (await load("js-yaml/index.js")).default;
const models = {
    "apps/v1 Deployment": ["kubernetes-models/apps/v1/Deployment.js", "Deployment"],
    "v1 Service": ["kubernetes-models/v1/Service.js", "Service"],
    "v1 ConfigMap": ["kubernetes-models/v1/ConfigMap.js", "ConfigMap"],
    "autoscaling/v2 HorizontalPodAutoscaler": [
        "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler.js", "HorizontalPodAutoscaler"],
    "keda.sh/v1alpha1 ScaledObject": [
        "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.js", "ScaledObject"],
    "serving.knative.dev/v1 Service": [
        "@kubernetes-models/knative/serving.knative.dev/v1/Service.js", "Service"],
    "monitoring.coreos.com/v1 PrometheusRule": [
        "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
        "PrometheusRule"],
};
let failed = 0;
for (const file of files) {
    let docs;
    try {
        docs = yaml.loadAll(readFileSync(file, "utf8")).filter((d) => d !== null);
    } catch (e) {
        console.log(`FAIL ${file}: YAML: ${e.message}`);
        failed++;
        continue;
    }
    for (const doc of docs) {
        const key = `${doc?.apiVersion} ${doc?.kind}`;
        const what = `${doc?.kind}/${doc?.metadata?.name}`;
        const m = models[key];
        if (!m) {
            console.log(`FAIL ${file} ${what}: no schema for ${key}`);
            failed++;
            continue;
        }
        const cls = (await load(m[0]))[m[1]];
        try {
            new cls(doc).validate();
            console.log(`ok ${file} ${what}`);
        } catch (e) {
            console.log(`FAIL ${file} ${what}: ${e.message}`);
            failed++;
        }
    }
}
process.exit(failed ? 1 : 0);
