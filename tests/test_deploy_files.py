"""The deployment files (deploy/): the compose stack, the load balancer's config and the Kubernetes
manifests are parsed and checked for what a broken deployment would get wrong — every replica gated
on /readyz, migrations run once before them, settings that exist, one shared uploads volume, streams
that pass through the balancer unbuffered — and, where a compose client is installed, by it too."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

import pytest
import yaml

from parlor.config import ProviderConfig, ProviderKind, Settings
from parlor.redis_keys import jobs_group

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES = "1.30.0"  # the oldest version the manifests target (preStop `sleep` needs 1.30)
EXTRA_ENV = {"PARLOR_WORKERS"}  # read by `parlor serve`, not Settings
MARGIN_SECONDS = 5  # past the drain: the process closes its pools and stores the answers it cut


def defaulted(value: str) -> str:
    """A compose value with each `${NAME:-default}` as its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())  # PyYAML resolves `<<` merge keys, as compose does


def unknown_settings(env: dict[str, Any]) -> list[str]:
    """PARLOR_* names that no setting reads: a typo there is silently ignored at run time."""
    fields = {f"PARLOR_{name.upper()}" for name in Settings.model_fields}
    return [k for k in env if k.startswith("PARLOR_") and k not in fields | EXTRA_ENV]


# ---- docker compose ----
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(DEPLOY / "compose.yaml")  # type: ignore[no-any-return]


def apis(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("command") == ["parlor", "serve"]}


def test_compose_has_the_whole_fleet(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert len(apis(compose)) == 2
    assert {"postgres", "redis", "migrate", "worker", "nginx"} <= set(services)
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["worker"]["command"] == ["parlor", "worker"]
    assert services["migrate"]["command"] == ["parlor", "migrate"] and services["migrate"]["restart"] == "no"
    for name in ("postgres", "redis", "nginx", *apis(compose)):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"


def test_replicas_start_after_migrations_and_are_gated_on_readiness(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, api in apis(compose).items():
        assert "/readyz" in " ".join(api["healthcheck"]["test"]), name
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services["nginx"]["depends_on"][name]["condition"] == "service_healthy", name
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_parlor_process_gets_the_same_services_and_real_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    parlor = {name: s for name, s in services.items() if s.get("command", [""])[0] == "parlor"}
    assert set(parlor) == {*apis(compose), "worker", "migrate"}
    envs = [s["environment"] for s in parlor.values()]
    for env in envs:
        assert not unknown_settings(env)
        for key in ("PARLOR_DATABASE_URL", "PARLOR_REDIS_URL", "PARLOR_DOCUMENTS_DIR", "PARLOR_ADMIN_TOKEN"):
            assert env[key] == envs[0][key], key  # one database, one Redis, one volume path for all
    database = urlsplit(envs[0]["PARLOR_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-parlor}", "pw"))
    assert database.scheme == "postgresql+asyncpg" and database.hostname in services
    assert urlsplit(envs[0]["PARLOR_REDIS_URL"]).hostname in services
    for key in ("PARLOR_DB_POOL_SIZE", "PARLOR_DB_MAX_OVERFLOW", "PARLOR_REDIS_MAX_CONNECTIONS"):
        assert key in envs[0]  # sized in one place (docs/deploy.md)


def test_replicas_believe_the_balancer_and_no_one_else(compose: dict[str, Any]) -> None:
    """PARLOR_TRUSTED_PROXIES, the setting Parlor reads (uvicorn's FORWARDED_ALLOW_IPS is not): without
    it every client behind the balancer shares one address, and so one invalid-key budget."""
    for name, api in apis(compose).items():
        proxies = Settings(trusted_proxies=defaulted(api["environment"]["PARLOR_TRUSTED_PROXIES"])).trusted_proxies
        assert proxies and "*" not in proxies, name
    configmap = load(K8S / "configmap.yaml")["data"]
    assert Settings(trusted_proxies=configmap["PARLOR_TRUSTED_PROXIES"]).trusted_proxies
    documents = [*DEPLOY.rglob("*.yaml"), DEPLOY / ".env.example", DEPLOY.parent / "docs" / "deploy.md",
                 DEPLOY.parent / "README.md"]
    assert [p.name for p in documents if "FORWARDED_ALLOW_IPS" in p.read_text()] == []


def test_a_stopped_replica_has_time_to_drain(compose: dict[str, Any]) -> None:
    for name, api in apis(compose).items():
        drain = seconds(defaulted(api["environment"]["PARLOR_DRAIN_SECONDS"]))
        assert seconds(api["stop_grace_period"]) >= drain + MARGIN_SECONDS, name


def test_uploads_are_one_volume_shared_by_the_replicas_and_the_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    documents = services["worker"]["environment"]["PARLOR_DOCUMENTS_DIR"]
    for name in (*apis(compose), "worker"):
        mounts = {m.split(":")[1]: m.split(":")[0] for m in services[name]["volumes"]}
        assert mounts.get(documents) == "uploads", name
    assert "uploads" in compose["volumes"]


def test_the_s3_override_points_every_process_at_the_bucket(compose: dict[str, Any]) -> None:
    override = load(DEPLOY / "compose.s3.yaml")
    for name in (*apis(compose), "worker"):
        env = override["services"][name]["environment"]
        assert not unknown_settings(env) and env["PARLOR_S3_BUCKET"]
        assert override["services"][name]["depends_on"]["minio-bucket"]["condition"] == \
            "service_completed_successfully"


def test_the_balancer_streams_unbuffered_to_every_replica(compose: dict[str, Any]) -> None:
    conf = re.sub(r"#.*", "", (DEPLOY / "nginx" / "nginx.conf").read_text())  # directives only
    upstream = re.search(r"upstream parlor \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"server ([\w-]+):(\d+)", upstream.group(1))
    assert sorted(name for name, _ in servers) == sorted(apis(compose))
    assert {port for _, port in servers} == {"8000"}
    assert re.search(r"proxy_buffering\s+off;", conf) and re.search(r"proxy_cache\s+off;", conf)
    read_timeout = re.search(r"proxy_read_timeout\s+(\d+)s;", conf)
    assert read_timeout and int(read_timeout.group(1)) >= 600  # longer than any pause between tokens
    assert "ip_hash" not in conf and "sticky" not in conf  # no session affinity is needed
    body = re.search(r"client_max_body_size\s+(\d+)m;", conf)
    assert body and int(body.group(1)) * 1_000_000 >= Settings.model_fields["max_upload_bytes"].default
    mount = compose["services"]["nginx"]["volumes"][0]
    assert mount.startswith("./nginx/nginx.conf:")


def test_the_env_example_names_real_settings_and_every_provider_kind() -> None:
    text = (DEPLOY / ".env.example").read_text()
    env = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert unknown_settings(env) == ["PARLOR_PUBLIC_PORT"]  # read by compose.yaml itself: the published port
    assert [ProviderConfig.model_validate(p).kind for p in json.loads(env["PARLOR_PROVIDERS"])] == ["openai"]
    named = re.findall(r'"(\w+)" \(', "".join(line for line in text.splitlines() if line.startswith("#")))
    assert sorted(named) == sorted(get_args(ProviderKind))  # the kinds the comment explains: all, and no others


def compose_client() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(compose_client() is None, reason="no docker compose client installed")
def test_the_compose_client_accepts_the_files(tmp_path: Path) -> None:
    client = compose_client() or []
    env = {"PARLOR_ADMIN_TOKEN": "t", "PARLOR_PROVIDERS": "[]", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    for files in (["compose.yaml"], ["compose.yaml", "compose.s3.yaml"]):
        args = [a for f in files for a in ("-f", str(DEPLOY / f))]
        done = subprocess.run([*client, *args, "config", "-q"], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr


# ---- Kubernetes ----
@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert document["apiVersion"] and document["metadata"]["name"], path
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def pod_specs(manifests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: m["spec"]["template"]["spec"] for (kind, name), m in manifests.items()
            if kind in ("Deployment", "Job")}


def test_manifests_match_kubernetes_schemas(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Kubernetes' own OpenAPI schemas (shipped in kubernetes-validate: no cluster, no download),
    strict: a misspelt field is an error, as `kubectl apply --validate=strict` would make it."""
    import kubernetes_validate  # type: ignore[import-untyped]

    for (kind, name), manifest in manifests.items():
        try:
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{kind}/{name}: {exc.message}") from None


def test_kustomization_lists_every_manifest() -> None:
    listed = set(load(K8S / "kustomization.yaml")["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_api_runs_two_replicas_with_probes(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    api = manifests[("Deployment", "parlor-api")]
    assert api["spec"]["replicas"] == 2
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = api["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    grace = api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    drain = float(manifests[("ConfigMap", "parlor-settings")]["data"]["PARLOR_DRAIN_SECONDS"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert grace >= pre_stop + drain + MARGIN_SECONDS  # routing stops, answers finish, then SIGKILL at worst


@pytest.mark.parametrize("name", ["parlor-api", "parlor-worker"])
def test_each_deployment_scales_and_survives_a_node_drain(
        manifests: dict[tuple[str, str], dict[str, Any]], name: str) -> None:
    deployment = manifests[("Deployment", name)]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    hpa = manifests[("HorizontalPodAutoscaler", name)]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 2 <= hpa["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["maxReplicas"]
    assert {m["resource"]["name"] for m in hpa["metrics"]} == {"cpu"}  # requests are set: utilization is defined
    pdb = manifests[("PodDisruptionBudget", name)]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["minAvailable"] < hpa["minReplicas"]  # a drain may evict one, never the last


@pytest.mark.parametrize("name", ["parlor-api", "parlor-worker"])
def test_pods_wait_for_the_schema_instead_of_crash_looping(
        manifests: dict[tuple[str, str], dict[str, Any]], name: str) -> None:
    spec = manifests[("Deployment", name)]["spec"]["template"]["spec"]
    init = spec["initContainers"]
    assert [c["command"] for c in init] == [["parlor", "migrate", "--wait"]]  # waits for the Job's schema
    assert init[0]["envFrom"] == spec["containers"][0]["envFrom"] and init[0]["image"] == "parlor"


def test_every_container_has_resources_and_the_settings(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    specs = pod_specs(manifests)
    assert set(specs) == {"parlor-api", "parlor-worker", "parlor-migrate"}
    commands = {name: spec["containers"][0]["command"] for name, spec in specs.items()}
    assert commands == {"parlor-api": ["parlor", "serve"], "parlor-worker": ["parlor", "worker"],
                        "parlor-migrate": ["parlor", "migrate"]}
    for name, spec in specs.items():
        for container in spec["containers"] + spec.get("initContainers", []):
            resources = container["resources"]
            assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
            assert resources["limits"]["memory"], name
            sources = {(next(iter(s)), next(iter(s.values()))["name"]) for s in container["envFrom"]}
            assert sources == {("configMapRef", "parlor-settings"), ("secretRef", "parlor-secrets")}, name
        claims = {v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])}
        assert claims <= {name for kind, name in manifests if kind == "PersistentVolumeClaim"}


def test_settings_in_the_configmap_and_secret_exist(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    config = manifests[("ConfigMap", "parlor-settings")]["data"]
    secret = manifests[("Secret", "parlor-secrets")]["stringData"]
    assert not unknown_settings(config) and not unknown_settings(secret)
    assert all(isinstance(v, str) for v in config.values())  # ConfigMap values must be strings
    assert secret["PARLOR_DATABASE_URL"].startswith("postgresql+asyncpg://") and secret["PARLOR_REDIS_URL"]
    assert manifests[("PersistentVolumeClaim", "parlor-uploads")]["spec"]["accessModes"] == ["ReadWriteMany"]
    mounts = {m["mountPath"] for spec in pod_specs(manifests).values() for c in spec["containers"]
              for m in c.get("volumeMounts", [])}
    assert config["PARLOR_DOCUMENTS_DIR"] in mounts


def test_service_and_ingress_reach_the_api_pods(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    service = manifests[("Service", "parlor-api")]
    labels = manifests[("Deployment", "parlor-api")]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert "sessionAffinity" not in service["spec"] or service["spec"]["sessionAffinity"] == "None"
    ingress = manifests[("Ingress", "parlor")]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "parlor-api"
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_the_image_runs_as_the_user_the_pods_require(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert uid and re.search(r"^USER parlor$", dockerfile, re.M)
    for name, spec in pod_specs(manifests).items():
        assert spec["securityContext"]["runAsUser"] == int(uid.group(1)), name
    assert "PARLOR_HOST=0.0.0.0" in dockerfile  # reachable from the balancer, not only from inside
    listed = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert "!parlor/" in listed and "!requirements.lock" in listed  # what the build copies is in its context


# ---- KEDA: the workers scaled on the job queue (deploy/k8s-keda, an overlay of the above) ----
KEDA = DEPLOY / "k8s-keda"


def test_keda_replaces_the_workers_cpu_autoscaler() -> None:
    kustomization = load(KEDA / "kustomization.yaml")
    assert kustomization["resources"] == ["../k8s", "worker-scaledobject.yaml"]
    deleted = [yaml.safe_load(p["patch"]) for p in kustomization["patches"]]
    assert deleted == [{"$patch": "delete", "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                        "metadata": {"name": "parlor-worker"}}]  # KEDA makes the one autoscaler itself


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl installed")
def test_the_keda_overlay_builds_with_one_autoscaler_per_deployment() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(KEDA)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    documents = list(yaml.safe_load_all(built.stdout))
    scalers = sorted((d["kind"], d["spec"]["scaleTargetRef"]["name"]) for d in documents
                     if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"))
    assert scalers == [("HorizontalPodAutoscaler", "parlor-api"), ("ScaledObject", "parlor-worker")]
    assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {"parlor"}


def test_keda_reads_the_stream_and_group_the_workers_use(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    config = manifests[("ConfigMap", "parlor-settings")]["data"]
    stream = config.get("PARLOR_JOBS_QUEUE", Settings.model_fields["jobs_queue"].default)
    redis = urlsplit(manifests[("Secret", "parlor-secrets")]["stringData"]["PARLOR_REDIS_URL"])
    triggers = load(KEDA / "worker-scaledobject.yaml")["spec"]["triggers"]
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert trigger["type"] == "redis-streams"
        assert (metadata["stream"], metadata["consumerGroup"]) == (stream, jobs_group(stream))
        assert (metadata["address"], metadata["databaseIndex"]) == (redis.netloc, redis.path.strip("/") or "0")
    counts = {key: int(value) for t in triggers for key, value in t["metadata"].items() if key.endswith("Count")}
    assert set(counts) == {"lagCount", "pendingEntriesCount"} and all(n > 0 for n in counts.values())
    assert counts["pendingEntriesCount"] == int(config["PARLOR_JOBS_CONCURRENCY"])  # running: each worker full


def test_keda_scales_down_one_drained_worker_at_a_time(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    spec = load(KEDA / "worker-scaledobject.yaml")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "parlor-worker"}
    worker = manifests[("Deployment", "parlor-worker")]["spec"]
    pdb = manifests[("PodDisruptionBudget", "parlor-worker")]["spec"]
    assert 1 <= pdb["minAvailable"] < spec["minReplicaCount"] <= worker["replicas"] <= spec["maxReplicaCount"]
    grace = worker["template"]["spec"]["terminationGracePeriodSeconds"]
    config = manifests[("ConfigMap", "parlor-settings")]["data"]
    reclaim = float(config.get("PARLOR_JOBS_RECLAIM_SECONDS", Settings.model_fields["jobs_reclaim_seconds"].default))
    assert grace + MARGIN_SECONDS <= reclaim  # a stopping worker's jobs are not taken over while it runs them
    scale_down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert [(p["type"], p["value"]) for p in scale_down["policies"]] == [("Pods", 1)]
    assert scale_down["policies"][0]["periodSeconds"] >= grace  # the next one stops once this one has drained
