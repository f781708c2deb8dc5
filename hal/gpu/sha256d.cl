// SHA-256d nonce scan over the second block of an 80-byte header.
//
// The host hashes the header's first 64 bytes once (the midstate). Each work
// item hashes the nonces gid, gid+G, gid+2G, ... (G the global size) offset
// by base, iters of them: the header's second block from the midstate, then
// the outer SHA-256 of that digest. A nonce is reported when the hash's top
// word (the last state word, byte-swapped) is at most limit.

#define ROTR(x, n) rotate((uint)(x), (uint)(32 - (n)))
#define CH(x, y, z) bitselect((z), (y), (x))
#define MAJ(x, y, z) bitselect((x), (y), (z) ^ (x))
#define BS0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BS1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SS0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SS1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

__constant uint K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define IV0 0x6a09e667
#define IV1 0xbb67ae85
#define IV2 0x3c6ef372
#define IV3 0xa54ff53a
#define IV4 0x510e527f
#define IV5 0x9b05688c
#define IV6 0x1f83d9ab
#define IV7 0x5be0cd19

// One round: a..h rotate by renaming at the call sites.
#define ROUND(a, b, c, d, e, f, g, h, kw)                                      \
  do {                                                                         \
    uint t1 = (h) + BS1(e) + CH(e, f, g) + (kw);                               \
    uint t2 = BS0(a) + MAJ(a, b, c);                                           \
    (d) += t1;                                                                 \
    (h) = t1 + t2;                                                             \
  } while (0)

#define EIGHT(w, i)                                                            \
  ROUND(a, b, c, d, e, f, g, h, K[(i) + 0] + w[(i) + 0]);                      \
  ROUND(h, a, b, c, d, e, f, g, K[(i) + 1] + w[(i) + 1]);                      \
  ROUND(g, h, a, b, c, d, e, f, K[(i) + 2] + w[(i) + 2]);                      \
  ROUND(f, g, h, a, b, c, d, e, K[(i) + 3] + w[(i) + 3]);                      \
  ROUND(e, f, g, h, a, b, c, d, K[(i) + 4] + w[(i) + 4]);                      \
  ROUND(d, e, f, g, h, a, b, c, K[(i) + 5] + w[(i) + 5]);                      \
  ROUND(c, d, e, f, g, h, a, b, K[(i) + 6] + w[(i) + 6]);                      \
  ROUND(b, c, d, e, f, g, h, a, K[(i) + 7] + w[(i) + 7])

// expand fills w[16..63] from w[0..15].
inline void expand(uint *w) {
#pragma unroll
  for (int i = 16; i < 64; i++)
    w[i] = SS1(w[i - 2]) + w[i - 7] + SS0(w[i - 15]) + w[i - 16];
}

__kernel void scan(uint m0, uint m1, uint m2, uint m3, uint m4, uint m5,
                   uint m6, uint m7, uint t0, uint t1, uint t2, uint base,
                   uint iters, uint limit, __global uint *out,
                   __global volatile uint *count, uint capacity) {
  uint gid = get_global_id(0);
  uint stride = get_global_size(0);
  for (uint it = 0; it < iters; it++) {
    uint nonce = base + gid + it * stride;
    uint w[64];
    w[0] = t0;
    w[1] = t1;
    w[2] = t2;
    // The header stores the nonce little-endian; SHA-256 reads big-endian.
    w[3] = as_uint(as_uchar4(nonce).s3210);
    w[4] = 0x80000000;
#pragma unroll
    for (int i = 5; i < 15; i++)
      w[i] = 0;
    w[15] = 640;
    expand(w);
    uint a = m0, b = m1, c = m2, d = m3, e = m4, f = m5, g = m6, h = m7;
#pragma unroll
    for (int i = 0; i < 64; i += 8) {
      EIGHT(w, i);
    }
    w[0] = a + m0;
    w[1] = b + m1;
    w[2] = c + m2;
    w[3] = d + m3;
    w[4] = e + m4;
    w[5] = f + m5;
    w[6] = g + m6;
    w[7] = h + m7;
    w[8] = 0x80000000;
#pragma unroll
    for (int i = 9; i < 15; i++)
      w[i] = 0;
    w[15] = 256;
    expand(w);
    a = IV0, b = IV1, c = IV2, d = IV3, e = IV4, f = IV5, g = IV6, h = IV7;
#pragma unroll
    for (int i = 0; i < 56; i += 8) {
      EIGHT(w, i);
    }
    // Rounds 56..60: the state word that ends up as H7 is final after
    // round 60 (it only moves along in rounds 61..63).
    ROUND(a, b, c, d, e, f, g, h, K[56] + w[56]);
    ROUND(h, a, b, c, d, e, f, g, K[57] + w[57]);
    ROUND(g, h, a, b, c, d, e, f, K[58] + w[58]);
    ROUND(f, g, h, a, b, c, d, e, K[59] + w[59]);
    ROUND(e, f, g, h, a, b, c, d, K[60] + w[60]);
    // Round 60 added T1 into the variable named h: that is the state's e,
    // which becomes H7 (before the IV) three rounds later.
    uint top = as_uint(as_uchar4(h + IV7).s3210);
    if (top <= limit) {
      uint slot = atomic_inc(count);
      if (slot < capacity)
        out[slot] = nonce;
    }
  }
}
