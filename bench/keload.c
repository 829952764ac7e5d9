/*
 * NTS-KE load generator for `npm run bench`: keeps `concurrency` full NTS-KE
 * exchanges in flight against one server on loopback for a bounded time and
 * counts the completed ones. Each exchange is a fresh TCP connection and a
 * full TLS 1.3 handshake (OpenSSL, no session resumption, ALPN ntske/1), the
 * 16-octet request chrony and NTPsec send (NextProtocol NTPv4, AEAD, End of
 * Message), the whole response up to its End of Message record, the C2S and
 * S2C key export (RFC 8915 §5.1), and close_notify.
 *
 *   keload --port P [--host 127.0.0.1] [--duration-ms 3000] [--warmup-ms 0]
 *          [--concurrency 8] [--aead 15] [--timeout-ms 5000] [--pid SERVER_PID]
 *          [--ca CA.pem]
 *
 * With --ca the server's certificate chain and its IP address are verified
 * (as a real client does, at about 0.1 ms of client CPU per exchange);
 * without, they are not: the server's work is the same either way, and the
 * bench's own NTS-KE (nts.ts) has verified the certificate already.
 *
 * An exchange counts as completed if the response parses as NTS-KE records,
 * holds no Error record, a Next Protocol, an AEAD and at least one cookie,
 * and ends with End of Message. Others count "failed"; those not finished
 * within --timeout-ms also "timeouts".
 *
 * Prints one JSON object on stdout, the same as ke-client.ts (counts, rate,
 * server and own CPU time, per-CPU busy fractions, latency p50/p99). Only
 * loopback destinations are accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 256
#define MAX_RESP 65536
#define MAX_LAT (1 << 22)

enum state { IDLE, CONNECTING, HANDSHAKE, WRITING, READING, CLOSED };

struct conn {
  int fd;
  SSL *ssl;
  enum state st;
  uint32_t events; /* epoll interest */
  uint64_t start_ns;
  size_t got;
  uint8_t buf[MAX_RESP];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* utime+stime of pid in clock ticks, or -1. */
static long long proc_cpu_ticks(int pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  unsigned long long utime = 0, stime = 0;
  if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (long long)(utime + stime);
}

#define MAX_CPUS 64
static int cpu_times(unsigned long long total[], unsigned long long idle[]) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < MAX_CPUS) {
    unsigned long long v[8] = {0};
    int cpu;
    if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9') continue;
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7]) < 9)
      continue;
    if (cpu != n) break;
    total[n] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    idle[n] = v[3] + v[4];
    n++;
  }
  fclose(f);
  return n;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* Shared by the functions below (one thread). */
static SSL_CTX *ctx;
static int ep;
static const char *host = "127.0.0.1", *ca = NULL;
static struct sockaddr_in dst;
static int aead = 15;
static int measuring, ended;
static unsigned long long ok, failed, timeouts;
static double *lat;
static size_t nlat;
static char errors[5][200];
static int nerr;
static uint8_t request[16];

static void finish(struct conn *c);

static void fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct conn *c, const char *fmt, ...) {
  if (measuring && !ended) {
    failed++;
    if (nerr < 5) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(errors[nerr++], sizeof errors[0], fmt, ap);
      va_end(ap);
    }
  }
  finish(c);
}

/* Closes a connection (close_notify if the handshake got through). */
static void finish(struct conn *c) {
  if (c->ssl) {
    if (c->st == WRITING || c->st == READING) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->st = IDLE;
}

/* Sets c's epoll interest (EPOLLOUT only while connecting or when TLS wants to write). */
static void want(struct conn *c, uint32_t events) {
  if (c->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

/* Starts a new exchange in c; -1 with errno on failure. */
static int start(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->st = CONNECTING;
  c->got = 0;
  c->start_ns = now_ns();
  c->ssl = SSL_new(ctx);
  SSL_set_fd(c->ssl, c->fd);
  if (ca) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
  c->events = EPOLLOUT;
  struct epoll_event ev = {.events = c->events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    int e = errno;
    finish(c);
    errno = e;
    return -1;
  }
  return 0;
}

/* After SSL_ERROR_WANT_*: wait for that. 1 if it was one of those. */
static int wait_for(struct conn *c, int r) {
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) want(c, EPOLLIN);
  else if (e == SSL_ERROR_WANT_WRITE) want(c, EPOLLIN | EPOLLOUT);
  else return 0;
  return 1;
}

static const char *ssl_error(void) {
  const char *s = ERR_reason_error_string(ERR_get_error());
  ERR_clear_error();
  return s ? s : "unknown error";
}

/*
 * Checks a complete NTS-KE response in b[0..n): 1 if it is a good one, 0 if
 * not, -1 if more octets are needed (no End of Message yet).
 */
static int check_response(const uint8_t *b, size_t n) {
  size_t off = 0;
  int proto = 0, has_aead = 0, cookies = 0;
  while (off + 4 <= n) {
    unsigned type = ((unsigned)(b[off] & 0x7f) << 8) | b[off + 1];
    size_t len = ((size_t)b[off + 2] << 8) | b[off + 3];
    if (off + 4 + len > n) return -1;
    switch (type) {
      case 0: /* End of Message */
        return proto && has_aead && cookies && off + 4 + len == n;
      case 1: proto = 1; break;
      case 2: return 0; /* Error */
      case 4: has_aead = 1; break;
      case 5: cookies++; break;
      default: break;
    }
    off += 4 + len;
  }
  return -1;
}

/* Drives c as far as it goes without blocking. */
static void step(struct conn *c) {
  for (;;) {
    switch (c->st) {
      case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          fail(c, "connect: %s", strerror(err));
          return;
        }
        c->st = HANDSHAKE;
        want(c, EPOLLIN);
        break;
      }
      case HANDSHAKE: {
        int r = SSL_connect(c->ssl);
        if (r != 1) {
          if (!wait_for(c, r)) fail(c, "TLS handshake: %s", ssl_error());
          return;
        }
        const unsigned char *sel;
        unsigned sel_len;
        SSL_get0_alpn_selected(c->ssl, &sel, &sel_len);
        if (sel_len != 7 || memcmp(sel, "ntske/1", 7)) {
          fail(c, "server did not select ALPN ntske/1");
          return;
        }
        c->st = WRITING;
        break;
      }
      case WRITING: {
        int r = SSL_write(c->ssl, request, sizeof request);
        if (r != (int)sizeof request) {
          if (!wait_for(c, r)) fail(c, "TLS write: %s", ssl_error());
          return;
        }
        c->st = READING;
        want(c, EPOLLIN);
        break;
      }
      case READING: {
        if (c->got == MAX_RESP) {
          fail(c, "response longer than %d octets", MAX_RESP);
          return;
        }
        int r = SSL_read(c->ssl, c->buf + c->got, (int)(MAX_RESP - c->got));
        if (r <= 0) {
          if (!wait_for(c, r))
            fail(c, "connection closed before End of Message (%zu octets)", c->got);
          ERR_clear_error();
          return;
        }
        c->got += (size_t)r;
        int v = check_response(c->buf, c->got);
        if (v < 0) break;
        if (v == 0) {
          fail(c, "bad NTS-KE response (error record, or no protocol, AEAD or cookie)");
          return;
        }
        /* The AEAD's key length: 32 for AES-SIV-CMAC-256 (15), 48 (16), 64 (17), 16 (30). */
        size_t key_len = aead == 17 ? 64 : aead == 16 ? 48 : aead == 30 ? 16 : 32;
        uint8_t key[64], context[5] = {0, 0, (uint8_t)(aead >> 8), (uint8_t)aead, 0};
        for (int d = 0; d < 2; d++) {
          context[4] = (uint8_t)d; /* 0: C2S, 1: S2C */
          if (SSL_export_keying_material(c->ssl, key, key_len, "EXPORTER-network-time-security",
                                         30, context, sizeof context, 1) != 1) {
            fail(c, "key export failed");
            return;
          }
        }
        if (measuring && !ended) {
          ok++;
          if (nlat < MAX_LAT) lat[nlat++] = (double)(now_ns() - c->start_ns) / 1e6;
        }
        finish(c);
        return;
      }
      default:
        return;
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fprintf(stderr,
          "usage: keload --port P [--host 127.0.0.1] [--duration-ms 3000] [--warmup-ms 0]\n"
          "              [--concurrency 8] [--aead 15] [--timeout-ms 5000] [--pid PID]\n"
          "              [--ca CA.pem]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 0, conc = 8, pid = 0;
  long duration_ms = 3000, warmup_ms = 0, timeout_ms = 5000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--duration-ms")) duration_ms = atol(v);
    else if (!strcmp(a, "--warmup-ms")) warmup_ms = atol(v);
    else if (!strcmp(a, "--concurrency")) conc = atoi(v);
    else if (!strcmp(a, "--aead")) aead = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atol(v);
    else if (!strcmp(a, "--pid")) pid = atoi(v);
    else if (!strcmp(a, "--ca")) ca = v;
    else usage();
  }
  if (port <= 0 || port > 65535 || conc < 1 || conc > MAX_CONC || aead < 0 || aead > 65535 ||
      duration_ms <= 0 || duration_ms > 600000 || warmup_ms < 0 || warmup_ms > 600000 ||
      timeout_ms <= 0 || timeout_ms > 60000)
    usage();
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
    fprintf(stderr, "keload: bad IPv4 address %s\n", host);
    return 2;
  }
  if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "keload: refusing non-loopback destination %s\n", host);
    return 2;
  }

  signal(SIGPIPE, SIG_IGN); /* a close_notify to a server that has gone must not kill us */
  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return 1;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const uint8_t alpn[] = {7, 'n', 't', 's', 'k', 'e', '/', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  if (ca) {
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
      fprintf(stderr, "keload: cannot load %s\n", ca);
      return 2;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  }
  /* NextProtocol [0] (critical), AEAD [aead] (critical), End of Message. */
  const uint8_t req[16] = {0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2,
                           (uint8_t)(aead >> 8), (uint8_t)aead, 0x80, 0, 0, 0};
  memcpy(request, req, sizeof request);

  ep = epoll_create1(0);
  static struct conn conns[MAX_CONC];
  lat = malloc(sizeof(double) * MAX_LAT);
  if (ep < 0 || !lat) return 1;

  const uint64_t t0 = now_ns();
  const uint64_t warm_end = t0 + (uint64_t)warmup_ms * 1000000ull;
  const uint64_t end = warm_end + (uint64_t)duration_ms * 1000000ull;
  const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  measuring = warmup_ms == 0;
  long long cpu0 = pid ? proc_cpu_ticks(pid) : -1, cpu1 = -1;
  double self0 = self_cpu_s(), self1 = 0;
  static unsigned long long tot0[MAX_CPUS], idle0[MAX_CPUS], tot1[MAX_CPUS], idle1[MAX_CPUS];
  int ncpu = cpu_times(tot0, idle0);
  uint64_t mstart = t0, mend = end;
  unsigned long long e_ok = 0, e_failed = 0, e_timeouts = 0;
  size_t e_nlat = 0;

  for (int i = 0; i < conc; i++) conns[i].fd = -1;
  struct epoll_event evs[MAX_CONC];
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= warm_end) {
      measuring = 1;
      ok = failed = timeouts = 0;
      nlat = 0;
      nerr = 0;
      cpu0 = pid ? proc_cpu_ticks(pid) : -1;
      self0 = self_cpu_s();
      ncpu = cpu_times(tot0, idle0);
      mstart = now;
    }
    if (!ended && now >= end) {
      /* The interval ends at the deadline; exchanges in flight then are dropped. */
      ended = 1;
      mend = now;
      cpu1 = pid ? proc_cpu_ticks(pid) : -1;
      self1 = self_cpu_s();
      if (cpu_times(tot1, idle1) != ncpu) ncpu = 0;
      e_ok = ok, e_failed = failed, e_timeouts = timeouts, e_nlat = nlat;
      break;
    }
    for (int i = 0; i < conc; i++) {
      struct conn *c = &conns[i];
      if (c->st != IDLE && now - c->start_ns > timeout_ns) {
        if (measuring) timeouts++;
        fail(c, "no complete answer within %ld ms", timeout_ms);
      }
      if (c->st == IDLE && start(c) < 0) {
        fail(c, "socket/connect: %s", strerror(errno));
      }
    }
    int n = epoll_wait(ep, evs, MAX_CONC, 10);
    for (int k = 0; k < n; k++) step((struct conn *)evs[k].data.ptr);
  }
  for (int i = 0; i < conc; i++) finish(&conns[i]);

  double elapsed = (double)(mend - mstart) / 1e9;
  double hz = (double)sysconf(_SC_CLK_TCK);
  qsort(lat, e_nlat, sizeof *lat, cmp_double);
  printf("{\"handshakes\":%llu,\"failed\":%llu,\"timeouts\":%llu,\"errors\":[", e_ok, e_failed,
         e_timeouts);
  for (int i = 0; i < nerr; i++) {
    printf("%s\"", i ? "," : "");
    for (const char *p = errors[i]; *p; p++)
      if (*p == '"' || *p == '\\') printf("\\%c", *p);
      else if ((unsigned char)*p >= 32) putchar(*p);
    printf("\"");
  }
  printf("],\"elapsed_s\":%.6f,\"rate\":%.1f,", elapsed, (double)e_ok / elapsed);
  if (cpu0 >= 0 && cpu1 >= 0) printf("\"server_cpu_s\":%.3f,", (double)(cpu1 - cpu0) / hz);
  else printf("\"server_cpu_s\":null,");
  printf("\"loadgen_cpu_s\":%.3f,\"cpu_busy\":[", self1 - self0);
  for (int i = 0; i < ncpu; i++) {
    unsigned long long dt = tot1[i] - tot0[i];
    printf("%s%.3f", i ? "," : "", dt ? 1.0 - (double)(idle1[i] - idle0[i]) / (double)dt : 0.0);
  }
  if (e_nlat) {
    printf("],\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f},", lat[e_nlat / 2],
           lat[e_nlat * 99 / 100 < e_nlat ? e_nlat * 99 / 100 : e_nlat - 1]);
  } else {
    printf("],\"latency_ms\":{\"p50\":null,\"p99\":null},");
  }
  printf("\"concurrency\":%d,\"client\":\"keload.c%s\"}\n", conc, ca ? " (verifying)" : "");
  SSL_CTX_free(ctx);
  return 0;
}
