"""Redis deployments of a test's own, on free private ports: a 3-master Redis Cluster, and a master with a
replica watched by three Sentinels (quorum 2). Each process is ours: a test may kill one by its PID."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self
from urllib.parse import quote

import redis

from tests.server import free_port


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port < 55000:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def _wait(what: str, ready: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds} s")
        time.sleep(0.1)


def _server(port: int, directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    return _start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(directory), *extra], directory / f"redis-{port}.log")


def _info(port: int, section: str, password: str | None = None) -> dict[str, object]:
    return redis.Redis(port=port, password=password, socket_timeout=1).info(section)


class _Own:
    """Processes started together; a failed start stops those already started."""

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


def _sentinels(port: int, password: str | None) -> int:
    master = _info(port, "sentinel", password).get("master0")
    return int(master.get("sentinels", 0)) if isinstance(master, dict) else 0


class OwnCluster(_Own):
    """Three masters, no replicas, every slot covered; `url` is the `redis+cluster://` Parlor reads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = [_cluster_port() for _ in range(3)]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def _start(self) -> None:
        for port in self.ports:
            self.processes.append(_server(port, self.directory, "--cluster-enabled", "yes",
                                          "--cluster-config-file", f"nodes-{port}.conf"))
        for port in self.ports:
            _wait(f"redis-server :{port}", lambda p=port: bool(redis.Redis(port=p, socket_timeout=1).ping()))
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for port in self.ports:
            _wait("the cluster", lambda p=port: "cluster_state:ok" in str(
                redis.Redis(port=p, socket_timeout=1, decode_responses=True).execute_command("CLUSTER", "INFO")))

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=2)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)
        self.processes = []


class OwnSentinel(_Own):
    """A master, its replica and three Sentinels watching it as `service` (quorum 2, failover after 1 s down);
    `url` is the `redis+sentinel://` Parlor reads. With `password` the master and its replica require it
    (`requirepass`, and `masterauth` for replication either way after a failover); with `sentinel_password`
    the Sentinels require theirs (and use it among themselves)."""

    service = "parlor"

    def __init__(self, directory: Path, password: str | None = None, sentinel_password: str | None = None) -> None:
        self.directory = directory
        self.password, self.sentinel_password = password, sentinel_password
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.master: subprocess.Popen[bytes] | None = None
        self.others: list[subprocess.Popen[bytes]] = []
        auth = f":{quote(password, safe='')}@" if password else ""
        query = f"?sentinel_password={quote(sentinel_password, safe='')}" if sentinel_password else ""
        self.url = (f"redis+sentinel://{auth}" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
                    + f"/{self.service}{query}")

    def _auth(self) -> list[str]:
        return ["--requirepass", self.password, "--masterauth", self.password] if self.password else []

    def _sentinel_conf(self, port: int) -> str:
        conf = (f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {self.service} 1000\n"
                f"sentinel failover-timeout {self.service} 5000\n")
        if self.password:
            conf += f'sentinel auth-pass {self.service} "{self.password}"\n'
        if self.sentinel_password:
            conf += f'requirepass "{self.sentinel_password}"\nsentinel sentinel-pass "{self.sentinel_password}"\n'
        return conf

    def _start(self) -> None:
        self.master = _server(self.master_port, self.directory, *self._auth())
        self.others.append(_server(self.replica_port, self.directory, "--replicaof", "127.0.0.1",
                                   str(self.master_port), *self._auth()))
        _wait("the replica", lambda: self.info(self.replica_port, "replication").get("master_link_status") == "up")
        for port in self.sentinel_ports:
            conf = self.directory / f"sentinel-{port}.conf"
            conf.write_text(self._sentinel_conf(port))
            self.others.append(_start(["redis-server", str(conf), "--sentinel"],
                                      self.directory / f"sentinel-{port}.log"))
        for port in self.sentinel_ports:
            _wait(f"sentinel :{port}", lambda p=port: _sentinels(p, self.sentinel_password) == 3)

    def info(self, port: int, section: str) -> dict[str, object]:
        """A data server's INFO section (with the master's password)."""
        return _info(port, section, self.password)

    def master_address(self) -> tuple[str, int]:
        host, port = redis.Redis(port=self.sentinel_ports[0], password=self.sentinel_password,
                                 socket_timeout=1).execute_command("SENTINEL", "get-master-addr-by-name",
                                                                   self.service)
        return host.decode(), int(port)

    def kill_master(self) -> None:
        """SIGKILL to the first master (nothing saved: what reached the replica is what survives)."""
        assert self.master is not None
        self.master.kill()
        self.master.wait(10)

    def wait_failover(self, seconds: float = 60) -> None:
        _wait("the failover", lambda: self.master_address()[1] == self.replica_port and
              self.info(self.replica_port, "replication").get("role") == "master", seconds)

    def stop(self) -> None:
        for process in [*self.others, *([self.master] if self.master else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.others, *([self.master] if self.master else [])]:
            process.wait(10)
