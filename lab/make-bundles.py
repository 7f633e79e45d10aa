#!/usr/bin/env python3
"""Expressway-E diagnostic bundles and CMS event logs built from the deployment lab's captures.

    python3 lab/make-bundles.py [OUT]      (default OUT: fixtures/bundles)

Reads the committed captures of `fixtures/deploy/<setting>/<scenario>/` (expe-lan1.pcap = eth0 =
LAN1, expe-lan2.pcap = eth1 = LAN2) and writes, per case, a `.tar.gz` laid out as the Expressway
admin guide documents the diagnostic log bundle: `loggingsnapshot_<host>_<ts>.txt`,
`xconf_dump_<host>_<ts>.txt` (or `.xml`), `xstat_dump_<host>_<ts>.txt`, and
`eth<n>_diagnostic_logging_tcpdump<xx>_<host>_<ts>.pcap` rotated with tcpdump -C semantics (a
new piece, with its own file header, once the next record would pass PIECE_BYTES). Beside them:
CMS event log excerpts (the web admin's tab-separated export, and syslog).

Every value written (TURN port, realm, relay range, LAN and static NAT addresses) comes from the
lab's settings: `lab/deploy-lab.sh` defaults, overridden by `lab/alt.env` for the alt setting.
The log's events are the capture's own: a media route per Allocate the server granted (its
relay port, the client, the time of the success response), an alarm at the first 508, and the
admin's DEBUG_MARKER at the start. The output is byte-for-byte reproducible (tar and gzip
times are taken from the captures, owners are fixed).

Needs python3 and tshark (the packet fields are read with tshark, not with turnscope).
"""

import gzip
import io
import os
import re
import struct
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "fixtures", "deploy")

# What the lab does not set: the Expressway's release, its option keys, the CMS's zone. Samples.
VERSION = os.environ.get("EXPE_VERSION", "X14.3.1")
OPTION_KEYS = [("116341Y00-1-A1B2C3D4", "1800 TURN Relays"), ("LIC-EXP-E", "Expressway Series")]
CMS_ZONE_MINUTES = int(os.environ.get("CMS_ZONE_MINUTES", "60"))  # the CMS logs in local time
PIECE_BYTES = int(os.environ.get("PIECE_BYTES", "16384"))


def lab_settings(setting):
    """The lab's variables: deploy-lab.sh defaults, then alt.env for the alt setting."""
    values = {}
    text = open(os.path.join(ROOT, "lab", "deploy-lab.sh")).read()
    for name, default in re.findall(r"\b([A-Z][A-Z0-9_]*)=\$\{\1:-([^}]*)\}", text):
        values[name] = default
    if setting == "alt":
        for line in open(os.path.join(ROOT, "lab", "alt.env")):
            m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
            if m:
                values[m.group(1)] = m.group(2).strip("'\"")
    return values


# ------------------------------------------------------------------------------------------
# Packets, read with tshark


def tshark_rows(pcap, display_filter, fields):
    cmd = ["tshark", "-r", pcap, "-Y", display_filter, "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def endpoint(ip, udp, tcp):
    port = udp or tcp
    return f"{ip}:{port}"


# MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS (and its old
# number), ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS.
ADDRESS_ATTRIBUTES = (0x0001, 0x0012, 0x0016, 0x0020, 0x8020, 0x8023, 0x802B, 0x802C)


def granted_allocations(pcap):
    """Allocate success responses: (time, server, client, relay port, transport)."""
    rows = tshark_rows(pcap, "stun.type == 0x0103",
                       ["frame.time_epoch", "ip.src", "udp.srcport", "tcp.srcport", "ip.dst",
                        "udp.dstport", "tcp.dstport", "stun.att.type", "stun.att.port"])
    out = []
    for t, src, usp, tsp, dst, udp, tdp, types, ports in rows:
        # stun.att.port is given for every address attribute, in attribute order.
        address_types = [x for x in types.split(",") if int(x, 16) in ADDRESS_ATTRIBUTES]
        relay = None
        for typ, port in zip(address_types, ports.split(",")):
            if int(typ, 16) == 0x0016:
                relay = int(port)
        if relay is None:
            continue
        transport = "udp" if usp else "tcp"
        out.append((float(t), endpoint(src, usp, tsp), endpoint(dst, udp, tdp), relay, transport))
    return out


def error_responses(pcap, code):
    """Allocate error responses with `code`: (time, server, client)."""
    rows = tshark_rows(pcap, f"stun.type == 0x0113 && stun.att.error.class == {code // 100} "
                       f"&& stun.att.error == {code % 100}",
                       ["frame.time_epoch", "ip.src", "udp.srcport", "tcp.srcport", "ip.dst",
                        "udp.dstport", "tcp.dstport"])
    return [(float(r[0]), endpoint(r[1], r[2], r[3]), endpoint(r[4], r[5], r[6])) for r in rows]


def allocate_requests(pcap):
    rows = tshark_rows(pcap, "stun.type == 0x0003", ["frame.time_epoch"])
    return [float(r[0]) for r in rows]


def first_time(pcap):
    rows = tshark_rows(pcap, "frame.number == 1", ["frame.time_epoch"])
    return float(rows[0][0]) if rows else None


# ------------------------------------------------------------------------------------------
# Texts


def utc(t, fmt="%Y-%m-%d %H:%M:%S"):
    return time.strftime(fmt, time.gmtime(t)) + f",{int((t % 1) * 1000):03d}"


def iso_local(t, zone_minutes):
    local = t + zone_minutes * 60
    sign = "+" if zone_minutes >= 0 else "-"
    zone = f"{sign}{abs(zone_minutes) // 60:02d}:{abs(zone_minutes) % 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local)) + \
        f".{int((local % 1) * 1000):03d}{zone}"


def tvcs(host, t, body):
    """One loggingsnapshot line: syslog-style local time (the Expressway's zone: UTC here),
    host, `tvcs:`, then the UTCTime field the issue quotes."""
    return f'{iso_local(t, 0)} {host} tvcs: UTCTime="{utc(t)}" {body}'


def logging_snapshot(host, node, start, lan1, lan2, peer):
    """The log of the logging period: the admin's marker, a media route per granted Allocate
    (on either interface), an alarm at the first 508, routes torn down at the end."""
    events = [(start, tvcs(host, start,
                           'Module="developer.diagnostics" Level="INFO": '
                           'Detail="DEBUG_MARKER: guest joins the call now (support case)"'))]
    for pcap in (lan1, lan2):
        if not pcap:
            continue
        for t, server, client, relay, transport in granted_allocations(pcap):
            route = (f'Route: Creating: Packets Rxd on {server} from {client} '
                     f'Txd on {node["LAN2_IP"]}:{relay} to {client} Protocol={transport}')
            events.append((t + 0.0005, tvcs(
                host, t + 0.0005,
                f'Module="network.mediarouting" Level="DEBUG": Detail="{route}"')))
        full = error_responses(pcap, 508)
        if full:
            t = full[0][0] + 0.0005
            events.append((t, tvcs(host, t,
                                   'Event="Alarm Raised" Id="60015" Severity="warning" '
                                   'Detail="TURN relay licence limit reached: no relay left for '
                                   f'{full[0][2]}" Module="network.turn" Level="WARN"')))
    # A few lines of other modules, as a real log holds, read and not typed.
    events.append((start + 0.25, tvcs(host, start + 0.25,
                                      'Module="network.sip" Level="DEBUG": '
                                      'Action="Received" Protocol="TLS" Method="OPTIONS"')))
    events.append((start + 0.5, tvcs(host, start + 0.5,
                                     'Module="network.ldap" Level="INFO": '
                                     'Detail="connection to directory kept alive"')))
    events.sort(key=lambda e: e[0])
    return "".join(line + "\n" for _, line in events)


def xconf_text(host, node, tls):
    s = node
    lines = [
        f'*c xConfiguration SystemUnit Name: "{host}"',
        '*c xConfiguration Traversal Server TURN Mode: On',
        f'*c xConfiguration Traversal Server TURN Port: {s["TPORT"]}',
        f'*c xConfiguration Traversal Server TURN Realm: "{s["REALM"]}"',
        '*c xConfiguration Traversal Server TURN Protocol Mode: "Both"',
        f'*c xConfiguration Traversal Server TURN Media Port Start: {s["RELAY_MIN"]}',
        f'*c xConfiguration Traversal Server TURN Media Port End: {s["RELAY_MAX"]}',
        '*c xConfiguration Traversal Media Port Start: 36000',
        '*c xConfiguration Traversal Media Port End: 59999',
        f'*c xConfiguration Ethernet 1 IP V4 Address: "{s["LAN1_IP"]}"',
        '*c xConfiguration Ethernet 1 IP V4 SubnetMask: "255.255.255.0"',
        f'*c xConfiguration Ethernet 2 IP V4 Address: "{s["LAN2_IP"]}"',
        '*c xConfiguration Ethernet 2 IP V4 SubnetMask: "255.255.255.0"',
        '*c xConfiguration Ethernet 2 IP V4 StaticNAT Mode: On',
        f'*c xConfiguration Ethernet 2 IP V4 StaticNAT Address: "{s["PUB_IP"]}"',
        '*c xConfiguration IP DualNIC: On',
        '*c xConfiguration Administration HTTPS Port: 445',
    ]
    if tls:
        lines.append(f'*c xConfiguration Traversal Server TURN TLS Port: {s["TLS_PORT"]}')
    return "\n".join(lines) + "\n** end\n\nOK\n"


def xconf_xml(host, node):
    s = node
    return (
        '<?xml version="1.0"?>\n<Configuration product="Cisco Expressway">\n'
        f'  <SystemUnit><Name>{host}</Name></SystemUnit>\n'
        '  <Traversal>\n    <Server><TURN>\n      <Mode>On</Mode>\n'
        f'      <Port>{s["TPORT"]}</Port>\n      <Realm>{s["REALM"]}</Realm>\n'
        '      <Protocol><Mode>Both</Mode></Protocol>\n'
        f'      <Media><Port><Start>{s["RELAY_MIN"]}</Start><End>{s["RELAY_MAX"]}</End>'
        '</Port></Media>\n    </TURN></Server>\n'
        '    <Media><Port><Start>36000</Start><End>59999</End></Port></Media>\n'
        '  </Traversal>\n'
        f'  <Ethernet item="1"><IP><V4><Address>{s["LAN1_IP"]}</Address></V4></IP></Ethernet>\n'
        f'  <Ethernet item="2"><IP><V4><Address>{s["LAN2_IP"]}</Address>\n'
        f'    <StaticNAT><Mode>On</Mode><Address>{s["PUB_IP"]}</Address></StaticNAT>'
        '</V4></IP></Ethernet>\n'
        '  <IP><DualNIC>On</DualNIC></IP>\n</Configuration>\n')


def xstat_text(relays):
    lines = [
        '*s SystemUnit Product: "Cisco Expressway"',
        f'*s SystemUnit Software Version: "{VERSION}"',
        '*s SystemUnit Software Name: "Release"',
    ]
    for i, (key, description) in enumerate(OPTION_KEYS, 1):
        lines.append(f'*s Options Option {i} Key: "{key}"')
        lines.append(f'*s Options Option {i} Description: "{description}"')
    lines.append(f"*s TURN Relays Active: {relays}")
    lines.append("*s TURN Relays Licensed: 1800")
    return "\n".join(lines) + "\n** end\n"


def xstat_table():
    """A status dump in a shape the parser does not know (columns, no `key: value`): it must
    be listed as not read, not fail the case."""
    return ("SystemUnit Product            Cisco Expressway\n"
            f"SystemUnit Software Version   {VERSION}\n"
            "TURN Relays Active            0\n")


def cms_tab_export(t, call, message, guest):
    """The web admin's log export: date, time, level, message, tab-separated, local time."""
    def row(at, level, text):
        local = at + CMS_ZONE_MINUTES * 60
        return (time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(local)) +
                f".{int((local % 1) * 1000):03d}\t{level}\t{text}\n")
    return ("Date\tTime\tLevel\tMessage\n" +
            row(t - 6.0, "Info", f'call {call}: allocated for {guest} "Web client" '
                                  "conference participation") +
            row(t - 5.5, "Info", f"call {call}: setting up UDP media") +
            row(t, "Warning", f"call {call}: {message}") +
            row(t + 2.0, "Info", f"call {call}: ending; local teardown, system participant "
                                 "count now 0"))


def cms_syslog(t, call, message, host="cms1"):
    def row(at, level, text):
        local = at + CMS_ZONE_MINUTES * 60
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(local))
        return f"<12>{stamp}.{int((local % 1) * 1000):03d} {host} host:server: {level} : {text}\n"
    return (row(t - 6.0, "INFO", f"call {call}: allocated for guest1001@example.com "
                                 '"Web client" conference participation') +
            row(t, "WARNING", f"call {call}: {message}") +
            row(t + 1.0, "INFO", f"call {call}: ending; local teardown"))


# ------------------------------------------------------------------------------------------
# Captures, rotated


def pcap_records(data):
    """The classic pcap header and its records (header + data), in order."""
    header = data[:24]
    big = header[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")
    fmt = ">IIII" if big else "<IIII"
    records, at = [], 24
    while at + 16 <= len(data):
        incl = struct.unpack(fmt, data[at:at + 16])[2]
        records.append(data[at:at + 16 + incl])
        at += 16 + incl
    return header, records


def rotate(data, piece_bytes):
    """tcpdump -C: a new file once the next record would pass `piece_bytes`."""
    header, records = pcap_records(data)
    pieces, current = [], bytearray(header)
    for r in records:
        if len(current) + len(r) > piece_bytes and len(current) > len(header):
            pieces.append(bytes(current))
            current = bytearray(header)
        current += r
    pieces.append(bytes(current))
    return pieces


# ------------------------------------------------------------------------------------------
# Archives


def tar_gz(members, mtime):
    """A reproducible .tar.gz of (name, bytes) in the given order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(mtime)
            info.mode = 0o644
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=int(mtime), compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def stamp_of(t):
    return time.strftime("%Y-%m-%d_%H-%M-%S", time.gmtime(t))


def bundle_members(scenario_dir, node, host, peer="", xml=False, tls=False, drop_piece=None,
                   odd_status=False, piece_bytes=PIECE_BYTES, captures=True):
    """The members of one peer's bundle, in the order the Expressway lists them; without the
    tcpdump pieces when `captures` is false (a log started after a restart, or "Take tcpdump
    while logging" not ticked)."""
    lan1 = os.path.join(scenario_dir, f"expe{peer}-lan1.pcap")
    lan2 = os.path.join(scenario_dir, f"expe{peer}-lan2.pcap")
    # Logging starts a second before the first packet (of any capture of the scenario: when
    # nothing reached the Expressway, the CMS's first attempt).
    firsts = [first_time(p) for p in (lan1, lan2, os.path.join(scenario_dir, "cms.pcap"))]
    start = min(t for t in firsts if t is not None) - 1.0
    stamp = stamp_of(start)
    relays = len(granted_allocations(lan1)) + len(granted_allocations(lan2))
    members = [
        (f"loggingsnapshot_{host}_{stamp}.txt",
         logging_snapshot(host, node, start, lan1, lan2, peer).encode()),
        (f"xconf_dump_{host}_{stamp}.xml", xconf_xml(host, node).encode()) if xml else
        (f"xconf_dump_{host}_{stamp}.txt", xconf_text(host, node, tls).encode()),
        (f"xstat_dump_{host}_{stamp}.txt",
         (xstat_table() if odd_status else xstat_text(relays)).encode()),
    ]
    for n, pcap in ((0, lan1), (1, lan2)) if captures else ():
        pieces = rotate(open(pcap, "rb").read(), piece_bytes)
        for i, piece in enumerate(pieces):
            if drop_piece == (n, i):
                continue
            members.append((f"eth{n}_diagnostic_logging_tcpdump{i:02d}_{host}_{stamp}.pcap",
                            piece))
    return members, start


def node_settings(settings, peer):
    """The second cluster peer has its own addresses (deploy-lab.sh *_B and PUB2_IP)."""
    node = dict(settings)
    if peer:
        node["LAN1_IP"] = settings["LAN1_IP_B"]
        node["LAN2_IP"] = settings["LAN2_IP_B"]
        node["PUB_IP"] = settings["PUB2_IP"]
    return node


def host_name(settings, peer):
    base = settings["TLS_NAME"].split(".")[0]
    return f"{base}{peer}"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{os.path.relpath(path, ROOT)}: {len(data)} bytes")


def make_bundle(out, setting, scenario, name, **kw):
    settings = lab_settings(setting)
    sdir = os.path.join(DEPLOY, setting, scenario)
    peer = kw.pop("peer", "")
    node = node_settings(settings, peer)
    host = host_name(settings, peer)
    members, start = bundle_members(sdir, node, host, peer=peer, **kw)
    data = tar_gz(members, start)
    write(os.path.join(out, name), data)
    return data, start


def cms_logs(out, setting, scenario):
    """CMS event log excerpts at the time of the capture's own failure."""
    sdir = os.path.join(DEPLOY, setting, scenario)
    cms = os.path.join(sdir, "cms.pcap")
    if scenario.endswith("bad-password") or scenario.endswith("unknown-user"):
        rejected = [r for r in error_responses(cms, 401) if r[0]]
        # The rejection of the authenticated retry: the last 401 of the capture.
        t = rejected[-1][0] + 0.004
        message = "ICE failure 4 (unauthorized - check credentials)"
    else:
        t = allocate_requests(cms)[-1] + 2.5
        message = "ICE failure; relay candidate creation timeout"
    guest = "guest3804072848@example.com"
    base = os.path.join(out, f"{setting}-{scenario}")
    write(base + "-cms-events.tsv", cms_tab_export(t, 7, message, guest).encode())
    write(base + "-cms-syslog.log", cms_syslog(t, 7, message).encode())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fixtures", "bundles")
    # One bundle per case: text xconf for the default setting, XML for the alt one.
    for setting, scenario in (("default", "cms-bad-password"), ("default", "int-3478-blocked"),
                              ("default", "capacity-508"), ("alt", "int-3478-blocked")):
        make_bundle(out, setting, scenario, f"{setting}-{scenario}.tar.gz")
    make_bundle(out, "alt", "ok-udp", "alt-ok-udp.tar.gz", xml=True)
    for setting, scenario in (("default", "cms-bad-password"), ("default", "int-3478-blocked"),
                              ("alt", "int-3478-blocked")):
        cms_logs(out, setting, scenario)
    # A cluster: one bundle per peer.
    for peer in ("", "2"):
        make_bundle(out, "default", "cluster-bad-password",
                    f"default-cluster-bad-password/peer{peer or '1'}.tar.gz", peer=peer)
    # Incomplete: LAN2's second piece is missing; its status dump is in a shape not known.
    make_bundle(out, "default", "guest-bad-password",
                "default-guest-bad-password-incomplete.tar.gz", drop_piece=(1, 1),
                odd_status=True, piece_bytes=4096)
    # Log only: the same case's loggingsnapshot, xconf and xstat, no tcpdump at all.
    make_bundle(out, "default", "cms-bad-password", "default-cms-bad-password-log-only.tar.gz",
                captures=False)
    # Nested: the support engineer's upload, a .tar.gz holding the case folder with the bundle.
    inner, start = make_bundle(out, "default", "relay-blocked-in",
                               "default-relay-blocked-in.tar.gz")
    os.remove(os.path.join(out, "default-relay-blocked-in.tar.gz"))
    readme = b"Case 00000000: guest cannot join, bundle of the Expressway-E attached.\n"
    outer = tar_gz([("case-00000000/README.txt", readme),
                    (f"case-00000000/diagnostic_log_{stamp_of(start)}.tar.gz", inner)], start)
    write(os.path.join(out, "default-relay-blocked-in-nested.tar.gz"), outer)


if __name__ == "__main__":
    main()
