#!/usr/bin/env python3
"""Validates deploy/kubernetes offline (deploy/lint-deploy runs it; docs/operations.md, "Kubernetes").

For every overlay under deploy/kubernetes/overlays:
  1. renders it with `kubectl kustomize` (kustomize v5) and with render() below, a renderer of
     the few kustomize features our kustomizations use, and checks that both give the same
     resources (on a machine without kubectl, render() alone);
  2. validates each Kubernetes resource against Kubernetes' own schemas, strictly (unknown
     fields are errors), with kubernetes-validate, for the oldest and newest versions we name;
  3. validates each CloudNativePG resource against the operator's CRD schema
     (deploy/kubernetes/crds), made strict the same way;
  4. checks that the pieces fit: selectors match the pods, names point at what exists, the
     grace period covers the drain, every container is locked down.
yamllint checks every file we wrote first.
"""

import copy
import os
import shutil
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
CRD_FILES = {
    ("postgresql.cnpg.io", "Cluster"): "postgresql.cnpg.io_clusters.yaml",
    ("postgresql.cnpg.io", "Pooler"): "postgresql.cnpg.io_poolers.yaml",
    ("postgresql.cnpg.io", "ScheduledBackup"): "postgresql.cnpg.io_scheduledbackups.yaml",
    ("postgresql.cnpg.io", "Backup"): "postgresql.cnpg.io_backups.yaml",
    ("barmancloud.cnpg.io", "ObjectStore"): "barmancloud.cnpg.io_objectstores.yaml",
}
# Secrets the manifests read that nobody in them makes: CloudNativePG makes the -app one, the
# operator the others (docs/operations.md, "Kubernetes").
EXPECTED_SECRETS = {"carerelay-db-app", "carerelay-db-server", "carerelay-db-service", "carerelay-backup-s3"}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


# --- Rendering -------------------------------------------------------------------------------


def load_documents(path):
    with open(path) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def merge(base, patch):
    """A strategic merge of the kind our overlays use: maps merge, anything else replaces."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def render(directory):
    """The kustomize features deploy/kubernetes uses: resources (files and directories),
    namespace, labels (with includeTemplates), images and patches (strategic merge, by kind and
    name). Anything else in a kustomization is refused, so this cannot silently drift."""
    kustomization = load_documents(os.path.join(directory, "kustomization.yaml"))[0]
    known = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
    unknown = set(kustomization) - known
    if unknown:
        raise SystemExit(f"{directory}: validate.py does not render {sorted(unknown)}; teach render() first")
    resources = []
    for entry in kustomization.get("resources", []):
        path = os.path.join(directory, entry)
        resources += render(path) if os.path.isdir(path) else load_documents(path)
    for patch_entry in kustomization.get("patches", []):
        for patch in load_documents(os.path.join(directory, patch_entry["path"])):
            targets = [
                r for r in resources
                if r["kind"] == patch["kind"] and r["metadata"]["name"] == patch["metadata"]["name"]
            ]
            if len(targets) != 1:
                raise SystemExit(f"{patch_entry['path']}: patches {len(targets)} resources")
            merge(targets[0], patch)
    for label in kustomization.get("labels", []):
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
            template = resource.get("spec", {}).get("template")
            if label.get("includeTemplates") and isinstance(template, dict):
                template.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        for resource in resources:
            pod = resource.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                name = container["image"].split(":")[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def key(resource):
    return (resource["kind"], resource["metadata"]["name"])


def rendered(overlay):
    ours = render(overlay)
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print(f"  {os.path.relpath(overlay, HERE)}: no kubectl here; rendered by validate.py alone", file=sys.stderr)
        return ours
    output = subprocess.run([kubectl, "kustomize", overlay], check=True, capture_output=True, text=True).stdout
    theirs = [doc for doc in yaml.safe_load_all(output) if doc]
    if sorted(map(key, ours)) != sorted(map(key, theirs)):
        problem(overlay, f"kubectl kustomize gives {sorted(map(key, theirs))}, validate.py {sorted(map(key, ours))}")
    else:
        by_key = {key(r): r for r in ours}
        for resource in theirs:
            if by_key[key(resource)] != resource:
                problem(overlay, f"{key(resource)} renders differently with kubectl kustomize and validate.py")
    return theirs


# --- Schemas ---------------------------------------------------------------------------------


def strict(schema):
    """The CRD's schema with unknown fields refused, as `kubectl apply --validate=strict`
    does: every object that lists its properties (and does not keep unknown fields) gets
    additionalProperties: false."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schemas():
    schemas = {}
    for (group, kind), file in CRD_FILES.items():
        crd = load_documents(os.path.join(HERE, "crds", file))[0]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # metadata is the API server's, checked by kubernetes-validate's ObjectMeta rules.
            schema["properties"]["metadata"] = {"type": "object"}
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate_schemas(where, resources, schemas):
    for resource in resources:
        name = f"{where} {resource['kind']}/{resource['metadata']['name']}"
        schema = schemas.get((resource["apiVersion"], resource["kind"]))
        if schema is not None:
            validator = jsonschema.Draft7Validator(schema)
            for error in sorted(validator.iter_errors(resource), key=lambda e: list(e.path)):
                problem(name, f"{'.'.join(map(str, error.path)) or '(top)'}: {error.message}")
            continue
        if resource["apiVersion"].split("/")[0].endswith("cnpg.io"):
            problem(name, "no CloudNativePG schema for it in deploy/kubernetes/crds")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problem(name, f"Kubernetes {version}: {'.'.join(map(str, error.path))}: {error.message}")


# --- How the pieces fit ----------------------------------------------------------------------


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_fit(where, resources):
    by_kind = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], {})[resource["metadata"]["name"]] = resource
    deployment = by_kind.get("Deployment", {}).get("care-server")
    if not deployment:
        problem(where, "no Deployment care-server")
        return
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pod = deployment["spec"]["template"]["spec"]
    for kind, path in [
        ("Service", ["spec", "selector"]),
        ("PodDisruptionBudget", ["spec", "selector", "matchLabels"]),
        ("NetworkPolicy", ["spec", "podSelector", "matchLabels"]),
    ]:
        for name, resource in by_kind.get(kind, {}).items():
            selector = resource
            for step in path:
                selector = selector[step]
            if not matches(selector, pod_labels):
                problem(f"{where} {kind}/{name}", f"selects {selector}, not care-server's pods {pod_labels}")
    for kind in ["Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"]:
        if kind not in by_kind:
            problem(where, f"no {kind}: it is on by default")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in by_kind.get(target["kind"], {}):
            problem(f"{where} HorizontalPodAutoscaler/{name}", f"scales {target}, which is not rendered")
        if hpa["spec"]["minReplicas"] < 2:
            problem(f"{where} HorizontalPodAutoscaler/{name}", "fewer than 2 replicas: a restart leaves none ready")

    config = {}
    for name, config_map in by_kind.get("ConfigMap", {}).items():
        config.update(config_map.get("data", {}))
    secrets = set()
    for container in pod["containers"] + pod.get("initContainers", []):
        name = f"{where} container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("readOnlyRootFilesystem") is not True or context.get("allowPrivilegeEscalation") is not False:
            problem(name, "needs readOnlyRootFilesystem: true and allowPrivilegeEscalation: false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problem(name, "must drop all capabilities")
        if "memory" not in container.get("resources", {}).get("limits", {}):
            problem(name, "has no memory limit")
        for source in container.get("envFrom", []):
            if "configMapRef" in source and source["configMapRef"]["name"] not in by_kind.get("ConfigMap", {}):
                problem(name, f"reads ConfigMap {source['configMapRef']['name']}, which is not rendered")
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {})
            if "secretKeyRef" in reference:
                secrets.add(reference["secretKeyRef"]["name"])
            if "configMapKeyRef" in reference and reference["configMapKeyRef"]["name"] not in by_kind.get(
                "ConfigMap", {}
            ):
                problem(name, f"reads ConfigMap {reference['configMapKeyRef']['name']}, which is not rendered")
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        problem(where, "care-server's pods must run as non-root")

    serving = next(c for c in pod["containers"] if c["name"] == "care-server")
    probes = {kind: serving.get(kind, {}).get("httpGet", {}).get("path") for kind in
              ["startupProbe", "livenessProbe", "readinessProbe"]}
    if probes != {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}:
        problem(where, f"probes should be /health (startup, liveness) and /ready (readiness), not {probes}")
    pre_stop = serving.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    drain = int(config.get("CARE_DRAIN_SECONDS", "10"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace < pause + drain + 20:
        problem(where, f"terminationGracePeriodSeconds {grace} < preStop {pause} + drain {drain} + 20 s for requests in flight")
    if config.get("CARE_TRANSACTION_POOLER") == "1":
        names = {v["name"] for v in serving.get("env", [])}
        if "DIRECT_DATABASE_URL" not in names:
            problem(where, "CARE_TRANSACTION_POOLER without DIRECT_DATABASE_URL: care-server refuses to start")

    clusters = by_kind.get("Cluster", {})
    for kind in ["Pooler", "ScheduledBackup"]:
        for name, resource in by_kind.get(kind, {}).items():
            if resource["spec"]["cluster"]["name"] not in clusters:
                problem(f"{where} {kind}/{name}", f"names Cluster {resource['spec']['cluster']['name']}, not rendered")
    for name, cluster in clusters.items():
        if cluster["spec"].get("instances", 1) < 3:
            problem(f"{where} Cluster/{name}", "fewer than 3 instances")
        for plugin in cluster["spec"].get("plugins", []):
            store = plugin.get("parameters", {}).get("barmanObjectName")
            if store and store not in by_kind.get("ObjectStore", {}):
                problem(f"{where} Cluster/{name}", f"archives to ObjectStore {store}, not rendered")
        for role in cluster["spec"].get("managed", {}).get("roles", []):
            if "passwordSecret" in role:
                secrets.add(role["passwordSecret"]["name"])
        secrets.add(f"{name}-app")
    for name, store in by_kind.get("ObjectStore", {}).items():
        for credential in store["spec"]["configuration"].get("s3Credentials", {}).values():
            secrets.add(credential["name"])
    made = set(by_kind.get("Secret", {}))
    if secrets - made != EXPECTED_SECRETS:
        problem(where, f"reads secrets {sorted(secrets - made)}; docs/operations.md lists {sorted(EXPECTED_SECRETS)}")


def main():
    subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "-c", os.path.join(HERE, ".yamllint"), HERE], check=True
    )
    schemas = crd_schemas()
    overlays = sorted(os.path.join(HERE, "overlays", name) for name in os.listdir(os.path.join(HERE, "overlays")))
    for overlay in overlays:
        where = os.path.relpath(overlay, os.path.dirname(os.path.dirname(HERE)))
        resources = rendered(overlay)
        validate_schemas(where, resources, schemas)
        check_fit(where, resources)
        print(f"{where}: {len(resources)} resources rendered and validated", file=sys.stderr)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
