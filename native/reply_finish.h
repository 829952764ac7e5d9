// The finish of a server reply at the wire (issue #8): the addon's side of the
// descriptor src/daemon/native/reply-finish.ts writes. The server core lays a
// reply out completely but for T3 and, for NTS, the S2C seal over it; the UDP
// socket's send queue (udp_send.cc, reply mode) applies this right before the
// reply's sendmmsg, so T3 is read microseconds before the datagram leaves.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>

namespace ntpd {

// Bytes of the shared descriptor: kReplyFinishWords native-endian uint16 words
// (the layout below), then the key at kReplyFinishKeyOffset.
constexpr size_t kReplyFinishWords = 16;
constexpr size_t kReplyFinishKeyOffset = kReplyFinishWords * 2;
constexpr size_t kReplyFinishMaxKey = 64;
constexpr size_t kReplyFinishBytes = kReplyFinishKeyOffset + kReplyFinishMaxKey;

// Bits of ReplyFinish::kind.
constexpr uint16_t kFinishStamp = 1;  // T3 (CLOCK_REALTIME as NTP time) at t3_offset, >= T2
constexpr uint16_t kFinishSeal = 2;   // then AES-SIV-CMAC seal (NTS, RFC 8915 §5.6)
// Ask the kernel for the reply's software TX timestamp (interleaved mode: the T3 of
// the next reply to that client). Only honoured on sockets with replyTxTimestamps.
constexpr uint16_t kFinishTxStamp = 4;

struct ReplyFinish {
  uint16_t kind;
  uint16_t t3_offset;     // where T3 goes (8 octets)
  uint16_t t2_offset;     // the reply's T2: T3 is never written below it
  uint16_t aead;          // 15 (32-octet key) or 17 (64)
  uint16_t ad_length;     // associated data: reply[0, ad_length)
  uint16_t nonce_offset;
  uint16_t nonce_length;
  uint16_t text_offset;   // the plaintext, replaced by the ciphertext
  uint16_t text_length;
  uint16_t tag_offset;    // 16 octets
  uint16_t key_length;
  uint8_t key[kReplyFinishMaxKey];
};

// Copies the descriptor at `shared` (kReplyFinishBytes) for a reply of `length`
// octets into *out, then overwrites the key and the kind in `shared` (so the key
// lives on only in *out, and a stale descriptor never applies twice). False when
// it is malformed (a region outside the reply, an unknown kind or AEAD, a key of
// the wrong length): *out then has kind 0 and no key.
bool TakeReplyFinish(uint8_t* shared, size_t length, ReplyFinish* out);

// Applies *f (taken for this reply) to it: T3 = max(now, T2) with its lowest bit
// cleared (a server T3 is told from a server T2, whose lowest bit is set: interleaved
// mode, src/proto/server/interleave.ts), then the seal. Overwrites the
// key in *f either way. False only when the seal failed (the reply must not go out).
bool ApplyReplyFinish(uint8_t* reply, ReplyFinish* f, const struct timespec& now);

// Zeroes the shared descriptor (a reply that is not queued); nothing for null.
void ClearSharedReplyFinish(uint8_t* shared);

// Overwrites the key of *f and sets its kind to 0 (a reply that is not sent).
void WipeReplyFinish(ReplyFinish* f);

}  // namespace ntpd
