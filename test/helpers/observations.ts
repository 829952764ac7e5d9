// Hand-made observations for the formatting tests.
import type { Observation, ObservedServer, ObservedSource } from "../../src/daemon/observation.js";

const T = 16_933_534_601_060_548_609n; // above 2^53

export function stats(n = 0): ObservedServer["stats"] {
  return {
    received_packets: 100 + n,
    accepted_packets: 90 + n,
    denied_packets: 1,
    ignored_packets: 2,
    rate_limited_packets: 3,
    response_send_errors: 4,
    nts_received_packets: 50,
    nts_accepted_packets: 45,
    nts_denied_packets: 5,
    nts_rate_limited_packets: 0,
    nts_nak_packets: 6,
  };
}

export function observedSource(overrides: Partial<ObservedSource> = {}): ObservedSource {
  return {
    offset: 0.000024,
    uncertainty: 0.000137,
    delay: 0.016886,
    remote_delay: 0.01619,
    remote_uncertainty: 0.005905,
    last_update: { timestamp: T - (10n << 32n) },
    unanswered_polls: 0,
    poll_interval: 4,
    nts_cookies: null,
    name: "time.example:123",
    address: "192.0.2.1:123",
    id: 1,
    ...overrides,
  };
}

export function sampleObservation(overrides: Partial<Observation> = {}): Observation {
  return {
    program: {
      version: "0.1.0",
      build_commit: "abc1234",
      build_commit_date: "2026-11-26",
      uptime_seconds: 173.02,
      now: { timestamp: T },
    },
    system: {
      stratum: 4,
      reference_id: 3245285499,
      accumulated_steps_threshold: null,
      precision: 2 ** -18,
      root_delay: 0.007637,
      // Dispersion 0.000299 s, 100 s before now, not growing.
      root_variance_base_time: { timestamp: T - (100n << 32n) },
      root_variance_base: 0.000299 ** 2,
      root_variance_linear: 0,
      root_variance_quadratic: 0,
      root_variance_cubic: 0,
      leap_indicator: "NoWarning",
      accumulated_steps: 0.0517,
    },
    sources: [
      observedSource({
        name: "ntpd-rs.pool.ntp.org:123",
        address: "77.171.247.180:123",
        id: 3,
        nts_cookies: 7,
      }),
      observedSource({
        name: "ntpd-rs.pool.ntp.org:123",
        address: "[2001:db8::1]:123",
        id: 2,
        offset: -0.0012345,
        uncertainty: 0.0000026,
        delay: 0.02,
        poll_interval: 6,
        unanswered_polls: 3,
      }),
      observedSource({ name: "a.example:123", address: "192.0.2.9:123", id: 9 }),
    ],
    servers: [
      { address: "[::]:123", stats: stats(2) },
      { address: "0.0.0.0:123", stats: stats(1) },
    ],
    ...overrides,
  };
}
