/*
 * The floor of an NTS-KE server on OpenSSL, for `npm run bench -- --targets
 * ...,openssl-floor`: the least work any server built on the OpenSSL that
 * node bundles (3.0) does per exchange, to tell OpenSSL's share of our
 * server's cost from node:tls's and ours.
 *
 * Per connection, one at a time (blocking sockets, one thread): accept, TLS
 * 1.3 handshake with ALPN ntske/1 required, read the request (not parsed),
 * export the C2S and S2C keys of AES-SIV-CMAC-256 (RFC 8915 §5.1), write a
 * fixed response (Next Protocol NTPv4, AEAD 15, 8 cookie records of 104
 * octets whose contents are filler: no cookie is sealed), close_notify,
 * close. Session tickets: as many as --tickets says (OpenSSL's default is 2;
 * node:tls cannot ask for 0).
 *
 *   ke-floor --port P --chain CHAIN.pem --key KEY.pem [--tickets 2]
 *
 * Loopback only (binds 127.0.0.1). Runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned in_len, void *arg) {
  (void)ssl;
  (void)arg;
  for (unsigned i = 0; i < in_len;) {
    unsigned len = in[i];
    if (i + 1 + len > in_len) break;
    if (len == 7 && memcmp(in + i + 1, "ntske/1", 7) == 0) {
      *out = in + i + 1;
      *out_len = 7;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void usage(void) {
  fprintf(stderr, "usage: ke-floor --port P --chain CHAIN.pem --key KEY.pem [--tickets 2]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 0, tickets = 2;
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
  if (port <= 0 || port > 65535 || !chain || !key || tickets < 0 || tickets > 16) usage();
  signal(SIGPIPE, SIG_IGN);

  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
      SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      !SSL_CTX_set_num_tickets(ctx, (size_t)tickets)) {
    fprintf(stderr, "ke-floor: TLS set-up failed: %s\n",
            ERR_reason_error_string(ERR_get_error()));
    return 1;
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);

  int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 128) < 0) {
    perror("ke-floor: bind/listen");
    return 1;
  }

  /* Next Protocol [0], AEAD [15], 8 cookies, End of Message (all critical bits as servers send). */
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
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    uint8_t request[1024], keys[2][32];
    if (SSL_accept(ssl) == 1 && SSL_read(ssl, request, sizeof request) > 0) {
      for (int d = 0; d < 2; d++) {
        const uint8_t context[5] = {0, 0, 0, 15, (uint8_t)d};
        SSL_export_keying_material(ssl, keys[d], sizeof keys[d], "EXPORTER-network-time-security",
                                   30, context, sizeof context, 1);
      }
      SSL_write(ssl, response, (int)n);
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }
}
