// npm run flood -- [SCENARIO...|all] [--seconds N]
// Floods against our daemon on loopback; see docs/campaigns.md.
import { keExcess, keHalfOpen, keSlowloris } from "./flood-ke.js";
import { udpGarbage, udpNtsOverload, udpOverload, udpRateLimit } from "./flood-udp.js";
import { runCampaign } from "./runner.js";

await runCampaign(
  {
    command: "flood",
    defaultSeconds: 10,
    scenarios: {
      "ke-excess": {
        about: "bursts of 4x concurrent-connections full key exchanges",
        run: keExcess,
      },
      "ke-slowloris": {
        about: "2x the cap of ClientHellos sent one byte a second",
        run: keSlowloris,
      },
      "ke-half-open": {
        about: "2x the cap of idle / half-closed TCP connections",
        run: keHalfOpen,
      },
      "udp-overload": {
        about: "valid requests beyond capacity + an honest client",
        run: udpOverload,
      },
      "udp-nts-overload": {
        about: "valid NTS requests beyond capacity + an honest client",
        run: udpNtsOverload,
      },
      "udp-garbage": {
        about: "datagrams that must be dropped + an honest client",
        run: udpGarbage,
      },
      "udp-ratelimit": { about: "one address flooding a rate-limited server", run: udpRateLimit },
    },
  },
  process.argv.slice(2),
);
