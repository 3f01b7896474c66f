/* emit-packet.c --- emit pass: packet headers, fields and writes.

   Bounds-checked header access for XDP and TC programs and the stores
   into packet memory (with checksum updates).  Separate from emit.c
   because only packet kinds use it and its safety rules (data/data_end
   checks the verifier demands) are its own.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "emit.h"

const char *
gebpf_emit_packet_data (struct emit *E)
{
  return E->L->kind == PK_XDP ? "(void *)(long)ctx->data"
    : "(void *)(long)ctx->data";
}

const char *
gebpf_emit_packet_end (struct emit *E)
{
  (void) E;
  return "(void *)(long)ctx->data_end";
}

/* Header pointer of a packet form.  */
void
gebpf_emit_ex_header (struct emit *E, struct buf *b, struct node *n)
{
  int kind = E->L->kind;
  bool l3 = kind == PK_CGROUP_SKB;
  bool sf = kind == PK_SOCKET_FILTER;
  const char *d = gebpf_emit_packet_data (E), *e = gebpf_emit_packet_end (E);
  struct node *arg = n->kid[0];
  switch (n->op)
    {
    case OP_PKT_ETH:
      if (sf)
        {
          bs (b, "((struct ethhdr *)gebpf_sf_load (ctx, 0, &__sf_eth, "
              "sizeof __sf_eth, BPF_HDR_START_MAC))");
          return;
        }
      if (l3)
        {
          bs (b, "((struct ethhdr *)0)");
          return;
        }
      bf (b, "gebpf_eth (%s, %s)", d, e);
      return;
    case OP_PKT_IPV4:
      if (sf)
        bs (b, "gebpf_sf_ip4 (ctx, &__sf_ip4)");
      else if (l3)
        bf (b, "gebpf_ip4_l3 (%s, %s, ctx->protocol)", d, e);
      else
        bf (b, "gebpf_ip4 (%s, %s)", d, e);
      return;
    case OP_PKT_IPV6:
      if (sf)
        bs (b, "gebpf_sf_ip6 (ctx, &__sf_ip6)");
      else if (l3)
        bf (b, "gebpf_ip6_l3 (%s, %s, ctx->protocol)", d, e);
      else
        bf (b, "gebpf_ip6 (%s, %s)", d, e);
      return;
    default:
      break;
    }
  const char *st = n->op == OP_PKT_TCP ? "struct tcphdr"
    : n->op == OP_PKT_UDP ? "struct udphdr" : "struct icmphdr";
  int p4 = n->op == OP_PKT_TCP ? 6 : n->op == OP_PKT_UDP ? 17 : 1;
  int p6 = n->op == OP_PKT_TCP ? 6 : n->op == OP_PKT_UDP ? 17 : 58;
  const char *buf = n->op == OP_PKT_TCP ? "__sf_tcp"
    : n->op == OP_PKT_UDP ? "__sf_udp" : "__sf_icmp";
  if (arg->ty == TY_HDR)
    {
      /* (packet-tcp IP): from a header the program already has.  */
      if (sf)
        {
          bf (b, "((%s *)gebpf_sf_l4 (ctx, ", st);
          if (arg->hdr == H_IPV4)
            {
              gebpf_emit_ex (E, b, arg);
              bs (b, ", 0, ");
            }
          else
            {
              bs (b, "0, ");
              gebpf_emit_ex (E, b, arg);
              bs (b, ", ");
            }
          bf (b, "%d, %d, &%s, sizeof %s))", p4, p6, buf, buf);
          return;
        }
      bf (b, "((%s *)gebpf_l4_of_%s (", st, arg->hdr == H_IPV4 ? "ip4" : "ip6");
      gebpf_emit_ex (E, b, arg);
      bf (b, ", %s, %d, sizeof (%s)))", e, arg->hdr == H_IPV4 ? p4 : p6, st);
      return;
    }
  if (sf)
    bf (b, "((%s *)gebpf_sf_l4 (ctx, gebpf_sf_ip4 (ctx, &__sf_ip4), "
        "gebpf_sf_ip6 (ctx, &__sf_ip6), %d, %d, &%s, sizeof %s))",
        st, p4, p6, buf, buf);
  else if (l3)
    bf (b, "((%s *)gebpf_l4 (gebpf_ip4_l3 (%s, %s, ctx->protocol), "
        "gebpf_ip6_l3 (%s, %s, ctx->protocol), %s, %d, %d, sizeof (%s)))",
        st, d, e, d, e, e, p4, p6, st);
  else
    bf (b, "((%s *)gebpf_l4 (gebpf_ip4 (%s, %s), gebpf_ip6 (%s, %s), %s, "
        "%d, %d, sizeof (%s)))", st, d, e, d, e, e, p4, p6, st);
}

void
gebpf_emit_ex_field (struct emit *E, struct buf *b, struct node *n)
{
  const struct hfield *f = gebpf_hfield (n->field);
  int k = gebpf_emit_tmp (E);
  bf (b, "({ __auto_type __h%d = ", k);
  gebpf_emit_ex (E, b, n->kid[0]);
  bf (b, "; ");
  char acc[128];
  snprintf (acc, sizeof acc, "__h%d->%s", k, f->c);
  switch (f->ty)
    {
    case TY_IPV4:
      bf (b, "__h%d ? %s : 0; })", k, acc);
      return;
    case TY_IPV6:
      bf (b, "__h%d ? %s : (struct in6_addr){}; })", k, acc);
      return;
    case TY_MAC:
      bf (b, "__h%d ? *(struct gebpf_mac *)%s : (struct gebpf_mac){}; })", k,
          acc);
      return;
    case TY_BOOL:
      bf (b, "__h%d ? (int)!!%s : 0; })", k, acc);
      return;
    default:
      break;
    }
  if (f->conv == 16)
    bf (b, "__h%d ? (__u64)bpf_ntohs (%s) : 0; })", k, acc);
  else if (f->conv == 32)
    bf (b, "__h%d ? (__u64)bpf_ntohl (%s) : 0; })", k, acc);
  else if (f->conv == 'F')
    bf (b, "__h%d ? (__u64)((__u8 *)__h%d)[13] : 0; })", k, k);
  else if (f->conv == 'l')
    bf (b, "__h%d ? (__u64)((__h%d->flow_lbl[0] & 0xf) << 16 | "
        "__h%d->flow_lbl[1] << 8 | __h%d->flow_lbl[2]) : 0; })", k, k, k, k);
  else
    bf (b, "__h%d ? (__u64)%s : 0; })", k, acc);
}

/* ---- packet writes ---------------------------------------------------- */

/* (set-field! H 'F V): V in the accessors' representation (host order
   for integers; mac, ipv4 and ipv6 as in the packet) stored at F, with
   the 16-bit words covering F read before and after the store so that
   gebpf_fix_HDR can update the checksums incrementally (RFC 1624).  */
static void
ex_set_field (struct emit *E, struct buf *b, struct node *n)
{
  static const char *fixes[] = { [H_IPV4] = "ip4", [H_IPV6] = "ip6",
                                 [H_TCP] = "tcp", [H_UDP] = "udp",
                                 [H_ICMP] = "icmp" };
  if (n->kid[0]->ty == TY_CTX)
    {
      /* A socket buffer field (types.c's type_ctx_field): the kernel
         rewrites the store into the skb's own member.  */
      bf (b, "({ ctx->%s = (__u32)", gebpf_ctxfield (n->field)->name);
      gebpf_emit_ex_int (E, b, n->kid[2]);
      bs (b, "; })");
      return;
    }
  if (n->st)
    {
      /* A field of a struct in a map's memory (types.c's
         type_struct_write): nothing to do for a null pointer.  */
      int k = gebpf_emit_tmp (E);
      char lv[160];
      bf (b, "({ __auto_type __p%d = ", k);
      gebpf_emit_ex (E, b, n->kid[0]);
      bf (b, "; if (__p%d) { ", k);
      snprintf (lv, sizeof lv, "__p%d->%s", k,
                uid (n->st->fields[n->field].cname));
      gebpf_emit_fill (E, b, n->st->fields[n->field].type, lv, n->kid[2]);
      bs (b, "} })");
      return;
    }
  const struct sfield *f = gebpf_sfield (n->field);
  if (E->in_inline)
    gebpf_lower_error (E->L, n, "write packets in the program's body",
                       "set-field! inside define-bpf-inline");
  int k = gebpf_emit_tmp (E);
  bf (b, "({ __auto_type __h%d = ", k);
  gebpf_emit_ex (E, b, n->kid[0]);
  bs (b, "; ");
  switch (f->ty)
    {
    case TY_MAC:
      bf (b, "struct gebpf_mac __n%d = ", k);
      gebpf_emit_ex (E, b, n->kid[2]);
      break;
    case TY_IPV4:
      bf (b, "__be32 __n%d = ", k);
      gebpf_emit_ex (E, b, n->kid[2]);
      break;
    case TY_IPV6:
      bf (b, "struct in6_addr __n%d = ", k);
      gebpf_emit_ex (E, b, n->kid[2]);
      break;
    default:
      if (f->mask)
        {
          /* A flag bit: true sets it, false clears it.  */
          bf (b, "__u8 __n%d = (", k);
          gebpf_emit_ex_int (E, b, n->kid[2]);
          bf (b, ") ? 0x%02x : 0", f->mask);
          break;
        }
      bf (b, "__u%d __n%d = %s((__u%d)", f->size * 8, k,
          f->conv == 16 ? "bpf_htons " : f->conv == 32 ? "bpf_htonl " : "",
          f->size * 8);
      gebpf_emit_ex_int (E, b, n->kid[2]);
      bs (b, ")");
      break;
    }
  bf (b, "; if (__h%d) { ", k);
  int woff = f->off & ~1, wend = (f->off + f->size + 1) & ~1;
  int nw = (wend - woff) / 2;
  bool fix = f->csum == SF_COVERED || f->csum == SF_PSEUDO;
  if (fix)
    bf (b, "__u16 __o%d[%d], __w%d[%d]; __builtin_memcpy (__o%d, "
        "(__u8 *)__h%d + %d, %d); ", k, nw, k, nw, k, k, woff, nw * 2);
  if (f->mask)
    bf (b, "__n%d |= ((__u8 *)__h%d)[%d] & 0x%02x; ", k, k, f->off,
        ~f->mask & 0xff);
  bf (b, "__builtin_memcpy ((__u8 *)__h%d + %d, &__n%d, %d); ", k, f->off, k,
      f->size);
  if (fix)
    bf (b, "__builtin_memcpy (__w%d, (__u8 *)__h%d + %d, %d); "
        "gebpf_fix_%s (__h%d, %s, __o%d, __w%d, %d, %d); ", k, k, woff,
        nw * 2, fixes[f->hdr], k, gebpf_emit_packet_end (E), k, k, nw,
        f->csum == SF_PSEUDO);
  bs (b, "} })");
}

void
gebpf_emit_ex_packet_write (struct emit *E, struct buf *b, struct node *n)
{
  switch (n->op)
    {
    case OP_SET_FIELD:
      ex_set_field (E, b, n);
      return;
    case OP_XDP_ADJUST_HEAD:
    case OP_XDP_ADJUST_TAIL:
      if (E->in_inline)
        gebpf_lower_error (E->L, n, "adjust the packet in the program's body",
                           "%s inside define-bpf-inline", n->name);
      bf (b, "((__s64)bpf_xdp_adjust_%s (ctx, (int)",
          n->op == OP_XDP_ADJUST_HEAD ? "head" : "tail");
      gebpf_emit_ex_int (E, b, n->kid[1]);
      bs (b, "))");
      return;
    case OP_REDIRECT:
    case OP_REDIRECT_PEER:
      bf (b, "((__u64)(__u32)bpf_redirect%s ((__u32)",
          n->op == OP_REDIRECT_PEER ? "_peer" : "");
      gebpf_emit_ex_int (E, b, n->kid[0]);
      bs (b, ", 0))");
      return;
    case OP_FIB_LOOKUP: case OP_FIB_STATUS:
      {
        /* The kernel's forwarding decision for the packet's addresses,
           from the interface it came in on (xdp-tutorial's xdp_router):
           on success the next hop's MAC and the egress interface's go
           into the Ethernet header and the egress ifindex is the value;
           anything else (no route, no neighbour yet, forwarding off) is
           0, and the stack, given the packet, decides.
           fib-lookup-status only asks: its value is the kernel's
           BPF_FIB_LKUP_RET_* code (NOT_FWDED without an IP header), so
           that a blackhole can be told from an unresolved neighbour.  */
        gebpf_emit_gpl_only (E, n, "bpf_fib_lookup");
        int k = gebpf_emit_tmp (E);
        bool v6 = n->kid[1]->hdr == H_IPV6;
        bool status = n->op == OP_FIB_STATUS;
        if (status)
          bf (b, "({ __s64 __r%d = BPF_FIB_LKUP_RET_NOT_FWDED; "
              "__auto_type __i%d = ", k, k);
        else
          bf (b, "({ __u64 __r%d = 0; __auto_type __i%d = ", k, k);
        gebpf_emit_ex (E, b, n->kid[1]);
        bf (b, "; struct ethhdr *__e%d = gebpf_eth (%s, %s); "
            "if (__i%d && __e%d) { struct bpf_fib_lookup __f%d; "
            "__builtin_memset (&__f%d, 0, sizeof __f%d); ", k,
            gebpf_emit_packet_data (E), gebpf_emit_packet_end (E), k, k, k,
            k, k);
        if (v6)
          bf (b, "__f%d.family = 10; __f%d.flowinfo = *(__be32 *)__i%d "
              "& bpf_htonl (0x0FFFFFFF); __f%d.l4_protocol = __i%d->nexthdr; "
              "__f%d.tot_len = bpf_ntohs (__i%d->payload_len); "
              "__builtin_memcpy (__f%d.ipv6_src, &__i%d->saddr, 16); "
              "__builtin_memcpy (__f%d.ipv6_dst, &__i%d->daddr, 16); ",
              k, k, k, k, k, k, k, k, k, k, k);
        else
          bf (b, "__f%d.family = 2; __f%d.tos = __i%d->tos; "
              "__f%d.l4_protocol = __i%d->protocol; "
              "__f%d.tot_len = bpf_ntohs (__i%d->tot_len); "
              "__f%d.ipv4_src = __i%d->saddr; __f%d.ipv4_dst = __i%d->daddr; ",
              k, k, k, k, k, k, k, k, k, k, k);
        if (status)
          {
            bf (b, "__f%d.ifindex = ctx->%s; "
                "__r%d = bpf_fib_lookup (ctx, &__f%d, sizeof __f%d, 0); } "
                "__r%d; })", k, E->L->kind == PK_XDP ? "ingress_ifindex"
                : "ifindex", k, k, k, k);
            return;
          }
        bf (b, "__f%d.ifindex = ctx->%s; "
            "if (bpf_fib_lookup (ctx, &__f%d, sizeof __f%d, 0) "
            "== BPF_FIB_LKUP_RET_SUCCESS) { "
            "__builtin_memcpy (__e%d->h_dest, __f%d.dmac, 6); "
            "__builtin_memcpy (__e%d->h_source, __f%d.smac, 6); "
            "__r%d = __f%d.ifindex; } } __r%d; })",
            k, E->L->kind == PK_XDP ? "ingress_ifindex" : "ifindex", k, k,
            k, k, k, k, k, k, k);
        return;
      }
    case OP_REDIRECT_MAP:
      /* Flags 0: a missing key aborts (XDP_ABORTED) rather than passes.  */
      bf (b, "((__u64)(__u32)bpf_redirect_map (&%s, (__u32)",
          gebpf_emit_mapname (n->kid[0]));
      gebpf_emit_ex_int (E, b, n->kid[1]);
      bs (b, ", 0))");
      return;
    default:
      return;
    }
}
