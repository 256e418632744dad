"""Render `ldapdiag check`: a table per component and the problems below it, or JSON.

JSON shape (stable keys; see render_json):
{
  "command": "check", "status": "ok|finding|error", "exit_code": 0|1|2,
  "components": [{
     "component": "postfix|dovecot|saslauthd", "files": [...], "status": "ok|finding|error",
     "servers": [URL...], "server": URL|null,
     "tls": {"mode": "none|ldaps|starttls", "policy": str|null, "accepted": bool|null,
             "certificate": {tls_version, cipher, trusted, trust_error, expired, not_yet_valid,
                             checked_name, hostname_ok, subject, issuer, names, not_before,
                             not_after, self_signed, sha256} | null},
     "bind": {"method": "none|simple|sasl", "dn": str, "anonymous": bool, "code": int|null,
              "result": str|null, "whoami": str|null},
     "bases": [{"file", "base", "checked", "exists", "code"}],
     "root_dse": {"readable", "vendor", "naming_contexts", "supported_ldap_versions",
                  "absolute_true_false_filters", "paged_results", "supported_controls",
                  "supported_extensions", "supported_features", "sasl_mechanisms"} | null,
     "settings": {"version", "start_tls", "connect_timeout", "operation_timeout", "time_limit",
                  "size_limit", "deref", "chase_referrals"} | null,
     "problems": [{"level": "error|finding|note", "kind", "message", "server", "code"}]
  }],
  "trace": [{"component", "operation", "server", "duration_ms", "result_code", "result", ...}]
}
Passwords never appear: the model holds them only as masked Secret objects.
"""

from __future__ import annotations

import json
from typing import Any

import click
from tabulate import tabulate

from ldapdiag.check import CheckResult, ComponentCheck
from ldapdiag.directory.problems import result_name

STATUS_WORDS = {"ok": "ok", "finding": "FINDING", "error": "ERROR"}


def print_check(result: CheckResult, output_format: str) -> None:
    """Write the report to stdout."""
    text = render_json(result) if output_format == "json" else render_table(result)
    click.echo(text, nl=False)


# ---------------------------------------------------------------------------------------------
# table


def render_table(result: CheckResult) -> str:
    """The components as a table, then each component's problems, one per line."""
    rows = [_row(component) for component in result.components]
    headers = ["component", "files", "server", "TLS", "certificate", "bind", "search base", "status"]
    lines = [tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True), ""]
    facts = {
        component.server: _server_facts(component) for component in result.components if component.server
    }
    lines += [f"{server}: {text}" for server, text in facts.items() if text]
    problems = [
        f"{finding.level:7} {component.component}: {finding.problem}"
        for component in result.components
        for finding in component.findings
    ]
    if problems:
        lines += ["", *problems]
    lint = [p for p in (result.lint.problems if result.lint else []) if p.level in ("error", "warning")]
    if lint:
        lines += ["", "lint (configuration; `ldapdiag lint` explains and gives fixes):"]
        lines += [f"{p.level:7} {p.component or '-'}: {p.where}: {p.message} ({p.code})" for p in lint]
    overall = {0: "all good", 1: "findings", 2: "could not work / could not check"}[result.exit_code]
    lines += ["", f"result: {overall} (exit {result.exit_code})"]
    return "\n".join(lines) + "\n"


def _row(component: ComponentCheck) -> list[str]:
    files = ", ".join(path.rsplit("/", 1)[-1] for path in component.files)
    server = component.server or (
        ", ".join(s.url for s in component.policy.servers) if component.policy else "-"
    )
    return [
        component.component,
        files,
        server if component.server else f"({server})",
        _tls_cell(component),
        _certificate_cell(component),
        _bind_cell(component),
        _base_cell(component),
        STATUS_WORDS[component.status],
    ]


def _tls_cell(component: ComponentCheck) -> str:
    if component.policy is None:
        return "-"
    if component.server is None:
        if component.verdict is not None:
            return "StartTLS" if component.tls_mode == "starttls" else "ldaps"
        return "-"
    if component.tls_mode == "none":
        return "none"
    version = component.verdict.tls_version if component.verdict else None
    return f"{'ldaps' if component.tls_mode == 'ldaps' else 'StartTLS'} {version or ''}".strip()


def _certificate_cell(component: ComponentCheck) -> str:
    verdict = component.verdict
    if verdict is None:
        return "-"
    issues = [
        word
        for word, present in (
            ("untrusted", verdict.trusted is False),
            ("trust unknown", verdict.trusted is None),
            ("expired", verdict.expired),
            ("not yet valid", verdict.not_yet_valid),
            ("wrong host", verdict.hostname_ok is False),
        )
        if present
    ]
    state = ", ".join(issues) if issues else "valid"
    accepted = "accepted" if component.tls_accepted else "refused"
    return f"{state} ({accepted})" if issues else state


def _bind_cell(component: ComponentCheck) -> str:
    policy = component.policy
    if policy is None:
        return "-"
    if policy.bind.method == "none":
        return "no bind"
    who = policy.bind.dn or "anonymous"
    if component.bind_code is None:
        return f"{who}: -"
    return f"{who}: {result_name(component.bind_code)}"


def _base_cell(component: ComponentCheck) -> str:
    if not component.bases:
        return "-"
    cells = []
    for check in dict.fromkeys((b.base, b.checked, b.exists) for b in component.bases):
        base, checked, exists = check
        state = "per key" if not checked else "exists" if exists else "MISSING"
        cells.append(f"{base or '(root)'} {state}")
    return "; ".join(cells)


def _server_facts(component: ComponentCheck) -> str:
    dse = component.root_dse
    if dse is None:
        return ""
    if not dse.readable:
        return "root DSE not readable"
    contexts = ", ".join(dse.get("namingContexts")) or "none"
    return (
        f"server {dse.vendor}; naming contexts {contexts}; "
        f"(&)/(|) {_yes(dse.absolute_filters)}; paged results {_yes(dse.paged_results)}"
    )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


# ---------------------------------------------------------------------------------------------
# JSON


def render_json(result: CheckResult) -> str:
    """The check as JSON (shape in the module docstring)."""
    statuses = {0: "ok", 1: "finding", 2: "error"}
    data = {
        "command": "check",
        "status": statuses[result.exit_code],
        "exit_code": result.exit_code,
        "components": [_component_json(component) for component in result.components],
        "lint": [problem.as_dict() for problem in result.lint.problems] if result.lint else [],
        "trace": [event.as_dict() for event in result.trace],
    }
    return json.dumps(data, indent=2) + "\n"


def _component_json(component: ComponentCheck) -> dict[str, Any]:
    policy = component.policy
    return {
        "component": component.component,
        "files": list(component.files),
        "status": component.status,
        "servers": [s.url for s in policy.servers] if policy else [],
        "server": component.server,
        "tls": {
            "mode": component.tls_mode,
            "policy": policy.tls.describe() if policy and policy.uses_tls else None,
            "accepted": component.tls_accepted,
            "certificate": component.verdict.as_dict() if component.verdict else None,
        },
        "bind": {
            "method": policy.bind.method if policy else None,
            "dn": policy.bind.dn if policy else None,
            "anonymous": policy.bind.anonymous if policy else None,
            "code": component.bind_code,
            "result": result_name(component.bind_code) if component.bind_code is not None else None,
            "whoami": component.whoami,
        },
        "bases": [base.as_dict() for base in component.bases],
        "root_dse": component.root_dse.as_dict() if component.root_dse else None,
        "settings": _settings(component),
        "problems": [finding.as_dict() for finding in component.findings],
    }


def _settings(component: ComponentCheck) -> dict[str, Any] | None:
    policy = component.policy
    if policy is None:
        return None
    return {
        "version": policy.version,
        "start_tls": policy.start_tls,
        "connect_timeout": policy.connect_timeout,
        "operation_timeout": policy.operation_timeout,
        "time_limit": policy.time_limit,
        "size_limit": policy.size_limit,
        "deref": policy.deref,
        "chase_referrals": policy.chase_referrals,
    }
