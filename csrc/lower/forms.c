/* forms.c --- the tables of the bpf-fn language: forms and their arity,
   helpers callable through (call ...), keyword constants, packet header
   fields, return actions and program kinds.  Data only; the passes read
   them.  */
#include <config.h>
#include <stdio.h>
#include <string.h>
#include "lower.h"

static const struct form forms[] = {
  {"let", OP_LET, 2, -1, "(let ((VAR EXPR) ...) BODY ...)"},
  {"let*", OP_LETSTAR, 2, -1, "(let* ((VAR EXPR) ...) BODY ...)"},
  {"begin", OP_BEGIN, 1, -1, "(begin EXPR ...)"},
  {"set!", OP_SET, 2, 2, "(set! LOCAL EXPR)"},
  {"if", OP_IF, 2, 3, "(if TEST THEN [ELSE])"},
  {"when", OP_WHEN, 2, -1, "(when TEST BODY ...)"},
  {"unless", OP_UNLESS, 2, -1, "(unless TEST BODY ...)"},
  {"cond", OP_COND, 1, -1, "(cond (TEST BODY ...) ... (else BODY ...))"},
  {"case", OP_CASE, 2, -1, "(case EXPR ((INT ...) BODY ...) ... (else BODY ...))"},
  {"and", OP_AND, 0, -1, "(and EXPR ...)"},
  {"or", OP_OR, 0, -1, "(or EXPR ...)"},
  {"not", OP_NOT, 1, 1, "(not EXPR)"},
  {"do-times", OP_DO_TIMES, 2, -1, "(do-times (VAR CONSTANT) BODY ...)"},
  {"return", OP_RETURN, 0, 1, "(return ACTION-OR-INTEGER)"},
  {"+", OP_ADD, 0, -1, "(+ A B ...)"},
  {"-", OP_SUB, 1, -1, "(- A B ...)"},
  {"*", OP_MUL, 0, -1, "(* A B ...)"},
  {"/", OP_DIV, 2, 2, "(/ A B)"},
  {"modulo", OP_MOD, 2, 2, "(modulo A B)"},
  {"remainder", OP_REM, 2, 2, "(remainder A B)"},
  {"min", OP_MIN, 1, -1, "(min A B ...)"},
  {"max", OP_MAX, 1, -1, "(max A B ...)"},
  {"logand", OP_LOGAND, 1, -1, "(logand A B ...)"},
  {"logior", OP_LOGIOR, 1, -1, "(logior A B ...)"},
  {"logxor", OP_LOGXOR, 1, -1, "(logxor A B ...)"},
  {"lognot", OP_LOGNOT, 1, 1, "(lognot A)"},
  {"ash", OP_ASH, 2, 2, "(ash A SHIFT)"},
  {"=", OP_EQ, 2, 2, "(= A B)"},
  {"!=", OP_NE, 2, 2, "(!= A B)"},
  {"<", OP_LT, 2, 2, "(< A B)"},
  {">", OP_GT, 2, 2, "(> A B)"},
  {"<=", OP_LE, 2, 2, "(<= A B)"},
  {">=", OP_GE, 2, 2, "(>= A B)"},
  {"zero?", OP_ZEROP, 1, 1, "(zero? A)"},
  {"call", OP_CALL, 1, -1, "(call HELPER ARG ...)"},
  {"pid", OP_PID, 0, 0, "(pid)"},
  {"tgid", OP_TGID, 0, 0, "(tgid)"},
  {"tid", OP_TID, 0, 0, "(tid)"},
  {"uid", OP_UID, 0, 0, "(uid)"},
  {"gid", OP_GID, 0, 0, "(gid)"},
  {"cpu", OP_CPU, 0, 0, "(cpu)"},
  {"ktime-ns", OP_KTIME, 0, 0, "(ktime-ns)"},
  {"comm", OP_COMM, 0, 0, "(comm)"},
  {"map-get", OP_MAP_GET, 2, 2, "(map-get MAP KEY)"},
  {"map-ref", OP_MAP_REF, 2, 3, "(map-ref MAP KEY [DEFAULT])"},
  {"map-set", OP_MAP_SET, 3, 3, "(map-set MAP KEY VALUE)"},
  {"map-set!", OP_MAP_SET, 3, 3, "(map-set! MAP KEY VALUE)"},
  {"map-delete!", OP_MAP_DELETE, 2, 2, "(map-delete! MAP KEY)"},
  {"map-increment!", OP_MAP_INC, 2, 3, "(map-increment! MAP KEY [N])"},
  {"hist!", OP_HIST, 2, 3, "(hist! MAP VALUE) or (hist! MAP KEY VALUE)"},
  {"lhist!", OP_LHIST, 5, 5, "(lhist! MAP VALUE MIN MAX STEP)"},
  {"proto", OP_PROTO, 1, 1, "(proto CTX)"},
  {"packet-eth", OP_PKT_ETH, 1, 1, "(packet-eth CTX)"},
  {"packet-ipv4", OP_PKT_IPV4, 1, 1, "(packet-ipv4 CTX)"},
  {"packet-ipv6", OP_PKT_IPV6, 1, 1, "(packet-ipv6 CTX)"},
  {"packet-tcp", OP_PKT_TCP, 1, 1, "(packet-tcp CTX)"},
  {"packet-udp", OP_PKT_UDP, 1, 1, "(packet-udp CTX)"},
  {"packet-icmp", OP_PKT_ICMP, 1, 1, "(packet-icmp CTX)"},
  {"ipv4", OP_IPV4_CONST, 1, 1, "(ipv4 \"10.0.0.1\")"},
  {"ipv6", OP_IPV6_CONST, 1, 1, "(ipv6 \"2001:db8::1\")"},
  {"ipv4-fragment?", OP_FRAGP, 1, 1, "(ipv4-fragment? IP)"},
  {"packet-length", OP_PKT_LEN, 1, 1, "(packet-length CTX)"},
  {"packet-vlan-id", OP_PKT_VLAN, 1, 1, "(packet-vlan-id CTX)"},
  {"packet-ifindex", OP_PKT_IFINDEX, 1, 1, "(packet-ifindex CTX)"},
  {"arg", OP_ARG, 2, 2, "(arg CTX 'FIELD) or (arg CTX N)"},
  {"retval", OP_RETVAL, 1, 1, "(retval CTX)"},
  {"core-read", OP_CORE_READ, 2, -1, "(core-read PTR 'FIELD ...)"},
  {"core-cast", OP_CORE_CAST, 2, 2, "(core-cast PTR 'STRUCT)"},
  {"current-task", OP_CURRENT_TASK, 0, 0, "(current-task)"},
  {"read-user-str", OP_READ_USER_STR, 2, 2, "(read-user-str PTR N)"},
  {"read-kernel-str", OP_READ_KERNEL_STR, 2, 2, "(read-kernel-str PTR N)"},
  {"probe", OP_PROBE, 0, 0, "(probe)"},
  {"usdt-arg", OP_USDT_ARG, 2, 2, "(usdt-arg CTX N)"},
  {"emit!", OP_EMIT, 2, 2, "(emit! RINGBUF VALUE)"},
  {"perf-emit!", OP_PERF_EMIT, 2, 4,
   "(perf-emit! MAP VALUE [#:packet-bytes N])"},
  {"printk", OP_PRINTK, 1, 4, "(printk \"fmt %d\" ARG ...) with at most 3 args"},
  {"const", OP_CONST, 1, 1, "(const NAME)"},
  {"under-cgroup?", OP_UNDER_CGROUP, 2, 2, "(under-cgroup? CGROUP-ARRAY INDEX)"},
  {"stack-id", OP_STACK_ID, 2, 4, "(stack-id CTX STACKMAP [#:user? #t])"},
  {"string=?", OP_STRING_EQ, 2, 2, "(string=? A B) of strings"},
  {"string-prefix?", OP_STRING_PREFIX, 2, 2, "(string-prefix? PREFIX S)"},
  {"read-user", OP_READ_USER, 2, 2, "(read-user PTR 'TYPE)"},
  {"read-kernel", OP_READ_KERNEL, 2, 2, "(read-kernel PTR 'TYPE)"},
  /* packet writes (xdp, tc) */
  {"set-field!", OP_SET_FIELD, 3, 3, "(set-field! HEADER 'FIELD VALUE)"},
  {"ctx-field", OP_CTX_FIELD, 2, 2, "(ctx-field CTX 'FIELD)"},
  {"xdp-adjust-head!", OP_XDP_ADJUST_HEAD, 2, 2, "(xdp-adjust-head! CTX DELTA)"},
  {"xdp-adjust-tail!", OP_XDP_ADJUST_TAIL, 2, 2, "(xdp-adjust-tail! CTX DELTA)"},
  {"redirect", OP_REDIRECT, 1, 1, "(redirect IFINDEX)"},
  {"redirect-peer", OP_REDIRECT_PEER, 1, 1, "(redirect-peer IFINDEX)"},
  {"fib-lookup", OP_FIB_LOOKUP, 2, 2, "(fib-lookup CTX IP-HEADER)"},
  {"fib-lookup-status", OP_FIB_STATUS, 2, 2,
   "(fib-lookup-status CTX IP-HEADER)"},
  {"redirect-map", OP_REDIRECT_MAP, 2, 2, "(redirect-map DEVMAP KEY)"},
  {"kstack", OP_KSTACK, 0, 0, "(kstack)"},
  {"ustack", OP_USTACK, 0, 0, "(ustack)"},
  {NULL, 0, 0, 0, NULL}
};

const struct form *
gebpf_form_lookup (const char *name)
{
  for (const struct form *f = forms; f->name; f++)
    if (strcmp (f->name, name) == 0)
      return f;
  return NULL;
}

const char *
gebpf_op_name (enum op op)
{
  switch (op)
    {
    case OP_INT: return "int";
    case OP_BOOL: return "bool";
    case OP_STR: return "string";
    case OP_SYM: return "symbol";
    case OP_LOCAL: return "local";
    case OP_CTX: return "ctx";
    case OP_MAPREF: return "map";
    case OP_FIELD: return "field";
    case OP_MAKE_STRUCT: return "make-struct";
    case OP_STRUCT_REF: return "struct-ref";
    case OP_INLINE_CALL: return "inline-call";
    case OP_KEYWORD: return "keyword";
    case OP_APPLY: return "apply";
    case OP_PRANDOM: return "prandom";
    case OP_DEREF: return "deref";
    default:
      for (const struct form *f = forms; f->name; f++)
        if (f->op == op)
          return f->name;
      return "?";
    }
}

static const struct helper helpers[] = {
  {"get-current-cpu", "bpf_get_smp_processor_id", 0},
  {"get-smp-processor-id", "bpf_get_smp_processor_id", 0},
  {"get-current-pid-tgid", "bpf_get_current_pid_tgid", 0},
  {"get-current-uid-gid", "bpf_get_current_uid_gid", 0},
  {"get-prandom", "bpf_get_prandom_u32", 0},
  {"get-prandom-u32", "bpf_get_prandom_u32", 0},
  {"ktime-ns", "bpf_ktime_get_ns", 0},
  {"ktime-get-ns", "bpf_ktime_get_ns", 0},
  {"ktime-get-boot-ns", "bpf_ktime_get_boot_ns", 0},
  {"jiffies64", "bpf_jiffies64", 0},
  {"get-numa-node-id", "bpf_get_numa_node_id", 0},
  {"get-current-cgroup-id", "bpf_get_current_cgroup_id", 0},
  {NULL, NULL, 0}
};

const struct helper *
gebpf_helper_lookup (const char *name)
{
  for (const struct helper *h = helpers; h->name; h++)
    if (strcmp (h->name, name) == 0)
      return h;
  return NULL;
}

const char *
gebpf_helper_names (void)
{
  return "get-current-cpu get-current-pid-tgid get-current-uid-gid "
    "get-prandom ktime-ns ktime-get-boot-ns jiffies64 get-numa-node-id "
    "get-current-cgroup-id";
}

static const struct keyword_const kconsts[] = {
  {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"sctp", 132},
  {"gre", 47}, {"ipv4", 0x0800}, {"ipv6", 0x86dd}, {"arp", 0x0806},
  {"vlan", 0x8100},
  /* fib-lookup-status: the kernel's BPF_FIB_LKUP_RET_* codes.  */
  {"fib-success", 0}, {"fib-blackhole", 1}, {"fib-unreachable", 2},
  {"fib-prohibit", 3}, {"fib-not-forwarded", 4},
  {"fib-forwarding-disabled", 5}, {"fib-unsupported-lwt", 6},
  {"fib-no-neigh", 7}, {"fib-frag-needed", 8},
  {NULL, 0}
};

bool
gebpf_keyword_const (const char *name, long *value)
{
  for (const struct keyword_const *k = kconsts; k->name; k++)
    if (strcmp (k->name, name) == 0)
      {
        *value = k->value;
        return true;
      }
  return false;
}

/* Every field of ethhdr, iphdr, ipv6hdr, tcphdr, udphdr and icmphdr, by
   the kernel's name with '_' as '-', plus DESIGN's aliases.  conv: 16 or
   32 = network to host order; 0 = as is.  */
static const struct hfield hfields[] = {
  {"eth-h-dest", H_ETH, "h_dest", 0, TY_MAC},
  {"eth-h-source", H_ETH, "h_source", 0, TY_MAC},
  {"eth-h-proto", H_ETH, "h_proto", 16, TY_INT},
  {"eth-dst", H_ETH, "h_dest", 0, TY_MAC},
  {"eth-src", H_ETH, "h_source", 0, TY_MAC},
  {"eth-proto", H_ETH, "h_proto", 16, TY_INT},
  {"ipv4-ihl", H_IPV4, "ihl", 0, TY_INT},
  {"ipv4-version", H_IPV4, "version", 0, TY_INT},
  {"ipv4-tos", H_IPV4, "tos", 0, TY_INT},
  {"ipv4-tot-len", H_IPV4, "tot_len", 16, TY_INT},
  {"ipv4-id", H_IPV4, "id", 16, TY_INT},
  {"ipv4-frag-off", H_IPV4, "frag_off", 16, TY_INT},
  {"ipv4-ttl", H_IPV4, "ttl", 0, TY_INT},
  {"ipv4-protocol", H_IPV4, "protocol", 0, TY_INT},
  {"ipv4-check", H_IPV4, "check", 16, TY_INT},
  {"ipv4-saddr", H_IPV4, "saddr", 0, TY_IPV4},
  {"ipv4-daddr", H_IPV4, "daddr", 0, TY_IPV4},
  {"ipv6-priority", H_IPV6, "priority", 0, TY_INT},
  {"ipv6-version", H_IPV6, "version", 0, TY_INT},
  {"ipv6-flow-lbl", H_IPV6, "flow_lbl", 'l', TY_INT},
  {"ipv6-payload-len", H_IPV6, "payload_len", 16, TY_INT},
  {"ipv6-nexthdr", H_IPV6, "nexthdr", 0, TY_INT},
  {"ipv6-hop-limit", H_IPV6, "hop_limit", 0, TY_INT},
  {"ipv6-saddr", H_IPV6, "saddr", 0, TY_IPV6},
  {"ipv6-daddr", H_IPV6, "daddr", 0, TY_IPV6},
  {"tcp-source", H_TCP, "source", 16, TY_INT},
  {"tcp-dest", H_TCP, "dest", 16, TY_INT},
  {"tcp-sport", H_TCP, "source", 16, TY_INT},
  {"tcp-dport", H_TCP, "dest", 16, TY_INT},
  {"tcp-seq", H_TCP, "seq", 32, TY_INT},
  {"tcp-ack-seq", H_TCP, "ack_seq", 32, TY_INT},
  {"tcp-doff", H_TCP, "doff", 0, TY_INT},
  {"tcp-res1", H_TCP, "res1", 0, TY_INT},
  {"tcp-cwr", H_TCP, "cwr", 0, TY_INT},
  {"tcp-ece", H_TCP, "ece", 0, TY_INT},
  {"tcp-urg", H_TCP, "urg", 0, TY_INT},
  {"tcp-ack", H_TCP, "ack", 0, TY_INT},
  {"tcp-psh", H_TCP, "psh", 0, TY_INT},
  {"tcp-rst", H_TCP, "rst", 0, TY_INT},
  {"tcp-syn", H_TCP, "syn", 0, TY_INT},
  {"tcp-fin", H_TCP, "fin", 0, TY_INT},
  {"tcp-window", H_TCP, "window", 16, TY_INT},
  {"tcp-check", H_TCP, "check", 16, TY_INT},
  {"tcp-urg-ptr", H_TCP, "urg_ptr", 16, TY_INT},
  {"tcp-flags", H_TCP, "flags", 'F', TY_INT},
  {"tcp-syn?", H_TCP, "syn", 0, TY_BOOL},
  {"tcp-ack?", H_TCP, "ack", 0, TY_BOOL},
  {"tcp-rst?", H_TCP, "rst", 0, TY_BOOL},
  {"tcp-fin?", H_TCP, "fin", 0, TY_BOOL},
  {"tcp-psh?", H_TCP, "psh", 0, TY_BOOL},
  {"tcp-urg?", H_TCP, "urg", 0, TY_BOOL},
  {"udp-source", H_UDP, "source", 16, TY_INT},
  {"udp-dest", H_UDP, "dest", 16, TY_INT},
  {"udp-sport", H_UDP, "source", 16, TY_INT},
  {"udp-dport", H_UDP, "dest", 16, TY_INT},
  {"udp-len", H_UDP, "len", 16, TY_INT},
  {"udp-check", H_UDP, "check", 16, TY_INT},
  {"icmp-type", H_ICMP, "type", 0, TY_INT},
  {"icmp-code", H_ICMP, "code", 0, TY_INT},
  {"icmp-checksum", H_ICMP, "checksum", 16, TY_INT},
  {"icmp-id", H_ICMP, "un.echo.id", 16, TY_INT},
  {"icmp-sequence", H_ICMP, "un.echo.sequence", 16, TY_INT},
  {"icmp-gateway", H_ICMP, "un.gateway", 0, TY_IPV4},
  {NULL, H_NONE, NULL, 0, TY_INT}
};

const struct hfield *
gebpf_hfield_lookup (const char *name)
{
  for (const struct hfield *f = hfields; f->name; f++)
    if (strcmp (f->name, name) == 0)
      return f;
  return NULL;
}

const struct hfield *
gebpf_hfield (int index)
{
  return &hfields[index];
}

int
gebpf_hfield_index (const struct hfield *f)
{
  return f - hfields;
}

/* What set-field! writes: offsets and sizes are those of the uapi
   structs (ethhdr, iphdr, ipv6hdr, tcphdr, udphdr, icmphdr); the
   checksum class says which checksums the emitter keeps correct.  */
static const struct sfield sfields[] = {
  {H_ETH, "h_dest", 0, 6, 0, TY_MAC, SF_NONE, 0},
  {H_ETH, "h_source", 6, 6, 0, TY_MAC, SF_NONE, 0},
  {H_ETH, "h_proto", 12, 2, 16, TY_INT, SF_NONE, 0},
  {H_IPV4, "tos", 1, 1, 0, TY_INT, SF_COVERED, 0},
  {H_IPV4, "tot_len", 2, 2, 16, TY_INT, SF_COVERED, 0},
  {H_IPV4, "id", 4, 2, 16, TY_INT, SF_COVERED, 0},
  {H_IPV4, "frag_off", 6, 2, 16, TY_INT, SF_COVERED, 0},
  {H_IPV4, "ttl", 8, 1, 0, TY_INT, SF_COVERED, 0},
  {H_IPV4, "protocol", 9, 1, 0, TY_INT, SF_COVERED, 0},
  {H_IPV4, "check", 10, 2, 16, TY_INT, SF_RAW, 0},
  {H_IPV4, "saddr", 12, 4, 0, TY_IPV4, SF_PSEUDO, 0},
  {H_IPV4, "daddr", 16, 4, 0, TY_IPV4, SF_PSEUDO, 0},
  {H_IPV6, "payload_len", 4, 2, 16, TY_INT, SF_NONE, 0},
  {H_IPV6, "nexthdr", 6, 1, 0, TY_INT, SF_NONE, 0},
  {H_IPV6, "hop_limit", 7, 1, 0, TY_INT, SF_NONE, 0},
  {H_IPV6, "saddr", 8, 16, 0, TY_IPV6, SF_PSEUDO, 0},
  {H_IPV6, "daddr", 24, 16, 0, TY_IPV6, SF_PSEUDO, 0},
  {H_TCP, "source", 0, 2, 16, TY_INT, SF_COVERED, 0},
  {H_TCP, "dest", 2, 2, 16, TY_INT, SF_COVERED, 0},
  {H_TCP, "seq", 4, 4, 32, TY_INT, SF_COVERED, 0},
  {H_TCP, "ack_seq", 8, 4, 32, TY_INT, SF_COVERED, 0},
  {H_TCP, "flags", 13, 1, 0, TY_INT, SF_COVERED, 0},
  {H_TCP, "fin", 13, 1, 0, TY_INT, SF_COVERED, 0x01},
  {H_TCP, "syn", 13, 1, 0, TY_INT, SF_COVERED, 0x02},
  {H_TCP, "rst", 13, 1, 0, TY_INT, SF_COVERED, 0x04},
  {H_TCP, "psh", 13, 1, 0, TY_INT, SF_COVERED, 0x08},
  {H_TCP, "ack", 13, 1, 0, TY_INT, SF_COVERED, 0x10},
  {H_TCP, "urg", 13, 1, 0, TY_INT, SF_COVERED, 0x20},
  {H_TCP, "ece", 13, 1, 0, TY_INT, SF_COVERED, 0x40},
  {H_TCP, "cwr", 13, 1, 0, TY_INT, SF_COVERED, 0x80},
  {H_TCP, "window", 14, 2, 16, TY_INT, SF_COVERED, 0},
  {H_TCP, "check", 16, 2, 16, TY_INT, SF_RAW, 0},
  {H_TCP, "urg_ptr", 18, 2, 16, TY_INT, SF_COVERED, 0},
  {H_UDP, "source", 0, 2, 16, TY_INT, SF_COVERED, 0},
  {H_UDP, "dest", 2, 2, 16, TY_INT, SF_COVERED, 0},
  {H_UDP, "len", 4, 2, 16, TY_INT, SF_PSEUDO, 0},
  {H_UDP, "check", 6, 2, 16, TY_INT, SF_RAW, 0},
  {H_ICMP, "type", 0, 1, 0, TY_INT, SF_COVERED, 0},
  {H_ICMP, "code", 1, 1, 0, TY_INT, SF_COVERED, 0},
  {H_ICMP, "checksum", 2, 2, 16, TY_INT, SF_RAW, 0},
  {H_ICMP, "id", 4, 2, 16, TY_INT, SF_COVERED, 0},
  {H_ICMP, "sequence", 6, 2, 16, TY_INT, SF_COVERED, 0},
  {H_ICMP, "gateway", 4, 4, 0, TY_IPV4, SF_COVERED, 0},
  {H_NONE, NULL, 0, 0, 0, TY_INT, SF_NONE, 0}
};

const struct sfield *
gebpf_sfield_lookup (enum hdr h, const char *name)
{
  char n[32];
  size_t len = strlen (name);
  if (len >= sizeof n)
    return NULL;
  for (size_t i = 0; i <= len; i++)
    n[i] = name[i] == '-' ? '_' : name[i];
  for (const struct sfield *f = sfields; f->name; f++)
    if (f->hdr == h && strcmp (f->name, n) == 0)
      return f;
  return NULL;
}

const struct sfield *
gebpf_sfield (int index)
{
  return &sfields[index];
}

int
gebpf_sfield_index (const struct sfield *f)
{
  return f - sfields;
}

const char *
gebpf_sfield_names (enum hdr h, char *buf, size_t size)
{
  size_t at = 0;
  buf[0] = 0;
  for (const struct sfield *f = sfields; f->name; f++)
    if (f->hdr == h && at < size)
      at += snprintf (buf + at, size - at, "%s'%s", at ? " " : "", f->name);
  return buf;
}

/* The socket buffer's own fields, as the kernel's context access checks
   allow them (tc_cls_act_, sk_filter_ and cg_skb_is_valid_access):
   every skb kind reads these but tc_classid; tc writes what steers
   queueing and classification, cgroup-skb the mark and priority.  */
#define SKB_ALL ((1u << PK_TC) | (1u << PK_SOCKET_FILTER) \
                 | (1u << PK_CGROUP_SKB))
#define TC_ONLY (1u << PK_TC)
_Static_assert (PK_NONE <= 32, "ctxfields keep kinds in a 32-bit mask");
static const struct ctxfield ctxfields[] = {
  {"len", SKB_ALL, 0, false},
  {"pkt_type", SKB_ALL, 0, false},
  {"mark", SKB_ALL, TC_ONLY | (1u << PK_CGROUP_SKB), false},
  {"priority", SKB_ALL, TC_ONLY | (1u << PK_CGROUP_SKB), false},
  {"queue_mapping", SKB_ALL, TC_ONLY, false},
  {"protocol", SKB_ALL, 0, true},
  {"vlan_present", SKB_ALL, 0, false},
  {"vlan_tci", SKB_ALL, 0, false},
  {"ingress_ifindex", SKB_ALL, 0, false},
  {"ifindex", SKB_ALL, 0, false},
  {"tc_index", SKB_ALL, TC_ONLY, false},
  {"hash", SKB_ALL, 0, false},
  {"tc_classid", TC_ONLY, TC_ONLY, false},
  {NULL, 0, 0, false}
};

const struct ctxfield *
gebpf_ctxfield_lookup (const char *name)
{
  for (const struct ctxfield *f = ctxfields; f->name; f++)
    {
      const char *a = f->name, *b = name;
      while (*a && (*a == *b || (*a == '_' && *b == '-')))
        a++, b++;
      if (!*a && !*b)
        return f;
    }
  return NULL;
}

const struct ctxfield *
gebpf_ctxfield (int index)
{
  int n = sizeof ctxfields / sizeof ctxfields[0] - 1;
  return index >= 0 && index < n ? &ctxfields[index] : NULL;
}

int
gebpf_ctxfield_index (const struct ctxfield *f)
{
  return (int) (f - ctxfields);
}

const char *
gebpf_ctxfield_names (unsigned kind_bit, bool write, char *buf, size_t size)
{
  size_t at = 0;
  buf[0] = 0;
  for (const struct ctxfield *f = ctxfields; f->name; f++)
    if (((write ? f->write : f->read) & kind_bit) && at < size)
      at += snprintf (buf + at, size - at, "%s'%s", at ? " " : "", f->name);
  return buf;
}

bool
gebpf_kind_is_packet (int kind)
{
  return gebpf_kind_has (kind, KF_PACKET);
}

/* Tracing bodies: the kinds that observe, not LSM hooks (which decide).  */
bool
gebpf_kind_is_tracing (int kind)
{
  return gebpf_kind_has (kind, KF_TRACE) && kind != PK_LSM;
}

struct action
{
  const char *name;
  long value;
  unsigned kinds;               /* bit per kind */
};

#define B(k) (1u << (k))
#define PACKETISH (B (PK_SOCKET_FILTER) | B (PK_CGROUP_SKB) \
                   | B (PK_CGROUP_SOCK_ADDR))
#define GENERIC (B (PK_TRACEPOINT) | B (PK_RAW_TRACEPOINT) | B (PK_TP_BTF) \
                 | B (PK_FENTRY) | B (PK_FEXIT) | B (PK_KPROBE) \
                 | B (PK_KRETPROBE) | B (PK_UPROBE) | B (PK_URETPROBE) \
                 | B (PK_PERF_EVENT) | B (PK_LSM) | B (PK_USDT))

static const struct action actions[] = {
  {"xdp-aborted", 0, B (PK_XDP)}, {"xdp-drop", 1, B (PK_XDP)},
  {"xdp-pass", 2, B (PK_XDP)}, {"xdp-tx", 3, B (PK_XDP)},
  {"xdp-redirect", 4, B (PK_XDP)},
  {"tc-act-ok", 0, B (PK_TC)}, {"tc-act-shot", 2, B (PK_TC)},
  {"tc-act-pipe", 3, B (PK_TC)}, {"tc-act-redirect", 7, B (PK_TC)},
  {"tc-act-unspec", -1, B (PK_TC)},
  {"allow", 1, PACKETISH}, {"deny", 0, PACKETISH},
  {"ok", 0, GENERIC}, {"err", 1, GENERIC},
  {NULL, 0, 0}
};

bool
gebpf_action_value (int kind, const char *name, long *value)
{
  for (const struct action *a = actions; a->name; a++)
    if (strcmp (a->name, name) == 0 && (a->kinds & B (kind)))
      {
        *value = a->value;
        /* An LSM program denies with -EPERM.  */
        if (kind == PK_LSM && a->value == 1)
          *value = -1;
        /* A socket filter returns how many bytes to keep: all of them.  */
        if (kind == PK_SOCKET_FILTER && strcmp (name, "allow") == 0)
          *value = -1;
        return true;
      }
  return false;
}

long
gebpf_default_return (int kind)
{
  const struct gebpf_kind *k = gebpf_kind (kind);
  return k ? k->default_return : 0;
}
