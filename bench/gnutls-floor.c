/*
 * The floor of an NTS-KE server on GnuTLS, for `npm run bench -- --targets
 * ...,gnutls-floor`: the twin of ke-floor.c (OpenSSL) on the TLS library
 * chrony uses, to tell whether a native NTS-KE path on GnuTLS could cost
 * what chrony's does, before building one.
 *
 * Per connection, in one epoll loop (non-blocking sockets, one thread, as
 * chrony and libuv; ke-floor.c is serial and blocking): accept, TLS
 * 1.3 handshake with ALPN ntske/1 required, read the request (not parsed),
 * export the C2S and S2C keys of AES-SIV-CMAC-256 (RFC 8915 §5.1), write the
 * same fixed response as ke-floor.c (Next Protocol NTPv4, AEAD 15, 8 filler
 * cookie records of 104 octets), close_notify, close. Session tickets: none
 * unless --tickets 1 (GnuTLS then sends one; NTS-KE clients do not resume).
 * TLS settings as chrony 4.3's NTS-KE server: the system's default GnuTLS
 * priorities with every version but TLS 1.3 taken out, no tickets.
 *
 *   gnutls-floor --port P --chain CHAIN.pem --key KEY.pem [--tickets 0|1]
 *
 * Loopback only (binds 127.0.0.1). Runs until killed.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

#define COOKIES 8
#define COOKIE_LEN 104

static void usage(void) {
  fprintf(stderr, "usage: gnutls-floor --port P --chain CHAIN.pem --key KEY.pem [--tickets 0|1]\n");
  exit(2);
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "gnutls-floor: %s: %s\n", what, gnutls_strerror(rc));
    exit(1);
  }
}

/* A stalled client holds its connection for at most this long (seconds). */
#define TIMEOUT 2
#define MAX_CONNS 256

enum state { HANDSHAKE, RECEIVE, SEND, BYE };

struct conn {
  int fd;
  enum state state;
  gnutls_session_t s;
  time_t started;
  uint8_t request[1024];
};

static struct conn *conns[MAX_CONNS];

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void finish(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  gnutls_deinit(c->s);
  close(c->fd);
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] == c) conns[i] = NULL;
  free(c);
}

/* Waits for whichever direction GnuTLS is blocked on. */
static void wait_for(int ep, struct conn *c) {
  struct epoll_event ev = {.events = gnutls_record_get_direction(c->s) ? EPOLLOUT : EPOLLIN,
                           .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Advances one connection as far as it goes without blocking. */
static void step(int ep, struct conn *c, const uint8_t *response, size_t n) {
  int rc;
  gnutls_datum_t selected;
  switch (c->state) {
    case HANDSHAKE:
      rc = gnutls_handshake(c->s);
      if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) return wait_for(ep, c);
      if (rc < 0 || gnutls_alpn_get_selected_protocol(c->s, &selected) < 0) return finish(ep, c);
      c->state = RECEIVE;
      /* fall through */
    case RECEIVE:
      rc = (int)gnutls_record_recv(c->s, c->request, sizeof c->request);
      if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) return wait_for(ep, c);
      if (rc <= 0) return finish(ep, c);
      for (int d = 0; d < 2; d++) {
        uint8_t key[32];
        const char context[5] = {0, 0, 0, 15, (char)d};
        gnutls_prf_rfc5705(c->s, 30, "EXPORTER-network-time-security", sizeof context, context,
                           sizeof key, (char *)key);
      }
      c->state = SEND;
      rc = (int)gnutls_record_send(c->s, response, n);
      goto sent;
    case SEND:
      rc = (int)gnutls_record_send(c->s, NULL, 0); /* GnuTLS resends what was pending */
    sent:
      if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) return wait_for(ep, c);
      if (rc < 0) return finish(ep, c);
      c->state = BYE;
      /* fall through */
    case BYE:
      rc = gnutls_bye(c->s, GNUTLS_SHUT_WR);
      if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) return wait_for(ep, c);
      return finish(ep, c);
  }
}

static void accept_all(int ep, int listener, gnutls_priority_t priority,
                       gnutls_certificate_credentials_t cred, const gnutls_datum_t *ticket_key,
                       time_t now) {
  static const gnutls_datum_t alpn = {(unsigned char *)"ntske/1", 7};
  int one = 1;
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    int slot = 0;
    while (slot < MAX_CONNS && conns[slot]) slot++;
    if (slot == MAX_CONNS) {
      close(fd);
      continue;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->started = now;
    c->state = HANDSHAKE;
    check(gnutls_init(&c->s, GNUTLS_SERVER | GNUTLS_NONBLOCK | (ticket_key ? 0 : GNUTLS_NO_TICKETS)),
          "session");
    gnutls_priority_set(c->s, priority);
    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_alpn_set_protocols(c->s, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (ticket_key) gnutls_session_ticket_enable_server(c->s, ticket_key);
    gnutls_transport_set_int(c->s, fd);
    conns[slot] = c;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

static void reap_stalled(int ep, time_t now) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] && now - conns[i]->started > TIMEOUT) finish(ep, conns[i]);
}

int main(int argc, char **argv) {
  int port = 0, tickets = 0;
  const char *chain = NULL, *key = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *a = argv[i], *v = argv[++i];
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--chain")) chain = v;
    else if (!strcmp(a, "--key")) key = v;
    else if (!strcmp(a, "--tickets")) tickets = atoi(v);
    else usage();
  }
  if (port <= 0 || port > 65535 || !chain || !key || tickets < 0 || tickets > 1) usage();
  signal(SIGPIPE, SIG_IGN);

  gnutls_certificate_credentials_t cred;
  gnutls_priority_t priority;
  gnutls_datum_t ticket_key = {NULL, 0};
  check(gnutls_certificate_allocate_credentials(&cred), "credentials");
  check(gnutls_certificate_set_x509_key_file(cred, chain, key, GNUTLS_X509_FMT_PEM), "key file");
  /* The system's default priorities, TLS 1.3 only: what chrony serves with. */
  check(gnutls_priority_init2(&priority, "-VERS-ALL:+VERS-TLS1.3", NULL,
                              GNUTLS_PRIORITY_INIT_DEF_APPEND),
        "priority");
  if (tickets) check(gnutls_session_ticket_key_generate(&ticket_key), "ticket key");

  int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 128) < 0) {
    perror("gnutls-floor: bind/listen");
    return 1;
  }

  /* Next Protocol [0], AEAD [15], 8 cookies, End of Message (as ke-floor.c). */
  static uint8_t response[12 + COOKIES * (4 + COOKIE_LEN) + 4];
  size_t n = 0;
  const uint8_t head[] = {0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2, 0, 15};
  memcpy(response, head, sizeof head);
  n = sizeof head;
  for (int i = 0; i < COOKIES; i++) {
    response[n++] = 0;
    response[n++] = 5;
    response[n++] = 0;
    response[n++] = COOKIE_LEN;
    memset(response + n, 0xc0 + i, COOKIE_LEN);
    n += COOKIE_LEN;
  }
  const uint8_t end[] = {0x80, 0, 0, 0};
  memcpy(response + n, end, sizeof end);
  n += sizeof end;

  /* One epoll loop over all connections, non-blocking, as chrony's
   * scheduler and libuv (a native path in the addon) work: a serial blocking
   * server pays a sleep and a wake-up per read, which on a busy machine costs
   * it more than the TLS work being measured. */
  int ep = epoll_create1(0);
  set_nonblocking(listener);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev);
  for (;;) {
    struct epoll_event events[64];
    int ready = epoll_wait(ep, events, 64, 1000);
    time_t now = time(NULL);
    for (int i = 0; i < ready; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        accept_all(ep, listener, priority, cred, tickets ? &ticket_key : NULL, now);
        continue;
      }
      step(ep, c, response, n);
    }
    reap_stalled(ep, now);
  }
}
