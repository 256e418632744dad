"""`ldapdiag resolve` and `ldapdiag send-as`: the commands around transaction.py and sender_login.py.

DNS: reject_unknown_sender_domain needs the sender domain's MX/A records. ldapdiag asks the real
DNS (the nameservers of this machine's /etc/resolv.conf) for any --mail-from domain that postfix
would look up; only the default sender (DEFAULT_MAIL_FROM) is assumed to resolve, without a query.

Exit status: resolve 0 when every address is queued, 1 when one is rejected or deferred (also when
a postfix daemon the transaction needs cannot start: `cannot_start`), 2 when ldapdiag cannot
predict one (or the configuration); send-as 0 when every sender is allowed, 1 when one is refused
(or a program the session needs cannot start), 2 when ldapdiag cannot predict it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ldapdiag.config.model import MailServerConfig
from ldapdiag.directory.trace import Trace
from ldapdiag.dovecot.engine import directory_factory
from ldapdiag.dovecot.lookups import PassdbOutcome
from ldapdiag.errors import EXIT_CANNOT_CHECK, EXIT_FINDING, EXIT_OK
from ldapdiag.postfix.address import split_at_right
from ldapdiag.postfix.delivery import LmtpHook
from ldapdiag.postfix.dns import MailhostResolver, StdlibResolver
from ldapdiag.postfix.maps import build_factory
from ldapdiag.postfix.sender_login import DovecotNameHook, SendAsOutcome, send_as
from ldapdiag.postfix.transaction import DEFAULT_MAIL_FROM, AssumedDns, Transaction, run_transaction
from ldapdiag.saslauthd.smtp_auth import sasl_cannot_start


def default_dns(mail_from: str | None) -> MailhostResolver:
    """The real DNS; the default sender's domain assumed to resolve."""
    assumed = (
        frozenset() if mail_from is not None else frozenset({split_at_right(DEFAULT_MAIL_FROM)[1] or ""})
    )
    return AssumedDns(StdlibResolver(), assumed)


def predict_resolve(
    config: MailServerConfig,
    addresses: Sequence[str],
    *,
    mail_from: str | None = None,
    client: str = "external",
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    dns: MailhostResolver | None = None,
    lmtp_hook: LmtpHook | None = None,
    trace: Trace | None = None,
) -> Transaction:
    """The transaction's prediction (tables opened and closed here); lmtp_hook: delivery.LMTP_HOOK."""
    factory = build_factory(config, ca_files, ca_dirs, trace)
    if lmtp_hook is None:
        from ldapdiag.dovecot.postfix_hooks import lmtp_hook as dovecot_lmtp

        lmtp_hook = dovecot_lmtp(directory_factory(factory.pool.trace, ca_files, ca_dirs))
    try:
        return run_transaction(
            config,
            addresses,
            mail_from=mail_from if mail_from is not None else DEFAULT_MAIL_FROM,
            client=client,
            factory=factory,
            dns=dns or default_dns(mail_from),
            lmtp_hook=lmtp_hook,
        )
    finally:
        factory.pool.close()


def run_resolve(
    config: MailServerConfig,
    addresses: Sequence[str],
    *,
    mail_from: str | None,
    client: str,
    output_format: str,
    ca_file: Path | None,
    ca_dir: Path | None,
    explain: bool = False,
) -> int:
    """The `resolve` command: one SMTP transaction on port 25; print it; the exit status."""
    from ldapdiag.explain.postfix import from_steps
    from ldapdiag.report.faults_report import print_faults
    from ldapdiag.report.resolve_report import print_resolve

    trace = Trace()
    transaction = predict_resolve(
        config,
        addresses,
        mail_from=mail_from,
        client=client,
        ca_files=(ca_file,) if ca_file else (),
        ca_dirs=(ca_dir,) if ca_dir else (),
        trace=trace,
    )
    explained = [from_steps(config, o.steps) for o in transaction.outcomes] if explain else None
    print_resolve(transaction, output_format, explained)
    print_faults(trace.faults)
    verdicts = {o.verdict for o in transaction.outcomes}
    if "unknown" in verdicts or trace.faults.faults:
        return EXIT_CANNOT_CHECK
    return EXIT_OK if verdicts == {"deliver"} else EXIT_FINDING


def predict_send_as(
    config: MailServerConfig,
    login: str,
    senders: Sequence[str],
    *,
    ca_files: tuple[Path, ...] = (),
    ca_dirs: tuple[Path, ...] = (),
    dns: MailhostResolver | None = None,
    name_hook: DovecotNameHook | None = None,
    trace: Trace | None = None,
) -> list[SendAsOutcome]:
    """The send-as predictions (tables opened and closed here); name_hook: sender_login.DOVECOT_NAME_HOOK."""
    factory = build_factory(config, ca_files, ca_dirs, trace)
    directories = directory_factory(factory.pool.trace, ca_files, ca_dirs)
    if name_hook is None:
        from ldapdiag.dovecot.postfix_hooks import sasl_name_hook

        name_hook = sasl_name_hook(directories)
    try:
        return send_as(
            config,
            login,
            list(senders),
            factory=factory,
            dns=dns or default_dns(None),
            name_hook=name_hook,
            sasl_failure=sasl_cannot_start(config, directories),
        )
    finally:
        factory.pool.close()


def run_send_as(
    config: MailServerConfig,
    login: str,
    senders: Sequence[str],
    *,
    output_format: str,
    ca_file: Path | None,
    ca_dir: Path | None,
    explain: bool = False,
) -> int:
    """The `send-as` command: AUTH as LOGIN, MAIL FROM each sender; print; the exit status."""
    from ldapdiag.dovecot.postfix_hooks import sasl_name_hook
    from ldapdiag.explain.dovecot import sasl_passdb
    from ldapdiag.explain.postfix import from_steps
    from ldapdiag.report.faults_report import print_faults
    from ldapdiag.report.resolve_report import print_send_as

    trace = Trace()
    ca_files, ca_dirs = (ca_file,) if ca_file else (), (ca_dir,) if ca_dir else ()
    passdb: list[PassdbOutcome] = []  # dovecot SASL: the passdb lookup that gives the SASL name
    outcomes = predict_send_as(
        config,
        login,
        senders,
        ca_files=ca_files,
        ca_dirs=ca_dirs,
        name_hook=sasl_name_hook(directory_factory(trace, ca_files, ca_dirs), passdb) if explain else None,
        trace=trace,
    )
    smtpd = "postfix/submission/smtpd"
    auth = sasl_passdb(config, passdb, login) if explain else []
    explained = [[*auth, *from_steps(config, o.steps, smtpd)] for o in outcomes] if explain else None
    print_send_as(outcomes, output_format, explained)
    print_faults(trace.faults)
    if trace.faults.faults:
        return EXIT_CANNOT_CHECK
    return EXIT_OK if all(o.allowed for o in outcomes) else EXIT_FINDING
