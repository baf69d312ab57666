"""deploy/k8s: both overlays built by the real kustomize, validated offline against the Kubernetes 1.37 schemas,
and held to what the app does (settings names, probes' paths, the shutdown timing, the metric the HPA reads)."""
from __future__ import annotations

import re

import pytest

from tests.deploy.conftest import (
    K8S,
    K8S_VERSION,
    compose_bytes,
    config_of,
    one,
    quantity_bytes,
    read_env,
)

API, CUDA = "gradserve-api", "gradserve-cuda-worker"


# ---------------------------------------------------------------- schemas


def validate(doc: dict) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (dev extra)")
    kv.validate(doc, K8S_VERSION, strict=True)  # strict: an unknown or misspelt field is an error


def test_every_built_resource_validates_against_kubernetes_1_37(overlay):
    name, docs = overlay
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy"} <= kinds, f"overlays/{name} lacks some of them: {kinds}"
    for doc in docs:
        validate(doc)
    assert all(d["metadata"].get("namespace") == "gradserve" for d in docs if d["kind"] != "Namespace")


def test_every_plain_manifest_file_validates_too():
    """Without kustomize the files themselves are still checked (patches and generators aside)."""
    yaml = pytest.importorskip("yaml")
    files = [p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml" and "monitoring" not in p.parts]
    assert len(files) >= 9
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            validate(doc)


def test_a_misspelt_field_is_caught():
    """The validator is strict (a typo is an error, not an ignored key): seen failing once on purpose."""
    kv = pytest.importorskip("kubernetes_validate")
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((K8S / "base" / "deployment.yaml").read_text())
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kv.ValidationError):
        kv.validate(doc, K8S_VERSION, strict=True)


# ---------------------------------------------------------------- the API Deployment


def api_container(docs):
    return one(docs, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_selectors_name_the_pods_they_are_for(gpu):
    for component, deployment in (("api", API), ("cuda-worker", CUDA)):
        labels = one(gpu, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == component
        assert labels_match(one(gpu, "Service", deployment)["spec"]["selector"], labels)
        assert labels_match(one(gpu, "PodDisruptionBudget", deployment)["spec"]["selector"]["matchLabels"], labels)
        assert labels_match(one(gpu, "NetworkPolicy", deployment)["spec"]["podSelector"]["matchLabels"], labels)
        port = one(gpu, "Service", deployment)["spec"]["ports"][0]["targetPort"]
        containers = one(gpu, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
        assert port in [p["name"] for c in containers for p in c["ports"]]
    hpa = one(gpu, "HorizontalPodAutoscaler", API)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": API}


def test_probes_ask_what_a_real_server_answers(overlay, pod_server):
    _, docs = overlay
    for deployment in [d for d in docs if d["kind"] == "Deployment"]:
        c = deployment["spec"]["template"]["spec"]["containers"][0]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["port"] == c["ports"][0]["name"]
        assert c["ports"][0]["containerPort"] == 8000  # the image's GRADSERVE_PORT
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            path = c[probe]["httpGet"]["path"]
            assert pod_server.client.get(path).status_code == 200, f"{probe} {path}"


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root(overlay):
    dockerfile = (K8S.parents[1] / "Dockerfile").read_text()
    uid = int(re.findall(r"^USER (\d+)", dockerfile, re.M)[-1])
    _, docs = overlay
    for deployment in [d for d in docs if d["kind"] == "Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["automountServiceAccountToken"] is False
        c = pod["containers"][0]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        # the one writable place: /tmp (the image's WORKDIR), an emptyDir with a size limit
        (mount,) = c["volumeMounts"]
        assert mount["mountPath"] == "/tmp"
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["emptyDir"]["sizeLimit"]
    ns = one(docs, "Namespace", "gradserve")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_api_keys_come_from_a_required_secret(overlay):
    _, docs = overlay
    (var,) = [v for v in api_container(docs)["env"] if v["name"] == "GRADSERVE_API_KEYS"]
    ref = var["valueFrom"]["secretKeyRef"]
    assert ref["name"] and ref["key"] and not ref.get("optional", False)
    assert not any(d["kind"] == "Secret" for d in docs), "no key material in the repository"


def test_settings_files_name_real_settings():
    from app.core.config import Settings

    known = {f"GRADSERVE_{n.upper()}" for n in Settings.model_fields}
    for path in (K8S / "base" / "settings.env", K8S / "overlays" / "gpu" / "cuda-settings.env"):
        names = {k for k in read_env(path) if k.startswith("GRADSERVE_")}
        assert names and names <= known, f"{path.name} sets what app/core/config.py does not read: {names - known}"


def graceful_shutdown_s(env: dict[str, str], monkeypatch) -> float:
    """What `gradserve serve` (app/cli.py) gives uvicorn as its graceful shutdown under these settings."""
    import uvicorn

    from app import cli
    from app.core.config import get_settings

    for key, value in env.items():
        if key.startswith("GRADSERVE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("GRADSERVE_LOG_LEVEL", "warning")
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    get_settings.cache_clear()
    try:
        cli.main(["serve"])
    finally:
        get_settings.cache_clear()
    return seen["timeout_graceful_shutdown"]


@pytest.mark.parametrize("deployment", [API, CUDA])
def test_grace_period_covers_prestop_and_uvicorns_graceful_shutdown(gpu, deployment, monkeypatch):
    env = config_of(gpu, deployment)
    pod = one(gpu, "Deployment", deployment)["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    graceful = graceful_shutdown_s(env, monkeypatch)
    assert graceful >= float(env["GRADSERVE_TIME_LIMIT_S"]), "uvicorn would cut requests still in their limit"
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + graceful, \
        f"SIGKILL after {pod['terminationGracePeriodSeconds']} s, before preStop {pre_stop} + shutdown {graceful}"
    assert pre_stop >= 5, "endpoints need a few seconds to drop the pod before it stops accepting"


def test_rollouts_never_take_api_capacity_away(cpu):
    d = one(cpu, "Deployment", API)["spec"]
    assert d["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdb = one(cpu, "PodDisruptionBudget", API)["spec"]
    hpa = one(cpu, "HorizontalPodAutoscaler", API)["spec"]
    assert pdb["maxUnavailable"] == 1 and hpa["minReplicas"] >= 2, "a drain must leave a pod serving"


# ---------------------------------------------------------------- resources: the budgets arithmetic


def test_memory_is_reserved_as_limited(overlay):
    _, docs = overlay
    for deployment in [d for d in docs if d["kind"] == "Deployment"]:
        res = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert res["requests"]["memory"] == res["limits"]["memory"], "requests == limits: no memory overcommit"


def test_memory_limit_holds_the_bodies_in_flight_over_the_measured_idle_pod(cpu, idle_pod_rss):
    """deployment.yaml's arithmetic, re-done from settings.env and a real server's idle RSS (one server
    process and GRADSERVE_COMPUTE_WORKERS compute processes, as in the pod)."""
    env = config_of(cpu, API)
    limit = quantity_bytes(api_container(cpu)["resources"]["limits"]["memory"])
    bodies = int(env["GRADSERVE_MAX_IN_FLIGHT"]) * int(env["GRADSERVE_MAX_BODY_BYTES"])
    assert limit >= idle_pod_rss + bodies, \
        f"{limit >> 20} MiB < idle {idle_pod_rss >> 20} MiB + {bodies >> 20} MiB of bodies in flight"
    # and the pod is the container the defaults are sized for (docker-compose.yml's api)
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())
    assert limit == compose_bytes(compose["services"]["api"]["deploy"]["resources"]["limits"]["memory"])


# ---------------------------------------------------------------- autoscaling on the app's own metric


def test_hpa_scales_on_cpu_and_on_the_in_flight_metric(overlay):
    yaml = pytest.importorskip("yaml")
    _, docs = overlay
    metrics = one(docs, "HorizontalPodAutoscaler", API)["spec"]["metrics"]
    cpu = [m for m in metrics if m["type"] == "Resource"]
    assert cpu and cpu[0]["resource"]["name"] == "cpu"
    (pods,) = [m for m in metrics if m["type"] == "Pods"]
    name = pods["pods"]["metric"]["name"]
    # the adapter rule serves that name, from a series of that name
    adapter = yaml.safe_load((K8S / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    (rule,) = [r for r in adapter["rules"]["custom"] if r["name"]["as"] == name]
    assert rule["seriesQuery"].startswith(name + "{")
    target = float(pods["pods"]["target"]["averageValue"])
    assert 0 < target < int(config_of(docs, API)["GRADSERVE_MAX_IN_FLIGHT"]), "scale out before the 503s"


def test_the_in_flight_metric_is_what_a_real_server_exposes(metrics_text):
    """The HPA's metric exists under that name in /metrics, and an idle server's is 0 (the scrape is no
    evaluation: the rule takes nothing away)."""
    yaml = pytest.importorskip("yaml")
    adapter = yaml.safe_load((K8S / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    series = rule["seriesQuery"].split("{")[0]
    m = re.search(rf"^{series} (\S+)$", metrics_text, re.M)
    assert m, f"{series} is not in /metrics"
    assert float(m[1]) == 0.0
    assert "- 1" not in rule["metricsQuery"]


# ---------------------------------------------------------------- the GPU overlay


def test_gpu_workers_take_one_gpu_each_on_gpu_nodes(gpu):
    pod = one(gpu, "Deployment", CUDA)["spec"]["template"]["spec"]
    res = pod["containers"][0]["resources"]
    assert str(res["limits"]["nvidia.com/gpu"]) == "1" and str(res["requests"]["nvidia.com/gpu"]) == "1"
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in pod["tolerations"])
    env = config_of(gpu, CUDA)
    assert env["GRADSERVE_BACKEND"] == "cupy" and env["GRADSERVE_WORKERS"] == "1"
    assert env["CUPY_CACHE_DIR"].startswith("/tmp/"), "the root filesystem is read-only"


def test_the_api_points_at_the_gpu_service_only_in_the_gpu_overlay(cpu, gpu):
    service = one(gpu, "Service", CUDA)
    port = service["spec"]["ports"][0]["port"]
    assert config_of(gpu, API)["GRADSERVE_CUDA_WORKER_URL"] == f"http://{service['metadata']['name']}:{port}"
    assert config_of(cpu, API)["GRADSERVE_CUDA_WORKER_URL"] == ""
    assert not [d for d in cpu if "cuda" in d["metadata"]["name"]]


def test_only_the_api_reaches_the_gpu_workers(gpu):
    policy = one(gpu, "NetworkPolicy", CUDA)["spec"]
    api_labels = one(gpu, "Deployment", API)["spec"]["template"]["metadata"]["labels"]
    peers = [p for rule in policy["ingress"] for p in rule["from"]]
    pod_peers = [p["podSelector"]["matchLabels"] for p in peers if "podSelector" in p and "namespaceSelector" not in p]
    assert pod_peers and all(labels_match(sel, api_labels) for sel in pod_peers)
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    # and the API may go out to them (its own policy allows DNS only)
    egress = [r for p in gpu if p["kind"] == "NetworkPolicy" for r in p["spec"].get("egress", [])
              if any(t.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
                     == "cuda-worker" for t in r["to"])]
    assert egress
