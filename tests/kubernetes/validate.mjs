// tests/kubernetes/validate.mjs - checks the manifests that `kubectl kustomize`
// rendered from container/kubernetes, one multi-document YAML file per overlay.
//
// Two layers, both reported as "overlay: Kind/name: field: message":
// 1. Schema: every object against its model's schema - kubernetes-models for the
//    core APIs, @kubernetes-models/prometheus-operator for ServiceMonitor, and
//    route-schema.json (beside this file) for OpenShift's Route, which no npm
//    package models. An object whose kind has no schema here is an error too.
// 2. Rules: what issue 10 requires of a cincy deployment (2 replicas, no
//    unavailable pod in a rollout, probes on /readiness and /liveness, a locked
//    down securityContext, a PDB, a NetworkPolicy admitting only the two ports,
//    an edge Route, a ServiceMonitor on /metrics ...), and that the objects fit
//    together: the volumes name objects that exist, the Service and PDB select
//    the pods, the mounted cincy.yaml listens on the container ports and reads
//    its files where the volume puts them.
//
// Usage: node validate.mjs NAME=FILE... ; prints one line per error and then
// "kubernetes manifests: N overlays, M objects valid", exit 1 on any error.
// validate.test.mjs imports checkOverlay() and breaks objects on purpose.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import Ajv from "ajv";

import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const here = dirname(fileURLToPath(import.meta.url));

const MODELS = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/Namespace": Namespace,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRoute = ajv.compile(JSON.parse(readFileSync(join(here, "route-schema.json"), "utf8")));

// 15 minutes: a cold scrape of a large mirror over a WAN (docs/deploy.md).
const MIN_STARTUP_SECONDS = 900;
const PORTS = { graph: 8080, status: 9080 };

/* ------------------------------------------------------------------ parsing */

// The objects of one rendered file; a YAML error names the document.
export function parseRendered(text, file) {
  const objects = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length)
      throw new Error(`${file}: document ${i + 1}: ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined) objects.push(obj);
  });
  return objects;
}

const idOf = (o) => `${o?.kind ?? "?"}/${o?.metadata?.name ?? "?"}`;

// "/spec/template/spec/containers/0/ports" -> "spec.template.spec.containers[0].ports"
function fieldOf(instancePath, extra) {
  let f = instancePath.split("/").slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, "/").replace(/~0/g, "~")}`))
    .join("").replace(/^\./, "");
  if (extra) f = f ? `${f}.${extra}` : extra;
  return f || "(object)";
}

function ajvErrors(errors) {
  return arr(errors).map((e) => {
    const extra = e.keyword === "additionalProperties" ? e.params.additionalProperty
      : e.keyword === "required" ? e.params.missingProperty : "";
    const msg = e.keyword === "additionalProperties" ? "unknown field"
      : e.keyword === "enum" ? `${e.message}: ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`
      : e.message;
    return { field: fieldOf(e.instancePath, extra), message: msg };
  });
}

/* ------------------------------------------------------------------- schema */

// Schema errors of one object as [{field, message}].
export function schemaErrors(obj) {
  if (typeof obj !== "object" || Array.isArray(obj))
    return [{ field: "(document)", message: "not a YAML mapping" }];
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (key === "route.openshift.io/v1/Route")
    return validateRoute(obj) ? [] : ajvErrors(validateRoute.errors);
  const Model = MODELS[key];
  // kustomize wraps long base64 values over lines; the API server's decoder
  // (Go's encoding/base64) skips \r and \n, the "byte" format here does not.
  if (obj.kind === "Secret" && obj.data && typeof obj.data === "object")
    obj = { ...obj, data: Object.fromEntries(Object.entries(obj.data)
      .map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v])) };
  if (!Model)
    return [{ field: "apiVersion", message: `no schema for ${key}: add its model to validate.mjs` }];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    if (!e.errors) throw e;
    return ajvErrors(e.errors);
  }
}

/* -------------------------------------------------------------------- rules */

// A list field as an array whatever the YAML said (the schema layer reports the rest).
const arr = (x) => (Array.isArray(x) ? x : []);
const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);

function selects(selector, labels) {
  const m = selector ?? {};
  return Object.keys(m).length > 0 &&
    Object.entries(m).every(([k, v]) => labels?.[k] === v);
}

// Collects rule errors for one overlay; `err(obj, field, message)`.
class Checker {
  constructor(objects) {
    this.objects = objects;
    this.errors = [];
  }
  err(obj, field, message) {
    this.errors.push({ id: obj ? idOf(obj) : "(overlay)", field, message });
  }
  expect(obj, field, ok, message) {
    if (!ok) this.err(obj, field, message);
    return ok;
  }
  // The one object of a kind, or an error.
  one(kind) {
    const found = this.objects.filter((o) => o.kind === kind);
    if (found.length !== 1)
      this.err(null, kind, `expected exactly one ${kind}, found ${found.length}`);
    return found.length === 1 ? found[0] : null;
  }
  named(kind, name) {
    return this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
  }
}

function checkLabels(c) {
  for (const o of c.objects)
    c.expect(o, "metadata.labels", o.metadata?.labels?.["app.kubernetes.io/name"] === "cincy",
      "missing label app.kubernetes.io/name: cincy");
}

function checkProbe(c, d, ctr, name, path) {
  const f = `spec.template.spec.containers[cincy].${name}`;
  const p = ctr[name];
  if (!c.expect(d, f, p?.httpGet, "missing (an httpGet probe is required)")) return p;
  c.expect(d, `${f}.httpGet.path`, p.httpGet.path === path, `must be ${path}, got ${p.httpGet.path}`);
  c.expect(d, `${f}.httpGet.port`, p.httpGet.port === "status" || p.httpGet.port === PORTS.status,
    `must be the status port, got ${p.httpGet.port}`);
  return p;
}

function checkSecurity(c, d, pod, ctr, openshift) {
  const ps = pod.securityContext ?? {}, cs = ctr.securityContext ?? {};
  const f = "spec.template.spec";
  c.expect(d, `${f}.securityContext.runAsNonRoot`, ps.runAsNonRoot === true || cs.runAsNonRoot === true,
    "must be true");
  c.expect(d, `${f}.securityContext.seccompProfile.type`,
    (ps.seccompProfile?.type ?? cs.seccompProfile?.type) === "RuntimeDefault", "must be RuntimeDefault");
  const cf = `${f}.containers[cincy].securityContext`;
  c.expect(d, `${cf}.readOnlyRootFilesystem`, cs.readOnlyRootFilesystem === true, "must be true");
  c.expect(d, `${cf}.allowPrivilegeEscalation`, cs.allowPrivilegeEscalation === false, "must be false");
  c.expect(d, `${cf}.capabilities.drop`, arr(cs.capabilities?.drop).includes("ALL"), "must include ALL");
  c.expect(d, `${cf}.privileged`, cs.privileged !== true, "must not be privileged");
  if (openshift)
    for (const [where, sc] of [[`${f}.securityContext`, ps], [cf, cs]])
      for (const k of ["runAsUser", "runAsGroup", "fsGroup"])
        c.expect(d, `${where}.${k}`, sc[k] === undefined,
          "must be unset on OpenShift: the restricted SCC assigns the namespace's range");
}

// Every ConfigMap and Secret a volume names must be in the overlay (catches a
// generator renamed without its reference), unless it is marked optional.
function checkVolumeRefs(c, d, pod) {
  arr(pod.volumes).forEach((v, i) => {
    const refs = [];
    if (v.configMap) refs.push(["ConfigMap", v.configMap]);
    if (v.secret) refs.push(["Secret", { ...v.secret, name: v.secret.secretName }]);
    for (const s of arr(v.projected?.sources)) {
      if (s.configMap) refs.push(["ConfigMap", s.configMap]);
      if (s.secret) refs.push(["Secret", s.secret]);
    }
    for (const [kind, ref] of refs)
      c.expect(d, `spec.template.spec.volumes[${i}]`, ref.optional || c.named(kind, ref.name),
        `${kind} ${ref.name} is not in the overlay`);
  });
}

// path inside the container -> {kind, name, key} for files of projected,
// configMap and secret volumes; emptyDir mount points -> {emptyDir: true}.
function mountedFiles(pod, ctr) {
  const files = {}, dirs = {};
  const volumes = Object.fromEntries(arr(pod.volumes).map((v) => [v.name, v]));
  for (const m of arr(ctr.volumeMounts)) {
    const v = volumes[m.name];
    if (!v) continue;
    if (v.emptyDir) dirs[m.mountPath] = v;
    const sources = v.projected?.sources ?? [
      v.configMap && { configMap: v.configMap },
      v.secret && { secret: { ...v.secret, name: v.secret.secretName } },
    ].filter(Boolean);
    for (const s of sources) {
      const [kind, ref] = s.configMap ? ["ConfigMap", s.configMap] : ["Secret", s.secret];
      for (const it of arr(ref?.items))
        files[`${m.mountPath}/${it.path}`] = { kind, name: ref.name, key: it.key };
    }
  }
  return { files, dirs };
}

function dataOf(obj, key) {
  if (obj?.data?.[key] !== undefined)
    return obj.kind === "Secret" ? Buffer.from(obj.data[key], "base64").toString("utf8") : obj.data[key];
  return obj?.stringData?.[key];
}

// The cincy.yaml the pod reads must fit the pod: listen on every interface on
// the container's ports, keep state in an emptyDir, and find its auth and CA
// files where the volume puts them.
function checkConfig(c, d, pod, ctr, overlay) {
  const { files, dirs } = mountedFiles(pod, ctr);
  const args = arr(ctr.args);
  const cfgPath = args[args.indexOf("--config") + 1] ?? "/etc/cincy/cincy.yaml";
  const src = files[cfgPath];
  if (!c.expect(d, "spec.template.spec.volumes", src, `no volume provides ${cfgPath}`)) return;
  const cm = c.named(src.kind, src.name);
  let cfg;
  try {
    cfg = parseYaml(dataOf(cm, src.key) ?? "");
  } catch (e) {
    c.err(cm, `data.${src.key}`, `not YAML: ${e.message}`);
    return;
  }
  if (!c.expect(cm, `data.${src.key}`, cfg && typeof cfg === "object", "empty")) return;
  for (const [l, port] of Object.entries(PORTS)) {
    c.expect(cm, `${src.key}: ${l}.address`, ["0.0.0.0", "::"].includes(cfg[l]?.address),
      `must be 0.0.0.0 or :: (the Service and probes use the pod IP), got ${cfg[l]?.address}`);
    const ctrPort = arr(ctr.ports).find((p) => p.name === l)?.containerPort;
    c.expect(d, `spec.template.spec.containers[cincy].ports[${l}]`, ctrPort === (cfg[l]?.port ?? port),
      `containerPort ${ctrPort} but cincy.yaml ${l}.port is ${cfg[l]?.port ?? port}`);
  }
  c.expect(cm, `${src.key}: state_dir`, cfg.state_dir && dirs[cfg.state_dir],
    `must be an emptyDir mount (the root filesystem is read-only), got ${cfg.state_dir}`);
  c.expect(d, "spec.template.spec.containers[cincy].volumeMounts", dirs["/tmp"], "/tmp must be an emptyDir");
  for (const k of ["auth_file", "ca_file"]) {
    const p = cfg.registry?.[k];
    if (p) c.expect(cm, `${src.key}: registry.${k}`, files[p], `${p} is not provided by any volume`);
  }
  const sources = cfg.sources ?? {};
  if (overlay === "demo") {
    c.expect(cm, `${src.key}: sources.graph_data.directory`,
      sources.graph_data?.directory?.startsWith("/usr/share/cincy/"), "must be the image's bundled graph-data");
  } else if (sources.releases?.registry) {
    const auth = files[cfg.registry?.auth_file];
    const sec = auth && c.named(auth.kind, auth.name);
    if (c.expect(d, "registry.auth_file", sec?.kind === "Secret", "must come from a Secret")) {
      c.expect(sec, "type", sec.type === "kubernetes.io/dockerconfigjson", "must be kubernetes.io/dockerconfigjson");
      let j;
      try { j = JSON.parse(dataOf(sec, auth.key)); } catch { j = null; }
      c.expect(sec, `data.${auth.key}`, j && typeof j.auths === "object", "must be a docker config.json with auths");
    }
  }
}

function checkDeployment(c, overlay) {
  const d = c.one("Deployment");
  if (!d) return null;
  const pod = d.spec?.template?.spec ?? {};
  const ctr = arr(pod.containers).find((x) => x.name === "cincy");
  if (!c.expect(d, "spec.template.spec.containers", ctr, "no container named cincy")) return d;
  c.expect(d, "spec.replicas", d.spec.replicas === 2, `must be 2, got ${d.spec.replicas}`);
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  c.expect(d, "spec.strategy.type", d.spec.strategy?.type === "RollingUpdate", "must be RollingUpdate");
  c.expect(d, "spec.strategy.rollingUpdate.maxUnavailable", ru.maxUnavailable === 0 || ru.maxUnavailable === "0%",
    `must be 0, got ${ru.maxUnavailable}`);
  c.expect(d, "spec.strategy.rollingUpdate.maxSurge", ru.maxSurge === 1, `must be 1, got ${ru.maxSurge}`);
  c.expect(d, "spec.selector.matchLabels", selects(d.spec.selector?.matchLabels, d.spec.template?.metadata?.labels),
    "does not select the pod template's labels");
  const image = String(ctr.image ?? ""), last = image.split("/").pop();
  c.expect(d, "spec.template.spec.containers[cincy].image",
    /^[^\s@]+(@sha256:[0-9a-f]{64})?$/.test(image) && (last.includes(":") || image.includes("@sha256:")),
    `must name a tag or digest, got ${image}`);
  for (const [name, port] of Object.entries(PORTS))
    c.expect(d, `spec.template.spec.containers[cincy].ports[${name}]`,
      arr(ctr.ports).some((p) => p.name === name && p.containerPort === port), `missing port ${name} ${port}`);
  checkProbe(c, d, ctr, "readinessProbe", "/readiness");
  checkProbe(c, d, ctr, "livenessProbe", "/liveness");
  const sp = checkProbe(c, d, ctr, "startupProbe", "/readiness");
  if (sp?.httpGet) {
    const secs = (sp.periodSeconds ?? 10) * (sp.failureThreshold ?? 3);
    c.expect(d, "spec.template.spec.containers[cincy].startupProbe", secs >= MIN_STARTUP_SECONDS,
      `allows ${secs} s, a cold registry scrape needs ${MIN_STARTUP_SECONDS}`);
    c.expect(d, "spec.progressDeadlineSeconds", (d.spec.progressDeadlineSeconds ?? 600) > secs,
      `must exceed the startup probe's ${secs} s, or a cold rollout is reported failed`);
  }
  const r = ctr.resources ?? {};
  for (const f of ["requests.cpu", "requests.memory", "limits.memory"])
    c.expect(d, `spec.template.spec.containers[cincy].resources.${f}`, get(r, f) !== undefined, "must be set");
  checkSecurity(c, d, pod, ctr, overlay.includes("openshift"));
  const pref = arr(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
  c.expect(d, "spec.template.spec.affinity.podAntiAffinity", pref.some((t) =>
    t.podAffinityTerm?.topologyKey === "kubernetes.io/hostname" &&
    selects(t.podAffinityTerm?.labelSelector?.matchLabels, d.spec.template.metadata?.labels)),
  "needs a preferred term on kubernetes.io/hostname selecting the pods");
  checkVolumeRefs(c, d, pod);
  checkConfig(c, d, pod, ctr, overlay);
  return d;
}

function checkService(c, d) {
  const s = c.one("Service");
  if (!s || !d) return s;
  c.expect(s, "spec.selector", selects(s.spec?.selector, d.spec?.template?.metadata?.labels),
    "does not select the Deployment's pods");
  for (const name of Object.keys(PORTS)) {
    const p = arr(s.spec?.ports).find((x) => x.name === name);
    c.expect(s, `spec.ports[${name}]`, p && (p.targetPort === name || p.targetPort === PORTS[name]),
      `needs a port named ${name} targeting the container's ${name} port`);
  }
  return s;
}

function checkPdbHpaNetpol(c, d) {
  const podLabels = d?.spec?.template?.metadata?.labels;
  const pdb = c.one("PodDisruptionBudget");
  if (pdb) {
    c.expect(pdb, "spec.minAvailable", pdb.spec?.minAvailable === 1, `must be 1, got ${pdb.spec?.minAvailable}`);
    c.expect(pdb, "spec.selector.matchLabels", selects(pdb.spec?.selector?.matchLabels, podLabels),
      "does not select the Deployment's pods");
  }
  const hpa = c.one("HorizontalPodAutoscaler");
  if (hpa) {
    const t = hpa.spec?.scaleTargetRef ?? {};
    c.expect(hpa, "spec.scaleTargetRef", t.kind === "Deployment" && t.name === d?.metadata?.name,
      "must target the Deployment");
    c.expect(hpa, "spec.minReplicas", (hpa.spec?.minReplicas ?? 1) >= 2, "must keep at least the 2 replicas");
    c.expect(hpa, "spec.metrics", arr(hpa.spec?.metrics).some((m) => m.type === "Resource" && m.resource?.name === "cpu"),
      "must scale on CPU");
  }
  const np = c.one("NetworkPolicy");
  if (np) {
    c.expect(np, "spec.podSelector", selects(np.spec?.podSelector?.matchLabels, podLabels), "does not select the pods");
    c.expect(np, "spec.policyTypes", arr(np.spec?.policyTypes).includes("Ingress"), "must include Ingress");
    const rules = arr(np.spec?.ingress);
    const ports = new Set();
    rules.forEach((r, i) => {
      if (c.expect(np, `spec.ingress[${i}].ports`, arr(r.ports).length > 0, "a rule without ports admits every port"))
        for (const p of r.ports) ports.add(typeof p.port === "string" ? PORTS[p.port] ?? p.port : p.port);
    });
    const want = Object.values(PORTS);
    c.expect(np, "spec.ingress", ports.size === want.length && want.every((p) => ports.has(p)),
      `must admit exactly ports ${want.join(" and ")}, admits ${[...ports].join(", ") || "none"}`);
  }
}

function checkRoute(c, svc) {
  const r = c.one("Route");
  if (!r) return;
  c.expect(r, "spec.tls.termination", r.spec?.tls?.termination === "edge", `must be edge, got ${r.spec?.tls?.termination}`);
  c.expect(r, "spec.tls.insecureEdgeTerminationPolicy", r.spec?.tls?.insecureEdgeTerminationPolicy === "Redirect",
    "must be Redirect");
  c.expect(r, "spec.to.name", svc && r.spec?.to?.name === svc.metadata?.name, "must name the Service");
  c.expect(r, "spec.port.targetPort", r.spec?.port?.targetPort === "graph", "must be the graph port");
}

function checkOpenShiftCAs(c) {
  for (const cm of c.objects.filter((o) => o.kind === "ConfigMap")) {
    const injected = cm.metadata?.labels?.["config.openshift.io/inject-trusted-cabundle"] === "true" ||
      cm.metadata?.annotations?.["service.beta.openshift.io/inject-cabundle"] === "true";
    if (injected)
      c.expect(cm, "data", !cm.data, "must be empty: an operator writes it and kubectl apply would fight it");
  }
  c.expect(null, "ConfigMap", c.objects.some((o) =>
    o.metadata?.annotations?.["service.beta.openshift.io/inject-cabundle"] === "true"),
  "needs a ConfigMap annotated service.beta.openshift.io/inject-cabundle");
}

function checkServiceMonitor(c, svc) {
  const sm = c.one("ServiceMonitor");
  if (!sm) return;
  c.expect(sm, "spec.selector.matchLabels", svc && selects(sm.spec?.selector?.matchLabels, svc.metadata?.labels),
    "does not select the Service");
  const eps = arr(sm.spec?.endpoints);
  c.expect(sm, "spec.endpoints", eps.some((e) => e.port === "status" && e.path === "/metrics"),
    "needs an endpoint on port status, path /metrics");
}

// Errors of one rendered overlay as [{id, field, message}]. An overlay whose
// name says openshift must have the Route, one that says monitoring the
// ServiceMonitor.
export function checkOverlay(name, objects) {
  const errors = [];
  for (const o of objects)
    for (const e of schemaErrors(o)) errors.push({ id: idOf(o), ...e });
  const c = new Checker(objects);
  checkLabels(c);
  const d = checkDeployment(c, name);
  const svc = checkService(c, d);
  checkPdbHpaNetpol(c, d);
  if (name.includes("openshift")) {
    checkRoute(c, svc);
    checkOpenShiftCAs(c);
  } else {
    c.expect(null, "Route", !objects.some((o) => o.kind === "Route"), "a Route outside the openshift overlay");
  }
  if (name.includes("monitoring")) checkServiceMonitor(c, svc);
  return errors.concat(c.errors);
}

/* --------------------------------------------------------------------- main */

function main(args) {
  if (!args.length || args.some((a) => !a.includes("="))) {
    console.error("usage: node validate.mjs NAME=RENDERED.yaml...");
    return 2;
  }
  let nobjects = 0, nerrors = 0;
  for (const arg of args) {
    const [name, file] = [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)];
    let objects;
    try {
      objects = parseRendered(readFileSync(file, "utf8"), file);
    } catch (e) {
      console.log(`${name}: ${e.message}`);
      nerrors++;
      continue;
    }
    const errors = checkOverlay(name, objects);
    for (const e of errors) console.log(`${name}: ${e.id}: ${e.field}: ${e.message}`);
    nerrors += errors.length;
    nobjects += objects.length;
  }
  if (nerrors) {
    console.log(`kubernetes manifests: ${nerrors} error(s) in ${args.length} overlays`);
    return 1;
  }
  console.log(`kubernetes manifests: ${args.length} overlays, ${nobjects} objects valid`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = main(process.argv.slice(2));
