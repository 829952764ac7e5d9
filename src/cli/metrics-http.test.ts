// The exporter's HTTP responder over real loopback TCP: any GET path gets the
// metrics, content negotiation, 405/400/500, and bounded connections.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { createLogger, MemorySink } from "../daemon/log.js";
import { MetricsHttpServer, MetricsListenError, type MetricsBody } from "./metrics-http.js";

const OM = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async function withServer(
  metrics: () => Promise<MetricsBody>,
  fn: (port: number) => Promise<void>,
  timeoutMs?: number,
): Promise<void> {
  const server = new MetricsHttpServer({
    address: "127.0.0.1",
    port: 0,
    metrics,
    log: createLogger("error", new MemorySink()),
    timeoutMs,
  });
  await server.start();
  try {
    await fn(server.port);
  } finally {
    server.stop();
  }
}

/** Sends `request`, returns everything received until the server closes. */
function exchange(port: number, request: string | Buffer, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, "127.0.0.1", () => {
      s.write(request);
      if (halfClose) s.end();
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

const ok = (): Promise<MetricsBody> => Promise.resolve({ body: "# EOF\n", openMetricsType: OM });

function parse(response: string) {
  const [head = "", body = ""] = response.split("\r\n\r\n");
  const [status = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(
    lines.map((l) => [
      l.slice(0, l.indexOf(":")).toLowerCase(),
      l.slice(l.indexOf(":") + 1).trim(),
    ]),
  );
  return { status, headers, body };
}

test("GET on any path: 200, text/plain as ntpd-rs, exact content-length", async () => {
  await withServer(ok, async (port) => {
    for (const path of ["/metrics", "/", "/anything?x=1"]) {
      const r = parse(await exchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
      assert.equal(r.status, "HTTP/1.1 200 OK");
      assert.equal(r.headers["content-type"], "text/plain");
      assert.equal(r.headers["content-length"], "6");
      assert.equal(r.body, "# EOF\n");
    }
  });
});

test("a client that asks for OpenMetrics gets the OpenMetrics content type", async () => {
  await withServer(ok, async (port) => {
    const accept =
      "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    const r = parse(
      await exchange(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: ${accept}\r\n\r\n`),
    );
    assert.equal(r.headers["content-type"], OM);
  });
});

test("a request sent with a half-close is still answered", async () => {
  await withServer(ok, async (port) => {
    const r = parse(await exchange(port, "GET / HTTP/1.0\r\n\r\n", true));
    assert.equal(r.status, "HTTP/1.1 200 OK");
  });
});

test("other methods get 405, garbage and oversized heads 400, failures 500 with no body", async () => {
  await withServer(ok, async (port) => {
    const post = parse(await exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(post.status, "HTTP/1.1 405 Method Not Allowed");
    assert.equal(post.headers.allow, "GET");
    const garbage = parse(await exchange(port, "hello\r\n\r\n"));
    assert.equal(garbage.status, "HTTP/1.1 400 Bad Request");
    const huge = parse(
      await exchange(port, `GET / HTTP/1.1\r\nX-Filler: ${"a".repeat(3000)}\r\n\r\n`),
    );
    assert.equal(huge.status, "HTTP/1.1 400 Bad Request");
  });
  await withServer(
    () => Promise.reject(new Error("connect ENOENT /run/observe")),
    async (port) => {
      const r = parse(await exchange(port, "GET / HTTP/1.1\r\n\r\n"));
      assert.equal(r.status, "HTTP/1.1 500 Internal Server Error");
      assert.equal(r.headers["content-length"], "0");
      assert.equal(r.body, "");
    },
  );
});

test("a client that never finishes its request is disconnected after the timeout", async () => {
  await withServer(
    ok,
    async (port) => {
      const started = performance.now();
      const response = await exchange(port, "GET / HTTP/1.1\r\n");
      const took = performance.now() - started;
      assert.equal(response, "");
      assert.ok(took >= 250 && took < 1500, `closed after ${took.toFixed(0)} ms`);
    },
    300,
  );
});

test("a slow metrics source does not hold a connection past the timeout", async () => {
  await withServer(
    () => new Promise<MetricsBody>(() => {}),
    async (port) => {
      const started = performance.now();
      assert.equal(await exchange(port, "GET / HTTP/1.1\r\n\r\n"), "");
      assert.ok(performance.now() - started < 1500);
    },
    300,
  );
});

test("an address that cannot be bound is one MetricsListenError line, not a silent retry", async () => {
  await withServer(ok, async (port) => {
    const second = new MetricsHttpServer({
      address: "127.0.0.1",
      port,
      metrics: ok,
      log: createLogger("error", new MemorySink()),
    });
    await assert.rejects(second.start(), (error: Error) => {
      assert.ok(error instanceof MetricsListenError);
      assert.equal(
        error.message,
        `cannot listen on 127.0.0.1:${port} (HTTP): the address is in use by another program (another exporter?)`,
      );
      return true;
    });
    second.stop();
  });
  // 192.0.2.1 (TEST-NET-1) is on no interface: rejected at once, no longer retried.
  const absent = new MetricsHttpServer({
    address: "192.0.2.1",
    port: 0,
    metrics: ok,
    log: createLogger("error", new MemorySink()),
  });
  await assert.rejects(absent.start(), MetricsListenError);
  await assert.rejects(
    absent.start(),
    /^Error: cannot listen on 192\.0\.2\.1:0 \(HTTP\): no network interface of this machine has that address$/,
  );
  absent.stop();
});
