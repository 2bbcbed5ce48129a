// tests/kubernetes/validate.test.mjs - the validator must fail on broken
// objects. Each test takes a rendered overlay that passes, breaks one thing and
// expects the error naming that object and field. tests/kubernetes/run renders
// the overlays and sets CINCY_K8S_RENDERED to their directory.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseRendered, checkOverlay } from "./validate.mjs";

const dir = process.env.CINCY_K8S_RENDERED;
if (!dir) throw new Error("CINCY_K8S_RENDERED is not set: run tests/kubernetes/run BUILDDIR");

const load = (name) => parseRendered(readFileSync(join(dir, `${name}.yaml`), "utf8"), name);
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const container = (objs) => find(objs, "Deployment").spec.template.spec.containers.find((c) => c.name === "cincy");
const format = (errs) => errs.map((e) => `${e.id}: ${e.field}: ${e.message}`).join("\n");

// Breaks a fresh copy of overlay `name` with `mutate` and asserts one error
// matches id (exact) and field and message (regexes).
function expectError(name, mutate, id, field, message) {
  const objs = load(name);
  mutate(objs);
  const errs = checkOverlay(name, objs);
  assert.ok(errs.some((e) => e.id === id && field.test(e.field) && message.test(e.message)),
    `expected ${id}: ${field}: ${message} among:\n${format(errs) || "(no errors)"}`);
}

for (const name of ["base", "openshift", "monitoring", "demo"])
  test(`rendered ${name} passes`, () => assert.equal(format(checkOverlay(name, load(name))), ""));

test("schema: replicas as a string", () =>
  expectError("base", (o) => { find(o, "Deployment").spec.replicas = "two"; },
    "Deployment/cincy", /^spec\.replicas$/, /must be integer/));

test("schema: a containerPort that is not a number", () =>
  expectError("base", (o) => { container(o).ports[0].containerPort = "http"; },
    "Deployment/cincy", /containers\[0\]\.ports\[0\]\.containerPort/, /integer/));

test("schema: a Service without ports entries' port", () =>
  expectError("base", (o) => { delete find(o, "Service").spec.ports[0].port; },
    "Service/cincy", /^spec\.ports\[0\]\.port$/, /required/));

test("schema: a kind with no model", () =>
  expectError("base", (o) => { o.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", labels: { "app.kubernetes.io/name": "cincy" } } }); },
    "Widget/w", /^apiVersion$/, /no schema/));

test("schema: Secret data that is not base64", () =>
  expectError("base", (o) => { o.find((x) => x.kind === "Secret").data[".dockerconfigjson"] = "{not base64}"; },
    genId("base", "cincy-pull-secret", "Secret"), /^data\.\.dockerconfigjson$/, /format "byte"/));

test("rule: an image with a registry port but no tag", () =>
  expectError("base", (o) => { container(o).image = "mirror.example.com:8443/cincy/cincy"; },
    "Deployment/cincy", /\.image$/, /tag or digest/));

test("rule: replicas must be 2", () =>
  expectError("base", (o) => { find(o, "Deployment").spec.replicas = 1; },
    "Deployment/cincy", /^spec\.replicas$/, /must be 2/));

test("rule: maxUnavailable must be 0", () =>
  expectError("base", (o) => { find(o, "Deployment").spec.strategy.rollingUpdate.maxUnavailable = 1; },
    "Deployment/cincy", /maxUnavailable/, /must be 0/));

test("rule: readiness probe on /readiness", () =>
  expectError("base", (o) => { container(o).readinessProbe.httpGet.path = "/healthz"; },
    "Deployment/cincy", /readinessProbe\.httpGet\.path/, /must be \/readiness/));

test("rule: liveness probe present", () =>
  expectError("base", (o) => { delete container(o).livenessProbe; },
    "Deployment/cincy", /livenessProbe/, /missing/));

test("rule: startup probe long enough for a cold scrape", () =>
  expectError("base", (o) => { container(o).startupProbe.failureThreshold = 3; },
    "Deployment/cincy", /startupProbe/, /allows 30 s/));

test("rule: read-only root filesystem", () =>
  expectError("base", (o) => { container(o).securityContext.readOnlyRootFilesystem = false; },
    "Deployment/cincy", /readOnlyRootFilesystem/, /must be true/));

test("rule: all capabilities dropped", () =>
  expectError("base", (o) => { container(o).securityContext.capabilities.drop = ["NET_RAW"]; },
    "Deployment/cincy", /capabilities\.drop/, /ALL/));

test("rule: seccomp RuntimeDefault", () =>
  expectError("base", (o) => { delete find(o, "Deployment").spec.template.spec.securityContext.seccompProfile; },
    "Deployment/cincy", /seccompProfile/, /RuntimeDefault/));

test("rule: memory limit set", () =>
  expectError("base", (o) => { delete container(o).resources.limits; },
    "Deployment/cincy", /resources\.limits\.memory/, /must be set/));

test("rule: a volume naming a ConfigMap that is not there", () =>
  expectError("base", (o) => { o.find((x) => x.metadata.name.startsWith("cincy-ca-")).metadata.name = "cincy-ca"; },
    "Deployment/cincy", /volumes\[0\]/, /ConfigMap cincy-ca-\w+ is not in the overlay/));

test("rule: cincy.yaml listening on loopback only", () =>
  expectError("base", (o) => {
    const cm = o.find((x) => x.kind === "ConfigMap" && x.metadata.name.startsWith("cincy-config"));
    cm.data["cincy.yaml"] = cm.data["cincy.yaml"].replace("address: 0.0.0.0", "address: 127.0.0.1");
  }, genId("base", "cincy-config"), /graph\.address/, /0\.0\.0\.0/));

test("rule: the pull secret is a dockerconfigjson", () =>
  expectError("base", (o) => { o.find((x) => x.kind === "Secret").data[".dockerconfigjson"] = Buffer.from("not json").toString("base64"); },
    genId("base", "cincy-pull-secret", "Secret"), /dockerconfigjson/, /auths/));

test("rule: PDB minAvailable 1", () =>
  expectError("base", (o) => { find(o, "PodDisruptionBudget").spec.minAvailable = 2; },
    "PodDisruptionBudget/cincy", /minAvailable/, /must be 1/));

test("rule: NetworkPolicy rule without ports", () =>
  expectError("base", (o) => { delete find(o, "NetworkPolicy").spec.ingress[0].ports; },
    "NetworkPolicy/cincy", /ingress\[0\]\.ports/, /every port/));

test("rule: NetworkPolicy admitting another port", () =>
  expectError("base", (o) => { find(o, "NetworkPolicy").spec.ingress[0].ports.push({ port: 22, protocol: "TCP" }); },
    "NetworkPolicy/cincy", /^spec\.ingress$/, /exactly ports 8080 and 9080/));

test("rule: Service selecting other pods", () =>
  expectError("base", (o) => { find(o, "Service").spec.selector = { app: "other" }; },
    "Service/cincy", /selector/, /does not select/));

test("openshift: Route schema rejects an unknown field", () =>
  expectError("openshift", (o) => { find(o, "Route").spec.tls.terminaton = "edge"; },
    "Route/cincy", /^spec\.tls\.terminaton$/, /unknown field/));

test("openshift: Route schema rejects a bad termination", () =>
  expectError("openshift", (o) => { find(o, "Route").spec.tls.termination = "sideways"; },
    "Route/cincy", /^spec\.tls\.termination$/, /allowed values/));

test("openshift: Route must be edge", () =>
  expectError("openshift", (o) => { find(o, "Route").spec.tls.termination = "passthrough"; },
    "Route/cincy", /^spec\.tls\.termination$/, /must be edge/));

test("openshift: no fixed runAsUser", () =>
  expectError("openshift", (o) => { find(o, "Deployment").spec.template.spec.securityContext.runAsUser = 1001; },
    "Deployment/cincy", /runAsUser/, /restricted SCC/));

test("openshift: the Route is required", () =>
  expectError("openshift", (o) => { o.splice(o.findIndex((x) => x.kind === "Route"), 1); },
    "(overlay)", /^Route$/, /found 0/));

test("monitoring: ServiceMonitor on /metrics", () =>
  expectError("monitoring", (o) => { find(o, "ServiceMonitor").spec.endpoints[0].path = "/metric"; },
    "ServiceMonitor/cincy", /endpoints/, /\/metrics/));

test("monitoring: ServiceMonitor schema", () =>
  expectError("monitoring", (o) => { find(o, "ServiceMonitor").spec.endpoints = "status"; },
    "ServiceMonitor/cincy", /^spec\.endpoints$/, /array/));

// "Kind/name" of the generated object (name with a hash suffix) starting with `prefix`.
function genId(overlay, prefix, kind = "ConfigMap") {
  const o = load(overlay).find((x) => x.kind === kind && x.metadata.name.startsWith(prefix));
  return `${kind}/${o.metadata.name}`;
}
