/* sha256.c --- SHA-256 (FIPS 180-4) for the object cache.

   guile-ebpf keys its cache of compiled objects by the SHA-256 of what
   went into them, checks each cached object against a stored digest, and
   reports an object's digest as the attestation of what runs.  None of
   that needs more than a plain, portable implementation of the standard,
   so there is no dependency on a crypto library for it.  */
#include <config.h>
#include <string.h>
#include "gebpf.h"

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the
   cube roots of the first 64 primes.  */
static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
  0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static inline uint32_t
rotr (uint32_t x, unsigned n)
{
  return (x >> n) | (x << (32 - n));
}

/* 4.1.2 */
#define CH(x, y, z)  (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr (x, 2) ^ rotr (x, 13) ^ rotr (x, 22))
#define BSIG1(x) (rotr (x, 6) ^ rotr (x, 11) ^ rotr (x, 25))
#define SSIG0(x) (rotr (x, 7) ^ rotr (x, 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr (x, 17) ^ rotr (x, 19) ^ ((x) >> 10))

/* 6.2.2: process one 512-bit block.  */
static void
compress (uint32_t h[8], const uint8_t block[64])
{
  uint32_t w[64];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t) block[4 * t] << 24 | (uint32_t) block[4 * t + 1] << 16
      | (uint32_t) block[4 * t + 2] << 8 | (uint32_t) block[4 * t + 3];
  for (int t = 16; t < 64; t++)
    w[t] = SSIG1 (w[t - 2]) + w[t - 7] + SSIG0 (w[t - 15]) + w[t - 16];

  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++)
    {
      uint32_t t1 = hh + BSIG1 (e) + CH (e, f, g) + K[t] + w[t];
      uint32_t t2 = BSIG0 (a) + MAJ (a, b, c);
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void
gebpf_sha256_init (struct gebpf_sha256 *c)
{
  /* 5.3.3: the first 32 bits of the fractional parts of the square
     roots of the first 8 primes.  */
  static const uint32_t h0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  };
  memcpy (c->h, h0, sizeof h0);
  c->len = 0;
  c->fill = 0;
}

void
gebpf_sha256_update (struct gebpf_sha256 *c, const void *data, size_t n)
{
  const uint8_t *p = data;
  c->len += n;
  if (c->fill)
    {
      size_t take = 64 - c->fill < n ? 64 - c->fill : n;
      memcpy (c->buf + c->fill, p, take);
      c->fill += take;
      p += take;
      n -= take;
      if (c->fill < 64)
        return;
      compress (c->h, c->buf);
      c->fill = 0;
    }
  for (; n >= 64; p += 64, n -= 64)
    compress (c->h, p);
  memcpy (c->buf, p, n);
  c->fill = n;
}

void
gebpf_sha256_final (struct gebpf_sha256 *c, uint8_t out[32])
{
  /* 5.1.1: a 1 bit, zeros up to 448 mod 512, the length in bits as a
     big-endian 64-bit number.  */
  uint64_t bits = c->len * 8;
  c->buf[c->fill++] = 0x80;
  if (c->fill > 56)
    {
      memset (c->buf + c->fill, 0, 64 - c->fill);
      compress (c->h, c->buf);
      c->fill = 0;
    }
  memset (c->buf + c->fill, 0, 56 - c->fill);
  for (int i = 0; i < 8; i++)
    c->buf[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
  compress (c->h, c->buf);
  for (int i = 0; i < 8; i++)
    {
      out[4 * i] = (uint8_t) (c->h[i] >> 24);
      out[4 * i + 1] = (uint8_t) (c->h[i] >> 16);
      out[4 * i + 2] = (uint8_t) (c->h[i] >> 8);
      out[4 * i + 3] = (uint8_t) c->h[i];
    }
  memset (c, 0, sizeof *c);
}

void
gebpf_sha256_hex (const void *data, size_t n, char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  struct gebpf_sha256 c;
  uint8_t d[32];
  gebpf_sha256_init (&c);
  gebpf_sha256_update (&c, data, n);
  gebpf_sha256_final (&c, d);
  for (int i = 0; i < 32; i++)
    {
      hex[2 * i] = digits[d[i] >> 4];
      hex[2 * i + 1] = digits[d[i] & 15];
    }
  hex[64] = 0;
}
