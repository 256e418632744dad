"""A throwaway Samba AD DC for the Active Directory tests (scenarios/active-directory), once per session.

`ad_dc` provisions, loads and starts the DC (ldapdiag.demo.samba: its own network namespace, the
host's free ports relayed to its 389/636); every AD test shares it. Tests skip with the reason
when Samba cannot run here (not installed, not root).

The DC's certificate is Samba's own, for DC1.ad.example.org. To reach the DC by that name (as a
DMS container whose LDAP_SERVER_HOST names the DC would), `NamedDc` gives:
- `run(args)`: a command in a private mount namespace whose /etc/hosts maps the name to 127.0.0.1
  and whose /etc/ldap/ldap.conf trusts Samba's CA (TLS_CACERT, what the DMS docs' user-patches.sh
  achieves with update-ca-certificates); nothing of the host changes;
- `resolving()`: the same name resolution for this process (socket.getaddrinfo), for in-process
  predictions.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ldapdiag.config.load import load_config
from ldapdiag.config.model import MailServerConfig
from ldapdiag.config.sources import SourceOptions
from ldapdiag.demo import RunningDirectory
from ldapdiag.demo.ad_scenario import AdScenario
from ldapdiag.demo.samba import SambaDirectory, run_ad_dc, samba_missing

AD_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "active-directory"
AD_ENV = AD_SCENARIO / "mailserver.env"
AD_CONFIG = AD_SCENARIO / "config"
HOSTNAME = "mail.example.org"

requires_samba = pytest.mark.skipif(
    samba_missing() is not None, reason=f"Samba AD DC unavailable: {samba_missing()}"
)


@pytest.fixture(scope="session")
def ad_dc() -> Iterator[SambaDirectory]:
    """The session's Samba AD DC serving scenarios/active-directory."""
    problem = samba_missing()
    if problem:
        pytest.skip(f"Samba AD DC unavailable: {problem}")
    with run_ad_dc(AD_SCENARIO) as dc:
        yield dc


@pytest.fixture(scope="session")
def ad_directory(ad_dc: SambaDirectory) -> RunningDirectory:
    return ad_dc.running


@pytest.fixture(scope="session")
def ad_scenario(ad_dc: SambaDirectory) -> AdScenario:
    return ad_dc.scenario


def ad_options(
    url: str, *sets: str, env: Path = AD_ENV, dms_config: Path | None = AD_CONFIG
) -> SourceOptions:
    """The scenario's mailserver.env (+ config volume) pointed at `url`, with more `--set` values."""
    return SourceOptions(
        env_files=(env,),
        use_environment=False,
        dms_config=dms_config,
        sets=(f"LDAP_SERVER_HOST={url}", f"OVERRIDE_HOSTNAME={HOSTNAME}", *sets),
    )


def ad_config(
    url: str, *sets: str, env: Path = AD_ENV, dms_config: Path | None = AD_CONFIG
) -> MailServerConfig:
    """ldapdiag's MailServerConfig for ad_options()."""
    return load_config(ad_options(url, *sets, env=env, dms_config=dms_config), {})


def cli_args(url: str, *sets: str, env: Path = AD_ENV, dms_config: Path | None = AD_CONFIG) -> list[str]:
    """The same as command-line options."""
    args = ["--no-env", "--env-file", str(env)]
    if dms_config is not None:
        args += ["--dms-config", str(dms_config)]
    for value in (f"LDAP_SERVER_HOST={url}", f"OVERRIDE_HOSTNAME={HOSTNAME}", *sets):
        args += ["--set", value]
    return args


@dataclass
class NamedDc:
    """Reach the DC by its DNS name (the name in its certificate), in a private mount namespace."""

    dc: SambaDirectory
    folder: Path

    @property
    def name(self) -> str:
        return self.dc.dns_host_name.lower()

    def url(self, url: str) -> str:
        """`url` with 127.0.0.1 replaced by the DC's name."""
        return url.replace("127.0.0.1", self.name)

    @property
    def hosts_file(self) -> Path:
        path = self.folder / "hosts"
        if not path.exists():
            path.write_text(f"127.0.0.1 localhost\n127.0.0.1 {self.name} {self.name.split('.')[0]}\n")
        return path

    @property
    def ldap_conf(self) -> Path:
        path = self.folder / "ldap.conf"
        if not path.exists():
            path.write_text(f"TLS_CACERT\t{self.dc.running.ca_file}\n")
        return path

    def command(self, args: Sequence[str], trust_ca: bool = True) -> list[str]:
        """`args` wrapped: unshare --mount, the hosts file (and ldap.conf) bind-mounted, exec."""
        mounts = f"mount --bind {self.hosts_file} /etc/hosts"
        if trust_ca:
            mounts += f" && mount --bind {self.ldap_conf} /etc/ldap/ldap.conf"
        return ["unshare", "--mount", "--", "sh", "-c", f'{mounts} && exec "$@"', "named-dc", *args]

    def run(
        self, args: Sequence[str], trust_ca: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 120)
        return subprocess.run(self.command(args, trust_ca), check=False, **kwargs)

    @contextlib.contextmanager
    def resolving(self) -> Iterator[None]:
        """socket.getaddrinfo() answers 127.0.0.1 for the DC's name in this process meanwhile."""
        original = socket.getaddrinfo
        name = self.name

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, str) and host.lower().rstrip(".") == name:
                host = "127.0.0.1"
            return original(host, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        try:
            yield
        finally:
            socket.getaddrinfo = original  # type: ignore[assignment]


@pytest.fixture(scope="session")
def named_dc(ad_dc: SambaDirectory, tmp_path_factory: pytest.TempPathFactory) -> NamedDc:
    return NamedDc(ad_dc, tmp_path_factory.mktemp("named-dc"))
