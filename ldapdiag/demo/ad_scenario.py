"""An Active Directory scenario folder: a Samba AD DC's provisioning settings, entries and accounts.

Folder format (scenarios/README.md):
    scenario-kind      `samba-ad` (a folder without it is a slapd scenario)
    provision.yaml     realm, domain (NetBIOS), host_name, large_groups (generated members)
    directory.ldif     changetype records applied to the freshly provisioned sam.ldb, in order
    passwords.yaml     bind: {dn, password} (the Administrator), users: {sAMAccountName: password}
    mailserver.env     the DMS environment; config/ the DMS config volume (ldap-groups.cf ...)
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from ldapdiag.demo.scenario import ScenarioError, _read_passwords, _required

KIND_FILE = "scenario-kind"
SAMBA_KIND = "samba-ad"
SLAPD_KIND = "slapd"


def scenario_kind(folder: Path) -> str:
    """`samba-ad` or `slapd` (the default), from the folder's scenario-kind file."""
    marker = Path(folder) / KIND_FILE
    if not marker.is_file():
        return SLAPD_KIND
    kind = marker.read_text(encoding="utf-8").split("#", 1)[0].strip()
    if kind not in (SAMBA_KIND, SLAPD_KIND):
        raise ScenarioError(
            f"unknown scenario kind {kind!r} (known: {SAMBA_KIND}, {SLAPD_KIND})", str(marker)
        )
    return kind


@dataclass(frozen=True)
class LargeGroup:
    """A mail-enabled group whose members (contacts) are generated, e.g. to exceed AD's limits."""

    dn: str
    mail: str
    members: int
    container: str  # where the member contacts go (an OU created for them)
    member_mail: str  # str.format pattern with {n}, e.g. staff{n:04d}@example.org


@dataclass(frozen=True)
class AdScenario:
    """Everything a throwaway Samba AD DC needs to serve one scenario folder."""

    folder: Path
    realm: str
    domain: str
    host_name: str
    bind_dn: str
    bind_password: str = field(repr=False)
    user_passwords: Mapping[str, str] = field(repr=False)
    large_groups: tuple[LargeGroup, ...] = ()

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def base(self) -> str:
        """The domain's naming context: DC=ad,DC=example,DC=org for realm AD.EXAMPLE.ORG."""
        return ",".join(f"DC={label}" for label in self.realm.lower().split("."))

    @property
    def dns_host_name(self) -> str:
        """The DC's DNS name, which Samba's self-signed certificate is issued for."""
        return f"{self.host_name.upper()}.{self.realm.lower()}"

    @property
    def directory_ldif(self) -> Path:
        return self.folder / "directory.ldif"

    @property
    def env_file(self) -> Path:
        return self.folder / "mailserver.env"

    @property
    def config_dir(self) -> Path | None:
        """The DMS config volume of the scenario (ldap-groups.cf and friends), if it has one."""
        folder = self.folder / "config"
        return folder if folder.is_dir() else None


def load_ad_scenario(folder: Path) -> AdScenario:
    """Read and check an Active Directory scenario folder."""
    folder = Path(folder).resolve()
    if scenario_kind(folder) != SAMBA_KIND:
        raise ScenarioError(f"not an Active Directory scenario (no {KIND_FILE}: {SAMBA_KIND})", str(folder))
    settings = _read_yaml(folder / "provision.yaml")
    passwords = _read_passwords(folder / "passwords.yaml")
    bind = passwords.get("bind") or {}
    where = folder / "provision.yaml"
    return AdScenario(
        folder=folder,
        realm=str(_required(settings, "realm", where)).upper(),
        domain=str(_required(settings, "domain", where)).upper(),
        host_name=str(settings.get("host_name") or "DC1").upper(),
        bind_dn=_required(bind, "dn", folder / "passwords.yaml"),
        bind_password=_required(bind, "password", folder / "passwords.yaml"),
        user_passwords=MappingProxyType({str(k): str(v) for k, v in (passwords.get("users") or {}).items()}),
        large_groups=tuple(_large_group(item, where) for item in settings.get("large_groups") or ()),
    )


def ldif_records(text: str) -> Iterator[dict[str, list[str]]]:
    """The records of an LDIF text: lower-cased attribute -> values (base64 values decoded)."""
    record: dict[str, list[str]] = {}
    lines: list[str] = []
    for raw in [*text.splitlines(), ""]:
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
            continue
        if raw.startswith("#"):
            continue
        if raw.strip():
            lines.append(raw)
            continue
        for line in lines:
            name, _, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            record.setdefault(name.strip().lower(), []).append(value.strip())
        if record:
            yield record
        record, lines = {}, []


def account_dns(ldif: str) -> dict[str, str]:
    """sAMAccountName (lower case) -> DN of every record the LDIF adds."""
    found = {}
    for record in ldif_records(ldif):
        for name in record.get("samaccountname", []):
            found[name.lower()] = record["dn"][0]
    return found


def _large_group(item: object, where: Path) -> LargeGroup:
    if not isinstance(item, dict):
        raise ScenarioError("large_groups: each item must be a mapping", str(where))
    try:
        group = LargeGroup(
            dn=str(item["dn"]),
            mail=str(item["mail"]),
            members=int(item["members"]),
            container=str(item["container"]),
            member_mail=str(item["member_mail"]),
        )
        group.member_mail.format(n=1)
    except (KeyError, ValueError, IndexError) as err:
        raise ScenarioError(f"large_groups: bad or missing {err}", str(where)) from None
    return group


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ScenarioError(f"cannot read: {err.strerror}", where=str(path)) from err
    except yaml.YAMLError:
        raise ScenarioError("not valid YAML", where=str(path)) from None
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping", where=str(path))
    return data
