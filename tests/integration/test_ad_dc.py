"""The throwaway Samba AD DC itself (ldapdiag.demo.samba): reachable, isolated, and gone afterwards."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from ldapdiag.demo.samba import SambaDirectory, run_ad_dc
from tests.ldap_server import slapd_pids
from tests.samba_dc import AD_SCENARIO, requires_samba

pytestmark = requires_samba


def test_session_dc_is_relayed_to_free_host_ports(ad_dc: SambaDirectory) -> None:
    for url in (ad_dc.running.ldap_url, ad_dc.running.ldaps_url or ""):
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port not in (389, 636)
        with socket.create_connection((parts.hostname, parts.port), timeout=5):
            pass
    assert ad_dc.running.ca_file is not None and ad_dc.running.ca_file.is_file()
    assert ad_dc.running.password_file.stat().st_mode & 0o077 == 0
    assert "start" in ad_dc.timings


def test_a_dc_leaves_nothing_behind() -> None:
    begin = time.monotonic()
    with run_ad_dc(AD_SCENARIO) as dc:
        workdir = dc.workdir
        assert slapd_pids(workdir), "samba runs with its configuration in the workdir"
        started = time.monotonic() - begin
    deadline = time.monotonic() + 10
    while slapd_pids(workdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slapd_pids(workdir) == []
    assert not workdir.exists()
    assert started < 60, dc.timings
