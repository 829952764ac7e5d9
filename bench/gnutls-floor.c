/*
 * The floor of an NTS-KE server on GnuTLS, for `npm run bench -- --targets
 * ...,gnutls-floor`: the twin of ke-floor.c (OpenSSL) on the TLS library
 * chrony uses, to tell whether a native NTS-KE path on GnuTLS could cost
 * what chrony's does, before building one.
 *
 * Per connection, one at a time (blocking sockets, one thread): accept, TLS
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
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
  const gnutls_datum_t alpn = {(unsigned char *)"ntske/1", 7};

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

  /* A stalled client holds the (serial) server for at most this long. */
  const struct timeval timeout = {.tv_sec = 2};
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    gnutls_session_t s;
    check(gnutls_init(&s, GNUTLS_SERVER | (tickets ? 0 : GNUTLS_NO_TICKETS)), "session");
    gnutls_priority_set(s, priority);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (tickets) gnutls_session_ticket_enable_server(s, &ticket_key);
    gnutls_transport_set_int(s, fd);
    uint8_t request[1024], keys[2][32];
    gnutls_datum_t selected;
    int rc;
    do rc = gnutls_handshake(s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc == 0 && gnutls_alpn_get_selected_protocol(s, &selected) == 0 &&
        gnutls_record_recv(s, request, sizeof request) > 0) {
      for (int d = 0; d < 2; d++) {
        const char context[5] = {0, 0, 0, 15, (char)d};
        gnutls_prf_rfc5705(s, 30, "EXPORTER-network-time-security", sizeof context, context,
                           sizeof keys[d], (char *)keys[d]);
      }
      gnutls_record_send(s, response, n);
      gnutls_bye(s, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(s);
    close(fd);
  }
}
