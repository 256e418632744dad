"""Build one MailServerConfig from the command-line options.

The DMS-variables path renders the files DMS v15 writes and reads them back with the same
parsers that read real files (`--from-files`), so both paths agree by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ldapdiag.config import dms_render
from ldapdiag.config.dms_variables import apply_dms_variables, read_container_file
from ldapdiag.config.dovecot_conf import DovecotConf, parse_dovecot_conf, parse_dovecot_ldap_ext
from ldapdiag.config.hostname import derive_identity
from ldapdiag.config.model import ConfFile, HostIdentity, MailServerConfig, refused_file_findings
from ldapdiag.config.origin import Finding, Origin
from ldapdiag.config.postfix_cf import parse_postfix_cf, read_config_text
from ldapdiag.config.saslauthd_conf import parse_saslauthd_conf
from ldapdiag.config.settings import Setting, Settings
from ldapdiag.config.sources import SourceOptions, collect_settings
from ldapdiag.errors import InputError

DMS_MARKERS = ("/tmp/docker-mailserver", "/etc/dms-settings")
# where the container's files are looked for (tests point it at a fake container root)
ROOT_VARIABLE = "LDAPDIAG_ROOT"
_GENERATED = "/etc/postfix/main.cf"
_CONFIG_VOLUME = "/tmp/docker-mailserver"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def inside_dms_container(root: Path = Path("/")) -> bool:
    """Whether ldapdiag runs inside a DMS container (its config volume or settings file exist)."""
    return any((root / marker.lstrip("/")).exists() for marker in DMS_MARKERS)


def container_root(options: SourceOptions, environ: Mapping[str, str]) -> Path | None:
    """The DMS container root to read by default: no source option given, and a DMS marker
    (`/tmp/docker-mailserver`, `/etc/dms-settings`) beside the main.cf DMS generated.

    A sidecar with only the config volume mounted at /tmp/docker-mailserver has no main.cf:
    it keeps predicting from variables.
    """
    explicit = (
        options.env_files,
        options.compose,
        options.service,
        options.sets,
        options.dms_config,
        options.from_files,
    )
    if any(item for item in explicit):
        return None
    root = _root(environ)
    return root if _generated_here(root) else None


def _root(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(ROOT_VARIABLE) or "/")


def _generated_here(root: Path) -> bool:
    """A DMS marker and the main.cf DMS generated: a DMS container, not a sidecar."""
    return inside_dms_container(root) and (root / _GENERATED.lstrip("/")).is_file()


def container_notice(root: Path, use_environment: bool) -> str:
    """The line saying ldapdiag reads a DMS container's own files (its first line of output)."""
    where = "" if root == Path("/") else f" under {root}"
    environment = " and the container's environment" if use_environment else ""
    return (
        f"inside a docker-mailserver container: reading the files DMS generated{where} "
        f"(/etc/postfix, /etc/dovecot, /etc/saslauthd.conf, /etc/dms-settings){environment}; "
        "give --env-file, --set or --dms-config to predict from variables instead"
    )


def load_config(options: SourceOptions, environ: Mapping[str, str]) -> MailServerConfig:
    """The effective configuration from every source the options name."""
    if options.from_files is not None:
        from ldapdiag.config.from_files import load_from_files

        return load_from_files(options.from_files)
    root = container_root(options, environ)
    if root is not None:
        return _load_container(root, environ if options.use_environment else {})
    collected = collect_settings(options, environ)
    findings: list[Finding] = list(collected.findings)
    settings, found = apply_dms_variables(collected.settings, read_container_file(Path("/")))
    findings += found
    compose = collected.compose
    identity, found = derive_identity(
        settings,
        compose.hostname if compose else None,
        compose.domainname if compose else None,
        inside_container=_generated_here(_root(environ)),
    )
    findings += found
    config_dir = options.dms_config
    if config_dir is not None and not config_dir.is_dir():
        raise InputError("--dms-config: the directory does not exist", str(config_dir))
    if config_dir is None and compose is not None and compose.dms_config_dir is not None:
        config_dir = compose.dms_config_dir
        if not config_dir.is_dir():
            # docker creates a missing bind-mount source: DMS then sees an empty volume
            findings.append(
                Finding("info", str(config_dir), "the config volume does not exist here; taken as empty")
            )
            config_dir = None
    if config_dir is None and compose is None and (_root(environ) / _CONFIG_VOLUME.lstrip("/")).is_dir():
        # a sidecar (or DMS itself) with the config volume mounted where DMS mounts it
        config_dir = _root(environ) / _CONFIG_VOLUME.lstrip("/")
        findings.append(
            Finding("info", str(config_dir), "DMS's config volume is mounted here: read as --dms-config")
        )
    return render_config(settings, identity, config_dir, findings)


def _load_container(root: Path, environ: Mapping[str, str]) -> MailServerConfig:
    """`--from-files ROOT`, with the container's environment for the variables /etc/dms-settings
    does not record (the files decide what the programs do; the variables only fill in)."""
    from ldapdiag.config.from_files import load_from_files

    config = load_from_files(root)
    environment = [
        Setting(name, value, Origin("environment", "", name))
        for name, value in environ.items()
        if _NAME.fullmatch(name) and name not in config.settings
    ]
    return replace(config, settings=config.settings.layered(environment))


def render_config(
    settings: Settings, identity: HostIdentity, config_dir: Path | None, findings: list[Finding]
) -> MailServerConfig:
    """Render DMS's files from `settings` and parse them into a MailServerConfig."""
    maps = dms_render.render_postfix_maps(settings, config_dir, findings)
    tables = {doc.path: _parse(doc, tolerant=True) for doc in maps.values()}
    main = dms_render.render_main_cf(settings, identity)
    if config_dir is not None:
        _append_postfix_main_override(main, config_dir / "postfix-main.cf")
    smtp_only = settings.value("SMTP_ONLY", "0").strip() == "1"
    dovecot_ldap = (
        None if smtp_only else _parse(dms_render.render_dovecot_ldap(settings, findings), tolerant=True)
    )
    dovecot_main = (
        None if smtp_only else _parse_dovecot_main(dms_render.render_dovecot_main(settings, config_dir))
    )
    saslauthd = None
    if settings.value("ENABLE_SASLAUTHD", "0").strip() == "1":
        saslauthd = _parse(dms_render.render_saslauthd_conf(settings), tolerant=True)
    if config_dir is not None and (config_dir / "user-patches.sh").is_file():
        findings.append(
            Finding(
                "warning",
                str(config_dir / "user-patches.sh"),
                "user-patches.sh may change the generated files in ways ldapdiag cannot predict; "
                "copy the container's files and use --from-files to see their real content",
            )
        )
    findings += refused_file_findings([*tables.values(), *(f for f in (dovecot_ldap, saslauthd) if f)])
    return MailServerConfig(
        source="env",
        identity=identity,
        settings=settings,
        postfix_main=_parse(main),
        postfix_tables=tables,
        vhost=tuple(dms_render.vhost_domains(identity.domainname, config_dir)),
        dovecot_ldap=dovecot_ldap,
        dovecot_main=dovecot_main,
        saslauthd=saslauthd,
        findings=tuple(findings),
    )


def _append_postfix_main_override(main: dms_render.RenderedFile, path: Path) -> None:
    """`__postfix__setup_override_configuration`: postfix-main.cf is appended to main.cf (last wins)."""
    if not path.is_file():
        return
    text = read_config_text(path, str(path))
    for number, line in enumerate(text.splitlines(), start=1):
        main.add(line, Origin("file", f"{path}:{number}"))


def _parse(document: dms_render.RenderedFile, tolerant: bool = False) -> ConfFile:
    """Read a rendered file back with the parser for its format.

    `tolerant` (the files a component refuses on its own, without stopping the others): a line
    the component refuses marks the file `refused` instead of raising.
    """
    parsers = {
        "postfix": parse_postfix_cf,
        "dovecot": parse_dovecot_ldap_ext,
        "saslauthd": parse_saslauthd_conf,
    }
    parsed = parsers[document.format](document.text(), document.path, document.origins, tolerant=tolerant)
    return _as_rendered(parsed)


def _as_rendered(conf: ConfFile, origins: Mapping[int, Origin] | None = None) -> ConfFile:
    """Mark a parsed file as rendered, giving its entries their rendered lines' origins."""
    entries = conf.entries
    if origins is not None:
        entries = tuple(replace(e, origin=origins.get(e.line, e.origin)) for e in entries)
    return ConfFile(conf.path, conf.format, conf.text, entries, rendered=True, refused=conf.refused)


def _parse_dovecot_main(document: dms_render.RenderedFile) -> DovecotConf:
    """Read the rendered dovecot configuration back with the dovecot.conf parser."""
    conf = parse_dovecot_conf(document.text(), document.path)
    return replace(conf, settings=_as_rendered(conf.settings, document.origins))
