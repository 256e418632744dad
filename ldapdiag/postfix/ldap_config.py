"""The parameters of one ldap_table(5) file, read as Debian's postfix 3.7.11 reads them.

Mirrors dict_ldap_open() (global/dict_ldap.c) with cfg_get_str/int/bool() (global/cfg_parser.c):
the same defaults, the same order, the same fatal errors and warnings. Debian patches the
protocol version: the default is 3, and an unknown version falls back to 3 (checked with
`postmap -v`: "Unknown version %d, using 3.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ldapdiag.config.model import ConfFile
from ldapdiag.directory.secret import Secret
from ldapdiag.directory.servers import is_ldap_url, parse_url
from ldapdiag.errors import LdapdiagError
from ldapdiag.postfix.expand import TemplateContext, TemplateError

DEBIAN_DEFAULT_VERSION = 3
LIST_SEPARATORS = ", \t\r\n"  # CHARS_COMMA_SP
_STRTOL = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
SCOPES = {"one": 1, "base": 0, "sub": 2}
BIND_METHODS = {"no": "none", "none": "none", "yes": "simple", "simple": "simple", "sasl": "sasl"}


class LdapConfigError(LdapdiagError):
    """A setting that makes postfix die (`fatal: ...`) when it opens the table."""


@dataclass(frozen=True)
class LdapTableConfig:
    """Every parameter dict_ldap_open() reads, with the value postfix ends up using."""

    path: str
    server_host: str  # the URL list given to ldap_initialize(), space-separated
    server_port: int
    version: int
    scope: int  # 0 base, 1 one, 2 sub
    search_base: str
    timeout: int
    query_filter: str
    result_format: str
    domain: str
    terminal_attributes: tuple[str, ...]
    leaf_attributes: tuple[str, ...]
    result_attributes: tuple[str, ...]
    special_attributes: tuple[str, ...]
    bind: str  # none, simple, sasl
    bind_dn: str
    bind_pw: Secret = field(repr=False)
    recursion_limit: int = 1000
    expansion_limit: int = 0
    size_limit: int = 0
    dereference: int = 0
    chase_referrals: bool = False
    start_tls: bool = False
    tls_require_cert: bool = False
    tls_ca_cert_file: str = ""
    tls_ca_cert_dir: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    dynamic_base: bool = False
    context: TemplateContext = field(default_factory=lambda: TemplateContext(""), compare=False)
    warnings: tuple[str, ...] = ()  # log lines postfix writes when it opens the table (`warning: ...`)

    @property
    def attributes(self) -> tuple[str, ...]:
        """result_attributes->argv: terminal, leaf, regular, then special attributes."""
        return (
            self.terminal_attributes + self.leaf_attributes + self.result_attributes + self.special_attributes
        )

    @property
    def num_attributes(self) -> int:
        """Terminal + leaf + regular: the index where the special attributes start."""
        return len(self.terminal_attributes) + len(self.leaf_attributes) + len(self.result_attributes)


class _Reader:
    """cfg_get_str/int/bool() over one ConfFile, collecting postfix's warnings."""

    def __init__(self, conf: ConfFile) -> None:
        self.conf = conf
        self.path = conf.path
        self.warnings: list[str] = []

    def str(self, name: str, default: str | None, minimum: int = 0) -> str | None:
        """cfg_get_str(): the file's value or the default; a too short value is fatal."""
        value = self.conf.value(name, default if default is not None else "") or ""
        if minimum and len(value) < minimum:
            raise LdapConfigError(
                f"{self.path}: bad string length {len(value)} < {minimum}: {name} = {value}"
            )
        if default is None and not value:
            return None  # cfg_get_str(): "the caller wants NULL instead of an empty string"
        return value

    def text(self, name: str, default: str, minimum: int = 0) -> str:
        value = self.str(name, default, minimum)
        return value if value is not None else default

    def int(self, name: str, default: int, minimum: int = 0, maximum: int = 0) -> int:
        """cfg_get_int(): strtol() of the whole value; range checks as postfix makes them."""
        raw = self.conf.value(name)
        if raw is None:
            number = default
        else:
            if not _STRTOL.fullmatch(raw) or not _INT_MIN <= int(raw) <= _INT_MAX:
                raise LdapConfigError(f"{self.path}: bad numerical configuration: {name} = {raw}")
            number = int(raw)
        if minimum and number < minimum:
            raise LdapConfigError(f"{self.path}: invalid {name} parameter value {number} < {minimum}")
        if maximum and number > maximum:
            raise LdapConfigError(f"{self.path}: invalid {name} parameter value {number} > {maximum}")
        return number

    def bool(self, name: str, default: bool) -> bool:
        """cfg_get_bool(): yes or no, any case; anything else is fatal."""
        raw = self.conf.value(name)
        if raw is None:
            return default
        if raw.lower() in ("yes", "no"):
            return raw.lower() == "yes"
        raise LdapConfigError(f"{self.path}: bad boolean configuration: {name} = {raw}")


def split_list(text: str) -> tuple[str, ...]:
    """argv_split(text, CHARS_COMMA_SP): tokens, empty ones dropped."""
    return tuple(token for token in re.split(r"[, \t\r\n]+", text) if token)


def _server_urls(reader: _Reader, server_host: str, port: int, version: int) -> tuple[str, int]:
    """The server_host tokens as the URL list dict_ldap_open() builds; may raise the version to 3."""
    urls: list[str] = []
    for token in split_list(server_host):
        if is_ldap_url(token):
            try:
                spec = parse_url(token)
            except ValueError:
                reader.warnings.append(
                    f"error: dict_ldap_open: error parsing URL {token}: -9: Bad parameter to an "
                    "ldap routine; skipping"
                )
                continue
            if spec.scheme != "ldap" and version != 3:
                reader.warnings.append(
                    f"warning: dict_ldap_open: URL scheme {spec.scheme} requires protocol version 3"
                )
                version = 3
            urls.append(token)
        elif ":" in token:
            urls.append(f"ldap://{token}")
        else:
            urls.append(f"ldap://{token}:{port}")
    return " ".join(urls), version


def read_ldap_table(conf: ConfFile) -> LdapTableConfig:
    """dict_ldap_open(): every parameter, in postfix's order; LdapConfigError for a fatal one."""
    if conf.refused is not None:  # cfg_parser_alloc() -> dict_load_file_xt() died reading the file
        raise LdapConfigError(conf.refused)
    reader = _Reader(conf)
    path = conf.path
    server_host = reader.text("server_host", "localhost", 1)
    port = reader.int("server_port", 389)
    version = reader.int("version", DEBIAN_DEFAULT_VERSION, 2)
    if version not in (2, 3):
        reader.warnings.append(f"warning: dict_ldap_open: {path} Unknown version {version}, using 3.")
        version = 3
    urls, version = _server_urls(reader, server_host, port, version)
    scope_text = reader.text("scope", "sub", 1)
    scope = SCOPES.get(scope_text.lower())
    if scope is None:
        reader.warnings.append(
            f"warning: dict_ldap_open: {path}: Unrecognized value {scope_text} specified for scope; using sub"
        )
        scope = 2
    search_base = reader.text("search_base", "")
    timeout = reader.int("timeout", 10)
    query_filter = reader.text("query_filter", "(mailacceptinggeneralid=%s)")
    result_format = reader.str("result_format", None)
    if result_format is None:
        result_format = reader.text("result_filter", "%s", 1)
    context = TemplateContext(path)
    try:
        dynamic_base = context.parse(search_base, query=True)
        if not context.parse(query_filter, query=True):
            reader.warnings.append(
                f"warning: dict_ldap_open: {path}: Fixed query_filter {query_filter} is probably useless"
            )
        context.parse(result_format, query=False)
    except TemplateError as error:
        raise LdapConfigError(str(error)) from None
    domain = reader.text("domain", "")
    terminal = split_list(reader.text("terminal_result_attribute", ""))
    leaf = split_list(reader.text("leaf_result_attribute", ""))
    regular = split_list(reader.text("result_attribute", "maildrop"))
    special = split_list(reader.text("special_result_attribute", ""))
    bind_text = reader.text("bind", "yes", 1)
    bind = BIND_METHODS.get(bind_text.lower())
    if bind is None:
        raise LdapConfigError(f"{path}: unsupported parameter value: bind = {bind_text}")
    bind_dn = reader.text("bind_dn", "")
    bind_pw = Secret(reader.text("bind_pw", ""))
    if reader.bool("cache", False):
        reader.warnings.append(f"warning: dict_ldap_open: {path} ignoring cache")
    for name in ("cache_expiry", "cache_size"):
        if reader.int(name, -1) >= 0:
            reader.warnings.append(f"warning: dict_ldap_open: {path} ignoring {name}")
    recursion_limit = reader.int("recursion_limit", 1000, 1)
    expansion_limit = reader.int("expansion_limit", 0)
    size_limit = reader.int("size_limit", expansion_limit)
    dereference = reader.int("dereference", 0)
    if not 0 <= dereference <= 3:
        reader.warnings.append(
            f"warning: dict_ldap_open: {path} Unrecognized value {dereference} "
            "specified for dereference; using 0"
        )
        dereference = 0
    chase_referrals = reader.bool("chase_referrals", False)
    if bind == "sasl":
        for name in ("sasl_mechs", "sasl_realm", "sasl_authz_id"):
            reader.text(name, "")
        reader.int("sasl_minssf", 0, 0, 4096)
    start_tls = reader.bool("start_tls", False)
    if start_tls and version < 3:
        reader.warnings.append(f"warning: dict_ldap_open: {path} start_tls requires protocol version 3")
        version = 3
    tls_require_cert = reader.bool("tls_require_cert", False)
    tls = {
        name: reader.text(name, "") for name in ("tls_ca_cert_file", "tls_ca_cert_dir", "tls_cert", "tls_key")
    }
    for name in ("tls_random_file", "tls_cipher_suite"):
        reader.text(name, "")
    reader.int("debuglevel", 0)
    return LdapTableConfig(
        path=path,
        server_host=urls,
        server_port=port,
        version=version,
        scope=scope,
        search_base=search_base,
        timeout=timeout,
        query_filter=query_filter,
        result_format=result_format,
        domain=domain,
        terminal_attributes=terminal,
        leaf_attributes=leaf,
        result_attributes=regular,
        special_attributes=special,
        bind=bind,
        bind_dn=bind_dn,
        bind_pw=bind_pw,
        recursion_limit=recursion_limit,
        expansion_limit=expansion_limit,
        size_limit=size_limit,
        dereference=dereference,
        chase_referrals=chase_referrals,
        start_tls=start_tls,
        tls_require_cert=tls_require_cert,
        dynamic_base=dynamic_base,
        context=context,
        warnings=tuple(reader.warnings),
        **tls,
    )
