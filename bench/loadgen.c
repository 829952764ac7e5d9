/*
 * NTP load generator for `npm run bench`: keeps a window of requests
 * outstanding against one UDP server on loopback for a bounded time and
 * counts valid responses.
 *
 *   loadgen --port P [--host 127.0.0.1] [--duration-ms 5000] [--warmup-ms 0]
 *           [--window 64] [--batch 16] [--timeout-ms 500] [--pid SERVER_PID]
 *           [--requests FILE --req-len N [--nts]] [--rate R] [--bind ADDR]
 *           [--garbage] [--sockets K]
 *
 * Plain mode (default): 48-byte mode-3 requests with a random transmit
 * timestamp whose low 16 bits are the window slot. A response is valid if it
 * is at least 48 bytes, mode 4, and its origin timestamp equals the transmit
 * timestamp of an outstanding request of that slot.
 *
 * Template mode (--requests): FILE holds at least `window` prebuilt requests
 * of N bytes each (e.g. NTS requests with their own UID and authenticator);
 * slot i always sends request i, unchanged, and request i's transmit timestamp
 * must end in the 16-bit value i. Validity is checked the same way.
 *
 * --nts (template mode, NTS requests): each request must carry a Unique
 * Identifier extension field (type 0x0104), and a reply counts as valid only
 * if, besides the checks above, it carries an extension field with that same
 * Unique Identifier and an NTS Authenticator field (0x0404). A reply that
 * matches its request but lacks either is counted "nts_bad" (e.g. a plain
 * 48-octet answer from a server that ignored NTS); an NTS NAK (stratum 0,
 * "NTSN") is a kiss-o'-death like any other and counted "kod". The
 * cryptography is not checked here: the bench verifies replies to the same
 * prebuilt requests with the real NTS client code before loading.
 *
 * --sockets K (default 1): send from K sockets (K source ports), one batch per
 * socket in turn, so that a server with several SO_REUSEPORT sockets (one per
 * thread) gets requests on all of them; the kernel picks a socket by source.
 *
 * --rate R paces the requests: at most R per second (still at most `window`
 * outstanding), instead of sending as fast as replies free slots. The bench uses it for an idle and a half-loaded server while it
 * captures the replies (T3 to wire, wire.ts).
 *
 * A request not answered within --timeout-ms is counted lost and its slot
 * reused. With --pid, the server's CPU time (utime+stime from /proc/PID/stat,
 * all threads) over the measured interval is reported too.
 *
 * A reply to a request that was already counted lost is counted "late"
 * (plain mode: the slot's current or previous request), anything else that
 * matches no request "invalid". Only "valid" replies count in the rate.
 *
 * --rate R: at most R requests a second (paced from the start, so a closed
 * window cannot burst above it); without it the window alone sets the pace.
 * --bind ADDR: send from this loopback address (e.g. 127.0.0.2, to be a
 * client other than 127.0.0.1 for a server's rate limiter).
 *
 * --garbage (plain mode): every datagram is one the server must drop without
 * a reply, cycling through four kinds: 1-47 random bytes (too short); 48
 * random bytes with a mode other than 3; a 76-byte mode-3 request whose 28
 * octets after the header (too many for a legacy MAC) start an extension
 * field of length 6 (bad RFC 7822 framing); 1100 random
 * bytes with mode 4 (longer than any request a server reads). Nothing is
 * outstanding: each is counted sent and forgotten, and every reply at all is
 * counted "invalid" (the right number is 0). "garbage_sent" splits the sent
 * count by kind: [short, wrong_mode, bad_framing, oversize].
 *
 * Prints one JSON object on stdout (counts, rate, server and own CPU time,
 * per-CPU busy and softirq fractions from /proc/stat). Only loopback
 * destinations are accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define MAX_WINDOW 65536
#define MAX_PKT 2048
#define MAX_SOCKETS 64

struct slot {
  uint8_t xmt[8];
  const uint8_t *uid; /* --nts: the UID field value of this slot's request */
  unsigned uid_len;
  uint8_t prev_xmt[8]; /* the request this slot sent before (to recognise late replies) */
  uint64_t sent_ns;
  int inflight;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t xorshift64(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
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
  p += 2; /* now at field 3 (state) */
  unsigned long long utime = 0, stime = 0;
  /* fields 3..13 skipped, 14 utime, 15 stime */
  if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (long long)(utime + stime);
}

#define MAX_CPUS 64
/* Per-CPU jiffies from /proc/stat: total and idle (idle+iowait) and softirq. Returns CPU count. */
static int cpu_times(unsigned long long total[], unsigned long long idle[],
                     unsigned long long soft[]) {
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
    soft[n] = v[6];
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

#define EF_UNIQUE_IDENTIFIER 0x0104
#define EF_NTS_AUTHENTICATOR 0x0404

/*
 * Walks the extension fields of pkt[48..len) (RFC 7822 framing: 4-octet
 * header, length a multiple of 4, at least 4). Returns the value of the first
 * field of type `type` (and its length), or NULL. With `uid`, returns the
 * first such field whose value equals uid[0..uid_len).
 */
static const uint8_t *find_ef(const uint8_t *pkt, unsigned len, unsigned type,
                              const uint8_t *uid, unsigned uid_len, unsigned *vlen) {
  unsigned off = 48;
  while (off + 4 <= len) {
    unsigned t = ((unsigned)pkt[off] << 8) | pkt[off + 1];
    unsigned l = ((unsigned)pkt[off + 2] << 8) | pkt[off + 3];
    if (l < 4 || (l & 3) || off + l > len) return NULL;
    if (t == type && (!uid || (l - 4 == uid_len && !memcmp(pkt + off + 4, uid, uid_len)))) {
      if (vlen) *vlen = l - 4;
      return pkt + off + 4;
    }
    off += l;
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P [--host 127.0.0.1] [--duration-ms 5000] [--warmup-ms 0]\n"
          "               [--window 64] [--batch 16] [--timeout-ms 500] [--pid PID]\n"
          "               [--requests FILE --req-len N [--nts]] [--rate R] [--bind ADDR]\n"
          "               [--garbage] [--sockets K]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *reqfile = NULL;
  const char *bind_addr = NULL;
  int port = 0, window = 64, batch = 16, pid = 0, req_len = 48, nts = 0, garbage = 0, nsock = 1;
  double rate = 0;
  long duration_ms = 5000, warmup_ms = 0, timeout_ms = 500;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--nts")) {
      nts = 1;
      continue;
    }
    if (!strcmp(a, "--garbage")) {
      garbage = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--duration-ms")) duration_ms = atol(v);
    else if (!strcmp(a, "--warmup-ms")) warmup_ms = atol(v);
    else if (!strcmp(a, "--window")) window = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atol(v);
    else if (!strcmp(a, "--pid")) pid = atoi(v);
    else if (!strcmp(a, "--requests")) reqfile = v;
    else if (!strcmp(a, "--req-len")) req_len = atoi(v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--bind")) bind_addr = v;
    else if (!strcmp(a, "--sockets")) nsock = atoi(v);
    else usage();
  }
  if (port <= 0 || port > 65535 || window < 1 || window > MAX_WINDOW || batch < 1 ||
      batch > MAX_BATCH || duration_ms <= 0 || duration_ms > 600000 || warmup_ms < 0 ||
      warmup_ms > 600000 || timeout_ms <= 0 || req_len < 48 || req_len > MAX_PKT ||
      (nts && !reqfile) || rate < 0 || (garbage && reqfile) || nsock < 1 ||
      nsock > MAX_SOCKETS)
    usage();

  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
    return 2;
  }
  if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "loadgen: refusing non-loopback destination %s\n", host);
    return 2;
  }

  /* Requests: one per slot. */
  uint8_t *reqs = calloc((size_t)window, (size_t)req_len);
  struct slot *slots = calloc((size_t)window, sizeof *slots);
  int *freelist = malloc(sizeof(int) * (size_t)window);
  if (!reqs || !slots || !freelist) return 1;
  if (reqfile) {
    int fd = open(reqfile, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
      perror(reqfile);
      return 2;
    }
    if (st.st_size < (off_t)window * req_len) {
      fprintf(stderr, "loadgen: %s holds %lld requests of %d bytes, need --window %d\n", reqfile,
              (long long)(st.st_size / req_len), req_len, window);
      return 2;
    }
    size_t want = (size_t)window * (size_t)req_len, got = 0;
    while (got < want) {
      ssize_t n = read(fd, reqs + got, want - got);
      if (n <= 0) {
        perror(reqfile);
        return 2;
      }
      got += (size_t)n;
    }
    close(fd);
    for (int i = 0; i < window; i++) {
      uint8_t *r = reqs + (size_t)i * req_len;
      if (((r[46] << 8) | r[47]) != (i & 0xffff)) {
        fprintf(stderr, "loadgen: request %d's transmit timestamp does not end in %d\n", i, i);
        return 2;
      }
      memcpy(slots[i].xmt, r + 40, 8);
      if (nts) {
        slots[i].uid = find_ef(r, (unsigned)req_len, EF_UNIQUE_IDENTIFIER, NULL, 0, &slots[i].uid_len);
        if (!slots[i].uid) {
          fprintf(stderr, "loadgen: --nts: request %d has no Unique Identifier field\n", i);
          return 2;
        }
      }
    }
  } else {
    if (req_len != 48) usage();
    for (int i = 0; i < window; i++) reqs[(size_t)i * 48] = 0x23; /* LI 0, VN 4, mode 3 */
  }
  rng_state = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
  if (!rng_state) rng_state = 1;

  struct sockaddr_in src = {.sin_family = AF_INET};
  if (bind_addr && (inet_pton(AF_INET, bind_addr, &src.sin_addr) != 1 ||
                    (ntohl(src.sin_addr.s_addr) >> 24) != 127)) {
    fprintf(stderr, "loadgen: --bind needs a loopback IPv4 address, not %s\n", bind_addr);
    return 2;
  }
  int fds[MAX_SOCKETS];
  struct pollfd pfds[MAX_SOCKETS];
  for (int k = 0; k < nsock; k++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      perror("socket");
      return 1;
    }
    int bufsz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    if (bind_addr && bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
      perror("bind");
      return 1;
    }
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
      perror("connect");
      return 1;
    }
    fds[k] = fd;
    pfds[k].fd = fd;
    pfds[k].events = POLLIN;
  }
  int next_sock = 0;

  int nfree = 0;
  for (int i = window - 1; i >= 0; i--) freelist[nfree++] = i;

  static struct mmsghdr smsg[MAX_BATCH], rmsg[MAX_BATCH];
  static struct iovec siov[MAX_BATCH], riov[MAX_BATCH];
  static uint8_t rbuf[MAX_BATCH][MAX_PKT];
  int sidx[MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    riov[i].iov_base = rbuf[i];
    riov[i].iov_len = MAX_PKT;
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  static uint8_t gbuf[MAX_BATCH][MAX_PKT];
  unsigned long long gsent[4] = {0}, paced = 0; /* paced: all sent since start (--rate) */
  unsigned long long sent = 0, valid = 0, invalid = 0, late = 0, lost = 0, kod = 0, send_err = 0,
                     nts_bad = 0;
  const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  uint64_t t0 = now_ns();
  const uint64_t warm_end = t0 + (uint64_t)warmup_ms * 1000000ull;
  const uint64_t end = warm_end + (uint64_t)duration_ms * 1000000ull;
  int measuring = warmup_ms == 0;
  long long cpu0 = pid ? proc_cpu_ticks(pid) : -1;
  double self0 = self_cpu_s();
  static unsigned long long tot0[MAX_CPUS], idle0[MAX_CPUS], soft0[MAX_CPUS];
  static unsigned long long tot1[MAX_CPUS], idle1[MAX_CPUS], soft1[MAX_CPUS];
  int ncpu = cpu_times(tot0, idle0, soft0);
  uint64_t mstart = t0, last_expiry = t0;

  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= warm_end) {
      measuring = 1;
      sent = valid = invalid = late = lost = kod = send_err = nts_bad = 0;
      gsent[0] = gsent[1] = gsent[2] = gsent[3] = 0;
      cpu0 = pid ? proc_cpu_ticks(pid) : -1;
      self0 = self_cpu_s();
      ncpu = cpu_times(tot0, idle0, soft0);
      mstart = now;
    }
    if (now >= end) break;

    /* --rate: how many more may go now. */
    unsigned long long budget = ~0ull;
    if (rate > 0) {
      unsigned long long allowed = (unsigned long long)(rate * (double)(now - t0) / 1e9) + 1;
      budget = allowed > paced ? allowed - paced : 0;
    }

    int did_send = 0;
    if (garbage) {
      /* Fire and forget: nothing is outstanding. */
      int n = budget < (unsigned long long)batch ? (int)budget : batch;
      for (int k = 0; k < n; k++) {
        uint8_t *g = gbuf[k];
        unsigned kind = (unsigned)((paced + (unsigned long long)k) & 3), len;
        for (int b = 0; b < 1100; b += 8) {
          uint64_t x = xorshift64();
          memcpy(g + b, &x, 8);
        }
        switch (kind) {
          case 0: len = 1 + (unsigned)(g[0] % 47); break;
          case 1: len = 48; g[0] = (uint8_t)((g[0] & 0xf8) | ((g[1] % 7) < 3 ? g[1] % 7 : g[1] % 7 + 1)); break;
          case 2: /* more than a legacy MAC's 24 octets, so an extension field: length 6 */
            len = 76;
            g[0] = 0x23;
            g[48] = 0x01; g[49] = 0x04; g[50] = 0x00; g[51] = 0x06;
            break;
          default: len = 1100; g[0] = 0x24; break;
        }
        sidx[k] = (int)kind;
        siov[k].iov_base = g;
        siov[k].iov_len = len;
        memset(&smsg[k], 0, sizeof smsg[k]);
        smsg[k].msg_hdr.msg_iov = &siov[k];
        smsg[k].msg_hdr.msg_iovlen = 1;
      }
      int m = n > 0 ? sendmmsg(fds[next_sock], smsg, (unsigned)n, 0) : 0;
      next_sock = (next_sock + 1) % nsock;
      if (m < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) send_err++;
      for (int k = 0; k < m; k++) gsent[sidx[k]]++;
      if (m > 0) {
        sent += (unsigned long long)m;
        paced += (unsigned long long)m;
        did_send = 1;
      }
    }

    /* Send into every free slot, in batches. */
    while (!garbage && nfree > 0 && budget > 0) {
      int n = nfree < batch ? nfree : batch;
      if ((unsigned long long)n > budget) n = (int)budget;
      for (int k = 0; k < n; k++) {
        int s = freelist[nfree - 1 - k];
        uint8_t *r = reqs + (size_t)s * req_len;
        if (!reqfile) {
          uint64_t x = xorshift64();
          for (int b = 0; b < 6; b++) r[40 + b] = (uint8_t)(x >> (8 * b));
          r[46] = (uint8_t)(s >> 8);
          r[47] = (uint8_t)s;
          memcpy(slots[s].prev_xmt, slots[s].xmt, 8);
          memcpy(slots[s].xmt, r + 40, 8);
        }
        sidx[k] = s;
        siov[k].iov_base = r;
        siov[k].iov_len = (size_t)req_len;
        memset(&smsg[k], 0, sizeof smsg[k]);
        smsg[k].msg_hdr.msg_iov = &siov[k];
        smsg[k].msg_hdr.msg_iovlen = 1;
      }
      int m = sendmmsg(fds[next_sock], smsg, (unsigned)n, 0);
      next_sock = (next_sock + 1) % nsock;
      if (m <= 0) {
        if (m < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) send_err++;
        break;
      }
      uint64_t ts = now_ns();
      for (int k = 0; k < m; k++) {
        slots[sidx[k]].inflight = 1;
        slots[sidx[k]].sent_ns = ts;
      }
      nfree -= m;
      sent += (unsigned long long)m;
      paced += (unsigned long long)m;
      budget -= (unsigned long long)m;
      did_send = 1;
      if (m < n) break;
    }

    /* Receive whatever is there. */
    int got_any = 0;
    for (int k = 0; k < nsock; k++) for (;;) {
      for (int i = 0; i < batch; i++) rmsg[i].msg_hdr.msg_flags = 0;
      int r = recvmmsg(fds[k], rmsg, (unsigned)batch, MSG_DONTWAIT, NULL);
      if (r <= 0) break;
      got_any = 1;
      for (int i = 0; i < r; i++) {
        const uint8_t *b = rbuf[i];
        unsigned len = rmsg[i].msg_len;
        if (garbage || len < 48 || (b[0] & 7) != 4) {
          invalid++;
          continue;
        }
        int s = (b[30] << 8) | b[31];
        if (s >= window) {
          invalid++;
          continue;
        }
        if (memcmp(b + 24, slots[s].xmt, 8) != 0) {
          if (memcmp(b + 24, slots[s].prev_xmt, 8) == 0) late++;
          else invalid++;
          continue;
        }
        if (!slots[s].inflight) {
          late++; /* answered after we gave up on it */
          continue;
        }
        if (b[1] == 0) kod++;
        else if (nts && (!find_ef(b, len, EF_UNIQUE_IDENTIFIER, slots[s].uid, slots[s].uid_len,
                                  NULL) ||
                         !find_ef(b, len, EF_NTS_AUTHENTICATOR, NULL, 0, NULL)))
          nts_bad++;
        else valid++;
        slots[s].inflight = 0;
        freelist[nfree++] = s;
      }
      if (r < batch) break;
    }

    /* Expire requests that were never answered. */
    now = now_ns();
    if (now - last_expiry > 10000000ull) {
      last_expiry = now;
      for (int s = 0; s < window; s++) {
        if (slots[s].inflight && now - slots[s].sent_ns > timeout_ns) {
          slots[s].inflight = 0;
          freelist[nfree++] = s;
          lost++;
        }
      }
    }

    if (!got_any && !did_send) poll(pfds, (nfds_t)nsock, 1);
  }

  uint64_t t1 = now_ns();
  long long cpu1 = pid ? proc_cpu_ticks(pid) : -1;
  double self1 = self_cpu_s();
  if (cpu_times(tot1, idle1, soft1) != ncpu) ncpu = 0;
  double elapsed = (double)(t1 - mstart) / 1e9;
  double hz = (double)sysconf(_SC_CLK_TCK);
  double server_cpu = (cpu0 >= 0 && cpu1 >= 0) ? (double)(cpu1 - cpu0) / hz : -1;
  printf("{\"sent\":%llu,\"valid\":%llu,\"kod\":%llu,\"invalid\":%llu,\"late\":%llu,"
         "\"nts_bad\":%llu,\"lost\":%llu,\"send_errors\":%llu,\"elapsed_s\":%.6f,\"rate\":%.1f,"
         "\"server_cpu_s\":%.3f,\"loadgen_cpu_s\":%.3f,\"window\":%d,\"batch\":%d,",
         sent, valid, kod, invalid, late, nts_bad, lost, send_err, elapsed, (double)valid / elapsed,
         server_cpu, self1 - self0, window, batch);
  printf("\"garbage_sent\":[%llu,%llu,%llu,%llu],", gsent[0], gsent[1], gsent[2], gsent[3]);
  /* Per-CPU busy and softirq fractions over the measured interval. */
  printf("\"cpu_busy\":[");
  for (int i = 0; i < ncpu; i++) {
    unsigned long long dt = tot1[i] - tot0[i];
    printf("%s%.3f", i ? "," : "", dt ? 1.0 - (double)(idle1[i] - idle0[i]) / (double)dt : 0.0);
  }
  printf("],\"cpu_softirq\":[");
  for (int i = 0; i < ncpu; i++) {
    unsigned long long dt = tot1[i] - tot0[i];
    printf("%s%.3f", i ? "," : "", dt ? (double)(soft1[i] - soft0[i]) / (double)dt : 0.0);
  }
  printf("]}\n");
  return 0;
}
