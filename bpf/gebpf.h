/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* gebpf.h --- fixed BPF-side helper code for the C that guile-ebpf
   generates from bpf-fn bodies: packet parsing with the bounds checks the
   verifier needs, histogram bucketing, map increments, small value types.

   Generated programs include this after the kernel headers (uapi headers,
   or vmlinux.h for programs that use CO-RE) and libbpf's bpf_helpers.h and
   bpf_endian.h.  Everything is static __always_inline: one BPF function
   per program.  */
#ifndef GEBPF_BPF_H
#define GEBPF_BPF_H

#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif
#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#ifndef BPF_F_USER_STACK
#define BPF_F_USER_STACK (1ULL << 8)
#endif
#ifndef BPF_F_CURRENT_CPU
#define BPF_F_CURRENT_CPU 0xffffffffULL
#endif

#ifndef __VMLINUX_H__
/* linux/icmp.h pulls in libc's socket headers, which do not build for
   the BPF target: the ICMP header is declared here instead.  */
struct icmphdr
{
  __u8 type;
  __u8 code;
  __sum16 checksum;
  union
  {
    struct
    {
      __be16 id;
      __be16 sequence;
    } echo;
    __be32 gateway;
    struct
    {
      __be16 __unused;
      __be16 mtu;
    } frag;
    __u8 reserved[4];
  } un;
};
#endif

/* Value types with a fixed layout (the Scheme types mac, (prefix ipv4),
   (prefix ipv6)); strings, byte strings and arrays are declared by the
   generated code as one-member structs so they can be copied.  */
struct gebpf_mac { __u8 b[6]; };
struct gebpf_lpm4 { __u32 prefixlen; __be32 addr; };
struct gebpf_lpm6 { __u32 prefixlen; struct in6_addr addr; };

#define GEBPF_MIN(a, b) ({ __auto_type __a = (a); __auto_type __b = (b); \
      __a < __b ? __a : __b; })
#define GEBPF_MAX(a, b) ({ __auto_type __a = (a); __auto_type __b = (b); \
      __a > __b ? __a : __b; })

static __always_inline int
gebpf_bytes_eq (const void *a, const void *b, unsigned long n)
{
  const __u8 *x = a, *y = b;
  for (unsigned long i = 0; i < n; i++)
    if (x[i] != y[i])
      return 0;
  return 1;
}

/* A fixed-size string value against a literal: equal up to the literal's
   NUL (which the value must also have, unless it is full).  */
/* (string=? A B) (PREFIX = 0) or (string-prefix? A B) (PREFIX = 1) of
   the NUL-padded char arrays A[NA] and B[NB]: a string ends at its first
   NUL or at its array's end.  The loop is bounded by the smaller size,
   a constant once inlined, so the verifier sees every index.  */
static __always_inline int
gebpf_str_test (const char *a, unsigned long na, const char *b,
                unsigned long nb, int prefix)
{
  unsigned long n = na < nb ? na : nb;
  for (unsigned long i = 0; i < n; i++)
    {
      if (prefix && a[i] == 0)
        return 1;
      if (a[i] != b[i])
        return 0;
      if (a[i] == 0)
        return 1;
    }
  /* No NUL in the first N bytes: the shorter array is full.  */
  if (na == nb)
    return 1;
  if (na < nb)
    return prefix || b[na] == 0;
  return a[nb] == 0;
}

static __always_inline int
gebpf_str_eq (const char *s, unsigned long n, const char *lit,
              unsigned long litlen)
{
  if (litlen > n)
    return 0;
  for (unsigned long i = 0; i < litlen; i++)
    if (s[i] != lit[i])
      return 0;
  return litlen == n || s[litlen] == 0;
}

static __always_inline int
gebpf_ip6_eq (struct in6_addr a, struct in6_addr b)
{
  return a.in6_u.u6_addr32[0] == b.in6_u.u6_addr32[0]
    && a.in6_u.u6_addr32[1] == b.in6_u.u6_addr32[1]
    && a.in6_u.u6_addr32[2] == b.in6_u.u6_addr32[2]
    && a.in6_u.u6_addr32[3] == b.in6_u.u6_addr32[3];
}

/* ---- packets with direct access (xdp, tc: from L2; cgroup-skb: L3) ---- */

static __always_inline struct ethhdr *
gebpf_eth (void *data, void *end)
{
  struct ethhdr *e = data;
  if ((void *) (e + 1) > end)
    return 0;
  return e;
}

/* An 802.1Q / 802.1ad tag after the MAC addresses (linux/if_vlan.h is
   not a uapi header).  */
struct gebpf_vlan
{
  __be16 tci;
  __be16 proto;                 /* the ethertype it encapsulates */
};
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Hide a value from clang's optimizer (the verifier still tracks it), so
   that the arithmetic below stays arithmetic instead of becoming
   branches.  */
#define GEBPF_OPAQUE(x) asm volatile ("" : "+r" (x))

/* 1 when the ethertype P (as in the frame) is a VLAN tag, else 0,
   without a branch: (a - 1) >> 31 is 1 for a == 0 and 0 for any other
   16-bit a.  */
static __always_inline __u32
gebpf_vlan_tag (__u32 p)
{
  __u32 a = p ^ bpf_htons (ETH_P_8021Q), b = p ^ bpf_htons (ETH_P_8021AD);
  GEBPF_OPAQUE (a);
  GEBPF_OPAQUE (b);
  return ((a - 1) >> 31 | (b - 1) >> 31) & 1;
}

/* L3 header of PROTO (ETH_P_IP or ETH_P_IPV6) after an Ethernet header
   and at most two VLAN tags (802.1Q, or QinQ with an 802.1ad outer
   tag).  The tags are stepped over by arithmetic, not branches: a body
   parses headers many times, and a branch per parse would multiply the
   paths the verifier walks (one per tag count, per parse).  The offset
   of the L3 header is then a variable in [0, 8] past the MAC header,
   which the verifier bounds like any other.  */
static __always_inline void *
gebpf_l3 (void *data, void *end, __u16 proto, unsigned long size)
{
  struct ethhdr *e = data;
  /* Two tags' ethertypes are read unconditionally: a frame shorter than
     that holds no IP header anyway.  */
  if (data + sizeof (struct ethhdr) + 2 * sizeof (struct gebpf_vlan) > end)
    return 0;
  __u32 p0 = e->h_proto;
  __u32 p1 = ((struct gebpf_vlan *) (e + 1))->proto;
  __u32 p2 = ((struct gebpf_vlan *) (e + 1))[1].proto;
  __u32 t1 = gebpf_vlan_tag (p0);
  GEBPF_OPAQUE (t1);
  __u32 p = p0 ^ ((p0 ^ p1) & -t1);
  __u32 t2 = t1 & gebpf_vlan_tag (p);
  GEBPF_OPAQUE (t2);
  p ^= (p ^ p2) & -t2;
  void *l3 = (void *) (e + 1) + (t1 + t2) * sizeof (struct gebpf_vlan);
  if (p != bpf_htons (proto) || l3 + size > end)
    return 0;
  return l3;
}

static __always_inline struct iphdr *
gebpf_ip4 (void *data, void *end)
{
  return gebpf_l3 (data, end, ETH_P_IP, sizeof (struct iphdr));
}

static __always_inline struct ipv6hdr *
gebpf_ip6 (void *data, void *end)
{
  return gebpf_l3 (data, end, ETH_P_IPV6, sizeof (struct ipv6hdr));
}

/* cgroup-skb: the packet starts at the network header.  */
static __always_inline struct iphdr *
gebpf_ip4_l3 (void *data, void *end, __u32 skb_proto)
{
  struct iphdr *ip = data;
  if (skb_proto != bpf_htons (ETH_P_IP) || (void *) (ip + 1) > end)
    return 0;
  return ip;
}

static __always_inline struct ipv6hdr *
gebpf_ip6_l3 (void *data, void *end, __u32 skb_proto)
{
  struct ipv6hdr *ip = data;
  if (skb_proto != bpf_htons (ETH_P_IPV6) || (void *) (ip + 1) > end)
    return 0;
  return ip;
}

/* The L4 header of PROTO after an IPv4 header, bounds checked for SIZE.  */
static __always_inline void *
gebpf_l4_of_ip4 (struct iphdr *ip, void *end, __u8 proto, unsigned long size)
{
  if (!ip || ip->protocol != proto || ip->ihl < 5)
    return 0;
  void *l4 = (void *) ip + ip->ihl * 4;
  if (l4 + size > end)
    return 0;
  return l4;
}

/* After an IPv6 header: the next header directly (extension headers are
   not walked; use ipv6-nexthdr to see them).  */
static __always_inline void *
gebpf_l4_of_ip6 (struct ipv6hdr *ip6, void *end, __u8 proto,
                 unsigned long size)
{
  if (!ip6 || ip6->nexthdr != proto)
    return 0;
  void *l4 = (void *) (ip6 + 1);
  if (l4 + size > end)
    return 0;
  return l4;
}

static __always_inline void *
gebpf_l4 (struct iphdr *ip, struct ipv6hdr *ip6, void *end, __u8 proto4,
          __u8 proto6, unsigned long size)
{
  void *l4 = gebpf_l4_of_ip4 (ip, end, proto4, size);
  if (l4)
    return l4;
  return gebpf_l4_of_ip6 (ip6, end, proto6, size);
}

static __always_inline __u8
gebpf_l4proto (struct iphdr *ip, struct ipv6hdr *ip6)
{
  if (ip)
    return ip->protocol;
  if (ip6)
    return ip6->nexthdr;
  return 0;
}

/* ---- packet writes: incremental checksums (RFC 1624) ------------------ */

/* A field changed from the 16-bit words OLD to NEW (N words, as they are
   in the packet): HC' = ~(~HC + ~m + m') for each word.  The sum is the
   same in either byte order, so the words are used as loaded.  UDP
   writes 0xffff for a zero result (0 there means "no checksum").  */
static __always_inline void
gebpf_csum_update (__sum16 *check, const __u16 *old, const __u16 *new,
                   int n, int udp)
{
  __u32 s = (__u16) ~*check;
  for (int i = 0; i < n; i++)
    s += (__u16) ~old[i] + (__u32) new[i];
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  __u16 r = (__u16) ~s;
  *check = udp && r == 0 ? 0xffff : r;
}

/* The checksum of the L4 header at L4 (protocol PROTO) whose
   pseudo-header holds the words that changed; ICMP has no pseudo-header
   over IPv4, ICMPv6 has one.  A UDP checksum of 0 stays 0 (none).  */
static __always_inline void
gebpf_fix_pseudo (void *l4, void *end, __u8 proto, int v6, const __u16 *old,
                  const __u16 *new, int n)
{
  if (proto == IPPROTO_TCP)
    {
      struct tcphdr *t = l4;
      if ((void *) (t + 1) <= end)
        gebpf_csum_update (&t->check, old, new, n, 0);
    }
  else if (proto == IPPROTO_UDP)
    {
      struct udphdr *u = l4;
      if ((void *) (u + 1) <= end && u->check)
        gebpf_csum_update (&u->check, old, new, n, 1);
    }
  else if (v6 && proto == IPPROTO_ICMPV6)
    {
      struct icmphdr *c = l4;
      if ((void *) (c + 1) <= end)
        gebpf_csum_update (&c->checksum, old, new, n, 0);
    }
}

/* After set-field! on an IPv4 header: its checksum, and for an address
   the TCP/UDP checksum (not in a later fragment, which has no L4
   header).  */
static __always_inline void
gebpf_fix_ip4 (struct iphdr *ip, void *end, const __u16 *old,
               const __u16 *new, int n, int pseudo)
{
  gebpf_csum_update (&ip->check, old, new, n, 0);
  if (!pseudo || ip->ihl < 5 || (bpf_ntohs (ip->frag_off) & 0x1fff))
    return;
  gebpf_fix_pseudo ((void *) ip + ip->ihl * 4, end, ip->protocol, 0, old, new,
                    n);
}

/* IPv6 has no header checksum; an address is in the pseudo-header of
   the L4 header that follows directly (extension headers are not
   walked, as in packet-tcp).  */
static __always_inline void
gebpf_fix_ip6 (struct ipv6hdr *ip6, void *end, const __u16 *old,
               const __u16 *new, int n, int pseudo)
{
  if (pseudo)
    gebpf_fix_pseudo (ip6 + 1, end, ip6->nexthdr, 1, old, new, n);
}

static __always_inline void
gebpf_fix_tcp (struct tcphdr *t, void *end, const __u16 *old,
               const __u16 *new, int n, int pseudo)
{
  (void) end;
  (void) pseudo;
  gebpf_csum_update (&t->check, old, new, n, 0);
}

/* UDP's length is both in the header and in the pseudo-header: PSEUDO
   counts its change twice.  */
static __always_inline void
gebpf_fix_udp (struct udphdr *u, void *end, const __u16 *old,
               const __u16 *new, int n, int pseudo)
{
  (void) end;
  if (!u->check)
    return;
  gebpf_csum_update (&u->check, old, new, n, 1);
  if (pseudo)
    gebpf_csum_update (&u->check, old, new, n, 1);
}

static __always_inline void
gebpf_fix_icmp (struct icmphdr *c, void *end, const __u16 *old,
                const __u16 *new, int n, int pseudo)
{
  (void) end;
  (void) pseudo;
  gebpf_csum_update (&c->checksum, old, new, n, 0);
}

/* ---- socket filters: headers copied with bpf_skb_load_bytes_relative ---- */

static __always_inline void *
gebpf_sf_load (struct __sk_buff *skb, __u32 off, void *buf, __u32 len,
               __u32 start)
{
  if (bpf_skb_load_bytes_relative (skb, off, buf, len, start) < 0)
    return 0;
  return buf;
}

static __always_inline struct iphdr *
gebpf_sf_ip4 (struct __sk_buff *skb, struct iphdr *buf)
{
  if (skb->protocol != bpf_htons (ETH_P_IP))
    return 0;
  return gebpf_sf_load (skb, 0, buf, sizeof *buf, BPF_HDR_START_NET);
}

static __always_inline struct ipv6hdr *
gebpf_sf_ip6 (struct __sk_buff *skb, struct ipv6hdr *buf)
{
  if (skb->protocol != bpf_htons (ETH_P_IPV6))
    return 0;
  return gebpf_sf_load (skb, 0, buf, sizeof *buf, BPF_HDR_START_NET);
}

static __always_inline void *
gebpf_sf_l4 (struct __sk_buff *skb, struct iphdr *ip, struct ipv6hdr *ip6,
             __u8 proto4, __u8 proto6, void *buf, __u32 len)
{
  if (ip && ip->protocol == proto4 && ip->ihl >= 5)
    return gebpf_sf_load (skb, ip->ihl * 4, buf, len, BPF_HDR_START_NET);
  if (ip6 && ip6->nexthdr == proto6)
    return gebpf_sf_load (skb, sizeof (struct ipv6hdr), buf, len,
                          BPF_HDR_START_NET);
  return 0;
}

/* ---- histograms ------------------------------------------------------ */

/* Bucket of V in a log2 histogram: 0 holds 0, bucket k (1 <= k <= 63)
   holds [2^(k-1), 2^k), and 64 the values negative as signed 64-bit
   (bpftrace's "(..., 0)"), which is where their top bit puts them.  */
static __always_inline __u32
gebpf_log2_bucket (__u64 v)
{
  __u32 b = 0;
  if (v == 0)
    return 0;
#pragma unroll
  for (int s = 32; s > 0; s >>= 1)
    if (v >> s)
      {
        v >>= s;
        b += s;
      }
  return b + 1;
}

/* Bucket of V in a linear histogram: 0 below MIN, 1 + (V - MIN) / STEP
   inside, and the last bucket at or above MAX.  */
static __always_inline __u32
gebpf_lin_bucket (__u64 v, __u64 min, __u64 max, __u64 step)
{
  if (v < min)
    return 0;
  if (v >= max)
    return (max - min) / step + 1;
  return (v - min) / step + 1;
}

/* The same for a signed V: a negative value is below MIN (>= 0), not a
   huge unsigned one at or above MAX.  */
static __always_inline __u32
gebpf_lin_bucket_s (__s64 v, __u64 min, __u64 max, __u64 step)
{
  if (v < (__s64) min)
    return 0;
  return gebpf_lin_bucket ((__u64) v, min, max, step);
}

static __always_inline void
gebpf_hist_slot (void *map, __u32 slot)
{
  __u64 *c = bpf_map_lookup_elem (map, &slot);
  if (c)
    *c += 1;                    /* per-CPU: no atomics needed */
}

static __always_inline void
gebpf_hist_keyed (void *map, void *key)
{
  __u64 *c = bpf_map_lookup_elem (map, key);
  if (c)
    {
      *c += 1;
      return;
    }
  __u64 one = 1;
  if (bpf_map_update_elem (map, key, &one, BPF_NOEXIST) < 0)
    {
      c = bpf_map_lookup_elem (map, key);
      if (c)
        *c += 1;
    }
}

/* ---- counting --------------------------------------------------------- */

/* Add N to the element of type T under KEYP of an array (entries always
   exist), atomically when CPUs share the value.  */
#define GEBPF_ARRAY_ADD(map, keyp, n, T) ({                                \
      T *__v = bpf_map_lookup_elem (map, keyp);                          \
      if (__v)                                                           \
        *__v += (T) (n);                                                 \
    })
#define GEBPF_ARRAY_ADD_ATOMIC(map, keyp, n, T) ({                         \
      T *__v = bpf_map_lookup_elem (map, keyp);                          \
      if (__v)                                                           \
        __sync_fetch_and_add (__v, (T) (n));                             \
    })

/* Per-CPU hash: this CPU's value, no atomics; a missing key is created
   holding N.  */
#define GEBPF_PERCPU_INC(map, keyp, n, T) ({                               \
      T *__v = bpf_map_lookup_elem (map, keyp);                          \
      if (__v)                                                           \
        *__v += (T) (n);                                                 \
      else                                                               \
        {                                                                \
          T __n = (T) (n);                                               \
          bpf_map_update_elem (map, keyp, &__n, BPF_NOEXIST);            \
        }                                                                \
    })

/* Add N to the integer of type T under KEYP, creating it at 0 first.  */
#define GEBPF_MAP_INC(map, keyp, n, T) ({                                  \
      T *__v = bpf_map_lookup_elem (map, keyp);                          \
      if (!__v)                                                          \
        {                                                                \
          T __z = 0;                                                     \
          bpf_map_update_elem (map, keyp, &__z, BPF_NOEXIST);            \
          __v = bpf_map_lookup_elem (map, keyp);                         \
        }                                                                \
      if (__v)                                                           \
        __sync_fetch_and_add (__v, (T) (n));                             \
    })

/* ---- events ---------------------------------------------------------- */

/* emit!: copy SIZE bytes at DATA into ring buffer RB.  CTL is the ring's
   control map, a two-slot per-CPU array shared with user space: slot 1
   holds the flags for bpf_ringbuf_output (0, or BPF_RB_NO_WAKEUP while a
   consumer drains the ring on an interval), slot 0 counts the records
   dropped because the ring was full (bpf-ringbuf-stats adds the CPUs).  */
static __always_inline long
gebpf_ringbuf_emit (void *rb, void *ctl, void *data, __u64 size)
{
  __u32 slot = 1;
  __u64 *flags = bpf_map_lookup_elem (ctl, &slot);
  long r = bpf_ringbuf_output (rb, data, size, flags ? *flags : 0);
  if (r < 0)
    {
      slot = 0;
      __u64 *dropped = bpf_map_lookup_elem (ctl, &slot);
      if (dropped)
        __sync_fetch_and_add (dropped, 1);
    }
  return r;
}

#endif
