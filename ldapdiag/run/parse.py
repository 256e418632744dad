"""Read an expectation file (docs/expect-format.md) into an ExpectFile, or the problems it has."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from ldapdiag.run.model import (
    CLIENTS,
    MAIL_OUTCOMES,
    Expectation,
    ExpectFile,
    LintExpectation,
    LoginExpectation,
    LookupExpectation,
    MailExpectation,
    PasswordSource,
    SaslNameExpectation,
    SendAsExpectation,
    UserExpectation,
)
from ldapdiag.run.yamlnodes import Reader, YamlProblem, load_root

VERSION = 1
TOP_KEYS = (
    "version",
    "name",
    "defaults",
    *MAIL_OUTCOMES,
    "send_as",
    "logins",
    "users",
    "lookups",
    "lint",
)
INLINE_PASSWORD = " (passwords never go into this file: use password_file or password_env)"
PASSWORD_HINTS = {"password": INLINE_PASSWORD, "pass": INLINE_PASSWORD, "passwd": INLINE_PASSWORD}
LEVEL_CODES = ("error", "warning")
USERDB_RESULTS = ("ok", "unknown", "internal_failure")


class Defaults:
    """The file's `defaults:` for mail expectations."""

    def __init__(self) -> None:
        self.mail_from: str | None = None
        self.client = "external"


def parse_file(path: Path, display: str | None = None) -> tuple[ExpectFile | None, list[YamlProblem]]:
    """The expectations of one file, or (None, problems)."""
    display = display or str(path)
    root, problems = load_root(path, display)
    if root is None:
        return None, problems
    reader = Reader(display)
    reader.problems += problems
    top = reader.mapping(root, "the file", TOP_KEYS)
    if top is None:
        return None, reader.problems
    parser = _FileParser(reader, path.resolve().parent)
    name = path.name
    if "version" in top and reader.integer(top["version"], "version") not in (None, VERSION):
        reader.problem(top["version"], f"version: only version {VERSION} exists")
    if "name" in top:
        name = reader.string(top["name"], "name") or name
    if "defaults" in top:
        parser.read_defaults(top["defaults"])
    for key in TOP_KEYS[3:]:
        if key in top:
            parser.read_section(key, top[key])
    if not parser.expectations and not reader.problems:
        reader.problem(root, "no expectations (deliver:, reject:, send_as:, logins:, lookups:, lint:...)")
    if reader.problems:
        return None, sorted(reader.problems, key=lambda p: int(p.where.rpartition(":")[2] or 0))
    ordered = sorted(parser.expectations, key=lambda e: int(e.where.rpartition(":")[2]))
    return ExpectFile(display, name, tuple(ordered)), []


class _FileParser:
    """Turns each section's nodes into expectations."""

    def __init__(self, reader: Reader, base_dir: Path) -> None:
        self.reader = reader
        self.base_dir = base_dir
        self.defaults = Defaults()
        self.expectations: list[Expectation] = []

    def read_defaults(self, node: Node) -> None:
        keys = self.reader.mapping(node, "defaults", ("mail_from", "client"))
        if keys is None:
            return
        if "mail_from" in keys:
            self.defaults.mail_from = self.reader.string(keys["mail_from"], "defaults.mail_from")
        if "client" in keys:
            self.defaults.client = self._client(keys["client"], "defaults.client") or "external"

    def read_section(self, key: str, node: Node) -> None:
        sections: dict[str, Callable[[Node], None]] = {
            "send_as": self._send_as,
            "logins": self._login,
            "users": self._user,
            "lookups": self._lookup,
        }
        if key == "lint":
            self._lint(node)
            return
        reader = sections.get(key)
        for item in self.reader.sequence(node, key):
            if reader is not None:
                reader(item)
            else:
                self._mail(key, item)

    # --- deliver / accept / bounce / reject / defer -----------------------------------------

    def _mail(self, outcome: str, node: Node) -> None:
        r = self.reader
        where = r.where(node)
        if isinstance(node, ScalarNode):
            address = r.string(node, f"{outcome} item")
            if address is not None:
                self.expectations.append(
                    MailExpectation(
                        where,
                        outcome,
                        address,
                        mail_from=self.defaults.mail_from,
                        client=self.defaults.client,
                    )  # type: ignore[arg-type]
                )
            return
        allowed = ["address", "mail_from", "client"]
        allowed += ["to", "transport"] if outcome in ("deliver", "accept", "bounce") else []
        allowed += ["reply"] if outcome in ("bounce", "reject", "defer") else []
        keys = r.mapping(node, f"{outcome} item", tuple(allowed))
        if keys is None:
            return
        if "address" not in keys:
            r.problem(node, f"{outcome} item: 'address' is missing")
            return
        address = r.string(keys["address"], "address")
        to = tuple(v for _, v in r.strings(keys["to"], "to")) if "to" in keys else None
        mail_from = (
            r.string(keys["mail_from"], "mail_from") if "mail_from" in keys else self.defaults.mail_from
        )
        client = self._client(keys["client"], "client") if "client" in keys else self.defaults.client
        transport = r.string(keys["transport"], "transport") if "transport" in keys else None
        reply = r.string(keys["reply"], "reply") if "reply" in keys else None
        if address is None or client is None:
            return
        self.expectations.append(
            MailExpectation(where, outcome, address, to, transport, reply, mail_from, client)  # type: ignore[arg-type]
        )

    def _client(self, node: Node, what: str) -> str | None:
        value = self.reader.string(node, what)
        if value is not None and value not in CLIENTS:
            self.reader.problem(node, f"{what}: expected one of {', '.join(CLIENTS)}")
            return None
        return value

    # --- send_as ----------------------------------------------------------------------------

    def _send_as(self, node: Node) -> None:
        r = self.reader
        keys = r.mapping(
            node, "send_as item", ("login", "sasl_username", "allowed", "denied"), PASSWORD_HINTS
        )
        if keys is None:
            return
        if "login" not in keys:
            r.problem(node, "send_as item: 'login' is missing")
            return
        login = r.string(keys["login"], "login")
        if login is None:
            return
        if not {"allowed", "denied", "sasl_username"} & keys.keys():
            r.problem(node, "send_as item: give allowed:, denied: or sasl_username:")
        if "sasl_username" in keys:
            name = r.string(keys["sasl_username"], "sasl_username")
            if name is not None:
                self.expectations.append(SaslNameExpectation(r.where(keys["sasl_username"]), login, name))
        if "allowed" in keys:
            for item, sender in r.strings(keys["allowed"], "allowed"):
                self.expectations.append(SendAsExpectation(r.where(item), login, sender, True))
        if "denied" in keys:
            for item in r.sequence(keys["denied"], "denied"):
                self._denied(login, item)

    def _denied(self, login: str, node: Node) -> None:
        r = self.reader
        if isinstance(node, MappingNode):
            keys = r.mapping(node, "denied item", ("sender", "reply"))
            if keys is None:
                return
            if "sender" not in keys:
                r.problem(node, "denied item: 'sender' is missing")
                return
            sender = r.string(keys["sender"], "sender", empty=True)
            reply = r.string(keys["reply"], "reply") if "reply" in keys else None
        else:
            sender, reply = r.string(node, "denied item", empty=True), None
        if sender is not None:
            self.expectations.append(SendAsExpectation(r.where(node), login, sender, False, reply))

    # --- logins and users -------------------------------------------------------------------

    def _login(self, node: Node) -> None:
        r = self.reader
        known = ("user", "password_file", "password_key", "password_env", "imap", "smtp")
        keys = r.mapping(node, "logins item", known, PASSWORD_HINTS)
        if keys is None:
            return
        if "user" not in keys:
            r.problem(node, "logins item: 'user' is missing")
            return
        user = r.string(keys["user"], "user")
        password = self._password(node, keys)
        services = [s for s in ("imap", "smtp") if s in keys]
        if not services:
            r.problem(node, "logins item: say what must happen: imap: true|false and/or smtp: true|false")
        for service in services:
            succeeds = r.boolean(keys[service], service)
            if user is not None and password is not None and succeeds is not None:
                where = r.where(keys[service])
                self.expectations.append(
                    LoginExpectation(where, user, password, str(self.base_dir), service, succeeds)  # type: ignore[arg-type]
                )

    def _password(self, node: Node, keys: dict[str, Node]) -> PasswordSource | None:
        r = self.reader
        has_file, has_env = "password_file" in keys, "password_env" in keys
        if has_file == has_env:
            r.problem(node, "logins item: give exactly one of password_file and password_env")
            return None
        if has_env:
            if "password_key" in keys:
                r.problem(keys["password_key"], "password_key: only with password_file (a YAML file)")
            env = r.string(keys["password_env"], "password_env")
            return PasswordSource(env=env) if env is not None else None
        file = r.string(keys["password_file"], "password_file")
        key = r.string(keys["password_key"], "password_key") if "password_key" in keys else None
        return PasswordSource(file=file, key=key) if file is not None else None

    def _user(self, node: Node) -> None:
        r = self.reader
        if isinstance(node, ScalarNode):
            user = r.string(node, "users item")
            if user is not None:
                self.expectations.append(UserExpectation(r.where(node), user))
            return
        keys = r.mapping(node, "users item", ("user", "result", "fields"))
        if keys is None:
            return
        if "user" not in keys:
            r.problem(node, "users item: 'user' is missing")
            return
        user = r.string(keys["user"], "user")
        result = r.string(keys["result"], "result") if "result" in keys else "ok"
        if result is not None and result not in USERDB_RESULTS:
            r.problem(keys["result"], f"result: one of {', '.join(USERDB_RESULTS)}")
            result = None
        fields: list[tuple[str, str]] = []
        if "fields" in keys:
            if result != "ok":
                r.problem(keys["fields"], "fields: only with result: ok")
            for name, value_node in self._field_names(keys["fields"]).items():
                value = r.string(value_node, f"fields.{name}", empty=True)
                if value is not None:
                    fields.append((name, value))
        if user is not None and result is not None:
            self.expectations.append(UserExpectation(r.where(node), user, result, tuple(fields)))

    def _field_names(self, node: Node) -> dict[str, Node]:
        """A mapping of userdb field names (any name dovecot may return)."""
        if not isinstance(node, MappingNode):
            self.reader.problem(node, "fields: expected a mapping (field: value lines)")
            return {}
        known = tuple(str(k.value) for k, _ in node.value if isinstance(k, ScalarNode))
        return self.reader.mapping(node, "fields", known) or {}

    # --- lookups and lint -------------------------------------------------------------------

    def _lookup(self, node: Node) -> None:
        r = self.reader
        keys = r.mapping(node, "lookups item", ("map", "key", "value", "found", "error"))
        if keys is None:
            return
        missing = [k for k in ("map", "key") if k not in keys]
        if missing:
            r.problem(node, f"lookups item: {' and '.join(repr(k) for k in missing)} missing")
            return
        given = [k for k in ("value", "found", "error") if k in keys]
        if len(given) != 1:
            r.problem(
                node, "lookups item: give one of value: (found, with this value), found: false, error: true"
            )
            return
        outcome = given[0]
        if outcome == "found" and r.boolean(keys["found"], "found") is not False:
            r.problem(keys["found"], "found: only found: false (for a found key, give its value:)")
            return
        if outcome == "error" and r.boolean(keys["error"], "error") is not True:
            r.problem(keys["error"], "error: only error: true (the lookup fails: a temporary failure)")
            return
        map_name = r.string(keys["map"], "map")
        key = r.string(keys["key"], "key")
        value = r.string(keys["value"], "value", empty=True) if outcome == "value" else None
        if map_name is not None and key is not None and (value is not None or outcome != "value"):
            self.expectations.append(
                LookupExpectation(r.where(node), map_name, key, value, error=outcome == "error")
            )

    def _lint(self, node: Node) -> None:
        from ldapdiag.lint.rules import all_codes

        r = self.reader
        keys = r.mapping(node, "lint", ("server", "dms_version", "absent", "present"))
        if keys is None:
            return
        server = r.boolean(keys["server"], "lint.server") if "server" in keys else False
        version = r.integer(keys["dms_version"], "lint.dms_version") if "dms_version" in keys else 15
        if version not in (None, 15, 16):
            r.problem(keys["dms_version"], "lint.dms_version: 15 or 16")
        if not {"absent", "present"} & keys.keys():
            r.problem(node, "lint: give absent: and/or present: (rule codes)")
        codes = set(all_codes())
        for section in ("absent", "present"):
            if section not in keys:
                continue
            for item, code in r.strings(keys[section], f"lint.{section}"):
                if code not in codes and code not in LEVEL_CODES:
                    hint = ", or error / warning for every rule of that level"
                    r.problem(item, f"lint.{section}: unknown rule code {code!r} (see ldapdiag lint{hint})")
                    continue
                if server is not None and version in (15, 16):
                    self.expectations.append(
                        LintExpectation(r.where(item), code, section == "present", server, version or 15)
                    )
