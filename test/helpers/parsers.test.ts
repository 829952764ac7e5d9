// The chronyc and ntpdig output parsers, on output captured from chrony 4.3
// and NTPsec 1.2.2.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseAuthdataCsv,
  parseKeyValue,
  parseNtpData,
  parseSourcesCsv,
  parseSourcestatsCsv,
} from "./chrony.js";
import { parseNtpdigJson, parseNtpdigText } from "./ntpdig.js";

test("parseSourcesCsv", () => {
  const rows = parseSourcesCsv(
    "^,*,127.0.0.1,1,0,377,0,-0.000000108,-0.000000234,0.000003217\n" +
      "^,?,ntpd-rs.test,0,0,0,-,0.000000000,0.000000000,0.000000000\n",
  );
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], {
    mode: "^",
    state: "*",
    name: "127.0.0.1",
    stratum: 1,
    poll: 0,
    reach: 0o377,
    lastRx: 0,
    adjustedOffset: -0.000000108,
    measuredOffset: -0.000000234,
    error: 0.000003217,
  });
  assert.equal(rows[1]!.state, "?");
  assert.ok(Number.isNaN(rows[1]!.lastRx));
});

test("parseSourcestatsCsv", () => {
  assert.deepEqual(parseSourcestatsCsv("127.0.0.1,6,3,3,0.000,0.377,0.000000000,0.000000100\n"), [
    {
      name: "127.0.0.1",
      samples: 6,
      runs: 3,
      span: 3,
      frequencyPpm: 0,
      skewPpm: 0.377,
      offset: 0,
      stdDev: 0.0000001,
    },
  ]);
});

test("parseAuthdataCsv", () => {
  const [plain, nts] = parseAuthdataCsv(
    "127.0.0.1,-,0,0,0,4294967295,0,0,0,0\nntpd-rs.test,NTS,1,15,256,33,0,0,8,100\n",
  );
  assert.equal(plain!.mode, "-");
  assert.ok(Number.isNaN(plain!.last));
  assert.deepEqual(
    [nts!.name, nts!.mode, nts!.type, nts!.keyLength, nts!.last, nts!.naks, nts!.cookies],
    ["ntpd-rs.test", "NTS", 15, 256, 33, 0, 8],
  );
});

const NTPDATA = `
Remote address  : 127.0.0.1 (7F000001)
Remote port     : 11123
Local address   : 127.0.0.1 (7F000001)
Leap status     : Normal
Version         : 4
Mode            : Server
Stratum         : 1
Poll interval   : 0 (1 seconds)
Precision       : -26 (0.000000015 seconds)
Root delay      : 0.000000 seconds
Root dispersion : 0.000000 seconds
Reference ID    : 7F7F0101 ()
Reference time  : Thu Nov 26 08:34:13 2026
Offset          : +0.000000234 seconds
Peer delay      : 0.000006364 seconds
Peer dispersion : 0.000000035 seconds
Response time   : 0.000057231 seconds
Jitter asymmetry: +0.50
NTP tests       : 111 111 1111
Interleaved     : No
Authenticated   : Yes
TX timestamping : Kernel
RX timestamping : Kernel
Total TX        : 14
Total RX        : 14
Total valid RX  : 14
Total good RX   : 14
`;

test("parseNtpData", () => {
  const [d, ...rest] = parseNtpData(NTPDATA + "\n" + NTPDATA.replace("11123", "123"));
  assert.equal(rest.length, 1);
  assert.equal(rest[0]!.remotePort, 123);
  assert.ok(d);
  assert.equal(d.remoteAddress, "127.0.0.1");
  assert.equal(d.remotePort, 11123);
  assert.equal(d.localAddress, "127.0.0.1");
  assert.equal(d.leapStatus, "Normal");
  assert.equal(d.version, 4);
  assert.equal(d.mode, "Server");
  assert.equal(d.stratum, 1);
  assert.equal(d.pollInterval, 0);
  assert.equal(d.precision, -26);
  assert.equal(d.referenceId, "7F7F0101");
  assert.equal(d.offset, 0.000000234);
  assert.equal(d.peerDelay, 0.000006364);
  assert.equal(d.responseTime, 0.000057231);
  assert.equal(d.ntpTests, "111 111 1111");
  assert.equal(d.interleaved, false);
  assert.equal(d.authenticated, true);
  assert.equal(d.txTimestamping, "Kernel");
  assert.deepEqual([d.totalTx, d.totalRx, d.totalValidRx], [14, 14, 14]);
  assert.equal(d.raw["Reference time"], "Thu Nov 26 08:34:13 2026");
});

test("parseKeyValue keeps colons in values", () => {
  const kv = parseKeyValue(
    "Reference ID    : 7F000001 (127.0.0.1)\nRef time (UTC)  : Thu Nov 26 08:36:32 2026\n",
  );
  assert.equal(kv["Ref time (UTC)"], "Thu Nov 26 08:36:32 2026");
  assert.equal(kv["Reference ID"], "7F000001 (127.0.0.1)");
});

test("ntpdig output parsers", () => {
  assert.deepEqual(
    parseNtpdigJson(
      '{"time":"2026-11-26T08:34:29.791428+0000","offset":0.000056,"precision":0.000162,"host":"127.0.0.1","ip":"127.0.0.1","stratum":1,"leap":"no-leap","adjusted":false}',
    ),
    {
      time: "2026-11-26T08:34:29.791428+0000",
      offset: 0.000056,
      error: 0.000162,
      host: "127.0.0.1",
      ip: "127.0.0.1",
      stratum: 1,
      leap: "no-leap",
    },
  );
  assert.equal(parseNtpdigJson("ntpdig: no eligible servers"), undefined);
  assert.equal(parseNtpdigJson("[1,2]"), undefined);
  assert.deepEqual(
    parseNtpdigText(
      "2026-11-26 08:34:29.749008 (+0000) +0.000053 +/- 0.000126 127.0.0.1 s1 no-leap",
    ),
    {
      time: "2026-11-26 08:34:29.749008 +0000",
      offset: 0.000053,
      error: 0.000126,
      host: "127.0.0.1",
      ip: "127.0.0.1",
      stratum: 1,
      leap: "no-leap",
    },
  );
  assert.equal(parseNtpdigText("ntpdig: no eligible servers"), undefined);
});
