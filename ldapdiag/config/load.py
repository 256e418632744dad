"""Build one MailServerConfig from the command-line options.

The DMS-variables path renders the files DMS v15 writes and reads them back with the same
parsers that read real files (`--from-files`), so both paths agree by construction.
"""

from __future__ import annotations

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
from ldapdiag.config.settings import Settings
from ldapdiag.config.sources import SourceOptions, collect_settings
from ldapdiag.errors import InputError

DMS_MARKERS = ("/tmp/docker-mailserver", "/etc/dms-settings")


def inside_dms_container(root: Path = Path("/")) -> bool:
    """Whether ldapdiag runs inside a DMS container (its config volume or settings file exist)."""
    return any((root / marker.lstrip("/")).exists() for marker in DMS_MARKERS)


def load_config(options: SourceOptions, environ: Mapping[str, str]) -> MailServerConfig:
    """The effective configuration from every source the options name."""
    if options.from_files is not None:
        from ldapdiag.config.from_files import load_from_files

        return load_from_files(options.from_files)
    collected = collect_settings(options, environ)
    findings: list[Finding] = list(collected.findings)
    settings, found = apply_dms_variables(collected.settings, read_container_file(Path("/")))
    findings += found
    compose = collected.compose
    identity, found = derive_identity(
        settings,
        compose.hostname if compose else None,
        compose.domainname if compose else None,
        inside_container=inside_dms_container(),
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
    return render_config(settings, identity, config_dir, findings)


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
